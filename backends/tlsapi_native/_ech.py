"""Encrypted Client Hello in the native engine (draft-ietf-tls-esni version 0xfe0d, RFC 9849), over ``_hpke``.

Client: :func:`offer` turns the ClientHelloInner into an EncodedClientHelloInner (``legacy_session_id``
emptied, the contiguous run of extensions the outer hello repeats replaced by ``ech_outer_extensions``, padded
as section 6.1.3 says), seals it with HPKE under the ClientHelloOuterAAD and builds the ClientHelloOuter
addressed to the configuration's public name. :func:`accept_confirmation` is the ServerHello.random signal
of section 7.2. Server: :func:`open_client_hello` finds the key by config_id, opens the payload and
rebuilds the ClientHelloInner (section 7.1), refusing malformed input with the alerts the draft names.

Rejection (section 6.1.6): the client continues with the ClientHelloOuter, authenticates the configuration's
public name, and once the server's Finished is verified aborts with ``ech_required`` before sending its own
flight (so never a client certificate), raising ``tlsapi.ECHRejectedError`` with the server's
``retry_configs``. The server sends its
current configurations as ``retry_configs`` whenever it cannot open an offer. GREASE (section 6.2):
:func:`grease_extension` is an outer extension of a real offer's shape whose bytes are random.
HelloRetryRequest (sections 6.1.5, 7.1.1, 7.2.1): acceptance is signalled in the HRR's extension; the second
ClientHelloOuter is sealed with the first HPKE context, and the server opens it with its own.
"""

from __future__ import annotations

import hmac
import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from tlsapi import ECHRejectedError, ECHStatus
from tlsapi.ech import (
    AEAD_AES_128_GCM,
    KDF_HKDF_SHA256,
    ECHConfig,
    ECHConfigError,
    HpkeSymmetricCipherSuite,
    parse_ech_config_list,
)
from tlsapi.spi import make_error, reason_text

from . import _messages as m
from ._alerts import (
    DECODE_ERROR,
    DECRYPT_ERROR,
    ILLEGAL_PARAMETER,
    MISSING_EXTENSION,
    ORIGIN,
    UNSUPPORTED_EXTENSION,
    TLSAlert,
)
from ._codec import vec8
from ._hpke import HPKEError, RecipientContext, SenderContext, Suite, setup_base_recipient, setup_base_sender
from ._keyschedule import Transcript, hkdf_expand_label, hkdf_extract
from ._record import HANDSHAKE

if TYPE_CHECKING:
    from ._client import ClientHandshake
    from ._hello import AwaitClientHello, HelloOffer
    from ._server import ServerHandshake

ENCRYPTED_CLIENT_HELLO = 0xFE0D
ECH_OUTER_EXTENSIONS = 0xFD00
ECH_REQUIRED = 121  # the alert a client sends when ECH was rejected
INNER_EXTENSION = b"\x01"  # ECHClientHello of type inner: no payload
_SSL3 = 0x0300
_TAG_LENGTH = 16
#: Extensions the outer hello repeats byte for byte, so the encoded inner hello refers to them (section 5.1).
_REPEATED = frozenset({m.SUPPORTED_VERSIONS, m.SUPPORTED_GROUPS, m.KEY_SHARE, m.SIGNATURE_ALGORITHMS,
                       m.SIGNATURE_ALGORITHMS_CERT})


def hpke_info(config: ECHConfig) -> bytes:
    """The HPKE ``info``: "tls ech" || 0x00 || ECHConfig (section 6.1)."""
    return b"tls ech\x00" + config.encode()


def choose_config(configs: Sequence[ECHConfig]) -> tuple[ECHConfig, HpkeSymmetricCipherSuite] | None:
    """The first usable configuration and its first supported cipher suite (the server's preference order)."""
    for config in configs:
        if config.unusable_reason is None:
            return config, next(suite for suite in config.cipher_suites if suite.is_supported)
    return None


def _outer_extension(suite: HpkeSymmetricCipherSuite, config_id: int, enc: bytes, payload: bytes) -> bytes:
    return b"".join((bytes([m.ECH_OUTER]), suite.kdf_id.to_bytes(2, "big"), suite.aead_id.to_bytes(2, "big"),
                     bytes([config_id]), len(enc).to_bytes(2, "big"), enc, len(payload).to_bytes(2, "big"), payload))


def _padding(encoded_length: int, server_name: str | None, maximum_name_length: int) -> int:
    """Section 6.1.3: pad the name to ``maximum_name_length``, then the whole to a multiple of 32."""
    length = max(0, maximum_name_length - len(server_name)) if server_name else maximum_name_length + 9
    return length + 31 - ((encoded_length + length - 1) % 32)


@dataclass(frozen=True)
class ClientOffer:
    """What a client keeps of its ECH offer: both hellos as sent/hashed, the inner random, the configuration
    and the HPKE context (a second ClientHelloOuter after a HelloRetryRequest reuses it, section 6.1.5)."""

    inner_raw: bytes  # the ClientHelloInner handshake message (the transcript's, if ECH is accepted)
    outer_raw: bytes  # the ClientHelloOuter handshake message (what goes on the wire)
    inner_random: bytes
    config: ECHConfig
    suite: HpkeSymmetricCipherSuite
    sender: SenderContext
    server_name: str | None


def _encode_inner(inner: m.ClientHello, server_name: str | None,
                  maximum_name_length: int) -> tuple[m.Extensions, bytes]:
    """The extensions the outer hello repeats and the padded EncodedClientHelloInner referring to them."""
    run = [(t, d) for t, d in inner.extensions if t in _REPEATED]
    first = next(i for i, (t, _) in enumerate(inner.extensions) if t in _REPEATED)
    if inner.extensions[first:first + len(run)] != run:
        raise ValueError("the repeated extensions are not contiguous in ClientHelloInner")
    reference = (ECH_OUTER_EXTENSIONS, vec8(b"".join(t.to_bytes(2, "big") for t, _ in run)))
    compressed = [*inner.extensions[:first], reference, *inner.extensions[first + len(run):]]
    encoded = m.ClientHello(inner.random, b"", inner.cipher_suites, compressed).build()[4:]
    return run, encoded + bytes(_padding(len(encoded), server_name, maximum_name_length))


def _seal(config: ECHConfig, suite: HpkeSymmetricCipherSuite, sender: SenderContext, enc: bytes,
          inner: m.ClientHello, run: m.Extensions, encoded: bytes, outer_random: bytes) -> bytes:
    """The ClientHelloOuter carrying ``encoded`` sealed under its own AAD (section 5.2)."""
    outer_extensions = [(m.SERVER_NAME, m.build_server_name(config.public_name.decode("ascii"))), *run]
    placeholder = _outer_extension(suite, config.config_id, enc, bytes(len(encoded) + _TAG_LENGTH))
    outer = m.ClientHello(outer_random, inner.session_id, inner.cipher_suites,
                          [*outer_extensions, (ENCRYPTED_CLIENT_HELLO, placeholder)])
    payload = sender.seal(outer.build()[4:], encoded)
    outer.extensions[-1] = (ENCRYPTED_CLIENT_HELLO, _outer_extension(suite, config.config_id, enc, payload))
    return outer.build()


def offer(config: ECHConfig, suite: HpkeSymmetricCipherSuite, inner: m.ClientHello,
          server_name: str | None, encoded: bytes | None = None) -> ClientOffer:
    """Seal ``inner`` (which must already carry the inner ``encrypted_client_hello``) into a ClientHelloOuter.

    ``encoded`` replaces the EncodedClientHelloInner computed from ``inner`` (the conformance suite seals
    malformed ones with it).
    """
    run, computed = _encode_inner(inner, server_name, config.maximum_name_length)
    encoded = computed if encoded is None else encoded
    enc, sender = setup_base_sender(Suite(aead_id=suite.aead_id), X25519PublicKey.from_public_bytes(config.public_key),
                                    hpke_info(config))
    outer_raw = _seal(config, suite, sender, enc, inner, run, encoded, os.urandom(32))
    return ClientOffer(inner.build(), outer_raw, inner.random, config, suite, sender, server_name)


def second_outer_hello(first: ClientOffer, inner: m.ClientHello) -> bytes:
    """Section 6.1.5: the ClientHelloOuter for the second ClientHelloInner after a HelloRetryRequest, sealed
    with the first offer's HPKE context (its next nonce) and an empty ``enc``; the outer random is kept."""
    run, encoded = _encode_inner(inner, first.server_name, first.config.maximum_name_length)
    return _seal(first.config, first.suite, first.sender, b"", inner, run, encoded, first.outer_raw[6:38])


def accept_confirmation(hash_cls: type[hashes.HashAlgorithm], inner_random: bytes, transcript: Transcript,
                        server_hello: bytes) -> bytes:
    """Section 7.2: the 8 bytes a server accepting ECH puts at the end of ServerHello.random, over the inner
    handshake's ``transcript`` (ClientHelloInner, or after a HelloRetryRequest everything up to the second
    ClientHelloInner) and the ServerHello with those bytes zeroed (full handshake messages)."""
    digest = transcript.digest_with(server_hello[:30] + bytes(8) + server_hello[38:])
    secret = hkdf_extract(hash_cls, b"", inner_random)
    return hkdf_expand_label(hash_cls, secret, b"ech accept confirmation", digest, 8)


def hrr_accept_confirmation(hash_cls: type[hashes.HashAlgorithm], inner_random: bytes, transcript: Transcript,
                            retry: m.ServerHello) -> bytes:
    """Section 7.2.1: the ``encrypted_client_hello`` payload of a HelloRetryRequest accepting ECH, over
    ``transcript`` (``message_hash`` of ClientHelloInner1) and ``retry`` with that payload zeroed."""
    zeroed = m.ServerHello(retry.random, retry.session_id, retry.cipher_suite,
                           [(t, bytes(8) if t == ENCRYPTED_CLIENT_HELLO else d) for t, d in retry.extensions],
                           retry.legacy_version, retry.compression_method)
    secret = hkdf_extract(hash_cls, b"", inner_random)
    return hkdf_expand_label(hash_cls, secret, b"hrr ech accept confirmation", transcript.digest_with(zeroed.build()),
                             8)


def confirm_acceptance(hello: m.ServerHello, hash_cls: type[hashes.HashAlgorithm], inner_random: bytes,
                       transcript: Transcript) -> None:
    """Set the last 8 bytes of ``hello.random`` to the acceptance confirmation (a server accepting ECH)."""
    hello.random = hello.random[:24] + bytes(8)
    hello.random = hello.random[:24] + accept_confirmation(hash_cls, inner_random, transcript, hello.build())


def client_add_extension(handshake: HelloOffer, server_name: str | None) -> None:
    """Client, before the PSK binder: add the ``encrypted_client_hello`` a TLS 1.3 ClientHello carries: the
    inner marker when a configuration is set (the hello becomes the ClientHelloInner), else GREASE unless the
    context opts out (``ech_grease``)."""
    hello = handshake.client_hello
    assert hello is not None
    if handshake.settings.ech is not None:
        hello.extensions.append((ENCRYPTED_CLIENT_HELLO, INNER_EXTENSION))
    elif handshake.settings.ech_grease:
        hello.extensions.append((ENCRYPTED_CLIENT_HELLO, grease_extension(hello, server_name)))
        handshake.ech_status = ECHStatus.GREASE


def client_first_flight(handshake: HelloOffer, server_name: str | None) -> bytes:
    """Client: the ClientHello to send. With a configuration, the ClientHelloOuter sealing the bound hello (kept
    as the transcript's ClientHelloInner until the server answers)."""
    chosen = handshake.settings.ech
    hello = handshake.client_hello
    if chosen is None or hello is None:
        return handshake.client_hello_raw
    sealed = handshake.ech_offer = offer(*chosen, hello, server_name)
    handshake.client_hello_raw = sealed.inner_raw
    handshake.ech_status = ECHStatus.OFFERED
    return sealed.outer_raw


class ECHRejected(TLSAlert):
    """The client's abort after a completed handshake with the public name: alert ``ech_required``; the caller
    gets :class:`tlsapi.ECHRejectedError` carrying ``retry_configs`` (``None``: ECH securely disabled, or the
    rejection was not authenticated)."""

    def __init__(self, retry_configs: bytes | None) -> None:
        super().__init__(ECH_REQUIRED, "the server rejected Encrypted Client Hello", "ECH_REJECTED")
        self.retry_configs = retry_configs

    def to_error(self) -> ECHRejectedError:
        failure = make_error(ECHRejectedError, reason_text(self.reason), self.reason, origin=ORIGIN)
        failure.retry_configs = self.retry_configs
        return failure


def client_server_hello(handshake: ClientHandshake, hello: m.ServerHello, raw: bytes, extensions: dict[int, bytes],
                        hash_cls: type[hashes.HashAlgorithm]) -> None:
    """Client, at each ServerHello or HelloRetryRequest (section 6.1.4): whether the server accepted the offer.

    Rejected: the handshake continues with the ClientHelloOuter, authenticated for the public name (sections
    6.1.6 and 6.1.7). A HelloRetryRequest signals acceptance in its ``encrypted_client_hello`` (taken out of
    ``extensions`` once checked); the ServerHello after an accepting HelloRetryRequest must accept too
    (``illegal_parameter``). After GREASE the HelloRetryRequest's extension is only checked (section 6.2.1).
    """
    status = handshake.ech_status
    retry = hello.is_hello_retry_request
    signal = extensions.pop(ENCRYPTED_CLIENT_HELLO, None) if retry and status in (ECHStatus.OFFERED,
                                                                                  ECHStatus.GREASE) else None
    if signal is not None and len(signal) != 8:
        raise TLSAlert(DECODE_ERROR, "malformed encrypted_client_hello in HelloRetryRequest", "BAD_EXTENSION")
    offer = handshake.offer.ech_offer
    if offer is None or status not in (ECHStatus.OFFERED, ECHStatus.ACCEPTED):
        return
    if retry:
        digest = hashes.Hash(hash_cls())
        digest.update(offer.inner_raw)
        transcript = Transcript(hash_cls, m.message_hash(digest.finalize()))
        accepted = signal is not None and hmac.compare_digest(
            signal, hrr_accept_confirmation(hash_cls, offer.inner_random, transcript, hello))
    else:
        transcript = handshake.transcript or Transcript(hash_cls, offer.inner_raw)
        accepted = hmac.compare_digest(accept_confirmation(hash_cls, offer.inner_random, transcript, raw),
                                       hello.random[24:])
    if accepted:
        handshake.ech_status = ECHStatus.ACCEPTED
    elif status is ECHStatus.ACCEPTED:
        raise TLSAlert(ILLEGAL_PARAMETER, "ServerHello does not confirm the ECH a HelloRetryRequest accepted",
                       "ECH_REJECTED")
    else:
        _client_reject(handshake, offer, hello)


def _client_reject(handshake: ClientHandshake, offer: ClientOffer, hello: m.ServerHello) -> None:
    if any(ext_type == m.PRE_SHARED_KEY for ext_type, _ in hello.extensions):
        raise TLSAlert(ILLEGAL_PARAMETER, "a PSK accepted for a rejected ECH offer", "BAD_EXTENSION")
    handshake.ech_status = ECHStatus.REJECTED
    sent = handshake.offer  # from here on, what the ClientHelloOuter offered
    sent.client_hello = m.ClientHello.parse(offer.outer_raw[4:])
    sent.client_hello_raw = offer.outer_raw
    handshake.server_hostname = offer.config.public_name.decode("ascii")  # what the certificate must name
    sent.sent_sni = True  # the outer hello always names the public name
    sent.psk_suite = sent.psk_schedule = sent.external_psk = None


def client_send_second_hello(handshake: ClientHandshake) -> None:
    """Client, after a HelloRetryRequest: send the second ClientHello. With ECH accepted, the transcript takes
    the second ClientHelloInner and the wire its ClientHelloOuter (section 6.1.5); otherwise the hello itself
    (a rejected offer's second outer hello repeats the first one's ``encrypted_client_hello``)."""
    offer = handshake.offer.ech_offer
    hello = handshake.offer.client_hello
    if offer is None or handshake.ech_status is not ECHStatus.ACCEPTED:
        handshake.send(handshake.offer.client_hello_raw)
        return
    handshake.th.update(handshake.offer.client_hello_raw)
    handshake.effects.send(HANDSHAKE, second_outer_hello(offer, hello))


def client_encrypted_extension(handshake: ClientHandshake, data: bytes) -> None:
    """Client: an ``encrypted_client_hello`` in EncryptedExtensions. After a rejection it holds the server's
    ``retry_configs``, kept for the abort; after GREASE it is checked and ignored; after an accepted offer, or
    with none made, it is unsolicited. A malformed list is a ``decode_error`` (sections 6.1.6 and 6.2.1)."""
    status = handshake.ech_status
    if status not in (ECHStatus.REJECTED, ECHStatus.GREASE):
        raise TLSAlert(UNSUPPORTED_EXTENSION, "unsolicited encrypted_client_hello", "UNSOLICITED_EXTENSION")
    try:
        parse_ech_config_list(data)
    except ECHConfigError:
        raise TLSAlert(DECODE_ERROR, "malformed retry_configs", "BAD_EXTENSION") from None
    if status is ECHStatus.REJECTED:
        handshake.ech_retry_configs = data


def client_abort_if_rejected(handshake: ClientHandshake) -> None:
    """Client, once the server's Finished verified: a rejected offer ends here with ``ech_required``, before any
    application data. The retry configurations reach the caller only if the public name was authenticated."""
    if handshake.ech_status is not ECHStatus.REJECTED:
        return
    settings = handshake.settings
    authenticated = settings.verify_mode == ssl.CERT_REQUIRED and settings.check_hostname
    raise ECHRejected(handshake.ech_retry_configs if authenticated else None)


def _encoded_inner_length(hello: m.ClientHello) -> int:
    """The length :func:`_encode_inner` gives ``hello`` with the inner marker added, before padding, counted
    without building it: version, random, empty session id, suites, compression, then the extensions with the
    repeated run as one ``ech_outer_extensions``."""
    repeated = sum(1 for ext_type, _ in hello.extensions if ext_type in _REPEATED)
    kept = sum(4 + len(data) for ext_type, data in hello.extensions if ext_type not in _REPEATED)
    marker = 4 + len(INNER_EXTENSION)
    return 2 + 32 + 1 + 2 + 2 * len(hello.cipher_suites) + 2 + 2 + kept + (4 + 1 + 2 * repeated) + marker


_GREASE_SUITE = HpkeSymmetricCipherSuite(KDF_HKDF_SHA256, AEAD_AES_128_GCM)


def grease_extension(inner: m.ClientHello, server_name: str | None) -> bytes:
    """A GREASE ``encrypted_client_hello`` for the ClientHello ``inner`` (section 6.2.1): a random config_id,
    HKDF-SHA256 / AES-128-GCM, a fresh X25519 public key as ``enc``, and a random payload as long as a real
    offer of this hello would be (maximum_name_length 0)."""
    encoded = _encoded_inner_length(inner)
    length = encoded + _padding(encoded, server_name, 0) + _TAG_LENGTH
    enc = X25519PrivateKey.generate().public_key().public_bytes_raw()
    return _outer_extension(_GREASE_SUITE, os.urandom(1)[0], enc, os.urandom(length))


def server_client_hello(handshake: AwaitClientHello, hello: m.ClientHello,
                        raw: bytes) -> tuple[m.ClientHello, bytes]:
    """Server, at the first ClientHello: the hello to serve and its bytes. With an ``encrypted_client_hello``
    that one of the context's keys opens, the ClientHelloInner (ECH accepted); otherwise the hello itself, and
    the status is rejected (a stale configuration or GREASE: this server's keys go back as retry_configs)."""
    if not any(ext_type == ENCRYPTED_CLIENT_HELLO for ext_type, _ in hello.extensions):
        return hello, raw
    keys = handshake.settings.ech_keys
    accepted = open_client_hello(hello, keys) if keys else None
    if accepted is None:
        handshake.ech_status = ECHStatus.REJECTED
        return hello, raw
    handshake.ech_status = ECHStatus.ACCEPTED
    handshake.ech_accepted = accepted
    return accepted.inner, accepted.inner.build()


def server_encrypted_extensions(handshake: ServerHandshake, message: bytes) -> bytes:
    """Server: the EncryptedExtensions message ``message``, with ``retry_configs`` added after a rejection by a
    server that has ECH keys (section 7.1)."""
    retry_configs = handshake.ech_retry_configs
    if handshake.ech_status is not ECHStatus.REJECTED or retry_configs is None:
        return message
    extensions = m.EncryptedExtensions.parse(message[4:]).extensions
    return m.EncryptedExtensions([*extensions, (ENCRYPTED_CLIENT_HELLO, retry_configs)]).build()


def _decompress(inner: m.ClientHello, outer: m.ClientHello) -> m.Extensions:
    """Replace each ``ech_outer_extensions`` by the outer extensions it names, in order (section 7.1 and
    appendix A: one forward pass over the outer list, so this is linear)."""
    extensions: m.Extensions = []
    cursor = 0
    for ext_type, data in inner.extensions:
        if ext_type != ECH_OUTER_EXTENSIONS:
            extensions.append((ext_type, data))
            continue
        for wanted in m.parse_ech_outer_extensions(data):
            if wanted == ENCRYPTED_CLIENT_HELLO:
                raise TLSAlert(ILLEGAL_PARAMETER, "ech_outer_extensions names encrypted_client_hello",
                               "BAD_EXTENSION")
            while cursor < len(outer.extensions) and outer.extensions[cursor][0] != wanted:
                cursor += 1
            if cursor == len(outer.extensions):
                raise TLSAlert(ILLEGAL_PARAMETER, "ech_outer_extensions names a missing extension",
                               "BAD_EXTENSION")
            extensions.append(outer.extensions[cursor])
            cursor += 1
    return extensions


@dataclass(frozen=True)
class ServerAcceptance:
    """A server's accepted offer: the ClientHelloInner and what opens a second ClientHelloOuter (7.1.1)."""

    inner: m.ClientHello
    config: ECHConfig
    suite: HpkeSymmetricCipherSuite
    context: RecipientContext


def _outer_aad(outer: m.ClientHello, index: int, extension: m.ECHOuterExtension) -> bytes:
    """ClientHelloOuterAAD (section 5.2): the outer hello with the payload zeroed, without its header."""
    data = outer.extensions[index][1]
    zeroed = data[:extension.payload_offset] + bytes(len(extension.payload))
    aad_hello = m.ClientHello(outer.random, outer.session_id, outer.cipher_suites,
                              [*outer.extensions[:index], (ENCRYPTED_CLIENT_HELLO, zeroed),
                               *outer.extensions[index + 1:]], outer.legacy_version, outer.compression_methods)
    return aad_hello.build()[4:]


def open_client_hello(outer: m.ClientHello,
                      keys: Sequence[tuple[ECHConfig, X25519PrivateKey]]) -> ServerAcceptance | None:
    """The accepted offer of ``outer``, or ``None`` if no key opens it (ECH rejected: use the outer hello).

    ``outer`` must carry an ``encrypted_client_hello`` extension. A malformed extension or inner hello raises
    the :class:`TLSAlert` section 7.1 names (``decode_error`` / ``illegal_parameter``).
    """
    index, data = next((i, d) for i, (t, d) in enumerate(outer.extensions) if t == ENCRYPTED_CLIENT_HELLO)
    extension = m.parse_ech_outer_extension(data)
    suite = HpkeSymmetricCipherSuite(extension.kdf_id, extension.aead_id)
    aad = _outer_aad(outer, index, extension)
    for config, key in keys:
        if config.config_id != extension.config_id or suite not in config.cipher_suites:
            continue
        if not suite.is_supported:
            continue
        try:
            context = setup_base_recipient(Suite(aead_id=suite.aead_id), extension.enc, key, hpke_info(config))
            encoded = context.open(aad, extension.payload)
        except HPKEError:
            continue
        return ServerAcceptance(_decode_inner(encoded, outer), config, suite, context)
    return None


def decrypt_client_hello(outer: m.ClientHello,
                         keys: Sequence[tuple[ECHConfig, X25519PrivateKey]]) -> m.ClientHello | None:
    """The ClientHelloInner of ``outer`` (see :func:`open_client_hello`), or ``None``."""
    accepted = open_client_hello(outer, keys)
    return accepted.inner if accepted is not None else None


def server_retry_request(handshake: ServerHandshake, retry: m.ServerHello,
                         hash_cls: type[hashes.HashAlgorithm]) -> None:
    """Server, before sending a HelloRetryRequest: with ECH accepted, add the ``encrypted_client_hello``
    acceptance signal of section 7.2.1 (the transcript holds ``message_hash`` of ClientHelloInner1); with an
    offer no key opened, 8 random bytes in its place, so that the HRR does not show the rejection (sections
    7.1 and 10.10.4)."""
    accepted = handshake.ech_accepted
    if accepted is None:
        if handshake.ech_status is ECHStatus.REJECTED:
            retry.extensions.append((ENCRYPTED_CLIENT_HELLO, os.urandom(8)))
        return
    retry.extensions.append((ENCRYPTED_CLIENT_HELLO, bytes(8)))
    signal = hrr_accept_confirmation(hash_cls, accepted.inner.random, handshake.th, retry)
    retry.extensions[-1] = (ENCRYPTED_CLIENT_HELLO, signal)


def server_second_client_hello(handshake: ServerHandshake, hello: m.ClientHello,
                               raw: bytes) -> tuple[m.ClientHello, bytes]:
    """Server, at the second ClientHello (section 7.1.1): with ECH accepted, its ClientHelloInner, opened with
    the first offer's HPKE context; the extension must be there (``missing_extension``), name the same config
    and suite with an empty ``enc`` (``illegal_parameter``) and open (``decrypt_error``). Otherwise the hello
    itself (a rejected offer is not decrypted again)."""
    accepted = handshake.ech_accepted
    if accepted is None:
        return hello, raw
    index = next((i for i, (t, _) in enumerate(hello.extensions) if t == ENCRYPTED_CLIENT_HELLO), None)
    if index is None:
        raise TLSAlert(MISSING_EXTENSION, "second ClientHelloOuter without encrypted_client_hello",
                       "MISSING_EXTENSION")
    extension = m.parse_ech_outer_extension(hello.extensions[index][1])
    suite = HpkeSymmetricCipherSuite(extension.kdf_id, extension.aead_id)
    if suite != accepted.suite or extension.config_id != accepted.config.config_id or extension.enc:
        raise TLSAlert(ILLEGAL_PARAMETER, "second encrypted_client_hello changed", "BAD_EXTENSION")
    try:
        encoded = accepted.context.open(_outer_aad(hello, index, extension), extension.payload)
    except HPKEError:
        raise TLSAlert(DECRYPT_ERROR, "second ClientHelloOuter does not open", "DECRYPTION_FAILED") from None
    inner = _decode_inner(encoded, hello)
    return inner, inner.build()


def _decode_inner(encoded: bytes, outer: m.ClientHello) -> m.ClientHello:
    inner = m.ClientHello.parse(encoded[:m.encoded_client_hello_inner_length(encoded)])
    if inner.session_id:
        raise TLSAlert(ILLEGAL_PARAMETER, "EncodedClientHelloInner with a legacy_session_id", "BAD_EXTENSION")
    inner.session_id = outer.session_id
    inner.extensions = _decompress(inner, outer)
    extensions = dict(inner.extensions)
    if extensions.get(ENCRYPTED_CLIENT_HELLO) != INNER_EXTENSION:
        raise TLSAlert(ILLEGAL_PARAMETER, "ClientHelloInner without an inner encrypted_client_hello",
                       "BAD_EXTENSION")
    versions = extensions.get(m.SUPPORTED_VERSIONS)
    if versions is None or any(_SSL3 <= version < m.TLS13 for version in m.parse_supported_versions_client(versions)):
        raise TLSAlert(ILLEGAL_PARAMETER, "ClientHelloInner offers TLS 1.2 or below", "BAD_EXTENSION")
    return inner
