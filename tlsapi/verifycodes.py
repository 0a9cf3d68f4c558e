"""OpenSSL's own verdict on a certificate chain, for backends that want ``verify_code`` parity.

The conformance suite's VERIFY_DIAGNOSTICS capability asks for the ``verify_code`` / ``verify_message`` that
OpenSSL (the stdlib) reports for a rejected chain. A backend over another engine can reject with its own
engine and then ask :func:`openssl_verify_result` which code OpenSSL would have reported::

    from tlsapi.verifycodes import openssl_verify_result

    code, message = openssl_verify_result(peer_chain, context.trust_anchors, server_hostname)
    raise tlsapi.SSLCertVerificationError(...)  # with verify_code=code, verify_message=message

It runs OpenSSL's ``X509_verify_cert`` itself (through pyOpenSSL, the ``tlsapi[pyopenssl]`` extra) with the
parameters ``_ssl`` uses: the SSL server (or client) purpose, hostname checks with
``X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT``, IP addresses compared as
addresses, and the verify flags given. The result is therefore OpenSSL's by construction (of the OpenSSL
that ``cryptography`` bundles, which can be newer than the interpreter's).
"""

from __future__ import annotations

import _ssl
import ctypes
import datetime
import functools
import ipaddress
import ssl
from collections.abc import Sequence

from cryptography import x509

__all__ = ["X509_V_OK", "openssl_verify_result", "verify_message"]

#: The code of a chain that verifies.
X509_V_OK = 0
_HOSTNAME_MISMATCH = 62
_IP_ADDRESS_MISMATCH = 64
_NO_PARTIAL_WILDCARDS = 0x4
_NEVER_CHECK_SUBJECT = 0x20
_PURPOSE = {"server": 2, "client": 1}  # X509_PURPOSE_SSL_SERVER, X509_PURPOSE_SSL_CLIENT


def _certificate(value: x509.Certificate | bytes) -> x509.Certificate:
    return value if isinstance(value, x509.Certificate) else x509.load_der_x509_certificate(value)


def openssl_verify_result(
    chain: Sequence[x509.Certificate | bytes],
    anchors: Sequence[x509.Certificate | bytes],
    hostname: str | None = None,
    *,
    peer: str = "server",
    verify_flags: int = 0,
    now: datetime.datetime | None = None,
) -> tuple[int, str]:
    """``(verify_code, verify_message)`` as OpenSSL reports them for ``chain`` (leaf first, as sent by the
    peer) against ``anchors``; ``(0, "ok")`` when it verifies.

    ``hostname`` is the ``server_hostname`` to check (a DNS name or an IP address; ``None``: no check, as
    with ``check_hostname = False``). ``peer`` is ``"server"`` when a client verifies a server, ``"client"``
    when a server verifies a client certificate. ``verify_flags`` are ``ssl.VERIFY_*`` values (only
    ``VERIFY_X509_STRICT`` and ``VERIFY_X509_PARTIAL_CHAIN`` change the verdict without CRLs). Raises
    ``ImportError`` naming the extra when pyOpenSSL is not installed.
    """
    try:
        from OpenSSL import crypto
        from OpenSSL._util import ffi, lib
    except ImportError as exc:
        raise ImportError("openssl_verify_result needs pyOpenSSL: pip install 'tlsapi[pyopenssl]'") from exc
    if not chain:
        raise ValueError("the chain is empty")
    certificates = [crypto.X509.from_cryptography(_certificate(c)) for c in chain]
    store = crypto.X509Store()
    for anchor in anchors:
        store.add_cert(crypto.X509.from_cryptography(_certificate(anchor)))
    flags = 0
    if verify_flags & ssl.VERIFY_X509_STRICT:
        flags |= crypto.X509StoreFlags.X509_STRICT
    if verify_flags & ssl.VERIFY_X509_PARTIAL_CHAIN:
        flags |= crypto.X509StoreFlags.PARTIAL_CHAIN
    if flags:
        store.set_flags(flags)
    if now is not None:
        store.set_time(now)
    param = lib.X509_VERIFY_PARAM_new()
    try:
        if hostname is not None:
            _set_peer_name(ffi, lib, param, hostname)
        if lib.X509_STORE_set1_param(store._store, param) != 1:
            raise RuntimeError("X509_STORE_set1_param failed")
    finally:
        lib.X509_VERIFY_PARAM_free(param)
    if lib.X509_STORE_set_purpose(store._store, _PURPOSE[peer]) != 1:
        raise RuntimeError("X509_STORE_set_purpose failed")
    try:
        crypto.X509StoreContext(store, certificates[0], certificates[1:]).verify_certificate()
    except crypto.X509StoreContextError as exc:
        code = int(exc.errors[0])
        return code, verify_message(code, hostname)
    return X509_V_OK, "ok"


def verify_message(code: int, hostname: str | None = None) -> str:
    """The ``verify_message`` the stdlib reports for ``code``: ``_ssl``'s own sentences for a hostname (62)
    or IP address (64) mismatch, else the interpreter's OpenSSL ``X509_verify_cert_error_string``."""
    if code == _HOSTNAME_MISMATCH:
        return f"Hostname mismatch, certificate is not valid for '{hostname}'."
    if code == _IP_ADDRESS_MISMATCH:
        return f"IP address mismatch, certificate is not valid for '{hostname}'."
    return _interpreter_error_string(code)


@functools.cache
def _interpreter_error_string(code: int) -> str:
    try:  # the OpenSSL the interpreter's _ssl links (messages differ between OpenSSL versions)
        function = ctypes.CDLL(_ssl.__file__).X509_verify_cert_error_string
    except (OSError, AttributeError):  # a statically linked _ssl: the OpenSSL cryptography bundles
        from OpenSSL._util import ffi, lib

        return str(ffi.string(lib.X509_verify_cert_error_string(code)).decode())
    function.restype = ctypes.c_char_p
    function.argtypes = [ctypes.c_long]
    return str(function(code).decode())


def _set_peer_name(ffi: object, lib: object, param: object, hostname: str) -> None:
    """The hostname or IP address check, as ``_ssl`` configures it."""
    try:
        address = ipaddress.ip_address(hostname.strip("[]"))
    except ValueError:
        encoded = hostname.encode("idna")
        ok = lib.X509_VERIFY_PARAM_set1_host(param, encoded, len(encoded))  # type: ignore[attr-defined]
        lib.X509_VERIFY_PARAM_set_hostflags(  # type: ignore[attr-defined]
            param, _NO_PARTIAL_WILDCARDS | _NEVER_CHECK_SUBJECT
        )
    else:
        packed = address.packed
        ok = lib.X509_VERIFY_PARAM_set1_ip(param, packed, len(packed))  # type: ignore[attr-defined]
    if ok != 1:
        raise ValueError(f"invalid server_hostname {hostname!r}")
