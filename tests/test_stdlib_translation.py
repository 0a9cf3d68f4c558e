"""The stdlib backend's errors are tlsapi's classes with exactly the values plain ``ssl`` gives (issue 19
made the translation cheaper: the object _ssl raised is re-classed instead of copied where it can be)."""

from __future__ import annotations

import contextlib
import functools
import ssl
from collections.abc import Callable
from typing import Any

import pytest

import tlsapi


def values(error: BaseException) -> tuple[Any, ...]:
    return (error.args, str(error), getattr(error, "errno", None), getattr(error, "strerror", None),
            getattr(error, "library", "absent"), getattr(error, "reason", "absent"),
            getattr(error, "verify_code", None), getattr(error, "verify_message", None))


def raised(operation: Callable[[], object]) -> BaseException:
    with pytest.raises(ssl.SSLError) as info:
        operation()
    return info.value


def client_pair(backend: str | None) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return plain, tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend)


def established(context: ssl.SSLContext, server_context: ssl.SSLContext) -> tuple[Any, Any, ssl.MemoryBIO,
                                                                                 ssl.MemoryBIO]:
    """A client of ``context`` and a server of ``server_context`` after their handshake over memory BIOs; the
    client's incoming BIO and the server's outgoing one."""
    incoming, outgoing, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    server = server_context.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(4):
        for end, source, target in ((client, outgoing, s_in), (server, s_out, incoming)):
            with contextlib.suppress(ssl.SSLWantReadError):
                end.do_handshake()
            target.write(source.read())
    return client, server, incoming, s_out


def test_want_read_then_verification_failure_over_memory_bios() -> None:
    untrusted_server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    untrusted_server.load_cert_chain(*_self_signed())
    results = []
    for context in client_pair("stdlib"):
        incoming, outgoing, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
        client = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
        server = untrusted_server.wrap_bio(s_in, s_out, server_side=True)
        want = raised(client.do_handshake)
        s_in.write(outgoing.read())
        raised(server.do_handshake)
        incoming.write(s_out.read())
        results.append((want, raised(client.do_handshake)))
    (want_plain, fail_plain), (want_ours, fail_ours) = results
    assert isinstance(want_ours, tlsapi.SSLWantReadError) and values(want_ours) == values(want_plain)
    assert chaining(want_ours) == chaining(want_plain)
    assert type(fail_ours) is tlsapi.SSLCertVerificationError
    assert values(fail_ours) == values(fail_plain)


def test_ragged_eof_and_zero_return_over_memory_bios() -> None:
    """The EOF errors _ssl raises on reads: a transport EOF without close_notify (``SSLEOFError``), and a
    read after both close_notify alerts (``SSLZeroReturnError``)."""
    server_context = _server_context()
    results = []
    for context in unverifying_client_pair():
        errors = []
        for ending in ("eof", "close_notify"):
            client, server, incoming, s_out = established(context, server_context)
            if ending == "eof":
                incoming.write_eof()
            else:
                raised(server.unwrap)  # its close_notify, then a want-read for the client's
                incoming.write(s_out.read())
                assert client.read(1) == b""  # the peer's close_notify: b"" as ssl.SSLObject
                client.unwrap()  # ours, after the peer's: the connection is closed both ways
            errors.append(raised(functools.partial(client.read, 1)))
        results.append(errors)
    for plain, ours in zip(*results, strict=True):
        assert isinstance(ours, tlsapi.SSLError) and isinstance(ours, type(plain))
        assert values(ours) == values(plain)


def chaining(error: BaseException) -> tuple[Any, ...]:
    return error.__cause__, error.__context__, error.__suppress_context__


def test_want_read_from_reads_on_an_established_connection() -> None:
    """The read that asyncio's SSL protocol makes after every received chunk: nothing has arrived, so it
    raises want-read; with and without a buffer, and with no exception chained, as ``ssl`` raises it."""
    server_context = _server_context()
    results = []
    for context in unverifying_client_pair():
        client = established(context, server_context)[0]
        results.append((raised(functools.partial(client.read, 1024)),
                        raised(functools.partial(client.read, 1024, bytearray(1024)))))
    for plain, ours in zip(*results, strict=True):
        assert type(ours) is tlsapi.SSLWantReadError
        assert values(ours) == values(plain)
        assert chaining(ours) == chaining(plain) == (None, None, False)


def test_reasonless_base_error_from_set_ciphers() -> None:
    plain, ours = client_pair("stdlib")
    expected = raised(lambda: plain.set_ciphers("NO-SUCH-CIPHER"))
    got = raised(lambda: ours.set_ciphers("NO-SUCH-CIPHER"))
    assert type(got) is tlsapi.SSLError
    assert values(got)[:4] == values(expected)[:4]
    assert values(got)[4:6] == (None, None)  # absent on the stdlib's: None, as documented


def unverifying_client_pair() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """``client_pair("stdlib")`` with certificate verification off."""
    pair = client_pair("stdlib")
    for context in pair:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return pair


def _server_context() -> ssl.SSLContext:
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(*_self_signed())
    return server_context


def _self_signed() -> tuple[str, str]:
    from native_pki import ca

    identity = ca("untrusted-translation")
    return identity.cert_path, identity.key_path
