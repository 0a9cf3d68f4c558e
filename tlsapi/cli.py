"""The ``tlsapi`` command (also ``python -m tlsapi``).

``tlsapi backends``
    lists the installed backends, marks the one selection picks now and says why, gives the reason a
    backend is unavailable, reports ``TLSAPI_INJECT``, and warns (exit status 3) when a setting
    (``TLSAPI_BACKEND``, the config file, ``TLSAPI_INJECT``) names a backend that cannot be used.
``tlsapi connect [options] HOST:PORT``
    a minimal ``openssl s_client``: handshakes and prints the backend, version, cipher, ALPN protocol, the
    peer's chain and the verification result on stdout; errors go to stderr.
``tlsapi run [--backend NAME] SCRIPT [ARG ...]`` / ``tlsapi run [--backend NAME] -m MODULE [ARG ...]``
    runs an unmodified Python program with the backend injected into ``ssl`` (:func:`tlsapi.inject_into_ssl`).
``tlsapi ech --public-name NAME [--out FILE] [--config-out FILE] [options]``
    generates an Encrypted Client Hello key and ECHConfigList (:func:`tlsapi.ech.generate`), prints the list
    in base64 (the ``ech=`` value of a DNS HTTPS record) and writes the server's PEM file (private key and
    ``ECHCONFIG`` block, mode 0600) and the public ``ECHCONFIG`` PEM; existing files are never overwritten.
``tlsapi conformance ...``
    the conformance suite (``tlsapi-conformance --help``).

Exit statuses: 0 success; 1 certificate verification failed; 2 usage error; 3 backend selection or
configuration error; 4 network error (connection refused, name resolution, timeout); 5 TLS error; 141
stdout closed early (as a process killed by SIGPIPE reports).
"""

from __future__ import annotations

import argparse
import os
import runpy
import socket
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import _registry
from ._certinfo import certificate_dict
from ._enums import CERT_NONE, Capability, Purpose
from ._errors import BackendError, SSLCertVerificationError, SSLError
from ._registry import ConfigurationError

EXIT_OK = 0
EXIT_VERIFICATION_FAILED = 1
EXIT_USAGE = 2
EXIT_SELECTION = 3
EXIT_NETWORK = 4
EXIT_TLS = 5
EXIT_BROKEN_PIPE = 141


def _list_backends(args: argparse.Namespace) -> int:
    problem: str | None = None
    try:
        chosen: _registry.Selection | None = _registry.selection(args.backend)
    except ConfigurationError as exc:
        chosen, problem = None, str(exc)
    if chosen is not None:
        try:
            _registry.get_backend(args.backend)
        except BackendError as exc:
            problem = str(exc)
    for backend in _registry.backends():
        picked = chosen is not None and chosen.name == backend.name and problem is None
        marker = "*" if picked else " "
        status = "available" if backend.is_available() else f"unavailable: {backend.unavailable_reason}"
        why = f"  <- selected by {chosen.source}" if picked and chosen is not None else ""
        print(f"{marker} {backend.name}  {backend.version}  [{status}]{why}")
        print(f"    {backend.description}")
        names = sorted(c.value for c in backend.capabilities() if c is not Capability.CORE)
        print(f"    capabilities: {', '.join(names)}")
    for name, reason in _registry.broken_backends().items():
        print(f"  {name}  [unavailable: {reason}]")
    exit_status = EXIT_OK
    if problem is not None:
        print(f"tlsapi: warning: contexts without backend= will fail: {problem}", file=sys.stderr)
        exit_status = EXIT_SELECTION
    injected = os.environ.get(_registry.ENV_INJECT, "")
    if injected.strip():
        try:
            name = _registry.resolve(injected, _registry.ENV_INJECT).name
            print(f"{_registry.ENV_INJECT}: Python programs start with {name} injected into ssl")
        except BackendError as exc:
            print(f"tlsapi: warning: Python programs will not start: {exc}", file=sys.stderr)
            exit_status = EXIT_SELECTION
    return exit_status


def _split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise _UsageError(f"expected HOST:PORT, got {address!r}")
    return host.strip("[]"), int(port)


def _format_name(name: tuple[tuple[tuple[str, str], ...], ...]) -> str:
    return ", ".join(f"{key}={value}" for rdn in name for key, value in rdn)


def _alpn_list(values: list[str] | None) -> list[str]:
    """``--alpn h2,http/1.1`` (repeatable): the protocols in order, empty entries dropped."""
    return [protocol.strip() for value in values or () for protocol in value.split(",") if protocol.strip()]


def _connect(args: argparse.Namespace) -> int:
    from cryptography import x509

    from . import create_default_context

    host, port = _split_address(args.address)
    context = create_default_context(Purpose.SERVER_AUTH, cafile=args.cafile, backend=args.backend)
    if args.insecure:
        context.check_hostname = False
        context.verify_mode = CERT_NONE
    alpn = _alpn_list(args.alpn)
    if alpn:
        context.set_alpn_protocols(alpn)
    try:
        with socket.create_connection((host, port), timeout=args.timeout) as raw, context.wrap_socket(
            raw, server_hostname=args.servername or host
        ) as tls:
            lines = [f"backend:  {context.backend.name}", f"version:  {tls.version()}"]
            cipher = tls.cipher()
            lines.append(f"cipher:   {cipher[0] if cipher else None}")
            lines.append(f"alpn:     {tls.selected_alpn_protocol()}")
            for depth, der in enumerate(tls.get_unverified_chain()):
                info = certificate_dict(x509.load_der_x509_certificate(der))
                lines.append(f"chain[{depth}]: subject: {_format_name(info['subject'])}")
                lines.append(f"          issuer:  {_format_name(info['issuer'])}")
            lines.append(f"verification: {'skipped (--insecure)' if args.insecure else 'ok'}")
    except SSLCertVerificationError as exc:
        print(f"tlsapi connect: verification failed: {exc.verify_message} (code {exc.verify_code})",
              file=sys.stderr)
        return EXIT_VERIFICATION_FAILED
    except SSLError as exc:
        print(f"tlsapi connect: TLS error: {exc}", file=sys.stderr)
        return EXIT_TLS
    except OSError as exc:
        print(f"tlsapi connect: cannot connect to {host}:{port}: {exc}", file=sys.stderr)
        return EXIT_NETWORK
    print("\n".join(lines), flush=True)
    return EXIT_OK


class _UsageError(Exception):
    """A command line that cannot be run (reported with exit status 2)."""


def _write_new_file(path: str, data: bytes, mode: int) -> None:
    """Create ``path`` with permissions ``mode`` and write ``data``; an existing file is a usage error."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise _UsageError(f"ech: {path} exists; not overwriting it") from None
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def _ech(args: argparse.Namespace) -> int:
    from . import ech

    for path in (args.out, args.config_out):
        if path and os.path.lexists(path):
            raise _UsageError(f"ech: {path} exists; not overwriting it")  # checked before anything is written
    suites = [ech.HpkeSymmetricCipherSuite(ech.KDF_HKDF_SHA256, _ECH_AEADS[name]) for name in args.aead or
              ("aes-128-gcm", "chacha20-poly1305")]
    try:
        keys = ech.generate(args.public_name, config_id=args.config_id, maximum_name_length=args.max_name_length,
                            cipher_suites=suites)
    except ValueError as exc:
        raise _UsageError(f"ech: {exc}") from None
    if args.out:
        _write_new_file(args.out, keys.to_pem(), 0o600)
    if args.config_out:
        _write_new_file(args.config_out, ech.config_list_pem(keys.config_list), 0o644)
    print(keys.config_list_base64)
    return EXIT_OK


_ECH_AEADS = {"aes-128-gcm": 0x0001, "aes-256-gcm": 0x0002, "chacha20-poly1305": 0x0003}


def _split_run_arguments(argv: list[str]) -> tuple[str | None, str | None, list[str]]:
    """``[--backend NAME] (SCRIPT | -m MODULE) [ARG ...]`` -> (backend, module, [script or module, args])."""
    backend = None
    rest = list(argv)
    while rest and rest[0].startswith("--backend"):
        option = rest.pop(0)
        if option.startswith("--backend="):
            backend = option.partition("=")[2]
        elif option == "--backend" and rest:
            backend = rest.pop(0)
        else:
            raise _UsageError(f"run: bad option {option!r}")
    if rest[:1] == ["-m"]:
        if len(rest) < 2:
            raise _UsageError("run: -m needs a module name")
        return backend, rest[1], rest[1:]
    if not rest or rest[0].startswith("-"):
        raise _UsageError("run: expected a script or -m MODULE")
    return backend, None, rest


def _run(backend_name: str | None, module: str | None, program: list[str]) -> int:
    from ._inject import inject_into_ssl

    try:
        if backend_name is not None:
            backend = inject_into_ssl(_registry.resolve(backend_name, "tlsapi run --backend"))
        else:
            backend = inject_into_ssl()
    except (BackendError, ConfigurationError) as exc:
        print(f"tlsapi run: {exc}", file=sys.stderr)
        return EXIT_SELECTION
    os.environ[_registry.ENV_INJECT] = backend.name  # Python child processes start on the same backend (see README)
    sys.argv = program
    if module is not None:
        sys.path[0] = os.getcwd()
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:
        sys.path[0] = os.path.dirname(os.path.abspath(program[0]))
        runpy.run_path(program[0], run_name="__main__")
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="tlsapi", description="One TLS API for Python, with the engine underneath chosen by the operator.",
        epilog="exit status: 0 ok, 1 verification failed, 2 usage, 3 backend selection or configuration, "
               "4 network, 5 TLS error",
    )
    parser.add_argument("--version", action="version", version=f"tlsapi {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listing = commands.add_parser(
        "backends", help="list installed backends, the one selection picks and why, and broken settings"
    )
    listing.add_argument("--backend", help="show the selection as if this name were passed as backend=")
    connect = commands.add_parser("connect", help="handshake with a server and describe the connection")
    connect.add_argument("address", metavar="HOST:PORT")
    connect.add_argument("--backend", help="backend name (default: the configured one)")
    connect.add_argument("--alpn", action="append", metavar="P1,P2",
                         help="ALPN protocols to offer, comma-separated (may be repeated)")
    connect.add_argument("--cafile", help="PEM file of trust anchors (default: the system store)")
    connect.add_argument("--servername", help="SNI and verification name (default: HOST)")
    connect.add_argument("--insecure", action="store_true", help="skip certificate verification")
    connect.add_argument("--timeout", type=float, default=10.0, help="seconds (default: 10)")
    commands.add_parser(
        "run", help="run a Python program with the backend injected into ssl",
        usage="tlsapi run [--backend NAME] (SCRIPT | -m MODULE) [ARG ...]",
        description="Run an unmodified program on the backend: ssl.SSLContext, ssl.create_default_context "
                    "and the libraries built on them make contexts of it. Without --backend, the backend "
                    "selection picks (TLSAPI_BACKEND, config file, stdlib). Sets TLSAPI_INJECT for child "
                    "processes.",
    )
    ech = commands.add_parser(
        "ech", help="generate an Encrypted Client Hello key and ECHConfigList",
        description="Generate an X25519 ECH key and its ECHConfigList (version 0xfe0d). Prints the list in "
                    "base64, the ech= value of the DNS HTTPS record; --out writes the server's PEM file.",
    )
    ech.add_argument("--public-name", required=True, help="DNS name of the client-facing server (outer SNI)")
    ech.add_argument("--out", metavar="FILE", help="write the private key and ECHCONFIG PEM (mode 0600)")
    ech.add_argument("--config-out", metavar="FILE", help="write the ECHConfigList alone as ECHCONFIG PEM")
    ech.add_argument("--config-id", type=int, help="config_id, 0-255 (default: random)")
    ech.add_argument("--max-name-length", type=int, default=0,
                     help="longest inner server name, for client padding (default: 0, unknown)")
    ech.add_argument("--aead", action="append", choices=sorted(_ECH_AEADS),
                     help="HPKE AEAD to offer with HKDF-SHA256, repeatable "
                          "(default: aes-128-gcm, chacha20-poly1305)")
    commands.add_parser("conformance", help="run the conformance suite (see tlsapi-conformance --help)",
                        add_help=False)
    return parser


def _close_stdout_quietly() -> NoReturn:
    """The reader of stdout went away: no traceback, and nothing more written at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_BROKEN_PIPE)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tlsapi`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["conformance"]:
        from tlsapi_conformance.cli import main as conformance_main

        return conformance_main(argv[1:])
    try:
        if argv[:1] == ["run"] and argv[1:2] not in (["-h"], ["--help"]):
            program = _split_run_arguments(argv[1:])
        else:
            args = _parser().parse_args(argv)
            command = {"backends": _list_backends, "connect": _connect, "ech": _ech}[args.command]
            status = command(args)
            sys.stdout.flush()
            return status
    except _UsageError as exc:
        print(f"tlsapi: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (BackendError, ConfigurationError) as exc:
        print(f"tlsapi: {exc}", file=sys.stderr)
        return EXIT_SELECTION
    except BrokenPipeError:
        _close_stdout_quietly()
    return _run(*program)  # the program's own errors and exit status are its own


if __name__ == "__main__":
    sys.exit(main())
