"""The native record layer: framing, one protection object per direction (TLS 1.3 and TLS 1.2), limits,
record padding and the skipping of rejected 0-RTT data."""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from test_native_engine import Pair, client_context, read_all, server_context
from test_native_hello_retry import _client_hello, _record

from tlsapi_native import _messages as m
from tlsapi_native._alerts import TLSAlert
from tlsapi_native._limits import MAX_SKIPPED_EARLY_DATA
from tlsapi_native._record import (
    ALERT,
    APPLICATION_DATA,
    HANDSHAKE,
    HandshakeBuffer,
    Protection,
    Protection12,
    Protection13,
    RecordLayer,
)


def _link() -> tuple[RecordLayer, RecordLayer, ssl.MemoryBIO]:
    wire = ssl.MemoryBIO()
    return RecordLayer(ssl.MemoryBIO(), wire), RecordLayer(wire, ssl.MemoryBIO()), wire


@pytest.mark.parametrize("protection", [Protection13, Protection12])
@pytest.mark.parametrize("aead", [AESGCM, ChaCha20Poly1305], ids=["AES-GCM", "ChaCha20-Poly1305"])
def test_each_direction_has_its_own_protection(protection: type[Protection13 | Protection12], aead: type) -> None:
    sender, receiver, wire = _link()
    key = os.urandom(32)
    iv = os.urandom(4 if protection is Protection12 and aead is AESGCM else 12)
    sender.write_protection = protection(aead, key, iv)
    receiver.read_protection = protection(aead, key, iv)
    assert sender.read_protection is None and receiver.write_protection is None
    for content_type, data in [(HANDSHAKE, b"\x14\x00\x00\x01x"), (APPLICATION_DATA, b"hello"), (ALERT, b"\x01\x00")]:
        sender.write(content_type, data)
        record = wire.read()
        # TLS 1.3 hides the content type (every protected record is application_data); TLS 1.2 shows it.
        assert record[0] == (APPLICATION_DATA if protection is Protection13 else content_type)
        wire.write(record)
        assert receiver.read_record() == (content_type, data)
    assert sender.write_sequence == 3
    assert receiver.read_protection is not None and receiver.read_protection.seq == 3


def test_a_tampered_record_is_bad_record_mac_in_both_versions() -> None:
    for protection, iv in [(Protection13, os.urandom(12)), (Protection12, os.urandom(4))]:
        sender, receiver, wire = _link()
        key = os.urandom(16)
        sender.write_protection = protection(AESGCM, key, iv)
        receiver.read_protection = protection(AESGCM, key, iv)
        sender.write(APPLICATION_DATA, b"data")
        record = bytearray(wire.read())
        record[-1] ^= 1
        wire.write(bytes(record))
        with pytest.raises(TLSAlert) as info:
            receiver.read_record()
        assert info.value.description == 20  # bad_record_mac


def test_tls12_protection_refuses_change_cipher_spec_and_a_bad_version() -> None:
    receiver = RecordLayer(ssl.MemoryBIO(), ssl.MemoryBIO())
    receiver.read_protection = Protection12(AESGCM, os.urandom(16), os.urandom(4))
    receiver._incoming.write(b"\x14\x03\x03\x00\x01\x01")
    with pytest.raises(TLSAlert) as info:
        receiver.read_record()
    assert info.value.reason == "UNEXPECTED_CCS_MESSAGE"
    receiver = RecordLayer(ssl.MemoryBIO(), ssl.MemoryBIO())
    receiver.read_protection = Protection12(AESGCM, os.urandom(16), os.urandom(4))
    receiver._incoming.write(b"\x17\x03\x01\x00\x20" + bytes(32))
    with pytest.raises(TLSAlert) as info:
        receiver.read_record()
    assert info.value.reason == "WRONG_VERSION_NUMBER"


def test_a_record_is_taken_alone_from_the_bio() -> None:
    sender, receiver, wire = _link()
    sender.write(HANDSHAKE, b"\x01\x00\x00\x00")
    wire.write(b"after the record")
    assert receiver.read_record() == (HANDSHAKE, b"\x01\x00\x00\x00")
    assert wire.pending == len(b"after the record")


def test_early_data_skip_limit_is_the_documented_one() -> None:
    receiver = RecordLayer(ssl.MemoryBIO(), ssl.MemoryBIO())
    receiver.early_data_budget = MAX_SKIPPED_EARLY_DATA
    receiver._incoming.write(bytes((23, 3, 3, 0, 40)) + bytes(40))
    assert receiver.read_record() == (0, b"")
    assert receiver.early_data_budget == MAX_SKIPPED_EARLY_DATA - 40


def test_record_layer_roundtrip_and_limits() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    wire = ssl.MemoryBIO()
    sender = RecordLayer(ssl.MemoryBIO(), wire)
    receiver = RecordLayer(wire, ssl.MemoryBIO())
    key, iv = os.urandom(16), os.urandom(12)
    sender.set_write_key(AESGCM, key, iv)
    receiver.set_read_key(AESGCM, key, iv)
    sender.write(APPLICATION_DATA, b"q" * 40000)
    sizes = []
    while (record := receiver.read_record()) is not None:
        assert record[0] == APPLICATION_DATA
        sizes.append(len(record[1]))
    assert sizes == [16384, 16384, 40000 - 32768]
    wire.write(b"\x17\x03\x03\x41\x01" + bytes(0x4101))
    with pytest.raises(TLSAlert) as info:
        receiver.read_record()
    assert info.value.description == 22
    buffer = HandshakeBuffer(limit=100)
    with pytest.raises(TLSAlert):
        buffer.feed(b"\x0b\x00\x10\x00")
    plain_wire = ssl.MemoryBIO()
    RecordLayer(ssl.MemoryBIO(), plain_wire).write(HANDSHAKE, b"\x01" * 20000)
    reader = RecordLayer(plain_wire, ssl.MemoryBIO())
    assert [len(r[1]) for r in iter(reader.read_record, None)] == [16384, 20000 - 16384]


@pytest.mark.parametrize("peer", ["native", "stdlib"])
def test_record_padding(peer: str) -> None:
    client = client_context()
    client.record_padding = 256
    pair = Pair(client, server_context(peer))
    assert pair.handshake() == {}
    pair.client.write(b"x")
    record = pair.c_out.read()
    assert len(record) == 5 + 256 + 16
    pair.s_in.write(record)
    assert read_all(pair.server, 1) == b"x"
    pair.client.write(b"y" * 16384)  # a full record is never padded past the limit
    pair.flush()
    assert read_all(pair.server, 16384) == b"y" * 16384
    with pytest.raises(ValueError):
        client.record_padding = 0
    assert client.max_early_data == 0


def test_server_skips_rejected_early_data() -> None:
    """A ClientHello with early_data followed by 0-RTT records: the server skips them (RFC 8446 4.2.10)."""
    pair = Pair(client_context(), server_context())
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.do_handshake()
    offer = pair.client._handshake.offer  # what the client's hello module sent
    hello = _client_hello(pair.c_out)
    hello.extensions.insert(0, (m.EARLY_DATA, b""))
    offer.client_hello_raw = hello.build()  # the client's transcript holds what the server sees
    early = b"".join(bytes((23, 3, 3, 0, 40)) + bytes(40) for _ in range(3))
    pair.s_in.write(_record(offer.client_hello_raw) + early)
    assert pair.handshake() == {}
    pair.roundtrip()
    assert pair.server._records.early_data_budget == 0


def test_early_data_beyond_the_skip_limit_fails() -> None:
    pair = Pair(client_context(), server_context())
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.do_handshake()
    hello = _client_hello(pair.c_out)
    hello.extensions.insert(0, (m.EARLY_DATA, b""))
    early = b"".join(bytes((23, 3, 3, 0x40, 0x11)) + bytes(0x4011) for _ in range(3))
    pair.s_in.write(_record(hello.build()) + early)
    with pytest.raises(ssl.SSLError) as info:
        pair.server.do_handshake()
    assert info.value.reason == "DECRYPTION_FAILED_OR_BAD_RECORD_MAC"


@pytest.mark.parametrize("version", ["plaintext", "TLS 1.3", "TLS 1.2 AES-GCM", "TLS 1.2 ChaCha20-Poly1305"])
def test_records_split_across_bio_writes_at_every_byte(version: str) -> None:
    """Records that arrive in two BIO writes, split at every byte (inside the header, at its end, inside the
    body), and one byte per write: each comes out whole, once, only when its last byte is here, and the bytes
    after it stay in the BIO."""
    key = os.urandom(32)
    protections: dict[str, Callable[[], Protection]] = {
        "TLS 1.3": lambda: Protection13(ChaCha20Poly1305, key, bytes(12)),
        "TLS 1.2 AES-GCM": lambda: Protection12(AESGCM, key, bytes(4)),
        "TLS 1.2 ChaCha20-Poly1305": lambda: Protection12(ChaCha20Poly1305, key, bytes(12)),
    }
    sender, _, wire = _link()
    if version in protections:
        sender.write_protection = protections[version]()
    sent = [(HANDSHAKE, b"\x01\x00\x00\x03abc"), (APPLICATION_DATA if version != "plaintext" else ALERT, b"\x01\x00")]
    for content_type, data in sent:
        sender.write(content_type, data)
    stream = wire.read()
    first_end = 5 + int.from_bytes(stream[3:5], "big")

    def receiver() -> RecordLayer:
        layer = RecordLayer(ssl.MemoryBIO(), ssl.MemoryBIO())
        if version in protections:
            layer.read_protection = protections[version]()
        return layer

    for split in range(1, len(stream)):
        layer = receiver()
        layer._incoming.write(stream[:split])
        received = [bytes(record[1]) for record in iter(layer.read_record, None)]
        assert received == ([sent[0][1]] if split >= first_end else [])
        layer._incoming.write(stream[split:] + b"trailing")
        while len(received) < len(sent) and (record := layer.read_record()) is not None:
            received.append(bytes(record[1]))
        assert received == [data for _, data in sent]
        assert layer._incoming.read() == b"trailing"
    layer = receiver()
    received = []
    for index in range(len(stream)):
        layer._incoming.write(stream[index : index + 1])
        record = layer.read_record()
        if record is not None:
            assert index + 1 in (first_end, len(stream))
            received.append(bytes(record[1]))
    assert received == [data for _, data in sent]


def test_a_bad_header_is_refused_before_its_body_arrives() -> None:
    receiver = RecordLayer(ssl.MemoryBIO(), ssl.MemoryBIO())
    receiver._incoming.write(b"\x16\x03")
    assert receiver.read_record() is None
    receiver._incoming.write(b"\x03\x48\x01")  # 18433 bytes: more than any plaintext record may carry
    with pytest.raises(TLSAlert) as info:
        receiver.read_record()
    assert info.value.description == 22 and info.value.reason == "PACKET_LENGTH_TOO_LONG"
