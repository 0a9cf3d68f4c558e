"""Adversarial peers: what a hostile or broken TLS 1.3 peer sends, and what each backend must answer.

The peers (``hostile_peer.HostileClient`` / ``HostileServer``) are built from the native engine's own
message codec, record layer and key schedule, so they reach every handshake state and can still decrypt
the alert the engine sends back. Every case asserts the alert (RFC 8446 section 6.2, or OpenSSL's choice
where the RFC leaves it open; ``stdlib`` is run on the same bytes where that comparison is meaningful),
the ``SSLError`` subclass and ``reason``, and that work and memory stay bounded by the engine's limits.
"""

from __future__ import annotations

import datetime
import ssl
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hostile_peer import (
    Alert,
    HostileClient,
    HostileServer,
    Outcome,
    drive,
    first_plain_alert,
    new_connection,
    plain_record,
    records,
)

import tlsapi
from tlsapi_conformance import harness
from tlsapi_conformance.pki import PKI
from tlsapi_native import _limits
from tlsapi_native import _messages as m
from tlsapi_native._record import ALERT, APPLICATION_DATA, CHANGE_CIPHER_SPEC, HANDSHAKE

UNEXPECTED_MESSAGE, RECORD_OVERFLOW, ILLEGAL_PARAMETER, DECODE_ERROR = 10, 22, 47, 50
PROTOCOL_VERSION, UNSUPPORTED_EXTENSION, UNKNOWN_CA, BAD_CERTIFICATE = 70, 110, 48, 42

NATIVE = tlsapi.get_backend("native")
BAD_RECORD_MAC, DECRYPT_ERROR = 20, 51

#: Where the rustls engine (through rtls) answers differently from OpenSSL and the letter of RFC 8446, recorded
#: so that a change in rustls shows: decode_error for an oversized record (5.1/5.2: record_overflow; it takes
#: records up to 2^14 + 2048 bytes and judges their content instead) and for an
#: unknown record type before any key (unexpected_message); bad_record_mac for a plaintext handshake record once
#: keys exist (unexpected_message); decrypt_error for a Finished with trailing bytes (decode_error);
#: unsupported_extension for supported_versions in EncryptedExtensions (illegal_parameter); and no alert at all
#: for a handshake message over its size limit (rtls queues none for that error).
RUSTLS_ALERTS: dict[str, int | None] = {
    "oversized-record": DECODE_ERROR, "unknown-record-type": DECODE_ERROR, "plaintext-after-keys": BAD_RECORD_MAC,
    "finished-trailing-bytes": DECRYPT_ERROR, "forbidden-encrypted-extension": UNSUPPORTED_EXTENSION,
    "oversized-handshake-message": None,
}


def expected_alert(backend: tlsapi.Backend, case: str, rfc: int) -> int | None:
    """The alert ``backend`` sends for ``case``: the RFC's, except where an engine's own choice is recorded."""
    return RUSTLS_ALERTS.get(case, rfc) if backend.name == "rustls" else rfc


def fatal(outcome: Outcome, reason: str | None = None, cls: str = "SSLError", *, layered: bool = False) -> Any:
    """The outcome's error: an ``SSLError`` subclass ``cls`` (never want-read), with ``reason``.

    ``layered``: a record-layer error, which OpenSSL 3.2+ (pyOpenSSL's bundled OpenSSL) reports as
    ``RECORD_LAYER_FAILURE`` (the last error in its queue, the one ``_ssl.c`` reports) instead.
    """
    error = harness.check_error(outcome.error, cls)
    assert not isinstance(error, ssl.SSLWantReadError), "the engine is still waiting: input not rejected"
    if reason is not None:
        accepted = {reason, "RECORD_LAYER_FAILURE"} if layered and "(native)" not in str(error) else {reason}
        assert error.reason in accepted, f"reason {error.reason!r}, expected {reason!r}: {error!r}"
    return error


def sent(alert: Alert, description: int | None) -> None:
    """``alert`` is fatal ``description`` (``None``: no alert was sent)."""
    level = None if description is None else 2
    assert (alert.level, alert.description) == (level, description), f"sent {alert}, expected fatal {description}"


# -- peers against a backend's server -------------------------------------------------------------------


def server_of(backend: tlsapi.Backend, pki: PKI) -> tuple[Any, Any, Any]:
    return new_connection(harness.server_context(backend, pki), True)


def attack_server(backend: tlsapi.Backend, pki: PKI, chunks: Callable[[HostileClient], list[bytes]],
                  eof: bool = False) -> tuple[Outcome, Alert, HostileClient]:
    """Feed what ``chunks`` builds to a fresh server; return the outcome and the alert the server sent
    (decrypted with the handshake keys when it had already sent its ServerHello)."""
    conn, incoming, outgoing = server_of(backend, pki)
    client = HostileClient()
    outcome = drive(conn, incoming, outgoing, chunks(client), eof=eof)
    alert = first_plain_alert(outcome.output)
    if alert.description is None and outcome.output:
        client.receive(outcome.output)
        alert = client.alerts[0] if client.alerts else alert
    return outcome, alert, client


def connected_server(pki: PKI) -> tuple[Any, Any, Any, HostileClient]:
    """A native server that completed a handshake with the hostile client (application keys on both)."""
    conn, incoming, outgoing = server_of(NATIVE, pki)
    client = HostileClient()
    flight = drive(conn, incoming, outgoing, [records(client.hello())])
    client.receive(flight.output)
    done = drive(conn, incoming, outgoing, [client.protect(HANDSHAKE, client.finished())])
    assert done.error is None and conn.version() == "TLSv1.3"
    client.application_keys()
    return conn, incoming, outgoing, client


# -- peers against a backend's client -----------------------------------------------------------------


def client_of(backend: tlsapi.Backend, pki: PKI) -> tuple[Any, Any, Any, bytes]:
    conn, incoming, outgoing = new_connection(harness.client_context(backend, pki), False)
    first = drive(conn, incoming, outgoing, [b""])
    assert first.want_read
    return conn, incoming, outgoing, first.output


def hostile_server(pki: PKI, client_hello: bytes, chain: list[bytes] | None = None, key: Any = None) -> HostileServer:
    leaf = pki.leaf()
    server = HostileServer(chain if chain is not None else leaf.chain_der, key if key is not None else leaf.key)
    server.receive(client_hello)
    return server


def attack_client(backend: tlsapi.Backend, pki: PKI, build: Callable[[HostileServer], list[bytes]],
                  **server: Any) -> tuple[Outcome, Alert]:
    """Answer a fresh client's ClientHello with what ``build`` makes; the outcome and the client's alert."""
    conn, incoming, outgoing, hello = client_of(backend, pki)
    peer = hostile_server(pki, hello, **server)
    outcome = drive(conn, incoming, outgoing, build(peer))
    return outcome, peer.read_alert(outcome.output)


def standard_flight(peer: HostileServer, edit: Any = None, **flight: Any) -> bytes:
    """ServerHello in plaintext and the encrypted flight (edited), as one byte string."""
    hello = peer.server_hello()
    messages = peer.flight(edit, **flight) if edit is not None else peer.flight(**flight)
    return records(hello) + peer.protect(HANDSHAKE, b"".join(messages))


def connected_client(pki: PKI) -> tuple[Any, Any, Any, HostileServer]:
    """A native client that completed a handshake with the hostile server (application keys on both)."""
    conn, incoming, outgoing, hello = client_of(NATIVE, pki)
    peer = hostile_server(pki, hello)
    done = drive(conn, incoming, outgoing, [standard_flight(peer)])
    assert done.error is None and conn.version() == "TLSv1.3"
    peer.application_keys()
    return conn, incoming, outgoing, peer


# == records ==========================================================================================


@pytest.mark.parametrize("size", [(1 << 14) + 1, (1 << 14) + 256 + 1, (1 << 14) + 2048, (1 << 14) + 2048 + 1, 0xFFFF])
def test_oversized_plaintext_record(backend: tlsapi.Backend, pki: PKI, size: int) -> None:
    """RFC 8446 5.1: a plaintext record over 2^14 is record_overflow; the reason is OpenSSL's."""
    outcome, alert, _ = attack_server(backend, pki, lambda c: [plain_record(HANDSHAKE, b"\x01" + bytes(size - 1))])
    sent(alert, expected_alert(backend, "oversized-record", RECORD_OVERFLOW))
    expected = "DATA_LENGTH_TOO_LONG" if size < (1 << 14) + 2048 else "PACKET_LENGTH_TOO_LONG"
    if backend.name == "rustls" and size < (1 << 14) + 2048:
        expected = "BAD_PACKET"  # rustls takes plaintext records up to 2^14 + 2048 and fails on their content
    fatal(outcome, expected, layered=True)


@pytest.mark.parametrize("size", [(1 << 14) + 256 + 1, (1 << 14) + 2048, 0xFFFF])
def test_oversized_protected_record(backend: tlsapi.Backend, pki: PKI, size: int) -> None:
    """RFC 8446 5.2: a ciphertext over 2^14 + 256 is record_overflow, refused from its header alone."""
    pair = harness.BIOPair(harness.client_context(backend, pki), harness.server_context(backend, pki)).connect()
    pair.exchange()
    header = bytes((APPLICATION_DATA, 3, 3)) + size.to_bytes(2, "big")
    outcome = drive(pair.client, pair.c_in, pair.c_out, [header], step=lambda c: c.read())
    if backend.name == "rustls" and size < (1 << 14) + 2048:
        # rustls refuses from the header only above 2^14 + 2048 bytes, and waits for the body of a shorter
        # record (so the buffering stays bounded).
        assert outcome.want_read
        return
    if backend.name == "rustls":
        fatal(outcome, "PACKET_LENGTH_TOO_LONG")
    else:
        fatal(outcome, "ENCRYPTED_LENGTH_TOO_LONG" if size < (1 << 14) + 2048 else "PACKET_LENGTH_TOO_LONG",
              layered=True)
    pair.s_in.write(outcome.output)
    with pytest.raises(ssl.SSLError) as info:
        pair.server.read()
    expected = {RECORD_OVERFLOW: "TLSV1_ALERT_RECORD_OVERFLOW", DECODE_ERROR: "TLSV1_ALERT_DECODE_ERROR"}
    assert info.value.reason == expected[expected_alert(backend, "oversized-record", RECORD_OVERFLOW) or 0]


def test_protected_plaintext_over_limit(pki: PKI) -> None:
    """An inner plaintext of 2^14 + 1 bytes (inside a legal ciphertext) is record_overflow."""
    conn, incoming, outgoing, peer = connected_client(pki)
    from fuzz_targets import protected_record

    key, iv = peer.schedule.traffic_keys(peer.write_secret)  # type: ignore[union-attr]
    wire = protected_record(0, bytes((1 << 14) + 1) + b"\x17", key, iv)
    outcome = drive(conn, incoming, outgoing, [wire], step=lambda c: c.read())
    fatal(outcome, "DATA_LENGTH_TOO_LONG")


def test_zero_length_handshake_record(pki: PKI) -> None:
    """RFC 8446 5.1 forbids zero-length handshake fragments: unexpected_message."""
    outcome, alert, _ = attack_server(NATIVE, pki, lambda c: [plain_record(HANDSHAKE, b"")])
    fatal(outcome, "BAD_LENGTH")
    sent(alert, UNEXPECTED_MESSAGE)


def test_zero_length_alert_record(pki: PKI) -> None:
    """An alert record must hold exactly one alert: an empty one is unexpected_message (as OpenSSL; the
    tlsfuzzer cases are in test_rfc_alerts.py)."""
    outcome, alert, _ = attack_server(NATIVE, pki, lambda c: [plain_record(ALERT, b"")])
    fatal(outcome, "BAD_LENGTH")
    sent(alert, UNEXPECTED_MESSAGE)


def test_flood_of_empty_records_is_bounded(pki: PKI) -> None:
    """Empty application-data records after the handshake: MAX_EMPTY_RECORDS in a row, then
    unexpected_message (OpenSSL's RECORD_TOO_SMALL), whatever the flood's length."""
    limit = _limits.MAX_EMPTY_RECORDS
    conn, incoming, outgoing, peer = connected_client(pki)
    ok = drive(conn, incoming, outgoing, [b"".join(peer.protect(APPLICATION_DATA, b"") for _ in range(limit))],
               step=lambda c: c.read())
    assert ok.want_read
    # Data resets the count; then one more than the limit fails, and the rest of the flood is never read.
    flood = [peer.protect(APPLICATION_DATA, b"x")] + [peer.protect(APPLICATION_DATA, b"") for _ in range(10_000)]
    before = conn._records.records_read
    outcome = drive(conn, incoming, outgoing, [b"".join(flood)], step=lambda c: c.read() and c.read())
    fatal(outcome, "RECORD_TOO_SMALL")
    sent(peer.read_alert(outcome.output), UNEXPECTED_MESSAGE)
    assert conn._records.records_read - before == 1 + limit + 1


def test_warning_alert_flood_is_bounded(pki: PKI) -> None:
    """Warning alerts (user_canceled) in a row: MAX_WARNING_ALERTS, then unexpected_message with OpenSSL's
    TOO_MANY_WARN_ALERTS."""
    limit = _limits.MAX_WARNING_ALERTS
    conn, incoming, outgoing, peer = connected_client(pki)
    warnings = b"".join(peer.protect(ALERT, bytes((1, 90))) for _ in range(limit))
    ok = drive(conn, incoming, outgoing, [warnings], step=lambda c: c.read())
    assert ok.want_read
    flood = b"".join(peer.protect(ALERT, bytes((1, 90))) for _ in range(1000))
    outcome = drive(conn, incoming, outgoing, [flood], step=lambda c: c.read())
    fatal(outcome, "TOO_MANY_WARN_ALERTS")
    sent(peer.read_alert(outcome.output), UNEXPECTED_MESSAGE)


def test_warning_alerts_before_the_handshake_are_bounded(pki: PKI) -> None:
    outcome, alert, _ = attack_server(NATIVE, pki, lambda c: [plain_record(ALERT, b"\x01\x5a") * 1000])
    fatal(outcome, "TOO_MANY_WARN_ALERTS")
    sent(alert, UNEXPECTED_MESSAGE)


@pytest.mark.parametrize("requested", [False, True], ids=["update_not_requested", "update_requested"])
def test_key_update_flood_is_bounded(pki: PKI, requested: bool) -> None:
    """KeyUpdates without data in between: MAX_KEY_UPDATES in a row (each answered at most once), then
    unexpected_message; a requested update is answered by exactly one KeyUpdate."""
    limit = _limits.MAX_KEY_UPDATES
    conn, incoming, outgoing, peer = connected_client(pki)
    ok = drive(conn, incoming, outgoing, [b"".join(peer.key_update(requested) for _ in range(limit))],
               step=lambda c: c.read())
    assert ok.want_read
    flood = b"".join(peer.key_update(requested) for _ in range(500))
    outcome = drive(conn, incoming, outgoing, [flood], step=lambda c: c.read())
    fatal(outcome, "TOO_MANY_KEY_UPDATES")
    if not requested:
        sent(peer.read_alert(outcome.output), UNEXPECTED_MESSAGE)
    answers = (len(ok.output) + len(outcome.output)) // 26  # a protected KeyUpdate record is 5+5+16 bytes
    assert answers <= (2 * limit + 2 if requested else 1)


def test_key_updates_with_data_between_are_fine(pki: PKI) -> None:
    conn, incoming, outgoing, peer = connected_client(pki)
    for round_ in range(3 * _limits.MAX_KEY_UPDATES):
        wire = peer.key_update(False) + peer.protect(APPLICATION_DATA, b"data%d" % round_)
        outcome = drive(conn, incoming, outgoing, [wire], step=lambda c: c.read())
        assert outcome.error is None


def test_new_session_ticket_flood_is_bounded(pki: PKI) -> None:
    """A client takes MAX_POST_HANDSHAKE_MESSAGES tickets in a row without data, then sends
    unexpected_message."""
    limit = _limits.MAX_POST_HANDSHAKE_MESSAGES
    conn, incoming, outgoing, peer = connected_client(pki)
    ticket = m.NewSessionTicket(7200, 1, b"n", b"ticket").build()
    ok = drive(conn, incoming, outgoing, [peer.protect(HANDSHAKE, ticket * limit)], step=lambda c: c.read())
    assert ok.want_read
    outcome = drive(conn, incoming, outgoing, [peer.protect(HANDSHAKE, ticket * 500)], step=lambda c: c.read())
    fatal(outcome, "UNEXPECTED_MESSAGE")
    sent(peer.read_alert(outcome.output), UNEXPECTED_MESSAGE)


def _early_data_hello(client: HostileClient) -> bytes:
    hello = client.hello_message()
    hello.extensions.append((m.EARLY_DATA, b""))
    return records(client.hello(hello))


def test_rejected_early_data_in_many_records_is_skipped(pki: PKI) -> None:
    """0-RTT records the server cannot read are skipped (RFC 8446 4.2.10), however many there are within
    MAX_SKIPPED_EARLY_DATA bytes: they are not "empty records" (a client writing 0-RTT in 200 small pieces
    must not be cut off), and the handshake then completes."""
    conn, incoming, outgoing = server_of(NATIVE, pki)
    client = HostileClient()
    early = plain_record(APPLICATION_DATA, bytes(40)) * 200
    assert len(early) < _limits.MAX_SKIPPED_EARLY_DATA
    flight = drive(conn, incoming, outgoing, [_early_data_hello(client) + early])
    assert flight.want_read
    client.receive(flight.output)
    done = drive(conn, incoming, outgoing, [client.protect(HANDSHAKE, client.finished())])
    assert done.error is None and conn.version() == "TLSv1.3"


def test_skipped_early_data_is_bounded(pki: PKI) -> None:
    """More than MAX_SKIPPED_EARLY_DATA bytes of unreadable 0-RTT: bad_record_mac."""
    conn, incoming, outgoing = server_of(NATIVE, pki)
    client = HostileClient()
    early = plain_record(APPLICATION_DATA, bytes(1000)) * (_limits.MAX_SKIPPED_EARLY_DATA // 1000 + 2)
    outcome = drive(conn, incoming, outgoing, [_early_data_hello(client) + early])
    fatal(outcome, "DECRYPTION_FAILED_OR_BAD_RECORD_MAC")
    client.receive(outcome.output)
    assert client.alerts == [Alert(2, 20)]


def test_empty_records_are_not_skipped_early_data(pki: PKI) -> None:
    """A zero-length application_data record cannot be 0-RTT ciphertext: it fails deprotection at once
    (bad_record_mac), even while 0-RTT is being skipped (it used to be skipped for free)."""
    conn, incoming, outgoing = server_of(NATIVE, pki)
    client = HostileClient()
    outcome = drive(conn, incoming, outgoing,
                    [_early_data_hello(client) + plain_record(APPLICATION_DATA, b"") * 1000])
    fatal(outcome, "DECRYPTION_FAILED_OR_BAD_RECORD_MAC")
    client.receive(outcome.output)
    assert client.alerts == [Alert(2, 20)]
    assert conn._records.records_read == 2  # the ClientHello and the first empty record


def test_change_cipher_spec(backend: tlsapi.Backend, pki: PKI) -> None:
    """CCS before the ClientHello is unexpected_message (RFC 8446 5: only after the first ClientHello)."""
    outcome, alert, _ = attack_server(backend, pki, lambda c: [plain_record(CHANGE_CIPHER_SPEC, b"\x01")])
    fatal(outcome)
    sent(alert, UNEXPECTED_MESSAGE)


@pytest.mark.parametrize("payload", [b"\x02", b"\x01\x01", b"\x00"], ids=["value2", "two-bytes", "value0"])
def test_bad_change_cipher_spec_during_handshake(backend: tlsapi.Backend, pki: PKI, payload: bytes) -> None:
    """RFC 8446 5: a CCS other than the single byte 0x01 is unexpected_message (OpenSSL 3.0, deviating,
    sends illegal_parameter / INVALID_CCS_MESSAGE; later versions follow the RFC)."""
    outcome, alert, _ = attack_server(
        backend, pki, lambda c: [records(c.hello()), plain_record(CHANGE_CIPHER_SPEC, payload)])
    if backend.name == "native":
        fatal(outcome, "UNEXPECTED_CCS_MESSAGE")
        sent(alert, UNEXPECTED_MESSAGE)
    else:
        fatal(outcome)
        assert (alert.level, alert.description) in ((2, UNEXPECTED_MESSAGE), (2, ILLEGAL_PARAMETER))


def test_change_cipher_spec_after_handshake(pki: PKI) -> None:
    conn, incoming, outgoing, peer = connected_client(pki)
    outcome = drive(conn, incoming, outgoing, [plain_record(CHANGE_CIPHER_SPEC, b"\x01")], step=lambda c: c.read())
    fatal(outcome, "UNEXPECTED_CCS_MESSAGE")
    sent(peer.read_alert(outcome.output), UNEXPECTED_MESSAGE)


def test_protected_change_cipher_spec(pki: PKI) -> None:
    """RFC 8446 5: a protected change_cipher_spec record is unexpected_message."""
    from fuzz_targets import protected_record

    conn, incoming, outgoing, peer = connected_client(pki)
    key, iv = peer.schedule.traffic_keys(peer.write_secret)  # type: ignore[union-attr]
    outcome = drive(conn, incoming, outgoing, [protected_record(0, b"\x01\x14", key, iv)], step=lambda c: c.read())
    fatal(outcome, "UNEXPECTED_RECORD")


@pytest.mark.parametrize("content_type", [APPLICATION_DATA, 24, 0, 255])
def test_records_before_keys(backend: tlsapi.Backend, pki: PKI, content_type: int) -> None:
    """Application data (a TLS 1.3 protected record) or an unknown type before any key: unexpected_message."""
    outcome, alert, _ = attack_server(backend, pki, lambda c: [plain_record(content_type, b"\x17" * 40)])
    fatal(outcome)
    unknown_type = content_type != APPLICATION_DATA
    assert alert.description in (
        expected_alert(backend, "unknown-record-type", UNEXPECTED_MESSAGE) if unknown_type else UNEXPECTED_MESSAGE,
        None)
    if backend.name == "native":
        sent(alert, UNEXPECTED_MESSAGE)


def test_protected_record_before_server_hello(pki: PKI) -> None:
    """A client that has no keys yet gets a protected-looking record: unexpected_message."""
    outcome, _alert = attack_client(NATIVE, pki, lambda p: [plain_record(APPLICATION_DATA, bytes(40))])
    fatal(outcome, "UNEXPECTED_MESSAGE")
    assert first_plain_alert(outcome.output) == Alert(2, UNEXPECTED_MESSAGE)


def test_client_hello_split_at_every_byte(backend: tlsapi.Backend, pki: PKI) -> None:
    """The ClientHello cut in two at every byte boundary still gets a ServerHello."""
    wire = records(HostileClient().hello())
    for cut in range(1, len(wire)):
        conn, incoming, outgoing = server_of(backend, pki)
        outcome = drive(conn, incoming, outgoing, [wire[:cut], wire[cut:]])
        assert outcome.want_read and outcome.output[:1] == bytes((HANDSHAKE,)), (cut, outcome.error)


def test_server_flight_split_at_every_byte(backend: tlsapi.Backend, pki: PKI) -> None:
    """The server's whole flight, cut at every byte boundary, completes the client's handshake (one
    handshake per cut, on every backend's client)."""
    step = 1 if backend.name == "native" else 7
    _conn0, _i, _o, hello0 = client_of(backend, pki)
    length = len(standard_flight(hostile_server(pki, hello0)))
    for cut in range(1, length, step):
        conn, incoming, outgoing, hello = client_of(backend, pki)
        wire = standard_flight(hostile_server(pki, hello))
        outcome = drive(conn, incoming, outgoing, [wire[:cut], wire[cut:]])
        assert outcome.error is None, (cut, outcome.error)


def test_server_flight_one_byte_at_a_time(pki: PKI) -> None:
    conn, incoming, outgoing, hello = client_of(NATIVE, pki)
    wire = standard_flight(hostile_server(pki, hello))
    outcome = drive(conn, incoming, outgoing, [wire[i : i + 1] for i in range(len(wire))])
    assert outcome.error is None and outcome.steps == len(wire)


def test_server_flight_in_one_byte_records(pki: PKI) -> None:
    """Every handshake message fragmented into 1-byte records (legal) completes."""
    conn, incoming, outgoing, hello = client_of(NATIVE, pki)
    peer = hostile_server(pki, hello)
    sh = peer.server_hello()
    wire = records(sh, size=1) + peer.protect(HANDSHAKE, b"".join(peer.flight()), size=1)
    assert drive(conn, incoming, outgoing, [wire]).error is None


# == handshake messages =============================================================================


def test_message_before_client_hello(backend: tlsapi.Backend, pki: PKI) -> None:
    outcome, alert, _ = attack_server(backend, pki, lambda c: [records(m.Finished(bytes(32)).build())])
    fatal(outcome)
    sent(alert, UNEXPECTED_MESSAGE)


def test_second_client_hello_in_the_same_record(backend: tlsapi.Backend, pki: PKI) -> None:
    """Handshake data that straddles the key change (RFC 8446 5.1): unexpected_message."""
    def chunks(client: HostileClient) -> list[bytes]:
        hello = client.hello()
        return [records(hello + hello)]


    outcome, alert, _ = attack_server(backend, pki, chunks)
    fatal(outcome, "NOT_ON_RECORD_BOUNDARY")
    sent(alert, UNEXPECTED_MESSAGE)


def test_plaintext_client_hello_after_server_hello(pki: PKI) -> None:
    """A second, unprotected ClientHello once the handshake keys are in use: unexpected_message."""
    def chunks(client: HostileClient) -> list[bytes]:
        hello = records(client.hello())
        return [hello, hello]

    outcome, alert, _ = attack_server(NATIVE, pki, chunks)
    fatal(outcome)
    sent(alert, UNEXPECTED_MESSAGE)


FLIGHT_EDITS: dict[str, tuple[Callable[[int, bytes], list[bytes]], int]] = {
    # name: (edit of (index, message) in EE, Certificate, CertificateVerify, Finished; expected alert)
    "certificate-before-ee": (lambda i, raw: [] if i == 0 else [raw], UNEXPECTED_MESSAGE),
    "duplicate-ee": (lambda i, raw: [raw, raw] if i == 0 else [raw], UNEXPECTED_MESSAGE),
    "no-certificate": (lambda i, raw: [] if i == 1 else [raw], UNEXPECTED_MESSAGE),
    "no-certificate-verify": (lambda i, raw: [] if i == 2 else [raw], UNEXPECTED_MESSAGE),
    "duplicate-certificate": (lambda i, raw: [raw, raw] if i == 1 else [raw], UNEXPECTED_MESSAGE),
    "finished-twice": (lambda i, raw: [raw, raw] if i == 3 else [raw], UNEXPECTED_MESSAGE),
    "server-hello-again": (lambda i, raw: [m.ServerHello(bytes(32), b"", 0x1301, []).build(), raw]
                           if i == 0 else [raw], UNEXPECTED_MESSAGE),
    "key-update-in-handshake": (lambda i, raw: [m.KeyUpdate(False).build(), raw] if i == 2 else [raw],
                                UNEXPECTED_MESSAGE),
    "ee-trailing-bytes": (lambda i, raw: [m.handshake_message(raw[0], raw[4:] + b"\x00")] if i == 0 else [raw],
                          DECODE_ERROR),
    "certificate-trailing-bytes": (lambda i, raw: [m.handshake_message(raw[0], raw[4:] + b"\x00")]
                                   if i == 1 else [raw], DECODE_ERROR),
    "finished-trailing-bytes": (lambda i, raw: [m.handshake_message(raw[0], raw[4:] + b"\x00")]
                                if i == 3 else [raw], DECODE_ERROR),
    "unknown-message-type": (lambda i, raw: [m.handshake_message(99, b"x"), raw] if i == 1 else [raw],
                             UNEXPECTED_MESSAGE),
}


@pytest.mark.parametrize("case", sorted(FLIGHT_EDITS))
def test_server_flight_out_of_order(backend: tlsapi.Backend, pki: PKI, case: str) -> None:
    """Messages dropped, duplicated, reordered, injected or with trailing bytes (the rest of the flight
    signed and MACed over what was really sent): the alert RFC 8446 names, on every backend's client."""
    edit, expected = FLIGHT_EDITS[case]
    outcome, alert = attack_client(backend, pki, lambda p: [standard_flight(p, edit)])
    error = fatal(outcome)
    if backend.name == "stdlib" and case == "unknown-message-type":
        expected = UNEXPECTED_MESSAGE
    sent(alert, expected_alert(backend, case, expected))
    if backend.name == "native":
        assert error.reason in {"UNEXPECTED_MESSAGE", "LENGTH_MISMATCH", "NOT_ON_RECORD_BOUNDARY", "BAD_LENGTH"}


def test_unprotected_handshake_after_server_hello(backend: tlsapi.Backend, pki: PKI) -> None:
    """EncryptedExtensions sent in plaintext once the keys exist: unexpected_message."""
    def build(peer: HostileServer) -> list[bytes]:
        hello = peer.server_hello()
        return [records(hello) + records(peer.flight()[0])]

    outcome, alert = attack_client(backend, pki, build)
    fatal(outcome)
    sent(alert, expected_alert(backend, "plaintext-after-keys", UNEXPECTED_MESSAGE))


# -- extensions ------------------------------------------------------------------------------------------


def test_duplicate_extension_in_client_hello(backend: tlsapi.Backend, pki: PKI) -> None:
    """RFC 8446 4.2: no two extensions of one type; OpenSSL (and we) send illegal_parameter."""
    def chunks(client: HostileClient) -> list[bytes]:
        hello = client.hello_message()
        hello.extensions.append(hello.extensions[1])
        return [records(client.hello(hello))]

    outcome, alert, _ = attack_server(backend, pki, chunks)
    fatal(outcome, "BAD_EXTENSION")
    sent(alert, ILLEGAL_PARAMETER)


def test_unknown_extensions_in_client_hello_are_ignored(backend: tlsapi.Backend, pki: PKI) -> None:
    """RFC 8446 4.2: a server ignores unknown extensions, however many and however large."""
    def chunks(client: HostileClient) -> list[bytes]:
        hello = client.hello_message()
        hello.extensions[:0] = [(0xFA00 + i, bytes(i % 300)) for i in range(200)]
        return [records(client.hello(hello))]

    outcome, alert, client = attack_server(backend, pki, chunks)
    assert outcome.want_read and alert.description is None
    assert client.schedule is not None  # the server answered with a ServerHello


@pytest.mark.parametrize("declared", [1, 4096, 0xFFFF])
def test_extension_longer_than_its_block(backend: tlsapi.Backend, pki: PKI, declared: int) -> None:
    """An extension whose length runs past the extensions block: decode_error."""
    def chunks(client: HostileClient) -> list[bytes]:
        hello = client.hello_message()
        hello.extensions.append((0xFAFA, b""))
        raw = client.hello(hello)
        return [records(raw[:-2] + declared.to_bytes(2, "big"))]

    outcome, alert, _ = attack_server(backend, pki, chunks)
    fatal(outcome)
    sent(alert, DECODE_ERROR)


def test_trailing_bytes_after_client_hello(backend: tlsapi.Backend, pki: PKI) -> None:
    def chunks(client: HostileClient) -> list[bytes]:
        raw = client.hello()
        return [records(m.handshake_message(m.CLIENT_HELLO, raw[4:] + b"\x00\x00"))]

    outcome, alert, _ = attack_server(backend, pki, chunks)
    fatal(outcome, "LENGTH_MISMATCH")
    sent(alert, DECODE_ERROR)


@pytest.mark.parametrize("case", ["duplicate", "unknown", "forbidden"])
def test_bad_encrypted_extensions(backend: tlsapi.Backend, pki: PKI, case: str) -> None:
    """EncryptedExtensions: duplicate -> illegal_parameter; unsolicited -> unsupported_extension
    (RFC 8446 4.2); one that may not appear there (supported_versions) -> illegal_parameter."""
    extensions = {
        "duplicate": [(m.SUPPORTED_GROUPS, m.build_u16_list([0x1D]))] * 2,
        "unknown": [(0xFAFA, b"")],
        "forbidden": [(m.SUPPORTED_VERSIONS, b"\x03\x04")],
    }[case]
    expected = {"duplicate": ILLEGAL_PARAMETER, "unknown": UNSUPPORTED_EXTENSION, "forbidden": ILLEGAL_PARAMETER}
    outcome, alert = attack_client(backend, pki, lambda p: [standard_flight(p, extensions=extensions)])
    if case == "unknown" and backend.name not in ("native", "rustls"):
        assert outcome.error is None  # OpenSSL ignores extension types it does not know (RFC 8446 4.2: abort)
        return
    fatal(outcome)
    sent(alert, expected_alert(backend, f"{case}-encrypted-extension", expected[case]))


def test_unknown_extension_in_server_hello(backend: tlsapi.Backend, pki: PKI) -> None:
    def build(peer: HostileServer) -> list[bytes]:
        return [records(peer.server_hello(lambda hello: hello.extensions.append((0xFAFA, b""))))]

    outcome, _alert = attack_client(backend, pki, build)
    if backend.name not in ("native", "rustls"):
        assert outcome.want_read  # OpenSSL ignores extension types it does not know (RFC 8446 4.2: abort)
        return
    fatal(outcome, "UNSOLICITED_EXTENSION")
    sent(first_plain_alert(outcome.output), UNSUPPORTED_EXTENSION)


# -- sizes -------------------------------------------------------------------------------------------------


def test_client_hello_with_thousands_of_cipher_suites(backend: tlsapi.Backend, pki: PKI) -> None:
    """32,000 cipher suites (the u16 vector's maximum) are processed in bounded time."""
    def chunks(client: HostileClient) -> list[bytes]:
        hello = client.hello_message()
        hello.cipher_suites = [0x2000 + i for i in range(32_000)] + [0x1301]
        return [records(client.hello(hello))]

    start = time.perf_counter()
    outcome, alert, client = attack_server(backend, pki, chunks)
    assert time.perf_counter() - start < 2.0
    assert outcome.want_read and client.schedule is not None and alert.description is None


def test_client_hello_with_no_shared_suite_among_thousands(pki: PKI) -> None:
    def chunks(client: HostileClient) -> list[bytes]:
        hello = client.hello_message()
        hello.cipher_suites = [0x2000 + i for i in range(32_000)]
        return [records(client.hello(hello))]

    outcome, alert, _ = attack_server(NATIVE, pki, chunks)
    fatal(outcome, "NO_SHARED_CIPHER")
    sent(alert, 40)


def test_one_mebibyte_handshake_message(backend: tlsapi.Backend, pki: PKI) -> None:
    """A 1 MiB ClientHello is refused from its 4-byte header (illegal_parameter, EXCESSIVE_MESSAGE_SIZE,
    as OpenSSL does), before the body is buffered."""
    body = bytes(1 << 20)
    outcome, alert, _ = attack_server(backend, pki, lambda c: [records(m.handshake_message(1, body))])
    fatal(outcome, "EXCESSIVE_MESSAGE_SIZE")
    sent(alert, expected_alert(backend, "oversized-handshake-message", ILLEGAL_PARAMETER))


def test_buffered_handshake_bytes_are_bounded(pki: PKI) -> None:
    """A message just under the limit, trickled in: memory stays near the limit, not the input size."""
    limit = _limits.MAX_HANDSHAKE_MESSAGE
    conn, incoming, outgoing = server_of(NATIVE, pki)
    wire = records(m.handshake_message(1, bytes(limit)))
    tracemalloc.start()
    try:
        outcome = drive(conn, incoming, outgoing, [wire[i : i + 4096] for i in range(0, len(wire), 4096)])
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    fatal(outcome)  # it is not a valid ClientHello
    assert peak < 4 * limit + (1 << 20)
    conn, incoming, outgoing = server_of(NATIVE, pki)
    outcome = drive(conn, incoming, outgoing, [records(m.handshake_message(1, bytes(limit + 1)))[: 5 + (1 << 14)]])
    fatal(outcome, "EXCESSIVE_MESSAGE_SIZE")


def _chain(length: int) -> tuple[list[bytes], Any]:
    """``length`` certificates, each issued by the next (an untrusted root at the end), and the leaf key."""
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(length)]
    now = datetime.datetime.now(datetime.UTC)
    ders = []
    for k in range(length):
        issuer = min(k + 1, length - 1)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"c{k}")])
        builder = (x509.CertificateBuilder().subject_name(name)
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"c{issuer}")]))
                   .public_key(keys[k].public_key()).serial_number(k + 1)
                   .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=k > 0, path_length=None), critical=True))
        if k == 0:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        ders.append(builder.sign(keys[issuer], hashes.SHA256()).public_bytes(serialization.Encoding.DER))
    return ders, keys[0]


def test_certificate_chain_of_100(pki: PKI) -> None:
    """A 100-certificate chain is refused before any path building (MAX_CHAIN_LENGTH): OpenSSL's
    X509_V_ERR_CERT_CHAIN_TOO_LONG (22), alert unknown_ca, in bounded time."""
    ders, key = _chain(100)
    start = time.perf_counter()
    outcome, alert = attack_client(NATIVE, pki, lambda p: [standard_flight(p)], chain=ders, key=key)
    assert time.perf_counter() - start < 2.0
    error = fatal(outcome, "CERTIFICATE_VERIFY_FAILED", "SSLCertVerificationError")
    assert error.verify_code == 22
    sent(alert, UNKNOWN_CA)


def test_good_chain_padded_with_100_copies(pki: PKI) -> None:
    """A valid leaf followed by 100 extra certificates: over MAX_CHAIN_LENGTH, refused the same way."""
    leaf = pki.leaf()
    chain = leaf.chain_der + [leaf.chain_der[-1]] * 100
    outcome, alert = attack_client(NATIVE, pki, lambda p: [standard_flight(p)], chain=chain)
    error = fatal(outcome, "CERTIFICATE_VERIFY_FAILED", "SSLCertVerificationError")
    assert error.verify_code == 22
    sent(alert, UNKNOWN_CA)


def test_longest_accepted_chain(pki: PKI) -> None:
    """A valid chain padded to exactly MAX_CHAIN_LENGTH certificates still verifies."""
    leaf = pki.leaf()
    chain = leaf.chain_der + [leaf.chain_der[-1]] * (_limits.MAX_CHAIN_LENGTH - len(leaf.chain_der))
    outcome, _alert = attack_client(NATIVE, pki, lambda p: [standard_flight(p)], chain=chain)
    assert outcome.error is None


def test_one_mebibyte_certificate_chain(backend: tlsapi.Backend, pki: PKI) -> None:
    """A 1 MiB Certificate message: illegal_parameter / EXCESSIVE_MESSAGE_SIZE from its header."""
    leaf = pki.leaf()
    chain = [leaf.der] * ((1 << 20) // len(leaf.der) + 1)
    outcome, alert = attack_client(backend, pki, lambda p: [standard_flight(p)], chain=chain)
    fatal(outcome, "EXCESSIVE_MESSAGE_SIZE")
    sent(alert, expected_alert(backend, "oversized-handshake-message", ILLEGAL_PARAMETER))


# == garbage, truncation and EOF: every backend =================================================================

GARBAGE = {
    "http": b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "sslv2-hello": bytes.fromhex("8046010301002d0000001000") + bytes(60),
    "zeros": bytes(64),
    "ones": b"\xff" * 64,
    "wrong-major-version": bytes.fromhex("1604000010") + bytes(16),
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_to_server(backend: tlsapi.Backend, pki: PKI, name: str) -> None:
    outcome, _alert, _ = attack_server(backend, pki, lambda c: [GARBAGE[name]])
    fatal(outcome)


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_to_client(backend: tlsapi.Backend, pki: PKI, name: str) -> None:
    outcome, _alert = attack_client(backend, pki, lambda p: [GARBAGE[name]])
    fatal(outcome)


def test_eof_at_every_point_of_the_client_hello(backend: tlsapi.Backend, pki: PKI) -> None:
    """The transport ends after every prefix of the ClientHello: SSLEOFError, UNEXPECTED_EOF_WHILE_READING."""
    wire = records(HostileClient().hello())
    for cut in range(len(wire)):
        conn, incoming, outgoing = server_of(backend, pki)
        outcome = drive(conn, incoming, outgoing, [wire[:cut]], eof=True)
        fatal(outcome, "UNEXPECTED_EOF_WHILE_READING", "SSLEOFError")


def test_eof_at_every_point_of_the_server_flight(backend: tlsapi.Backend, pki: PKI) -> None:
    """The transport ends after every prefix of the server's flight (every 3rd byte on stdlib)."""
    _conn0, _i, _o, hello0 = client_of(backend, pki)
    length = len(standard_flight(hostile_server(pki, hello0)))
    for cut in range(0, length, 1 if backend.name == "native" else 3):
        conn, incoming, outgoing, hello = client_of(backend, pki)
        wire = standard_flight(hostile_server(pki, hello))
        if cut >= len(wire) - 1:  # ECDSA signatures vary in length by a byte or two
            break
        outcome = drive(conn, incoming, outgoing, [wire[:cut]], eof=True)
        fatal(outcome, "UNEXPECTED_EOF_WHILE_READING", "SSLEOFError")


def test_eof_at_every_point_of_the_client_finished(backend: tlsapi.Backend, pki: PKI) -> None:
    for cut in range(0, 80):
        conn, incoming, outgoing = server_of(backend, pki)
        client = HostileClient()
        flight = drive(conn, incoming, outgoing, [records(client.hello())])
        client.receive(flight.output)
        wire = client.protect(HANDSHAKE, client.finished())
        if cut >= len(wire):
            break
        outcome = drive(conn, incoming, outgoing, [wire[:cut]], eof=True)
        fatal(outcome, "UNEXPECTED_EOF_WHILE_READING", "SSLEOFError")


def test_truncated_record_then_eof_after_handshake(backend: tlsapi.Backend, pki: PKI) -> None:
    """Half a record and then EOF while reading application data: SSLEOFError."""
    pair = harness.BIOPair(harness.client_context(backend, pki), harness.server_context(backend, pki)).connect()
    pair.client.write(b"x" * 100)
    data = pair.c_out.read()
    pair.s_in.write(data[: len(data) // 2])
    pair.s_in.write_eof()
    with pytest.raises(ssl.SSLEOFError) as info:
        pair.server.read(1024)
    harness.check_error(info.value, "SSLEOFError")
    assert info.value.reason == "UNEXPECTED_EOF_WHILE_READING"
