"""A hostile TLS 1.3 peer built from the native engine's own codec, record layer and key schedule.

``HostileServer`` and ``HostileClient`` speak just enough TLS 1.3 to get a native connection into any
handshake state, and let a test (or a fuzzer) edit every message, record boundary and record type on the
way. They never validate what the engine sends: they only derive the keys needed to read its alert.

Shared by ``tests/test_adversarial.py``, ``tests/test_fuzz_properties.py`` and the atheris harnesses in
``fuzz/``.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import x25519

import tlsapi
from tlsapi_native import _messages as m
from tlsapi_native._keyschedule import KeySchedule, Transcript
from tlsapi_native._record import (
    ALERT,
    APPLICATION_DATA,
    CHANGE_CIPHER_SPEC,
    HANDSHAKE,
    HandshakeBuffer,
    RecordLayer,
)
from tlsapi_native._signatures import (
    DEFAULT_CERT_SIGNATURE_SCHEMES,
    DEFAULT_SIGNATURE_SCHEMES,
    choose_scheme,
    sign,
    tls13_certificate_verify_input,
)
from tlsapi_native._suites import TLS13_SUITES

X25519 = 0x001D
AES128 = 0x1301

#: How many records under one key ``read_alert`` allows the engine to have written unseen before its alert.
_UNSEEN_RECORDS = 8
#: ``edit(index, raw_message) -> messages to send instead`` (drop: ``[]``, duplicate: ``[raw, raw]``).
Edit = Callable[[int, bytes], list[bytes]]


def keep(_index: int, raw: bytes) -> list[bytes]:
    """The identity edit."""
    return [raw]


def plain_record(content_type: int, payload: bytes, version: bytes = b"\x03\x03") -> bytes:
    """An unprotected record, with any length (no fragmenting, no checks)."""
    return bytes((content_type,)) + version + len(payload).to_bytes(2, "big") + payload


def records(data: bytes, content_type: int = HANDSHAKE, size: int = 1 << 14) -> bytes:
    """``data`` cut into unprotected records of at most ``size`` bytes."""
    return b"".join(plain_record(content_type, data[i : i + size]) for i in range(0, len(data), size))


class _Sink:
    """A write-only BIO collecting bytes."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: Any) -> int:
        self.data += data
        return len(data)

    def take(self) -> bytes:
        out = bytes(self.data)
        self.data.clear()
        return out


@dataclass
class Alert:
    """The alert the engine sent (``None`` fields when it sent none)."""

    level: int | None
    description: int | None


class _Peer:
    """What both hostile roles share: a record layer on private BIOs and protected writing."""

    def __init__(self) -> None:
        self.inbox = tlsapi.MemoryBIO()
        self.sink = _Sink()
        self.records = RecordLayer(self.inbox, self.sink)
        self.schedule: KeySchedule | None = None
        self.transcript: Transcript | None = None
        self.alerts: list[Alert] = []
        self.write_secret = b""
        self.read_secrets: list[bytes] = []

    def protect(self, content_type: int, data: bytes, size: int = 1 << 14) -> bytes:
        """``data`` as protected records of ``content_type`` with the current write key."""
        for start in range(0, max(len(data), 1), size):
            self.records.write(content_type, data[start : start + size])
        return self.sink.take()

    def _keys(self, read_secret: bytes, write_secret: bytes) -> None:
        assert self.schedule is not None
        self.write_secret = write_secret
        self.read_secrets.append(read_secret)
        suite = self.schedule.suite
        self.records.set_read_key(suite.aead, *self.schedule.traffic_keys(read_secret))
        self.records.set_write_key(suite.aead, *self.schedule.traffic_keys(write_secret))

    def key_update(self, request_peer: bool = False) -> bytes:
        """A protected KeyUpdate, after which this peer writes with the next application key."""
        assert self.schedule is not None
        wire = self.protect(HANDSHAKE, m.KeyUpdate(request_peer).build())
        self.write_secret = self.schedule.next_traffic_secret(self.write_secret)
        self.records.set_write_key(self.schedule.suite.aead, *self.schedule.traffic_keys(self.write_secret))
        return wire

    def read_alert(self, wire: bytes) -> Alert:
        """The first alert in what the engine wrote: unprotected, or protected under any read key this
        peer has known (the engine may have switched keys before failing, and have written records under
        that key this peer did not read, such as tickets)."""
        keys: list[list[Any]] = []
        if self.schedule is not None:
            suite = self.schedule.suite
            for secret in dict.fromkeys(self.read_secrets):
                key, iv = self.schedule.traffic_keys(secret)
                keys.append([suite.aead(key), int.from_bytes(iv, "big"), 0])
        pos = 0
        while pos + 5 <= len(wire):
            header = wire[pos : pos + 5]
            length = int.from_bytes(header[3:], "big")
            body = wire[pos + 5 : pos + 5 + length]
            pos += 5 + length
            if header[0] == ALERT and length == 2:
                return Alert(body[0], body[1])
            if header[0] != APPLICATION_DATA:
                continue
            for entry in keys:
                aead, iv, first = entry
                inner = None
                for seq in range(first, first + _UNSEEN_RECORDS):
                    try:
                        inner = aead.decrypt((iv ^ seq).to_bytes(12, "big"), body, header)
                    except Exception:
                        continue
                    break
                if inner is None:
                    continue
                entry[2] = seq + 1
                inner = inner.rstrip(b"\x00")
                if inner[-1:] == bytes((ALERT,)) and len(inner) == 3:
                    return Alert(inner[0], inner[1])
                break
        return Alert(None, None)

    def read_messages(self, wire: bytes) -> list[bytes]:
        """The handshake messages in what the engine wrote, with the current read key."""
        self.inbox.write(wire)
        buffer = HandshakeBuffer()
        messages: list[bytes] = []
        while (record := self.records.read_record()) is not None:
            content_type, payload = record
            if content_type == HANDSHAKE:
                buffer.feed(payload)
                while (message := buffer.pop()) is not None:
                    messages.append(message[1])
            elif content_type not in (CHANGE_CIPHER_SPEC, APPLICATION_DATA):
                break
        return messages


def read_plain_messages(wire: bytes) -> list[bytes]:
    """Handshake messages from unprotected records (a ClientHello flight)."""
    peer = _Peer()
    return peer.read_messages(wire)


class HostileServer(_Peer):
    """A scriptable TLS 1.3 server: ``hello(wire)`` then ``flight()``, each message editable."""

    def __init__(self, chain: Sequence[bytes], key: Any, suite: int = AES128) -> None:
        super().__init__()
        self.chain = list(chain)
        self.key = key
        self.suite = TLS13_SUITES[suite]
        self.client_hello: m.ClientHello | None = None
        self.client_hello_raw = b""
        self.server_hs = b""
        self.client_hs = b""

    def receive(self, wire: bytes) -> m.ClientHello:
        """Parse the client's first flight (a ClientHello in plaintext records)."""
        (raw,) = [msg for msg in read_plain_messages(wire) if msg[0] == m.CLIENT_HELLO][:1]
        self.client_hello_raw = raw
        self.client_hello = m.ClientHello.parse(raw[4:])
        return self.client_hello

    def server_hello(self, edit: Callable[[m.ServerHello], None] | None = None) -> bytes:
        """A ServerHello answering the ClientHello (edited by ``edit``); installs the handshake keys."""
        hello = self.client_hello
        assert hello is not None
        shares = dict(m.parse_key_share_client(dict(hello.extensions)[m.KEY_SHARE]))
        key = x25519.X25519PrivateKey.generate()
        message = m.ServerHello(os.urandom(32), hello.session_id, self.suite.code, [
            (m.SUPPORTED_VERSIONS, m.TLS13.to_bytes(2, "big")),
            (m.KEY_SHARE, m.build_key_share_server(X25519, key.public_key().public_bytes_raw())),
        ])
        if edit is not None:
            edit(message)
        raw = message.build()
        self.shared = key.exchange(x25519.X25519PublicKey.from_public_bytes(shares[X25519]))
        self.rekey_for(raw)
        return raw

    def rekey_for(self, server_hello: bytes) -> None:
        """Derive the handshake keys for the ServerHello bytes actually sent (edited or not)."""
        self.transcript = Transcript(self.suite.hash, self.client_hello_raw)
        self.transcript.update(server_hello)
        self.schedule = KeySchedule(self.suite)
        self.client_hs, self.server_hs = self.schedule.handshake_secrets(self.shared, self.transcript.digest())
        self._keys(self.client_hs, self.server_hs)

    def flight(self, edit: Edit = keep, extensions: m.Extensions | None = None,
               certificates: Sequence[bytes] | None = None) -> list[bytes]:
        """EncryptedExtensions, Certificate, CertificateVerify, Finished: signed and MACed over the
        transcript of what is actually sent, each message passed through ``edit`` first."""
        assert self.schedule is not None and self.transcript is not None
        transcript = self.transcript
        sent: list[bytes] = []

        finished_hash: list[bytes] = []

        def emit(index: int, raw: bytes) -> None:
            for out in edit(index, raw):
                transcript.update(out)
                sent.append(out)
                if out[:1] == bytes((m.FINISHED,)) and not finished_hash:
                    finished_hash.append(transcript.digest())  # what the client derives its keys from

        emit(0, m.EncryptedExtensions(list(extensions or [])).build())
        chain = self.chain if certificates is None else list(certificates)
        emit(1, m.Certificate(b"", [(der, []) for der in chain]).build())
        hello = self.client_hello
        assert hello is not None
        offered = m.parse_u16_list(dict(hello.extensions).get(m.SIGNATURE_ALGORITHMS, b"\x00\x02\x04\x03"))
        scheme = choose_scheme(self.key, offered) or DEFAULT_SIGNATURE_SCHEMES[0]
        signature = sign(scheme, self.key, tls13_certificate_verify_input(transcript.digest(), server=True))
        emit(2, m.CertificateVerify(scheme, signature).build())
        emit(3, m.Finished(self.schedule.finished_verify_data(self.server_hs, transcript.digest())).build())
        self.client_app, self.server_app, _exporter = self.schedule.application_secrets(
            (finished_hash or [transcript.digest()])[0])
        self.read_secrets.append(self.client_app)
        return sent

    def application_keys(self, client_finished: bool = True) -> None:
        """Switch to the application keys (after the flight; the read side once the client's Finished is in)."""
        self._keys(self.client_app if client_finished else self.client_hs, self.server_app)


class HostileClient(_Peer):
    """A scriptable TLS 1.3 client: ``hello()``, ``receive(wire)``, then ``finished()``."""

    def __init__(self, server_name: str | None = "localhost") -> None:
        super().__init__()
        self.server_name = server_name
        self.key = x25519.X25519PrivateKey.generate()
        self.client_hello_raw = b""
        self.client_hs = b""
        self.server_hs = b""
        self.client_app = b""
        self.server_app = b""

    def hello_message(self) -> m.ClientHello:
        """A valid ClientHello (x25519, AES-128-GCM, SNI) for the test to edit before ``hello()``."""
        extensions: m.Extensions = []
        if self.server_name:
            extensions.append((m.SERVER_NAME, m.build_server_name(self.server_name)))
        extensions += [
            (m.SUPPORTED_VERSIONS, m.build_supported_versions_client([m.TLS13])),
            (m.SUPPORTED_GROUPS, m.build_u16_list([X25519])),
            (m.KEY_SHARE, m.build_key_share_client([(X25519, self.key.public_key().public_bytes_raw())])),
            (m.SIGNATURE_ALGORITHMS, m.build_u16_list(DEFAULT_SIGNATURE_SCHEMES)),
            (m.SIGNATURE_ALGORITHMS_CERT, m.build_u16_list(DEFAULT_CERT_SIGNATURE_SCHEMES)),
        ]
        return m.ClientHello(os.urandom(32), os.urandom(32), [AES128, 0x1302, 0x1303], extensions)

    def hello(self, message: m.ClientHello | None = None) -> bytes:
        """The raw ClientHello message (the transcript starts with it)."""
        self.client_hello_raw = (message or self.hello_message()).build()
        return self.client_hello_raw

    def receive(self, wire: bytes) -> list[bytes]:
        """Take the server's flight: ServerHello in plaintext, the rest under the handshake keys."""
        self.inbox.write(wire)
        buffer = HandshakeBuffer()
        messages: list[bytes] = []
        while (record := self.records.read_record()) is not None:
            content_type, payload = record
            if content_type == ALERT and len(payload) == 2:
                self.alerts.append(Alert(payload[0], payload[1]))
            if content_type != HANDSHAKE:
                continue
            buffer.feed(payload)
            while (message := buffer.pop()) is not None:
                raw = message[1]
                messages.append(raw)
                if raw[0] == m.SERVER_HELLO:
                    self._server_hello(raw)
                elif self.transcript is not None and self.schedule is not None:
                    self.transcript.update(raw)
                    if raw[0] == m.FINISHED and not self.server_app:
                        self.client_app, self.server_app, _ = self.schedule.application_secrets(
                            self.transcript.digest())
                        self._keys(self.server_app, self.client_hs)
        return messages

    def _server_hello(self, raw: bytes) -> None:
        hello = m.ServerHello.parse(raw[4:])
        suite = TLS13_SUITES[hello.cipher_suite]
        _group, share = m.parse_key_share_server(dict(hello.extensions)[m.KEY_SHARE])
        shared = self.key.exchange(x25519.X25519PublicKey.from_public_bytes(share))
        self.transcript = Transcript(suite.hash, self.client_hello_raw)
        self.transcript.update(raw)
        self.schedule = KeySchedule(suite)
        self.client_hs, self.server_hs = self.schedule.handshake_secrets(shared, self.transcript.digest())
        self._keys(self.server_hs, self.client_hs)

    def application_keys(self) -> None:
        """Switch to the application keys (call after ``finished()``)."""
        self._keys(self.server_app, self.client_app)

    def finished(self) -> bytes:
        """The client Finished message for the transcript so far."""
        assert self.schedule is not None and self.transcript is not None
        return m.Finished(self.schedule.finished_verify_data(self.client_hs, self.transcript.digest())).build()


# -- driving a connection ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    """How an engine took some input: the exception it raised (``None``: it completed) and its output."""

    error: BaseException | None
    output: bytes
    steps: int

    @property
    def want_read(self) -> bool:
        return isinstance(self.error, ssl.SSLWantReadError)


def drive(conn: Any, incoming: Any, outgoing: Any, chunks: Iterable[bytes], *, eof: bool = False,
          step: Callable[[Any], Any] | None = None) -> Outcome:
    """Feed ``chunks`` one by one to ``conn`` (calling ``step``, default ``do_handshake``, after each),
    optionally then EOF; stop at the first error other than want-read."""
    action = step or (lambda c: c.do_handshake())
    output = bytearray(outgoing.read())
    error: BaseException | None = None
    steps = 0
    pieces = list(chunks)
    if not pieces:
        pieces = [b""]
    for index, chunk in enumerate(pieces):
        if chunk:
            incoming.write(chunk)
        if eof and index == len(pieces) - 1:
            incoming.write_eof()
        steps += 1
        try:
            action(conn)
            error = None
        except ssl.SSLWantReadError as exc:
            error = exc
        except BaseException as exc:  # the invariant checks look at the type
            error = exc
            output += outgoing.read()
            break
        output += outgoing.read()
    return Outcome(error, bytes(output), steps)


def new_connection(ctx: Any, server_side: bool, hostname: str | None = "localhost") -> tuple[Any, Any, Any]:
    """``(conn, incoming, outgoing)`` wrapping ``ctx`` over two fresh memory BIOs."""
    incoming, outgoing = tlsapi.MemoryBIO(), tlsapi.MemoryBIO()
    if server_side:
        conn = ctx.wrap_bio(incoming, outgoing, server_side=True)
    else:
        conn = ctx.wrap_bio(incoming, outgoing, server_hostname=hostname)
    return conn, incoming, outgoing


def first_plain_alert(wire: bytes) -> Alert:
    """The first unprotected alert record in ``wire`` (what a peer sends before or without keys)."""
    pos = 0
    while pos + 5 <= len(wire):
        length = int.from_bytes(wire[pos + 3 : pos + 5], "big")
        if wire[pos] == ALERT and length == 2 and pos + 7 <= len(wire):
            return Alert(wire[pos + 5], wire[pos + 6])
        pos += 5 + length
    return Alert(None, None)
