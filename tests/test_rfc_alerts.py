"""The alert RFC 8446 / RFC 5246 require for unusual or hostile peers, as tlsfuzzer checks them.

Each case is the ClientHello (or server flight, or record) of a tlsfuzzer script that the native engine
once answered wrongly, rebuilt with the hostile peer of ``tests/hostile_peer.py`` so that CI keeps the
behaviour without tlsfuzzer (``docs/security.md`` lists the scripts and the measured table). Where OpenSSL
agrees with the RFC the case runs on every installed backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import available_backends
from fuzz_targets import protected_record
from hostile_peer import (
    X25519,
    HostileClient,
    HostileServer,
    Outcome,
    drive,
    first_plain_alert,
    plain_record,
    records,
)
from test_adversarial import (
    DECODE_ERROR,
    ILLEGAL_PARAMETER,
    NATIVE,
    PROTOCOL_VERSION,
    RECORD_OVERFLOW,
    UNEXPECTED_MESSAGE,
    attack_client,
    attack_server,
    connected_server,
    fatal,
    sent,
    server_of,
    standard_flight,
)

import tlsapi
from tlsapi_conformance.pki import PKI
from tlsapi_native import _messages as m
from tlsapi_native._groups import ffdhe_prime, generate_key_share
from tlsapi_native._record import ALERT, APPLICATION_DATA, HANDSHAKE

#: The backends whose engine answers these cases as the RFC says. rustls is left out of the cases marked with
#: ``RFC_CHOICE_ENGINES``: its engine (which the adapter cannot change) sends decode_error for an empty alert
#: record and handshake_failure where the RFC asks for illegal_parameter, leaves an ancient ClientHello
#: ``legacy_version`` unanswered, and has no x448 / secp521r1; ``docs/backends.md`` records its choices.
RFC_CHOICE_ENGINES = [name for name in available_backends() if name != "rustls"]


def server_after_flight(backend: tlsapi.Backend, pki: PKI) -> tuple[Any, Any, Any, HostileClient]:
    """A server that sent its whole flight to the hostile client, which now writes with its handshake keys."""
    conn, incoming, outgoing = server_of(backend, pki)
    client = HostileClient()
    client.receive(drive(conn, incoming, outgoing, [records(client.hello())]).output)
    return conn, incoming, outgoing, client


# == records ==========================================================================================


@pytest.mark.parametrize("backend", RFC_CHOICE_ENGINES, indirect=True)
def test_empty_plaintext_alert_record(backend: tlsapi.Backend, pki: PKI) -> None:
    """test-tls13-empty-alert: a zero-length alert record is an unexpected record (RFC 8446 5.1: an alert
    record holds exactly one alert message; section 5: unexpected records are unexpected_message)."""
    outcome, alert, _ = attack_server(backend, pki, lambda c: [records(c.hello()), plain_record(ALERT, b"")])
    fatal(outcome, "BAD_LENGTH" if backend is NATIVE else None)
    sent(alert, UNEXPECTED_MESSAGE)


@pytest.mark.parametrize("padding", [0, 2, 30])
def test_empty_alert_under_handshake_keys(pki: PKI, padding: int) -> None:
    """test-tls13-empty-alert, "using handshake keys": an empty protected alert, padded or not."""
    conn, incoming, outgoing, client = server_after_flight(NATIVE, pki)
    client.records.padding = padding
    outcome = drive(conn, incoming, outgoing, [client.protect(ALERT, b"")])
    fatal(outcome, "BAD_LENGTH")
    sent(client.read_alert(outcome.output), UNEXPECTED_MESSAGE)


@pytest.mark.parametrize("padding", [0, 5])
def test_empty_alert_under_application_keys(pki: PKI, padding: int) -> None:
    """test-tls13-empty-alert, "using application keys"."""
    conn, incoming, outgoing, client = connected_server(pki)
    client.records.padding = padding
    outcome = drive(conn, incoming, outgoing, [client.protect(ALERT, b"")], step=lambda c: c.read())
    fatal(outcome, "BAD_LENGTH")
    sent(client.read_alert(outcome.output), UNEXPECTED_MESSAGE)


def test_empty_handshake_record_under_handshake_keys(pki: PKI) -> None:
    """RFC 8446 5.1: zero-length handshake fragments are forbidden even with padding."""
    conn, incoming, outgoing, client = server_after_flight(NATIVE, pki)
    client.records.padding = 16
    outcome = drive(conn, incoming, outgoing, [client.protect(HANDSHAKE, b"")])
    fatal(outcome, "BAD_LENGTH")
    sent(client.read_alert(outcome.output), UNEXPECTED_MESSAGE)



def _padded_record(client: HostileClient, content_type: int, content: bytes, padding: int) -> bytes:
    """A protected record whose inner plaintext is ``content``, its type byte and ``padding`` zeros."""
    assert client.schedule is not None
    key, iv = client.schedule.traffic_keys(client.write_secret)
    return protected_record(0, content + bytes((content_type,)) + bytes(padding), key, iv)


@pytest.mark.parametrize("excess", [1, 9, 255 - 16])
def test_padding_past_the_plaintext_limit(pki: PKI, excess: int) -> None:
    """test-tls13-record-layer-limits: RFC 8446 5.4, the whole TLSInnerPlaintext (content, type and padding)
    is at most 2^14 + 1 bytes; the client Finished padded ``excess`` bytes past it is record_overflow."""
    conn, incoming, outgoing, client = server_after_flight(NATIVE, pki)
    finished = client.finished()
    wire = _padded_record(client, HANDSHAKE, finished, (1 << 14) - len(finished) + excess)
    outcome = drive(conn, incoming, outgoing, [wire])
    fatal(outcome, "DATA_LENGTH_TOO_LONG")
    sent(client.read_alert(outcome.output), RECORD_OVERFLOW)


def test_padding_up_to_the_plaintext_limit(pki: PKI) -> None:
    """The Finished padded to exactly 2^14 + 1 bytes of TLSInnerPlaintext is accepted."""
    conn, incoming, outgoing, client = server_after_flight(NATIVE, pki)
    finished = client.finished()
    wire = _padded_record(client, HANDSHAKE, finished, (1 << 14) - len(finished))
    outcome = drive(conn, incoming, outgoing, [wire])
    assert outcome.error is None and conn.version() == "TLSv1.3"



@pytest.mark.parametrize("padding", [0, 1, 1000])
def test_empty_application_data_during_the_handshake(pki: PKI, padding: int) -> None:
    """test-tls13-zero-length-data: an empty application data record under the client's handshake keys
    (before its Finished) is unexpected_message, not skipped as rejected 0-RTT (none was offered)."""
    conn, incoming, outgoing, client = server_after_flight(NATIVE, pki)
    client.records.padding = padding
    outcome = drive(conn, incoming, outgoing, [client.protect(APPLICATION_DATA, b"")])
    fatal(outcome, "UNEXPECTED_RECORD")
    sent(client.read_alert(outcome.output), UNEXPECTED_MESSAGE)


def test_empty_application_data_after_the_handshake(pki: PKI) -> None:
    """test-tls13-zero-length-data: empty application data records (RFC 8446 5.1 allows them) are
    accepted and the data after them is read."""
    conn, incoming, _outgoing, client = connected_server(pki)
    incoming.write(b"".join(client.protect(APPLICATION_DATA, b"") for _ in range(5)))
    incoming.write(client.protect(APPLICATION_DATA, b"GET /"))
    assert conn.read() == b"GET /"



@pytest.mark.parametrize("length", [(1 << 17) + 1, 131072 + 32, (1 << 24) - 1])
def test_finished_announced_past_the_message_limit(pki: PKI, length: int) -> None:
    """test-tls13-finished, "pad_right 131072" and up: a Finished announced longer than any message we
    buffer is decode_error like any Finished of the wrong length (RFC 8446 4.4.4, 6.2), from its header."""
    conn, incoming, outgoing, client = server_after_flight(NATIVE, pki)
    header = bytes((m.FINISHED,)) + length.to_bytes(3, "big")
    outcome = drive(conn, incoming, outgoing, [client.protect(HANDSHAKE, header + bytes(1000))])
    fatal(outcome, "BAD_LENGTH")
    sent(client.read_alert(outcome.output), DECODE_ERROR)


# == ClientHello ======================================================================================


def _hello_with(client: HostileClient, edit: Callable[[m.ClientHello], None]) -> bytes:
    message = client.hello_message()
    edit(message)
    return records(client.hello(message))


def _set_extension(message: m.ClientHello, ext_type: int, data: bytes) -> None:
    message.extensions = [(t, data if t == ext_type else d) for t, d in message.extensions]


def _tls12_hello_with_session_id_length(length: int) -> bytes:
    """test-invalid-client-hello-w-record-overflow, "session ID len fuzz to N w/ext": tlsfuzzer's TLS 1.2
    ECDHE ClientHello (no session id) with the session id length byte set to ``length``."""
    schemes = m.build_u16_list([0x0203, 0x0201, 0x0403, 0x0401, 0x0503, 0x0501, 0x0603, 0x0601])
    hello = m.ClientHello(bytes(32), b"", [0xC02F], [
        (m.SUPPORTED_GROUPS, m.build_u16_list([0x0017, 0x0100])),
        (m.SIGNATURE_ALGORITHMS, schemes),
        (m.SIGNATURE_ALGORITHMS_CERT, schemes),
        (0xFF01, b"\x00"),  # renegotiation_info
    ]).build()
    return hello[:4 + 34] + bytes((length,)) + hello[4 + 35:]


@pytest.mark.parametrize("length", [33, 39, 43, 53, 57, 62, 255])
@pytest.mark.parametrize("backend", RFC_CHOICE_ENGINES, indirect=True)
def test_client_hello_session_id_over_32_bytes(backend: tlsapi.Backend, pki: PKI, length: int) -> None:
    """RFC 5246 7.4.1.2 / RFC 8446 4.1.2: ``legacy_session_id<0..32>``; a longer one that still fits the
    message is a field out of its range, decode_error (RFC 8446 6.2; OpenSSL: LENGTH_MISMATCH). The native
    server answered illegal_parameter when the bytes after it happened to parse."""
    outcome, alert, _ = attack_server(backend, pki, lambda _client: [records(
        _tls12_hello_with_session_id_length(length))])
    fatal(outcome)
    sent(alert, DECODE_ERROR)


def _legacy_version_hello(legacy_version: int) -> Callable[[HostileClient], list[bytes]]:
    def edit(message: m.ClientHello) -> None:
        message.legacy_version = legacy_version
        _set_extension(message, m.SUPPORTED_VERSIONS,
                       m.build_supported_versions_client([m.TLS13, legacy_version]))

    return lambda client: [_hello_with(client, edit)]


@pytest.mark.parametrize("legacy_version", [0x0000, 0x0200, 0x0002, 0x0100, 0x0103, 0x0102, 0x0001])
@pytest.mark.parametrize("backend", RFC_CHOICE_ENGINES, indirect=True)
def test_legacy_version_older_than_ssl3(backend: tlsapi.Backend, pki: PKI, legacy_version: int) -> None:
    """test-tls13-legacy-version: RFC 8446 D.5, a ClientHello.legacy_version below 0x0300 is
    protocol_version even when supported_versions offers TLS 1.3 (as OpenSSL)."""
    outcome, alert, _ = attack_server(backend, pki, _legacy_version_hello(legacy_version))
    fatal(outcome, "UNSUPPORTED_PROTOCOL" if backend is NATIVE else None)
    sent(alert, PROTOCOL_VERSION)


def test_legacy_version_ssl3(pki: PKI) -> None:
    """RFC 8446 D.5: "Any endpoint receiving a Hello message with ClientHello.legacy_version ... set to
    0x0300 MUST abort the handshake with a protocol_version alert" (OpenSSL 3.0 sends handshake_failure)."""
    outcome, alert, _ = attack_server(NATIVE, pki, _legacy_version_hello(0x0300))
    fatal(outcome, "UNSUPPORTED_PROTOCOL")
    sent(alert, PROTOCOL_VERSION)


# == groups and key shares ============================================================================


def _groups_hello(groups: list[int], versions: list[int]) -> Callable[[HostileClient], list[bytes]]:
    def edit(message: m.ClientHello) -> None:
        _set_extension(message, m.SUPPORTED_GROUPS, m.build_u16_list(groups))
        _set_extension(message, m.SUPPORTED_VERSIONS, m.build_supported_versions_client(versions))

    return lambda client: [_hello_with(client, edit)]


@pytest.mark.parametrize("obsolete", [0x0001, 0x0015, 0x0016, 0x001A, 0x001C, 0xFF01, 0xFF02])
@pytest.mark.parametrize("first", [True, False])
def test_obsolete_group_offered_for_tls13_only(pki: PKI, obsolete: int, first: bool) -> None:
    """test-tls13-obsolete-curves: RFC 8446 4.2.7, the obsolete_RESERVED groups "MUST NOT be offered or
    negotiated by TLS 1.3 implementations"; a client offering only TLS 1.3 and one of them (next to
    x25519, whose share it sends) gets illegal_parameter."""
    groups = [obsolete, X25519] if first else [X25519, obsolete]
    outcome, alert, _ = attack_server(NATIVE, pki, _groups_hello(groups, [m.TLS13]))
    fatal(outcome, "BAD_KEY_SHARE")
    sent(alert, ILLEGAL_PARAMETER)


def test_obsolete_group_offered_for_tls12_too(pki: PKI) -> None:
    """The same groups are legal in a ClientHello that also offers TLS 1.2: the handshake goes on."""
    outcome, alert, client = attack_server(NATIVE, pki, _groups_hello([0x0015, X25519], [m.TLS13, m.TLS12]))
    assert outcome.want_read and alert.description is None
    assert client.schedule is not None  # the ServerHello came



def _shares_hello(groups: list[int], shares: list[tuple[int, bytes]]) -> Callable[[HostileClient], list[bytes]]:
    def edit(message: m.ClientHello) -> None:
        _set_extension(message, m.SUPPORTED_GROUPS, m.build_u16_list(groups))
        _set_extension(message, m.KEY_SHARE, m.build_key_share_client(shares))

    return lambda client: [_hello_with(client, edit)]


X448, SECP521R1 = 0x001E, 0x0019
INVALID_SHARES = {
    "x448 all zero": (X448, bytes(56)),
    "x448 too short": (X448, bytes(55)),
    "x448 one": (X448, (1).to_bytes(56, "little")),
    "secp521r1 off the curve": (SECP521R1, b"\x04" + b"\x01" * 132),
    "secp521r1 compressed": (SECP521R1, b"\x02" + bytes(66)),
    "secp521r1 truncated": (SECP521R1, b"\x04" + bytes(100)),
}


@pytest.mark.parametrize("case", INVALID_SHARES)
@pytest.mark.parametrize("backend", RFC_CHOICE_ENGINES, indirect=True)
def test_invalid_key_share_for_a_supported_group(backend: tlsapi.Backend, pki: PKI, case: str) -> None:
    """test-tls13-ecdhe-curves / -crfg-curves: RFC 8446 4.2.8.2, an invalid share for a group the server
    implements is illegal_parameter (before x448 and secp521r1 the native server knew neither and
    answered handshake_failure where OpenSSL checks the point)."""
    group, share = INVALID_SHARES[case]
    outcome, alert, _ = attack_server(backend, pki, _shares_hello([group], [(group, share)]))
    fatal(outcome)
    sent(alert, ILLEGAL_PARAMETER)


@pytest.mark.parametrize("backend", RFC_CHOICE_ENGINES, indirect=True)
def test_key_share_for_a_group_not_in_supported_groups(backend: tlsapi.Backend, pki: PKI) -> None:
    """RFC 8446 4.2.8: "Clients MUST NOT offer any KeyShareEntry values for groups not listed in the
    client's supported_groups extension"; servers may check, and answer illegal_parameter (as OpenSSL)."""
    share = HostileClient().key.public_key().public_bytes_raw()
    outcome, alert, _ = attack_server(backend, pki, _shares_hello([0x0017], [(X25519, share)]))
    fatal(outcome, "BAD_KEY_SHARE" if backend is NATIVE else None)
    sent(alert, ILLEGAL_PARAMETER)


FFDHE2048 = 0x0100
_FFDHE2048_P = ffdhe_prime(FFDHE2048)
INVALID_FFDHE_SHARES = {
    "0": bytes(256),
    "0 as one byte": b"\x00",
    "1": (1).to_bytes(256, "big"),
    "p-1": (_FFDHE2048_P - 1).to_bytes(256, "big"),
    "p": _FFDHE2048_P.to_bytes(256, "big"),
    "all bits set": b"\xff" * 256,
    "right-truncated": (2).to_bytes(256, "big")[:-1],
    "right 0-padded": (2).to_bytes(256, "big") + b"\x00",
}


@pytest.mark.parametrize("case", INVALID_FFDHE_SHARES)
@pytest.mark.parametrize("backend", RFC_CHOICE_ENGINES, indirect=True)
def test_invalid_ffdhe_key_share(backend: tlsapi.Backend, pki: PKI, case: str) -> None:
    """test-tls13-ffdhe-groups: RFC 8446 4.2.8.1, "Peers MUST validate each other's public key Y by ensuring
    that 1 < Y < p-1" and Y is "padded to the left with zeros to the size of p"; anything else in an
    ffdhe2048 share is illegal_parameter (as OpenSSL)."""
    share = INVALID_FFDHE_SHARES[case]
    outcome, alert, _ = attack_server(backend, pki, _shares_hello([FFDHE2048], [(FFDHE2048, share)]))
    fatal(outcome)
    sent(alert, ILLEGAL_PARAMETER)


def _first_server_hello(output: bytes) -> m.ServerHello:
    """The ServerHello (or HelloRetryRequest) that starts the server's first plaintext record."""
    message = output[5:]
    return m.ServerHello.parse(message[4:4 + int.from_bytes(message[1:4], "big")])


def test_ffdhe_share_with_curves_offered(pki: PKI) -> None:
    """A client sending only an ffdhe2048 share next to an x25519 it lists gets ffdhe2048 (no retry), as from
    OpenSSL 3.0; with shares for both, the server keeps its preference for the curve."""
    ffdhe = generate_key_share(FFDHE2048)
    for with_x25519, expected in ((False, FFDHE2048), (True, X25519)):
        client = HostileClient()
        shares = [(FFDHE2048, ffdhe.public)]
        if with_x25519:
            shares.append((X25519, client.key.public_key().public_bytes_raw()))
        conn, incoming, outgoing = server_of(NATIVE, pki)
        outcome = drive(conn, incoming, outgoing, _shares_hello([FFDHE2048, X25519], shares)(client))
        assert outcome.want_read
        hello = _first_server_hello(outcome.output)
        assert m.parse_key_share_server(dict(hello.extensions)[m.KEY_SHARE])[0] == expected


@pytest.mark.parametrize("backend", RFC_CHOICE_ENGINES, indirect=True)
def test_ffdhe_only_client_without_share_gets_a_retry(backend: tlsapi.Backend, pki: PKI) -> None:
    """test-tls13-ffdhe-sanity: a client listing only ffdhe3072 and ffdhe2048, with no key share, gets a
    HelloRetryRequest for one of them (RFC 8446 4.1.4) instead of handshake_failure."""
    conn, incoming, outgoing = server_of(backend, pki)
    outcome = drive(conn, incoming, outgoing, _shares_hello([0x0101, FFDHE2048], [])(HostileClient()))
    assert outcome.want_read
    retry = _first_server_hello(outcome.output)
    assert retry.random == m.HRR_RANDOM
    assert m.parse_u16(dict(retry.extensions)[m.KEY_SHARE]) in (0x0101, FFDHE2048)


@pytest.mark.parametrize("unknown", [0x0F00, 0x2A2A, 0x01FF])
def test_unknown_group_first_is_skipped(backend: tlsapi.Backend, pki: PKI, unknown: int) -> None:
    """test-tls13-unrecognised-groups: a share for a group the server does not know, first in the
    client's lists, is ignored; the handshake goes on with the x25519 share."""
    def build(client: HostileClient) -> list[bytes]:
        share = client.key.public_key().public_bytes_raw()
        return _shares_hello([unknown, X25519], [(unknown, bytes(64)), (X25519, share)])(client)

    outcome, alert, client = attack_server(backend, pki, build)
    assert outcome.want_read and alert.description is None
    assert client.schedule is not None  # the ServerHello came, for x25519


# == HelloRetryRequest ================================================================================


def _retry_pair(client: HostileClient, change: Callable[[m.ClientHello], None]) -> tuple[bytes, bytes]:
    """A ClientHello with no key share (the server asks for x25519) and the second one, edited by ``change``."""
    first = client.hello_message()
    _set_extension(first, m.KEY_SHARE, m.build_key_share_client([]))
    second = client.hello_message()
    second.random, second.session_id = first.random, first.session_id
    change(second)
    return records(first.build()), records(second.build())


def _retry_outcome(pki: PKI, change: Callable[[m.ClientHello], None]) -> Outcome:
    """What the server answers to the second ClientHello, after its HelloRetryRequest to the first."""
    conn, incoming, outgoing = server_of(NATIVE, pki)
    first, second = _retry_pair(HostileClient(), change)
    retry = drive(conn, incoming, outgoing, [first])
    assert retry.want_read and m.HRR_RANDOM in retry.output
    return drive(conn, incoming, outgoing, [second])


def _reverse_extensions(message: m.ClientHello) -> None:
    message.extensions.reverse()


def _drop_signature_algorithms_cert(message: m.ClientHello) -> None:
    message.extensions = [(t, d) for t, d in message.extensions if t != m.SIGNATURE_ALGORITHMS_CERT]


def _add_cipher_suite(message: m.ClientHello) -> None:
    message.cipher_suites = [*message.cipher_suites, 0x00FF]


def _pad(message: m.ClientHello) -> None:
    message.extensions.append((21, bytes(100)))


@pytest.mark.parametrize("change", [_reverse_extensions, _drop_signature_algorithms_cert, _add_cipher_suite])
def test_second_client_hello_changed(pki: PKI, change: Callable[[m.ClientHello], None]) -> None:
    """test-tls13-shuffled-extentions, "HRR reversed order": RFC 8446 4.1.2, after a HelloRetryRequest the
    client "MUST send the same ClientHello without modification" except key_share, early_data, cookie,
    pre_shared_key and padding; anything else changed is illegal_parameter."""
    outcome = _retry_outcome(pki, change)
    fatal(outcome, "BAD_VALUE")
    sent(first_plain_alert(outcome.output), ILLEGAL_PARAMETER)


@pytest.mark.parametrize("change", [lambda message: None, _pad])
def test_second_client_hello_allowed_changes(pki: PKI, change: Callable[[m.ClientHello], None]) -> None:
    """The new key share (and padding) is all that changes: the server answers with its ServerHello."""
    outcome = _retry_outcome(pki, change)
    assert outcome.want_read, outcome.error
    assert bytes((HANDSHAKE, 3, 3)) in outcome.output


# == the native client against a misbehaving server ===================================================

DECRYPT_ERROR = 51


def _server_hello_edit(edit: Callable[[m.ServerHello], None]) -> Callable[[HostileServer], list[bytes]]:
    return lambda peer: [records(peer.server_hello(edit))]


def _set_legacy_version(version: int) -> Callable[[m.ServerHello], None]:
    def edit(hello: m.ServerHello) -> None:
        hello.legacy_version = version

    return edit


def _set_suite(suite: int) -> Callable[[m.ServerHello], None]:
    def edit(hello: m.ServerHello) -> None:
        hello.cipher_suite = suite

    return edit


def _set_server_share_group(group: int) -> Callable[[m.ServerHello], None]:
    def edit(hello: m.ServerHello) -> None:
        hello.extensions = [(t, group.to_bytes(2, "big") + d[2:] if t == m.KEY_SHARE else d)
                            for t, d in hello.extensions]

    return edit


@pytest.mark.parametrize("version", [0x0304, 0x0302, 0x0300, 0x0000])
def test_server_hello_legacy_version(pki: PKI, version: int) -> None:
    """RFC 8446 4.1.3: in TLS 1.3 "the legacy_version field MUST be set to 0x0303" (D.5: 0x0300 or older
    MUST be answered with protocol_version); the native client answers any other value with
    protocol_version. (OpenSSL ignores the field when supported_versions is there.)"""
    outcome, _ = attack_client(NATIVE, pki, _server_hello_edit(_set_legacy_version(version)))
    fatal(outcome, "UNSUPPORTED_PROTOCOL")
    sent(first_plain_alert(outcome.output), PROTOCOL_VERSION)


@pytest.mark.parametrize("suite", [0x1304, 0x1305, 0xC02F, 0x0000, 0x1306])
@pytest.mark.parametrize("backend", RFC_CHOICE_ENGINES, indirect=True)
def test_server_hello_suite_not_offered(backend: tlsapi.Backend, pki: PKI, suite: int) -> None:
    """RFC 8446 4.1.3: "A client which receives a cipher suite that was not offered MUST abort the
    handshake with an illegal_parameter alert"."""
    outcome, _ = attack_client(backend, pki, _server_hello_edit(_set_suite(suite)))
    fatal(outcome, "WRONG_CIPHER_RETURNED" if backend is NATIVE else None)
    sent(first_plain_alert(outcome.output), ILLEGAL_PARAMETER)


@pytest.mark.parametrize("group", [0x0017, 0x0018, 0x001E, 0x0100, 0xFAFA])
def test_server_hello_group_not_offered(backend: tlsapi.Backend, pki: PKI, group: int) -> None:
    """RFC 8446 4.2.8: the server's share "MUST be in the same group as one of the client's shares";
    one for a group the client sent no share for is illegal_parameter."""
    outcome, _ = attack_client(backend, pki, _server_hello_edit(_set_server_share_group(group)))
    fatal(outcome, "BAD_KEY_SHARE" if backend is NATIVE else None)
    sent(first_plain_alert(outcome.output), ILLEGAL_PARAMETER)


@pytest.mark.parametrize("backend", RFC_CHOICE_ENGINES, indirect=True)
def test_server_hello_session_id_not_echoed(backend: tlsapi.Backend, pki: PKI) -> None:
    """RFC 8446 4.1.3: legacy_session_id_echo must echo the client's; otherwise illegal_parameter."""
    def edit(hello: m.ServerHello) -> None:
        hello.session_id = bytes(32)

    outcome, _ = attack_client(backend, pki, _server_hello_edit(edit))
    fatal(outcome, "INVALID_SESSION_ID" if backend is NATIVE else None)
    sent(first_plain_alert(outcome.output), ILLEGAL_PARAMETER)


def _set_selected_version(version: int) -> Callable[[m.ServerHello], None]:
    def edit(hello: m.ServerHello) -> None:
        hello.extensions = [(t, version.to_bytes(2, "big") if t == m.SUPPORTED_VERSIONS else d)
                            for t, d in hello.extensions]

    return edit


@pytest.mark.parametrize("version", [0x0303, 0x0305, 0x7F1C])
@pytest.mark.parametrize("backend", RFC_CHOICE_ENGINES, indirect=True)
def test_server_hello_selects_a_version_not_offered(backend: tlsapi.Backend, pki: PKI, version: int) -> None:
    """RFC 8446 4.2.1: "If the supported_versions extension in the ServerHello contains a version not offered
    by the client or contains a version prior to TLS 1.3, the client MUST abort the handshake with an
    illegal_parameter alert"."""
    outcome, _ = attack_client(backend, pki, _server_hello_edit(_set_selected_version(version)))
    fatal(outcome)
    sent(first_plain_alert(outcome.output), ILLEGAL_PARAMETER)


@pytest.mark.parametrize("backend", RFC_CHOICE_ENGINES, indirect=True)
def test_server_hello_compression_method(backend: tlsapi.Backend, pki: PKI) -> None:
    """RFC 8446 4.1.3: legacy_compression_method "MUST have the value 0"; 1 is illegal_parameter (as
    OpenSSL, INVALID_COMPRESSION_ALGORITHM)."""
    def edit(hello: m.ServerHello) -> None:
        hello.compression_method = 1

    outcome, _ = attack_client(backend, pki, _server_hello_edit(edit))
    fatal(outcome, "INVALID_COMPRESSION_ALGORITHM")
    sent(first_plain_alert(outcome.output), ILLEGAL_PARAMETER)


def _hello_retry_request(peer: HostileServer, suite: int = 0x1301, session_id: bytes | None = None,
                         version: int = m.TLS13, group: int = 0x0017) -> list[bytes]:
    """A HelloRetryRequest asking for ``group`` (secp256r1, which the clients list without a share)."""
    hello = peer.client_hello
    assert hello is not None
    retry = m.ServerHello(m.HRR_RANDOM, hello.session_id if session_id is None else session_id, suite, [
        (m.SUPPORTED_VERSIONS, version.to_bytes(2, "big")), (m.KEY_SHARE, group.to_bytes(2, "big")),
    ])
    return [records(retry.build())]


HRR_MISUSE: dict[str, tuple[dict[str, Any], int]] = {
    "suite not offered": ({"suite": 0x1305}, ILLEGAL_PARAMETER),  # 4.1.4: as for a ServerHello
    "session id not echoed": ({"session_id": bytes(32)}, ILLEGAL_PARAMETER),  # 4.1.3 / 4.1.4
    "version not offered": ({"version": 0x0303}, ILLEGAL_PARAMETER),  # 4.2.1
    "group not offered": ({"group": 0xFAFA}, ILLEGAL_PARAMETER),  # 4.2.8: must be in supported_groups
}


@pytest.mark.parametrize("case", HRR_MISUSE)
@pytest.mark.parametrize("backend", RFC_CHOICE_ENGINES, indirect=True)
def test_hello_retry_request_misuse(backend: tlsapi.Backend, pki: PKI, case: str) -> None:
    """RFC 8446 4.1.4: the client checks a HelloRetryRequest as a ServerHello (suite offered, session id
    echoed, TLS 1.3 selected) and that its group is one it listed; each violation is illegal_parameter."""
    changes, alert = HRR_MISUSE[case]
    outcome, _ = attack_client(backend, pki, lambda peer: _hello_retry_request(peer, **changes))
    fatal(outcome)
    sent(first_plain_alert(outcome.output), alert)


def _corrupt_finished(index: int, raw: bytes) -> list[bytes]:
    return [raw[:-1] + bytes((raw[-1] ^ 1,))] if raw[0] == m.FINISHED else [raw]


def test_bad_server_finished(backend: tlsapi.Backend, pki: PKI) -> None:
    """RFC 8446 4.4.4: a Finished whose verify_data is wrong is decrypt_error."""
    outcome, alert = attack_client(backend, pki, lambda peer: [standard_flight(peer, _corrupt_finished)])
    fatal(outcome, "DIGEST_CHECK_FAILED" if backend is NATIVE else None)
    sent(alert, DECRYPT_ERROR)


def _empty_certificate_verify(index: int, raw: bytes) -> list[bytes]:
    if raw[0] != m.CERTIFICATE_VERIFY:
        return [raw]
    return [m.CertificateVerify(m.CertificateVerify.parse(raw[4:]).scheme, b"").build()]


@pytest.mark.parametrize("backend", RFC_CHOICE_ENGINES, indirect=True)
def test_empty_server_certificate_verify_signature(backend: tlsapi.Backend, pki: PKI) -> None:
    """test-certificate-verify-malformed, "0 byte sig in CertificateVerify": ``signature<0..2^16-1>``
    (RFC 8446 4.4.3) may be empty; such a signature decodes and does not verify: decrypt_error (4.4.3, as
    OpenSSL), not decode_error."""
    outcome, alert = attack_client(backend, pki, lambda peer: [standard_flight(peer, _empty_certificate_verify)])
    fatal(outcome)
    sent(alert, DECRYPT_ERROR)


def test_bad_client_finished(backend: tlsapi.Backend, pki: PKI) -> None:
    """The same on the server side: the client's Finished with a wrong verify_data is decrypt_error."""
    conn, incoming, outgoing, client = server_after_flight(backend, pki)
    finished = client.finished()
    outcome = drive(conn, incoming, outgoing, [client.protect(HANDSHAKE, _corrupt_finished(0, finished)[0])])
    fatal(outcome, "DIGEST_CHECK_FAILED" if backend is NATIVE else None)
    sent(client.read_alert(outcome.output), DECRYPT_ERROR)


# == post-handshake messages ===========================================================================


@pytest.mark.parametrize("first_part", [1, 2, 3, 4])
@pytest.mark.parametrize("data", [b"GET /", b""])
def test_key_update_interleaved_with_application_data(pki: PKI, first_part: int, data: bytes) -> None:
    """test-tls13-keyupdate, "fragmented keyupdate msg, appdata between": RFC 8446 5.1, a handshake
    message split over records MUST NOT have other record types between its parts: unexpected_message."""
    conn, incoming, outgoing, client = connected_server(pki)
    key_update = m.KeyUpdate(True).build()
    wire = (client.protect(HANDSHAKE, key_update[:first_part]) + client.protect(APPLICATION_DATA, data)
            + client.protect(HANDSHAKE, key_update[first_part:]))
    outcome = drive(conn, incoming, outgoing, [wire], step=lambda c: c.read())
    fatal(outcome, "UNEXPECTED_RECORD")
    sent(client.read_alert(outcome.output), UNEXPECTED_MESSAGE)


def test_key_update_in_parts_without_interleaving(pki: PKI) -> None:
    """The same KeyUpdate in two records with nothing between them is fine."""
    conn, incoming, _outgoing, client = connected_server(pki)
    key_update = m.KeyUpdate(False).build()
    incoming.write(client.protect(HANDSHAKE, key_update[:2]) + client.protect(HANDSHAKE, key_update[2:]))
    schedule = client.schedule
    assert schedule is not None
    client.write_secret = schedule.next_traffic_secret(client.write_secret)
    client.records.set_write_key(schedule.suite.aead, *schedule.traffic_keys(client.write_secret))
    incoming.write(client.protect(APPLICATION_DATA, b"GET /"))
    assert conn.read() == b"GET /"
