"""Garbage, truncated and corrupted input from the peer: always an ``SSLError`` subclass, never another
exception type (nor a hang)."""

from __future__ import annotations

import random
import ssl
from typing import Any

import pytest

import tlsapi
from tlsapi_conformance.harness import BIOPair, check_error, client_context, server_context
from tlsapi_conformance.pki import PKI

GARBAGE = {
    "http-request": b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "zeros": b"\x00" * 64,
    "random": bytes(random.Random(1).randrange(256) for _ in range(512)),
    "bad-record-type": b"\x63\x03\x03\x00\x05hello",
    "oversized-record": b"\x16\x03\x03\xff\xff" + b"\x00" * 64,
    "empty-handshake": b"\x16\x03\x01\x00\x00",
    "alert-then-junk": b"\x15\x03\x03\x00\x02\x02\x28" + b"junk",
}


def _drive_to_error(conn: Any, incoming: Any, eof: bool = True) -> BaseException | None:
    """Run the handshake on ``conn``; at want-read, end the stream. Returns the error (None = success)."""
    for _ in range(3):
        try:
            conn.do_handshake()
            return None
        except ssl.SSLWantReadError:
            if eof and not incoming.eof:
                incoming.write_eof()
                continue
            return ssl.SSLWantReadError()
        except Exception as exc:
            return exc
    raise AssertionError("the handshake neither failed nor finished after EOF")


@pytest.mark.parametrize("side", ["server", "client"])
@pytest.mark.parametrize("name", list(GARBAGE))
def test_garbage_handshake(backend: tlsapi.Backend, pki: PKI, name: str, side: str) -> None:
    pair = BIOPair(client_context(backend, pki), server_context(backend, pki))
    if side == "client":
        with pytest.raises(ssl.SSLWantReadError):
            pair.client.do_handshake()
        conn, incoming = pair.client, pair.c_in
    else:
        conn, incoming = pair.server, pair.s_in
    incoming.write(GARBAGE[name])
    check_error(_drive_to_error(conn, incoming), "SSLError")


@pytest.mark.parametrize("side", ["server", "client"])
@pytest.mark.parametrize("keep", [1, 5, 40, 0.5])
def test_truncated_flight(backend: tlsapi.Backend, pki: PKI, side: str, keep: float) -> None:
    """The first flight cut short, then EOF: SSLEOFError (or another SSLError), never a hang."""
    pair = BIOPair(client_context(backend, pki), server_context(backend, pki))
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.do_handshake()
    hello = pair.c_out.read()
    if side == "server":
        cut = int(len(hello) * keep) if isinstance(keep, float) else keep
        pair.s_in.write(hello[:cut])
        conn, incoming = pair.server, pair.s_in
    else:
        pair.s_in.write(hello)
        with pytest.raises(ssl.SSLWantReadError):
            pair.server.do_handshake()
        flight = pair.s_out.read()
        cut = int(len(flight) * keep) if isinstance(keep, float) else keep
        pair.c_in.write(flight[:cut])
        conn, incoming = pair.client, pair.c_in
    error = check_error(_drive_to_error(conn, incoming), "SSLError")
    assert not isinstance(error, ssl.SSLWantReadError)


@pytest.mark.parametrize("seed", range(24))
def test_mutated_server_flight(backend: tlsapi.Backend, pki: PKI, seed: int) -> None:
    """One byte of the server's first flight flipped: the client fails with SSLError or (if the byte is one
    TLS ignores, like the record version) succeeds; nothing else."""
    pair = BIOPair(client_context(backend, pki), server_context(backend, pki))
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.do_handshake()
    pair.s_in.write(pair.c_out.read())
    with pytest.raises(ssl.SSLWantReadError):
        pair.server.do_handshake()
    flight = bytearray(pair.s_out.read())
    rng = random.Random(seed)
    position = rng.randrange(len(flight))
    flight[position] ^= 1 << rng.randrange(8)
    pair.c_in.write(bytes(flight))
    error = _drive_to_error(pair.client, pair.c_in)
    if error is not None:
        check_error(error, "SSLError")


@pytest.mark.parametrize("where", ["header", "body", "tag"])
def test_corrupted_application_record(backend: tlsapi.Backend, pki: PKI, where: str) -> None:
    pair = BIOPair(client_context(backend, pki), server_context(backend, pki)).connect()
    pair.exchange()
    pair.client.write(b"secret message")
    record = bytearray(pair.c_out.read())
    index = {"header": 0, "body": 8, "tag": len(record) - 1}[where]
    record[index] ^= 0x40
    pair.s_in.write(bytes(record))
    with pytest.raises(ssl.SSLError) as info:
        pair.server.read(100)
    check_error(info.value, "SSLError")
    assert not isinstance(info.value, ssl.SSLWantReadError), "a corrupted record is fatal, not want-read"


def test_garbage_after_handshake_on_client(backend: tlsapi.Backend, pki: PKI) -> None:
    pair = BIOPair(client_context(backend, pki), server_context(backend, pki)).connect()
    pair.c_in.write(GARBAGE["random"])
    with pytest.raises(ssl.SSLError) as info:
        pair.client.read(100)
    check_error(info.value, "SSLError")
    assert not isinstance(info.value, ssl.SSLWantReadError)
