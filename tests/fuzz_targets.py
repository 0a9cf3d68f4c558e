"""The fuzz targets shared by the hypothesis properties, the atheris harnesses and the regression replay.

Each target takes fuzzer-chosen input, drives the native engine, and raises ``Finding`` if the invariant
breaks: only ``ssl.SSLError`` subclasses (want-read included) may escape, the engine's buffers stay within
their documented limits, and a rejected input produces at most one fatal alert.

* ``record_target(data)``: raw bytes as a record stream into a fresh server, into a client after its
  ClientHello, into a bare ``RecordLayer``, and as protected inner plaintexts into a connected client.
* ``messages_target(data)``: ``data[0]`` picks a handshake-message or extension parser, the rest is its
  input; a parsed message must survive ``build()`` / ``parse()`` unchanged.
* ``ech_target(data)``: ``data[0]`` picks an Encrypted Client Hello parser: the ``ECHConfigList`` codec
  (``retry_configs`` and DNS input; a parsed list must re-encode to an equal list), the server's
  ``encrypted_client_hello`` processing of a real sealed offer with the extension replaced by ``data[1:]``,
  the EncodedClientHelloInner decoder, and the same replaced extension in a ClientHello fed to a native
  server holding the key (only ``ssl.SSLError``, at most one alert).
* ``handshake_target(data)``: structure-aware: ``data`` is decoded into edits of a real flight (the hostile
  peer's ServerHello + encrypted flight against a native client, or ClientHello + Finished against a native
  server): bit flips, truncation, insertion, duplication, dropping, swapping and re-framing of messages,
  added or duplicated extensions, re-fragmentation into records of any size, injected records.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hostile_peer import (
    HostileClient,
    HostileServer,
    Outcome,
    drive,
    new_connection,
    plain_record,
    read_plain_messages,
)

import tlsapi
from tlsapi import ech
from tlsapi_conformance import harness
from tlsapi_conformance import pki as pki_module
from tlsapi_native import _messages as m
from tlsapi_native._alerts import TLSAlert
from tlsapi_native._codec import trailing
from tlsapi_native._limits import MAX_CIPHERTEXT, MAX_HANDSHAKE_MESSAGE
from tlsapi_native._record import ALERT, APPLICATION_DATA, CHANGE_CIPHER_SPEC, HANDSHAKE, RecordLayer


class Finding(AssertionError):
    """The engine broke an invariant on this input."""


@functools.cache
def setup() -> tuple[Any, Any, pki_module.PKI]:
    """(native client context, native server context, PKI), made once per process."""
    pki = pki_module.get(Path(tempfile.mkdtemp(prefix="tlsapi-fuzz-pki-")))
    native = tlsapi.get_backend("native")
    return harness.client_context(native, pki), harness.server_context(native, pki), pki


def check(outcome: Outcome, conn: Any | None = None) -> Outcome:
    """The invariant: only ``ssl.SSLError`` escapes; the engine's buffers stay bounded."""
    error = outcome.error
    if error is not None and not isinstance(error, ssl.SSLError):
        raise Finding(f"{type(error).__name__} escaped: {error!r}") from error
    if conn is not None:
        buffered = len(conn._hs_buffer)
        if buffered > MAX_HANDSHAKE_MESSAGE + 4 + MAX_CIPHERTEXT:
            raise Finding(f"handshake buffer holds {buffered} bytes")
    return outcome


# -- record layer ---------------------------------------------------------------------------------------------

_KEY = bytes(range(16))
_IV = bytes(range(12))


def protected_record(seq: int, inner: bytes, key: bytes = _KEY, iv: bytes = _IV) -> bytes:
    """A TLS 1.3 record whose inner plaintext (content, type byte, zero padding) is exactly ``inner``."""
    length = len(inner) + 16
    header = bytes((APPLICATION_DATA, 3, 3, length >> 8 & 255, length & 255))
    nonce = (int.from_bytes(iv, "big") ^ seq).to_bytes(12, "big")
    return header + AESGCM(key).encrypt(nonce, inner, header)


def split(data: bytes, sizes: bytes) -> list[bytes]:
    """``data`` cut into pieces whose lengths cycle through ``sizes`` (1..256 bytes; one piece if empty)."""
    if not sizes:
        return [data]
    pieces, pos, index = [], 0, 0
    while pos < len(data):
        step = sizes[index % len(sizes)] + 1
        pieces.append(data[pos : pos + step])
        pos += step
        index += 1
    return pieces or [b""]


def record_target(data: bytes) -> None:
    """Raw record streams into every reading path of the engine."""
    client_ctx, server_ctx, _pki = setup()
    sizes, stream = data[:4], data[4:]
    # 1. A fresh server.
    conn, incoming, outgoing = new_connection(server_ctx, True)
    check(drive(conn, incoming, outgoing, split(stream, sizes), eof=bool(sizes[:1] == b"\x00")), conn)
    # 2. A client that sent its ClientHello.
    conn, incoming, outgoing = new_connection(client_ctx, False)
    check(drive(conn, incoming, outgoing, [b"", *split(stream, sizes)]), conn)
    # 3. The bare record layer, without and with a read key.
    for keyed in (False, True):
        bio = tlsapi.MemoryBIO()
        layer = RecordLayer(bio, tlsapi.MemoryBIO())
        if keyed:
            layer.set_read_key(AESGCM, _KEY, _IV)
        bio.write(stream)
        try:
            for _ in range(len(stream) + 1):
                record = layer.read_record()
                if record is None:
                    break
                content_type, payload = record
                if len(payload) > MAX_CIPHERTEXT:
                    raise Finding(f"record of {len(payload)} bytes accepted")
                if content_type not in (CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA):
                    raise Finding(f"content type {content_type} accepted")
        except TLSAlert:
            pass
    # 4. Protected inner plaintexts into a connected client (post-handshake path: alerts, KeyUpdate,
    #    NewSessionTicket, CCS, empty records, padding), each chunk one record.
    connected_client_target(split(stream, sizes))


def connected_client_target(inners: list[bytes]) -> Outcome:
    """A native client completes a handshake with a hostile server, which then sends ``inners`` as the
    inner plaintexts of protected records (content + type byte + padding, chosen by the fuzzer)."""
    client_ctx, _server_ctx, pki = setup()
    conn, incoming, outgoing = new_connection(client_ctx, False)
    first = drive(conn, incoming, outgoing, [b""])
    leaf = pki.leaf()
    server = HostileServer(leaf.chain_der, leaf.key)
    server.receive(first.output)
    hello = server.server_hello()
    flight = server.protect(HANDSHAKE, b"".join(server.flight()))
    done = drive(conn, incoming, outgoing, [plain_record(HANDSHAKE, hello) + flight])
    if done.error is not None:
        raise Finding(f"baseline handshake failed: {done.error!r}")
    server.application_keys()
    assert server.schedule is not None
    key, iv = server.schedule.traffic_keys(server.server_app)
    wire = [protected_record(seq, inner, key, iv) for seq, inner in enumerate(inners)]
    return check(drive(conn, incoming, outgoing, wire, step=lambda c: c.read(1 << 15)), conn)


# -- message parsers ----------------------------------------------------------------------------------------

_MESSAGE_CLASSES: list[Any] = [
    m.ClientHello, m.ServerHello, m.EncryptedExtensions, m.CertificateRequest, m.Certificate,
    m.CertificateVerify, m.NewSessionTicket, m.KeyUpdate,
]


def _parse_extensions(data: bytes) -> Any:
    result, pos = m.extensions_at(data, 0, len(data))
    if pos != len(data):
        raise trailing()
    return result


_PARSERS: list[Callable[[bytes], Any]] = [
    lambda b: m.Finished.parse(b, 32), lambda b: m.Finished.parse(b, 48), _parse_extensions,
    m.parse_supported_versions_client, m.parse_u16, m.parse_u16_list, m.parse_key_share_client,
    m.parse_key_share_server, m.parse_server_name, m.parse_alpn, m.parse_psk_key_exchange_modes,
    m.parse_cookie, m.parse_pre_shared_key_client, m.expect_empty,
]

#: The number of parser choices ``messages_target`` maps ``data[0]`` onto.
PARSER_COUNT = len(_MESSAGE_CLASSES) + len(_PARSERS)


def messages_target(data: bytes) -> None:
    """``data[0]`` picks a parser; only ``TLSAlert`` may escape, and parse(build(x)) == x."""
    if not data:
        return
    choice, body = data[0] % PARSER_COUNT, data[1:]
    try:
        if choice < len(_MESSAGE_CLASSES):
            cls = _MESSAGE_CLASSES[choice]
            parsed = cls.parse(body)
            again = cls.parse(parsed.build()[4:])
            if again != parsed:
                raise Finding(f"{cls.__name__} does not round-trip: {parsed!r} -> {again!r}")
        else:
            _PARSERS[choice - len(_MESSAGE_CLASSES)](body)
    except TLSAlert:
        pass
    except Finding:
        raise
    except Exception as exc:
        raise Finding(f"{type(exc).__name__} escaped parser {choice}: {exc!r}") from exc


# -- Encrypted Client Hello ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ECHSetup:
    keys: ech.ECHKeys
    pairs: tuple[tuple[ech.ECHConfig, Any], ...]
    outer: m.ClientHello  # a real ClientHelloOuter sealed to ``keys``
    server: Any  # a native server context holding ``keys``


@functools.cache
def ech_setup() -> _ECHSetup:
    """A key, an offer sealed to it, and a native server context holding it (once per process)."""
    from tlsapi_native import _ech

    keys = ech.generate("public.example")
    config_list, private_key = ech.load_ech_pem(keys.to_pem())
    pairs = tuple((config, private_key) for config in ech.parse_ech_config_list(config_list))
    client = tlsapi.create_default_context(backend="native")
    client.set_ech_configs(keys.config_list)
    conn, _incoming, outgoing = new_connection(client, server_side=False)
    with contextlib.suppress(ssl.SSLWantReadError):
        conn.do_handshake()
    (raw,) = read_plain_messages(outgoing.read())
    assert _ech.ENCRYPTED_CLIENT_HELLO in dict(m.ClientHello.parse(raw[4:]).extensions)
    server = harness.server_context(tlsapi.get_backend("native"), setup()[2])
    server.set_ech_keys([keys.to_pem()])
    return _ECHSetup(keys, pairs, m.ClientHello.parse(raw[4:]), server)


def _with_ech_extension(outer: m.ClientHello, data: bytes) -> m.ClientHello:
    from tlsapi_native._ech import ENCRYPTED_CLIENT_HELLO

    extensions = [(t, data if t == ENCRYPTED_CLIENT_HELLO else d) for t, d in outer.extensions]
    return m.ClientHello(outer.random, outer.session_id, outer.cipher_suites, extensions)


def _config_list(body: bytes) -> None:
    try:
        configs = ech.parse_ech_config_list(body)
    except ech.ECHConfigError:
        return
    if configs and ech.parse_ech_config_list(ech.encode_ech_config_list(configs)) != configs:
        raise Finding(f"ECHConfigList does not round-trip: {configs!r}")


def _open_extension(body: bytes) -> None:
    from tlsapi_native import _ech

    state = ech_setup()
    with contextlib.suppress(TLSAlert):
        _ech.open_client_hello(_with_ech_extension(state.outer, body), state.pairs)


def _decode_inner(body: bytes) -> None:
    from tlsapi_native import _ech

    with contextlib.suppress(TLSAlert):
        _ech._decode_inner(body, ech_setup().outer)


def _server_with_extension(body: bytes) -> None:
    state = ech_setup()
    conn, incoming, outgoing = new_connection(state.server, server_side=True)
    hello = _with_ech_extension(state.outer, body).build()
    outcome = check(drive(conn, incoming, outgoing, [plain_record(HANDSHAKE, hello)]), conn)
    if outcome.output.count(bytes((ALERT, 3, 3, 0, 2))) > 1:
        raise Finding("more than one alert for one ClientHello")


_ECH_PARSERS: list[Callable[[bytes], None]] = [_config_list, _open_extension, _decode_inner, _server_with_extension]

#: The number of parser choices ``ech_target`` maps ``data[0]`` onto.
ECH_PARSER_COUNT = len(_ECH_PARSERS)


def ech_target(data: bytes) -> None:
    """``data[0]`` picks an ECH parser; only the engine's alert (or ``ssl.SSLError``) may escape."""
    if not data:
        return
    choice, body = data[0] % ECH_PARSER_COUNT, data[1:]
    try:
        _ECH_PARSERS[choice](body)
    except Finding:
        raise
    except Exception as exc:
        raise Finding(f"{type(exc).__name__} escaped ECH parser {choice}: {exc!r}") from exc


# -- structure-aware handshake fuzzing ---------------------------------------------------------------------

#: Mutation opcodes (``Mutation.op`` modulo ``len(OPS)``).
OPS = ("flip", "truncate", "insert", "delete", "duplicate", "drop", "swap", "trailing", "length",
       "replace_body", "add_extension", "duplicate_extension")


@dataclass(frozen=True)
class Mutation:
    """One edit: ``op`` (an index into ``OPS``), applied to message ``index`` at ``pos`` with ``value``."""

    op: int
    index: int
    pos: int
    value: bytes


def _reframe(msg_type: int, body: bytes) -> bytes:
    return m.handshake_message(msg_type, body[: (1 << 24) - 1])


def _with_extension(raw: bytes, ext_type: int, data: bytes, duplicate: bool) -> bytes:
    """``raw`` (a message with an extensions block we can parse) with one more extension."""
    body = raw[4:]
    try:
        if raw[0] == m.CLIENT_HELLO:
            hello = m.ClientHello.parse(body)
            exts = hello.extensions
        elif raw[0] == m.ENCRYPTED_EXTENSIONS:
            ee = m.EncryptedExtensions.parse(body)
            exts = ee.extensions
        elif raw[0] == m.SERVER_HELLO:
            sh = m.ServerHello.parse(body)
            exts = sh.extensions
        else:
            return raw
    except TLSAlert:
        return raw
    if duplicate and exts:
        exts.insert(ext_type % (len(exts) + 1), exts[ext_type % len(exts)])
    else:
        exts.append((ext_type, data[:65535]))
    if raw[0] == m.CLIENT_HELLO:
        return hello.build()
    if raw[0] == m.ENCRYPTED_EXTENSIONS:
        return ee.build()
    return sh.build()


def mutate(messages: list[bytes], mutations: list[Mutation]) -> list[bytes]:
    """Apply ``mutations`` in order to a list of raw handshake messages."""
    out = list(messages)
    for mut in mutations:
        if not out:
            break
        i = mut.index % len(out)
        raw = out[i]
        op = OPS[mut.op % len(OPS)]
        pos = mut.pos % (len(raw) + 1)
        value = mut.value or b"\x01"
        if op == "flip":
            if raw:
                p = mut.pos % len(raw)
                out[i] = raw[:p] + bytes((raw[p] ^ (value[0] or 1),)) + raw[p + 1 :]
        elif op == "truncate":
            out[i] = raw[:pos]
        elif op == "insert":
            out[i] = raw[:pos] + value + raw[pos:]
        elif op == "delete":
            out[i] = raw[:pos] + raw[pos + len(value) :]
        elif op == "duplicate":
            out.insert(i, raw)
        elif op == "drop":
            del out[i]
        elif op == "swap":
            j = (i + 1) % len(out)
            out[i], out[j] = out[j], out[i]
        elif op == "trailing" and raw:
            out[i] = _reframe(raw[0], raw[4:] + value)
        elif op == "length" and len(raw) >= 4:
            out[i] = raw[:1] + (int.from_bytes(value[:3].rjust(3, b"\x00"), "big")).to_bytes(3, "big") + raw[4:]
        elif op == "replace_body" and raw:
            out[i] = _reframe(raw[0], value)
        elif op == "add_extension" and raw:
            out[i] = _with_extension(raw, int.from_bytes(value[:2].rjust(2, b"\x00"), "big"), value[2:], False)
        elif op == "duplicate_extension" and raw:
            out[i] = _with_extension(raw, mut.pos, b"", True)
    return out


@dataclass(frozen=True)
class Injection:
    """An extra record slipped into the stream before flight record ``index``."""

    index: int
    content_type: int
    payload: bytes


def handshake_target(server_side: bool, mutations: list[Mutation], record_size: int = 1 << 14,
                     injections: list[Injection] | None = None, chunk_sizes: bytes = b"") -> Outcome:
    """Run one mutated handshake against a native client (``server_side=False``) or server."""
    client_ctx, server_ctx, pki = setup()
    record_size = max(1, min(record_size, 1 << 14))
    injections = injections or []
    if not server_side:
        conn, incoming, outgoing = new_connection(client_ctx, False)
        first = drive(conn, incoming, outgoing, [b""])
        leaf = pki.leaf()
        server = HostileServer(leaf.chain_der, leaf.key)
        server.receive(first.output)
        hello_mutations = [mut for mut in mutations if mut.index % 5 == 0]
        rest = [Mutation(mut.op, mut.index - 1, mut.pos, mut.value) for mut in mutations if mut.index % 5]
        hello_raw = server.server_hello()
        hello_wire = b"".join(mutate([hello_raw], hello_mutations))
        if hello_mutations:
            server.rekey_for(hello_wire)
        flight = mutate(server.flight(), rest)
        plain = _plain_records(hello_wire, record_size)
        protected = [server.protect(HANDSHAKE, b"".join(flight), record_size)] if flight else []
        wire = _inject(plain + protected, injections)
        return check(drive(conn, incoming, outgoing, _chunks(wire, chunk_sizes)), conn)
    conn, incoming, outgoing = new_connection(server_ctx, True)
    client = HostileClient()
    hello_mutations = [mut for mut in mutations if mut.index % 2 == 0]
    hello_wire = b"".join(mutate([client.hello()], hello_mutations))
    client.client_hello_raw = hello_wire
    wire = _inject(_plain_records(hello_wire, record_size), [j for j in injections if j.index % 2 == 0])
    outcome = check(drive(conn, incoming, outgoing, _chunks(wire, chunk_sizes)), conn)
    if not outcome.want_read:
        return outcome
    try:
        client.receive(outcome.output)
    except (TLSAlert, KeyError, ValueError):
        return outcome  # the server answered something our simple client cannot follow (e.g. HRR)
    if client.schedule is None:
        return outcome
    finished = mutate([client.finished()], [mut for mut in mutations if mut.index % 2])
    wire = [client.protect(HANDSHAKE, b"".join(finished), record_size)] if finished else [b""]
    wire = _inject(wire, [j for j in injections if j.index % 2])
    return check(drive(conn, incoming, outgoing, _chunks(wire, chunk_sizes)), conn)


def _plain_records(data: bytes, size: int) -> list[bytes]:
    return [plain_record(HANDSHAKE, data[i : i + size]) for i in range(0, len(data), size)] or [b""]


def _inject(wire: list[bytes], injections: list[Injection]) -> list[bytes]:
    out = list(wire)
    for injection in injections:
        out.insert(injection.index % (len(out) + 1), plain_record(injection.content_type, injection.payload[:300]))
    return out


def _chunks(wire: list[bytes], sizes: bytes) -> list[bytes]:
    data = b"".join(wire)
    return split(data, sizes) if sizes else [data]


def decode_handshake_input(data: bytes) -> tuple[bool, list[Mutation], int, list[Injection], bytes]:
    """Decode raw fuzzer bytes into ``handshake_target`` arguments (for atheris and the corpus)."""
    if not data:
        return False, [], 1 << 14, [], b""
    server_side = bool(data[0] & 1)
    record_size = 1 << 14 if data[0] & 2 else 1 + (data[0] >> 2) * 64
    pos = 1
    mutations: list[Mutation] = []
    injections: list[Injection] = []
    chunk_sizes = b""
    while pos + 4 <= len(data) and len(mutations) + len(injections) < 16:
        kind, index, p, n = data[pos], data[pos + 1], data[pos + 2], data[pos + 3] % 64
        value = data[pos + 4 : pos + 4 + n]
        pos += 4 + n
        if kind >= 240:
            injections.append(Injection(index, (kind - 240) % 4 + CHANGE_CIPHER_SPEC, value))
        elif kind >= 230:
            chunk_sizes = value
        else:
            mutations.append(Mutation(kind, index, p + (n << 8), value))
    return server_side, mutations, record_size, injections, chunk_sizes


def handshake_bytes_target(data: bytes) -> None:
    """``handshake_target`` on raw bytes (atheris, regression corpus)."""
    handshake_target(*decode_handshake_input(data))


__all__ = [
    "ECH_PARSER_COUNT",
    "OPS",
    "PARSER_COUNT",
    "Finding",
    "Injection",
    "Mutation",
    "connected_client_target",
    "ech_setup",
    "ech_target",
    "handshake_bytes_target",
    "handshake_target",
    "messages_target",
    "record_target",
    "setup",
]
