"""Property-based fuzzing of the native engine with hypothesis (bounded: the file runs in well under 60 s).

Invariant everywhere: only ``ssl.SSLError`` subclasses escape (want-read included), nothing hangs (each
example has a deadline), and the engine's buffers stay within the limits in ``tlsapi_native._limits``.
The targets live in ``fuzz_targets`` and are shared with the atheris harnesses in ``fuzz/``; this file also
replays the regression corpus in ``tests/fuzz_regressions/``.
"""

from __future__ import annotations

import contextlib
import datetime
from pathlib import Path
from typing import Any

import pytest
from fuzz_targets import (
    ECH_PARSER_COUNT,
    OPS,
    PARSER_COUNT,
    Injection,
    Mutation,
    connected_client_target,
    ech_setup,
    ech_target,
    handshake_bytes_target,
    handshake_target,
    messages_target,
    record_target,
    setup,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsapi_native import _messages as m
from tlsapi_native._alerts import TLSAlert
from tlsapi_native._record import ALERT, APPLICATION_DATA, CHANGE_CIPHER_SPEC, HANDSHAKE

REGRESSIONS = Path(__file__).parent / "fuzz_regressions"

FUZZ = settings(
    max_examples=600,
    deadline=datetime.timedelta(seconds=3),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module", autouse=True)
def _contexts() -> None:
    setup()  # the PKI and contexts, outside any example's deadline


u16 = st.integers(0, 0xFFFF)
extensions = st.lists(st.tuples(u16, st.binary(max_size=40)), max_size=8, unique_by=lambda e: e[0])

# -- record layer -------------------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=3000))
def test_record_streams(data: bytes) -> None:
    """Arbitrary bytes (chunked as their first 4 bytes say) into every record-reading path."""
    record_target(data)


def record(content_type: int, payload: bytes, version: int = 0x0303) -> bytes:
    return bytes((content_type,)) + version.to_bytes(2, "big") + len(payload).to_bytes(2, "big") + payload


record_stream = st.lists(
    st.builds(record, st.sampled_from([CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA, 0, 24, 255]),
              st.binary(max_size=64) | st.sampled_from([b"", b"\x01", b"\x01\x5a", b"\x02\x0a"]),
              st.sampled_from([0x0303, 0x0301, 0x0304, 0x0203])),
    max_size=40,
).map(b"".join)


@FUZZ
@given(record_stream, st.binary(min_size=4, max_size=4))
def test_well_framed_record_streams(stream: bytes, chunking: bytes) -> None:
    """Well-framed records of every type and version: the framing passes, the content is fuzzed."""
    record_target(chunking + stream)


inner_plaintext = st.one_of(
    st.builds(lambda body, t, pad: body + bytes((t,)) + bytes(pad), st.binary(max_size=40),
              st.sampled_from([ALERT, HANDSHAKE, APPLICATION_DATA, CHANGE_CIPHER_SPEC, 0, 99]), st.integers(0, 20)),
    st.sampled_from([
        m.KeyUpdate(True).build() + b"\x16", m.KeyUpdate(False).build() + b"\x16", b"\x01\x5a\x15", b"\x17",
        m.NewSessionTicket(60, 1, b"n", b"t").build() + b"\x16", b"\x00" * 10, b"\x01\x00\x15",
    ]),
)


@FUZZ
@given(st.lists(inner_plaintext, max_size=60))
def test_protected_records_after_the_handshake(inners: list[bytes]) -> None:
    """Protected records (any inner type, padding, KeyUpdate/ticket/alert floods) into a connected client."""
    connected_client_target(inners)


# -- message parsers -----------------------------------------------------------------------------------------


@FUZZ
@given(st.integers(0, PARSER_COUNT - 1), st.binary(max_size=600))
def test_message_parsers_on_bytes(choice: int, body: bytes) -> None:
    """Every handshake-message and extension parser on arbitrary bytes: only TLSAlert, and round-trips."""
    messages_target(bytes((choice,)) + body)


@FUZZ
@given(st.integers(0, ECH_PARSER_COUNT - 1), st.binary(max_size=600))
def test_ech_parsers_on_bytes(choice: int, body: bytes) -> None:
    """Every Encrypted Client Hello parser (ECHConfigList, the outer extension, the encoded inner hello, a
    native server holding the key) on arbitrary bytes: only the engine's alerts or ssl.SSLError."""
    ech_target(bytes((choice,)) + body)


@FUZZ
@given(st.integers(0, ECH_PARSER_COUNT - 1), st.data())
def test_ech_parsers_on_mutated_real_input(choice: int, data: st.DataObject) -> None:
    """The same parsers on a real ECHConfigList / encrypted_client_hello with bytes flipped, cut or added."""
    from tlsapi_native._ech import ENCRYPTED_CLIENT_HELLO

    state = ech_setup()
    real = state.keys.config_list if choice == 0 else dict(state.outer.extensions)[ENCRYPTED_CLIENT_HELLO]
    body = bytearray(real)
    position = data.draw(st.integers(0, len(body) - 1))
    edit = data.draw(st.sampled_from(["flip", "truncate", "extend"]))
    if edit == "flip":
        body[position] ^= data.draw(st.integers(1, 255))
    elif edit == "truncate":
        del body[position:]
    else:
        body[position:position] = data.draw(st.binary(min_size=1, max_size=8))
    ech_target(bytes((choice,)) + bytes(body))


client_hellos = st.builds(
    m.ClientHello, st.binary(min_size=32, max_size=32), st.binary(max_size=32),
    st.lists(u16, min_size=1, max_size=40), extensions, st.sampled_from([0x0303, 0x0301]),
    st.binary(min_size=1, max_size=3),
)
server_hellos = st.builds(m.ServerHello, st.binary(min_size=32, max_size=32), st.binary(max_size=32), u16, extensions)
certificates = st.builds(m.Certificate, st.binary(max_size=8),
                         st.lists(st.tuples(st.binary(min_size=1, max_size=100), extensions), max_size=5))
tickets = st.builds(m.NewSessionTicket, st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.binary(max_size=8),
                    st.binary(min_size=1, max_size=60), extensions)
messages = st.one_of(
    client_hellos, server_hellos, certificates, tickets,
    st.builds(m.EncryptedExtensions, extensions),
    st.builds(m.CertificateRequest, st.binary(max_size=8), extensions),
    st.builds(m.CertificateVerify, u16, st.binary(min_size=1, max_size=100)),
    st.builds(m.KeyUpdate, st.booleans()),
)


@FUZZ
@given(messages, st.data())
def test_messages_round_trip_and_survive_mutation(message: object, data: st.DataObject) -> None:
    """A well-formed message parses back to itself; with one byte changed, truncated or extended it
    parses or raises TLSAlert, nothing else."""
    raw = message.build()  # type: ignore[attr-defined]
    cls: Any = type(message)
    assert cls.parse(raw[4:]) == message
    body = bytearray(raw[4:])
    edit = data.draw(st.sampled_from(["flip", "truncate", "extend"]))
    if edit == "flip" and body:
        body[data.draw(st.integers(0, len(body) - 1))] ^= data.draw(st.integers(1, 255))
    elif edit == "truncate":
        del body[data.draw(st.integers(0, len(body))):]
    else:
        body += data.draw(st.binary(min_size=1, max_size=8))
    with contextlib.suppress(TLSAlert):
        cls.parse(bytes(body))


# -- whole handshakes ---------------------------------------------------------------------------------------

mutations = st.lists(
    st.builds(Mutation, st.integers(0, len(OPS) - 1), st.integers(0, 6), st.integers(0, 4000),
              st.binary(max_size=24)),
    max_size=4,
)
injections = st.lists(
    st.builds(Injection, st.integers(0, 8), st.sampled_from([CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA]),
              st.sampled_from([b"", b"\x01", b"\x01\x5a", b"\x02\x28", bytes(30)]) | st.binary(max_size=30)),
    max_size=3,
)
record_sizes = st.sampled_from([1, 2, 7, 100, 1 << 14]) | st.integers(1, 1 << 14)
chunkings = st.sampled_from([b"", b"\x00", b"\x06", b"\xff"]) | st.binary(max_size=4)


@FUZZ
@given(mutations, record_sizes, injections, chunkings)
def test_mutated_server_flights(muts: list[Mutation], size: int, inj: list[Injection], chunks: bytes) -> None:
    """A native client against a real server flight, structurally mutated (and re-signed, re-MACed)."""
    handshake_target(False, muts, size, inj, chunks)


@FUZZ
@given(mutations, record_sizes, injections, chunkings)
def test_mutated_client_flights(muts: list[Mutation], size: int, inj: list[Injection], chunks: bytes) -> None:
    """A native server against a real ClientHello and Finished, structurally mutated."""
    handshake_target(True, muts, size, inj, chunks)


def test_unmutated_flights_complete() -> None:
    """The baseline the mutations start from is a complete handshake on both sides."""
    assert handshake_target(False, []).error is None
    assert handshake_target(True, []).error is None


# -- the regression corpus -------------------------------------------------------------------------------------

TARGETS = {"record": record_target, "messages": messages_target, "handshake": handshake_bytes_target,
           "ech": ech_target}
CORPUS = sorted(path for path in REGRESSIONS.glob("*/*") if path.is_file() and path.parent.name in TARGETS)


def test_regression_corpus_is_present() -> None:
    assert {path.parent.name for path in CORPUS} == set(TARGETS)


@pytest.mark.parametrize("path", CORPUS, ids=[f"{p.parent.name}/{p.name}" for p in CORPUS])
def test_fuzz_regression(path: Path) -> None:
    """Each kept input (seeds and what the long atheris runs found) still satisfies the invariant."""
    TARGETS[path.parent.name](path.read_bytes())
