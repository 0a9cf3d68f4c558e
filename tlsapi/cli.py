"""The ``tlsapi`` command: ``backends``, ``connect``, ``conformance`` and ``bench``.

``tlsapi backends`` lists the installed backends, their availability and capabilities;
``tlsapi connect HOST:PORT`` is a minimal ``openssl s_client``: it handshakes and prints the version,
cipher, ALPN protocol, the peer's certificate subject and chain, and the verification result.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence

from . import _registry
from ._certinfo import certificate_dict
from ._enums import CERT_NONE, Capability, Purpose
from ._errors import BackendError, SSLCertVerificationError, SSLError


def _list_backends() -> int:
    for backend in _registry.backends():
        status = "available" if backend.is_available() else f"unavailable: {backend.unavailable_reason}"
        default = " (default)" if backend.name == _registry.DEFAULT_BACKEND else ""
        print(f"{backend.name}{default}  {backend.version}  [{status}]")
        print(f"    {backend.description}")
        names = sorted(c.value for c in backend.capabilities() if c is not Capability.CORE)
        print(f"    capabilities: {', '.join(names)}")
    return 0


def _split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"tlsapi connect: expected HOST:PORT, got {address!r}")
    return host.strip("[]"), int(port)


def _format_name(name: tuple[tuple[tuple[str, str], ...], ...]) -> str:
    return ", ".join(f"{key}={value}" for rdn in name for key, value in rdn)


def _connect(args: argparse.Namespace) -> int:
    from . import create_default_context

    host, port = _split_address(args.address)
    context = create_default_context(Purpose.SERVER_AUTH, cafile=args.cafile, backend=args.backend)
    if args.insecure:
        context.check_hostname = False
        context.verify_mode = CERT_NONE
    if args.alpn:
        context.set_alpn_protocols(args.alpn)
    from cryptography import x509

    try:
        with socket.create_connection((host, port), timeout=args.timeout) as raw, context.wrap_socket(
            raw, server_hostname=args.servername or host
        ) as tls:
            print(f"backend:  {context.backend.name}")
            print(f"version:  {tls.version()}")
            cipher = tls.cipher()
            print(f"cipher:   {cipher[0] if cipher else None}")
            print(f"alpn:     {tls.selected_alpn_protocol()}")
            chain = tls.get_unverified_chain()
            for depth, der in enumerate(chain):
                info = certificate_dict(x509.load_der_x509_certificate(der))
                print(f"chain[{depth}]: subject: {_format_name(info['subject'])}")
                print(f"          issuer:  {_format_name(info['issuer'])}")
            verified = "skipped (--insecure)" if args.insecure else "ok"
            print(f"verification: {verified}")
    except SSLCertVerificationError as exc:
        print(f"verification: failed: {exc.verify_message} (code {exc.verify_code})")
        return 1
    except (SSLError, OSError) as exc:
        print(f"error: {exc}")
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tlsapi`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["conformance"]:
        from tlsapi_conformance.cli import main as conformance_main

        return conformance_main(argv[1:])
    parser = argparse.ArgumentParser(prog="tlsapi", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("backends", help="list installed backends and their capabilities")
    connect = commands.add_parser("connect", help="handshake with a server and describe the connection")
    connect.add_argument("address", metavar="HOST:PORT")
    connect.add_argument("--backend", help="backend name (default: the configured one)")
    connect.add_argument("--alpn", nargs="+", metavar="PROTOCOL", help="ALPN protocols to offer")
    connect.add_argument("--cafile", help="PEM file of trust anchors (default: the system store)")
    connect.add_argument("--servername", help="SNI and verification name (default: HOST)")
    connect.add_argument("--insecure", action="store_true", help="skip certificate verification")
    connect.add_argument("--timeout", type=float, default=10.0)
    commands.add_parser("conformance", help="run the conformance suite (see tlsapi-conformance --help)")
    args = parser.parse_args(argv)
    try:
        if args.command == "backends":
            return _list_backends()
        return _connect(args)
    except BackendError as exc:
        print(f"tlsapi: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
