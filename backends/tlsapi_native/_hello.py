"""The version-neutral start of every handshake: the ClientHello, the version, and the hand-over.

Server: ``AwaitClientHello`` parses the ClientHello (opening an Encrypted Client Hello addressed to us),
negotiates the version, runs the SNI callback once (which may switch the connection's context), and hands
the hello to a new ``ServerHandshake`` (TLS 1.3) or ``ServerHandshake12``, which it returns as its successor.

Client: ``HelloOffer`` builds the ClientHello (TLS 1.3 with TLS 1.2 offered too, or a plain TLS 1.2 one, with
the session's ticket or an external PSK and its binder, and ECH); ``AwaitServerHello`` sends it, reads the
ServerHello's version and hands both to a new ``ClientHandshake`` or ``ClientHandshake12``.

This module imports the state machines and none of them imports it: they receive the offer as an object.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from tlsapi import ECHStatus
from tlsapi.spi import is_ip_address, run_sni_callback

from . import _ech
from . import _messages as m
from . import _messages12 as m12
from ._alerts import (
    ILLEGAL_PARAMETER,
    INTERNAL_ERROR,
    PROTOCOL_VERSION,
    TLSAlert,
    error,
)
from ._client import ClientHandshake
from ._client12 import ClientHandshake12, resumable_tls12_session
from ._defaults import TLS12_GROUPS
from ._groups import X25519, X25519MLKEM768, ClientKeyShare, generate_key_shares
from ._handshake import MIDDLEBOX_COMPAT, NO_TICKET, Handshake, State, unexpected
from ._keyschedule import KeySchedule, Transcript
from ._record import HANDSHAKE
from ._server import ServerHandshake
from ._server12 import ServerHandshake12
from ._signatures import (
    DEFAULT_CERT_SIGNATURE_SCHEMES,
    DEFAULT_SIGNATURE_SCHEMES,
    DEFAULT_TLS12_SIGNATURE_SCHEMES,
)
from ._suites import EXTERNAL_PSK_SUITE, TLS13_SUITES, CipherSuite

if TYPE_CHECKING:
    from ._context import NativeContext, NativeSettings
    from ._effects import Effect, Effects
    from ._session import NativeSession

__all__ = ["AwaitClientHello", "AwaitServerHello", "HelloOffer", "negotiate_version"]

_SSL3 = 0x0300
INAPPROPRIATE_FALLBACK = 86

# Extension data that only depends on the configuration, built once.
_SIGNATURE_ALGORITHMS = m.build_u16_list(DEFAULT_SIGNATURE_SCHEMES)
_SIGNATURE_ALGORITHMS_TLS12 = m.build_u16_list(DEFAULT_TLS12_SIGNATURE_SCHEMES)
_SIGNATURE_ALGORITHMS_CERT = m.build_u16_list(DEFAULT_CERT_SIGNATURE_SCHEMES)
_PSK_MODES = m.build_psk_key_exchange_modes(bytes((m.PSK_DHE_KE,)))
_supported_groups = functools.lru_cache(maxsize=32)(m.build_u16_list)
_supported_versions = functools.lru_cache(maxsize=8)(m.build_supported_versions_client)


@functools.lru_cache(maxsize=256)
def _server_name_extension(hostname: str) -> bytes:
    return m.build_server_name(hostname.encode("idna").decode("ascii"))


# -- server ---------------------------------------------------------------------------------------------------


def negotiate_version(settings: NativeSettings, hello: m.ClientHello, extensions: dict[int, bytes]) -> int:
    """The version to speak: the highest the client offers and we enable (protocol_version if none);
    ``inappropriate_fallback`` when the client signals a fallback below our best (RFC 7507)."""
    data = extensions.get(m.SUPPORTED_VERSIONS)
    offered = (m.parse_supported_versions_client(data) if data is not None
               else [min(hello.legacy_version, m.TLS12)])
    ours = settings.wire_versions
    version = next((v for v in ours if v in offered), None)
    if version is None:
        raise TLSAlert(PROTOCOL_VERSION, "no protocol version in common", "UNSUPPORTED_PROTOCOL")
    if m12.FALLBACK_SCSV in hello.cipher_suites and max(v for v in offered if v <= m.TLS13) < ours[0]:
        raise TLSAlert(INAPPROPRIATE_FALLBACK, "client fell back to a lower version", "INAPPROPRIATE_FALLBACK")
    return version


def _run_sni_callback(connection: Any, server_name: str | None) -> None:
    """The context's SNI callback, once per handshake, as every backend runs it (it may switch
    ``connection.context``); an alert it asks for (or a failure) aborts the handshake."""
    alert = run_sni_callback(connection, server_name)
    if alert is not None:
        raise TLSAlert(alert, "SNI callback refused the name", "CALLBACK_FAILED")


class AwaitClientHello(Handshake):
    """A server before the ClientHello: its ``handle`` returns the TLS 1.3 or TLS 1.2 handshake that continues."""

    is_server = True

    def __init__(self, connection: Any, context: NativeContext, settings: NativeSettings, effects: Effects) -> None:
        super().__init__(connection, context, settings, effects)
        self.state = State.WAIT_CLIENT_HELLO
        self.ech_accepted: _ech.ServerAcceptance | None = None  # the decrypted ClientHelloInner, if accepted

    def receive(self, msg_type: int, raw: bytes) -> Handshake:
        if msg_type != m.CLIENT_HELLO:
            raise unexpected(msg_type, self.state)
        hello = m.ClientHello.parse(raw[4:])
        if hello.legacy_version <= _SSL3:  # RFC 8446 D.5: SSL 3.0 or older is never negotiated
            raise TLSAlert(PROTOCOL_VERSION, "legacy_version is SSL 3.0 or older", "UNSUPPORTED_PROTOCOL")
        hello, raw = _ech.server_client_hello(self, hello, raw)  # the inner hello if ECH is accepted
        extensions = dict(hello.extensions)
        if m.PRE_SHARED_KEY in extensions and hello.extensions[-1][0] != m.PRE_SHARED_KEY:
            raise TLSAlert(ILLEGAL_PARAMETER, "pre_shared_key is not the last extension", "BAD_EXTENSION")
        version = negotiate_version(self.settings, hello, extensions)
        server_name_data = extensions.get(m.SERVER_NAME)
        server_name = m.parse_server_name(server_name_data) if server_name_data is not None else None
        if version == m.TLS12:
            _run_sni_callback(self.connection, server_name)
            handshake12 = ServerHandshake12(self.connection, self.context, self.connection.settings, self.effects,
                                            server_name)
            handshake12.ech_status = self.ech_status
            return handshake12.client_hello(hello, raw)
        if hello.compression_methods != b"\x00":
            raise TLSAlert(ILLEGAL_PARAMETER, "compression offered", "INVALID_COMPRESSION_ALGORITHM")
        _run_sni_callback(self.connection, server_name)
        handshake = ServerHandshake(self.connection, self.context, self.connection.settings, self.effects,
                                    server_name, self.ech_accepted)
        handshake.ech_status = self.ech_status
        handshake.ech_retry_configs = self.settings.ech_retry_configs
        return handshake.client_hello(hello, raw, extensions)


# -- client ---------------------------------------------------------------------------------------------------


class HelloOffer:
    """What a client offers in its ClientHello, and the builder of that hello (again after a
    HelloRetryRequest, with a new binder: ``bind``)."""

    def __init__(self, settings: NativeSettings, server_hostname: str | None, session: NativeSession | None) -> None:
        self.settings = settings
        self.server_hostname = server_hostname
        self.session = session  # the session to resume (ECH offers none: a ticket would link the names)
        self.versions = settings.wire_versions
        self.client_random = b""
        self.client_hello = m.ClientHello(b"", b"", [], [])
        self.client_hello_raw = b""  # what the transcript starts with (the inner hello under ECH)
        self.sent_sni = False
        self.key_shares: dict[int, ClientKeyShare] = {}
        self.psk_suite: CipherSuite | None = None  # the offered PSK's suite, while one is offered
        self.psk_schedule: KeySchedule | None = None
        self.psk_secret = b""
        self.external_psk: tuple[bytes, bytes] | None = None  # (identity, key) from the PSK client callback
        self.ech_offer: _ech.ClientOffer | None = None  # set while an Encrypted Client Hello is offered
        self.ech_status = ECHStatus.NOT_OFFERED

    @property
    def offers_tls13(self) -> bool:
        return m.TLS13 in self.versions

    def build(self) -> bytes:
        """The ClientHello to send (the outer one under ECH)."""
        settings = self.settings
        if settings.ech is not None:
            if not self.offers_tls13:  # never fall back to a hello that shows the name
                raise error("NO_PROTOCOLS_AVAILABLE")
            self.versions, self.session = (m.TLS13,), None  # ECH is TLS 1.3 only
        self.client_random = os.urandom(32)
        extensions: m.Extensions = []
        hostname = self.server_hostname
        if hostname and not is_ip_address(hostname):
            extensions.append((m.SERVER_NAME, _server_name_extension(hostname)))
            self.sent_sni = True
        if not self.offers_tls13:
            return self._build_tls12(extensions)
        versions = self.versions
        groups = settings.groups
        compat = bool(int(settings.options) & MIDDLEBOX_COMPAT)
        # X25519MLKEM768 first and x25519 second: send both shares, sharing one X25519 key.
        first = groups[:2] if groups[:2] == (X25519MLKEM768, X25519) else groups[:1]
        self.key_shares = {share.group: share for share in generate_key_shares(first)}
        extensions += [
            (m.SUPPORTED_VERSIONS, _supported_versions(versions)),
            (m.SUPPORTED_GROUPS, _supported_groups(groups)),
            (m.KEY_SHARE, self.key_share_extension()),
            (m.SIGNATURE_ALGORITHMS, _SIGNATURE_ALGORITHMS_TLS12 if m.TLS12 in versions else _SIGNATURE_ALGORITHMS),
            (m.SIGNATURE_ALGORITHMS_CERT, _SIGNATURE_ALGORITHMS_CERT),
        ]
        if settings.alpn_protocols:
            extensions.append((m.ALPN, m.build_alpn(settings.alpn_protocols)))
        if settings.post_handshake_auth:
            extensions.append((m.POST_HANDSHAKE_AUTH, b""))
        suites = list(settings.suites)
        tls12_session_id = False
        if m.TLS12 in versions:  # offer TLS 1.2 as well
            tls12_suites, tls12_extensions, tls12_session_id = self._tls12_offer()
            suites += tls12_suites
            extensions += tls12_extensions
        extensions.append((m.PSK_KEY_EXCHANGE_MODES, _PSK_MODES))
        self.psk_suite = self._resumable_suite() or self._external_psk_suite()
        self.client_hello = m.ClientHello(
            self.client_random, os.urandom(32) if compat or tls12_session_id else b"", suites, extensions
        )
        _ech.client_add_extension(self, hostname if self.sent_sni else None)
        self.client_hello_raw = self.bind(None)
        return _ech.client_first_flight(self, hostname if self.sent_sni else None)

    def _build_tls12(self, extensions: m.Extensions) -> bytes:
        """A plain TLS 1.2 ClientHello (the settings do not allow TLS 1.3)."""
        settings = self.settings
        groups = [g for g in settings.groups if g in TLS12_GROUPS]
        if not groups:
            raise TLSAlert(INTERNAL_ERROR, "no TLS 1.2 group enabled", "NO_SUITABLE_GROUPS")
        suites, tls12_extensions, needs_session_id = self._tls12_offer()
        extensions += [
            (m.SUPPORTED_GROUPS, m.build_u16_list(groups)),
            (m.SIGNATURE_ALGORITHMS, _SIGNATURE_ALGORITHMS_TLS12),
            *tls12_extensions,
        ]
        if settings.alpn_protocols:
            extensions.append((m.ALPN, m.build_alpn(settings.alpn_protocols)))
        self.client_hello = m.ClientHello(self.client_random, os.urandom(32) if needs_session_id else b"",
                                          suites, extensions)
        self.client_hello_raw = self.client_hello.build()
        return self.client_hello_raw

    def _tls12_offer(self) -> tuple[list[int], m.Extensions, bool]:
        """What a ClientHello adds to offer TLS 1.2: ``(suites, extensions, needs_session_id)``.

        ``needs_session_id`` is set when a TLS 1.2 ticket is offered (RFC 5077 resumption is signalled by the
        server echoing the session id).
        """
        settings = self.settings
        session = resumable_tls12_session(self.session, self.server_hostname)
        extensions: m.Extensions = [
            (m12.EC_POINT_FORMATS, m12.EC_POINT_FORMATS_DATA),
            (m12.EXTENDED_MASTER_SECRET, b""),
            (m12.RENEGOTIATION_INFO, m12.EMPTY_RENEGOTIATION_INFO),
        ]
        if not int(settings.options) & NO_TICKET:
            extensions.append((m12.SESSION_TICKET, session.ticket if session is not None else b""))
        return list(settings.tls12_suites), extensions, session is not None

    def _resumable_suite(self) -> CipherSuite | None:
        """The suite of the session to offer, if it can be offered: TLS 1.3, unexpired, same server name."""
        session = self.session
        if session is None or session.protocol != m.TLS13 or not session.has_ticket or not session.is_valid():
            return None
        suite = TLS13_SUITES.get(session.cipher_suite)
        if suite is None or session.server_hostname != self.server_hostname:
            return None
        if not any(TLS13_SUITES[code].hash is suite.hash for code in self.settings.suites):
            return None
        return suite

    def _external_psk_suite(self) -> CipherSuite | None:
        """Python 3.13's ``set_psk_client_callback``, as OpenSSL runs it in TLS 1.3: the callback gets no
        hint (``None``) and returns ``(identity, psk)``; a non-empty key is offered as an external PSK for
        TLS_AES_128_GCM_SHA256's hash (SHA-256). An empty key, or an identity of ``None``, offers none."""
        callback = self.settings.psk_client_callback
        if callback is None:
            return None
        try:
            identity, key = callback(None)
            identity_bytes = identity.encode("utf-8") if identity is not None else b""
            key = bytes(key)
        except Exception as exc:  # any failure of the application's callback aborts
            raise TLSAlert(INTERNAL_ERROR, f"PSK client callback failed: {exc!r}") from exc
        suite = TLS13_SUITES[EXTERNAL_PSK_SUITE]
        if not key or not identity_bytes or suite.code not in self.settings.suites:
            return None
        self.external_psk = (identity_bytes, key)
        return suite

    def bind(self, transcript: Transcript | None) -> bytes:
        """The ClientHello, with a pre_shared_key extension and its binder when a PSK is offered.

        ``transcript`` holds what precedes the ClientHello (``message_hash`` and HelloRetryRequest).
        """
        hello = self.client_hello
        suite = self.psk_suite
        session = self.session
        hello.extensions = [(t, d) for t, d in hello.extensions if t != m.PRE_SHARED_KEY]
        external = self.external_psk
        if suite is None or (session is None and external is None):
            return hello.build()
        if external is not None:  # RFC 8446 4.2.11: an external identity's age is 0
            identity, age, secret = external[0], 0, external[1]
        else:
            assert session is not None
            identity, age, secret = session.ticket, session.obfuscated_ticket_age(), session.secret
        binders = [bytes(suite.hash_len)]
        hello.extensions.append((m.PRE_SHARED_KEY, m.build_pre_shared_key_client([(identity, age)], binders)))
        raw = hello.build()
        truncated = raw[: -m.binders_length(binders)]
        if transcript is None:
            transcript = Transcript(suite.hash)
        self.psk_secret = secret
        schedule = self.psk_schedule = KeySchedule(suite, secret)
        binder = schedule.binder(transcript.digest_with(truncated), external=external is not None)
        hello.extensions[-1] = (m.PRE_SHARED_KEY, hello.extensions[-1][1][: -len(binder)] + binder)
        return raw[: -len(binder)] + binder

    def key_share_extension(self) -> bytes:
        return m.build_key_share_client([(share.group, share.public) for share in self.key_shares.values()])


class AwaitServerHello(Handshake):
    """A client before the ServerHello: ``start`` sends the ClientHello, ``handle`` returns the TLS 1.3 or
    TLS 1.2 handshake that continues with the ServerHello."""

    def __init__(self, connection: Any, context: NativeContext, settings: NativeSettings, effects: Effects,
                 server_hostname: str | None) -> None:
        super().__init__(connection, context, settings, effects)
        self.server_hostname = server_hostname
        self.offer: HelloOffer | None = None

    def start(self, session: NativeSession | None) -> list[Effect]:
        """Build the ClientHello, offering ``session`` when it can be resumed: the effects that send it."""
        offer = self.offer = HelloOffer(self.settings, self.server_hostname, session)
        self.effects.send(HANDSHAKE, offer.build())
        self.client_random = offer.client_random
        self.ech_status = offer.ech_status
        self.state = State.WAIT_SERVER_HELLO
        return self.effects.take()

    def receive(self, msg_type: int, raw: bytes) -> Handshake:
        offer = self.offer
        if msg_type != m.SERVER_HELLO or offer is None:
            raise unexpected(msg_type, self.state)
        if not offer.offers_tls13:
            return ClientHandshake12(self.connection, self.context, self.effects, offer).server_hello(raw)
        hello = m.ServerHello.parse(raw[4:])
        if hello.legacy_version != m.TLS12:
            raise TLSAlert(PROTOCOL_VERSION, "bad legacy_version", "UNSUPPORTED_PROTOCOL")
        if m.SUPPORTED_VERSIONS not in dict(hello.extensions):
            if hello.random[-8:] in (m.DOWNGRADE_TLS12, m.DOWNGRADE_TLS11):
                raise TLSAlert(ILLEGAL_PARAMETER, "downgrade detected", "INAPPROPRIATE_FALLBACK")
            if m.TLS12 not in offer.versions:
                raise TLSAlert(PROTOCOL_VERSION, "server does not speak TLS 1.3", "UNSUPPORTED_PROTOCOL")
            return ClientHandshake12(self.connection, self.context, self.effects, offer).server_hello(raw)
        return ClientHandshake(self.connection, self.context, self.effects, offer).server_hello(hello, raw)
