"""The TLS 1.3 client handshake state machine (RFC 8446 section 4, client side)."""

from __future__ import annotations

import functools
import ipaddress
import os
import ssl
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from . import _ech
from . import _messages as m
from ._alerts import (
    DECODE_ERROR,
    ILLEGAL_PARAMETER,
    INTERNAL_ERROR,
    MISSING_EXTENSION,
    PROTOCOL_VERSION,
    UNEXPECTED_MESSAGE,
    UNSUPPORTED_EXTENSION,
    TLSAlert,
    error,
)
from ._groups import X25519, X25519MLKEM768, ClientKeyShare, generate_key_share, generate_key_shares
from ._handshake import Handshake, State, load_certificate, unexpected
from ._handshake12 import enabled_protocols
from ._keyschedule import KeySchedule, Transcript
from ._record import HANDSHAKE
from ._session import NativeSession
from ._signatures import (
    DEFAULT_CERT_SIGNATURE_SCHEMES,
    DEFAULT_SIGNATURE_SCHEMES,
    DEFAULT_TLS12_SIGNATURE_SCHEMES,
    sign,
    tls13_certificate_verify_input,
)
from ._suites import EXTERNAL_PSK_SUITE, TLS13_SUITES, CipherSuite

if TYPE_CHECKING:
    from ._context import NativeContext
    from ._record import RecordLayer

_SERVER_HELLO_EXTENSIONS = frozenset({m.KEY_SHARE, m.SUPPORTED_VERSIONS})
_MIDDLEBOX_COMPAT = int(ssl.OP_ENABLE_MIDDLEBOX_COMPAT)  # a plain int: IntFlag bit tests are slow
_HRR_EXTENSIONS = frozenset({m.KEY_SHARE, m.SUPPORTED_VERSIONS, m.COOKIE})


@functools.lru_cache(maxsize=256)
def _is_ip_address(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=256)
def _server_name_extension(hostname: str) -> bytes:
    return m.build_server_name(hostname.encode("idna").decode("ascii"))


# Extension data that only depends on the configuration, built once.
_SIGNATURE_ALGORITHMS = m.build_u16_list(DEFAULT_SIGNATURE_SCHEMES)
_SIGNATURE_ALGORITHMS_TLS12 = m.build_u16_list(DEFAULT_TLS12_SIGNATURE_SCHEMES)
_SIGNATURE_ALGORITHMS_CERT = m.build_u16_list(DEFAULT_CERT_SIGNATURE_SCHEMES)
_PSK_MODES = m.build_psk_key_exchange_modes(bytes((m.PSK_DHE_KE,)))
_supported_groups = functools.lru_cache(maxsize=32)(m.build_u16_list)
_supported_versions = functools.lru_cache(maxsize=8)(m.build_supported_versions_client)


class ClientHandshake(Handshake):
    """Drives a client handshake: ``start()`` sends ClientHello, ``handle()`` takes each server message."""

    def __init__(self, connection: Any, context: NativeContext, records: RecordLayer,
                 server_hostname: str | None) -> None:
        super().__init__(connection, context, records)
        self.server_hostname = server_hostname
        self.key_shares: dict[int, ClientKeyShare] = {}
        self.client_hello: m.ClientHello | None = None
        self.client_hello_raw = b""
        self.retried = False
        self.retry_suite = 0
        self.sent_ccs = False
        self.certificate_requested = False
        self.request_context = b""
        self.request_schemes: list[int] = []
        self.client_handshake_secret = b""
        self.server_handshake_secret = b""
        self.sent_sni = False
        self.session: NativeSession | None = None  # the session to offer (set before ``start``)
        self.psk_suite: CipherSuite | None = None  # the offered session's suite, while it is offered
        self.psk_schedule: KeySchedule | None = None
        self.external_psk: tuple[bytes, bytes] | None = None  # (identity, key) from the PSK client callback
        self.psk_secret = b""  # the offered PSK
        self.ech_offer: _ech.ClientOffer | None = None  # set while an Encrypted Client Hello is offered
        self.ech_retry_configs: bytes | None = None  # the server's, after it rejected the offer

    def release(self) -> None:
        super().release()
        self.client_hello = None
        self.client_hello_raw = b""
        self.ech_offer = None
        self.psk_schedule = None
        self.psk_secret = b""
        self.client_handshake_secret = self.server_handshake_secret = b""

    # -- ClientHello -----------------------------------------------------------------------------------

    def start(self) -> None:
        context = self.context
        versions = enabled_protocols(context)
        if context.ech is not None:
            if m.TLS13 not in versions:  # never fall back to a hello that shows the name
                raise error("NO_PROTOCOLS_AVAILABLE")
            versions, self.session = (m.TLS13,), None  # ECH is TLS 1.3 only; a ticket would link the names
        if m.TLS13 not in versions:  # TLS 1.2 only: a plain TLS 1.2 ClientHello
            from ._client12 import ClientHandshake12

            ClientHandshake12.start_from(self)
            return
        groups = context.native_groups
        self.client_random = os.urandom(32)
        compat = bool(int(context.options) & _MIDDLEBOX_COMPAT)
        # X25519MLKEM768 first and x25519 second: send both shares, sharing one X25519 key.
        first = groups[:2] if groups[:2] == (X25519MLKEM768, X25519) else groups[:1]
        self.key_shares = {share.group: share for share in generate_key_shares(first)}
        extensions: m.Extensions = []
        hostname = self.server_hostname
        if hostname and not _is_ip_address(hostname):
            extensions.append((m.SERVER_NAME, _server_name_extension(hostname)))
            self.sent_sni = True
        extensions += [
            (m.SUPPORTED_VERSIONS, _supported_versions(versions)),
            (m.SUPPORTED_GROUPS, _supported_groups(groups)),
            (m.KEY_SHARE, self._key_share_extension()),
            (m.SIGNATURE_ALGORITHMS, _SIGNATURE_ALGORITHMS_TLS12 if m.TLS12 in versions else _SIGNATURE_ALGORITHMS),
            (m.SIGNATURE_ALGORITHMS_CERT, _SIGNATURE_ALGORITHMS_CERT),
        ]
        if context.alpn_protocols:
            extensions.append((m.ALPN, m.build_alpn(context.alpn_protocols)))
        if context.post_handshake_auth:
            extensions.append((m.POST_HANDSHAKE_AUTH, b""))
        suites = list(context.native_suites)
        tls12_session_id = False
        if m.TLS12 in versions:  # offer TLS 1.2 as well
            from ._client12 import tls12_offer

            tls12_suites, tls12_extensions, tls12_session_id = tls12_offer(context, self.session, hostname)
            suites += tls12_suites
            extensions += tls12_extensions
        extensions.append((m.PSK_KEY_EXCHANGE_MODES, _PSK_MODES))
        self.psk_suite = self._resumable_suite() or self._external_psk_suite()
        self.client_hello = m.ClientHello(
            self.client_random, os.urandom(32) if compat or tls12_session_id else b"", suites, extensions
        )
        _ech.client_add_extension(self, hostname if self.sent_sni else None)
        self.client_hello_raw = self._bind(None)
        self.records.write(HANDSHAKE, _ech.client_first_flight(self, hostname if self.sent_sni else None))
        self.state = State.WAIT_SERVER_HELLO

    def _resumable_suite(self) -> CipherSuite | None:
        """The suite of the session to offer, if it can be offered: TLS 1.3, unexpired, same server name."""
        session = self.session
        if session is None or session.protocol != m.TLS13 or not session.has_ticket or not session.is_valid():
            return None
        suite = TLS13_SUITES.get(session.cipher_suite)
        if suite is None or session.server_hostname != self.server_hostname:
            return None
        if not any(TLS13_SUITES[code].hash is suite.hash for code in self.context.native_suites):
            return None
        return suite

    def _external_psk_suite(self) -> CipherSuite | None:
        """Python 3.13's ``set_psk_client_callback``, as OpenSSL runs it in TLS 1.3: the callback gets no
        hint (``None``) and returns ``(identity, psk)``; a non-empty key is offered as an external PSK for
        TLS_AES_128_GCM_SHA256's hash (SHA-256). An empty key, or an identity of ``None``, offers none."""
        callback = self.context.psk_client_callback
        if callback is None:
            return None
        try:
            identity, key = callback(None)
            identity_bytes = identity.encode("utf-8") if identity is not None else b""
            key = bytes(key)
        except Exception as error:  # any failure of the application's callback aborts
            raise TLSAlert(INTERNAL_ERROR, f"PSK client callback failed: {error!r}") from error
        suite = TLS13_SUITES[EXTERNAL_PSK_SUITE]
        if not key or not identity_bytes or suite.code not in self.context.native_suites:
            return None
        self.external_psk = (identity_bytes, key)
        return suite

    def _bind(self, transcript: Transcript | None) -> bytes:
        """Build the ClientHello, with a pre_shared_key extension and its binder when a session is offered.

        ``transcript`` holds what precedes the ClientHello (``message_hash`` and HelloRetryRequest).
        """
        hello = self.client_hello
        suite = self.psk_suite
        session = self.session
        if hello is None:
            raise TLSAlert(INTERNAL_ERROR, "no ClientHello")
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

    def _key_share_extension(self) -> bytes:
        return m.build_key_share_client([(share.group, share.public) for share in self.key_shares.values()])

    def _send_ccs_once(self) -> None:
        if self.client_hello is not None and self.client_hello.session_id and not self.sent_ccs:
            self.records.write_change_cipher_spec()
            self.sent_ccs = True

    # -- dispatch ------------------------------------------------------------------------------------

    def handle(self, msg_type: int, raw: bytes) -> None:
        state = self.state
        body = raw[4:]
        if state is State.WAIT_SERVER_HELLO and msg_type == m.SERVER_HELLO:
            self._server_hello(m.ServerHello.parse(body), raw)
        elif state is State.WAIT_ENCRYPTED_EXTENSIONS and msg_type == m.ENCRYPTED_EXTENSIONS:
            self._encrypted_extensions(m.EncryptedExtensions.parse(body), raw)
        elif state is State.WAIT_CERTIFICATE_OR_REQUEST and msg_type == m.CERTIFICATE_REQUEST:
            self._certificate_request(m.CertificateRequest.parse(body), raw)
        elif state in (State.WAIT_CERTIFICATE_OR_REQUEST, State.WAIT_CERTIFICATE) and msg_type == m.CERTIFICATE:
            self._certificate(m.Certificate.parse(body), raw)
        elif state is State.WAIT_CERTIFICATE_VERIFY and msg_type == m.CERTIFICATE_VERIFY:
            self._certificate_verify(m.CertificateVerify.parse(body), raw)
        elif state is State.WAIT_FINISHED and msg_type == m.FINISHED:
            self._finished(m.Finished.parse(body, self.ks.suite.hash_len), raw)
        else:
            raise unexpected(msg_type, state)

    # -- ServerHello / HelloRetryRequest ---------------------------------------------------------------

    def _server_hello(self, hello: m.ServerHello, raw: bytes) -> None:
        client_hello = self.client_hello
        if client_hello is None:
            raise unexpected(m.SERVER_HELLO, self.state)
        if hello.legacy_version != m.TLS12:
            raise TLSAlert(PROTOCOL_VERSION, "bad legacy_version", "UNSUPPORTED_PROTOCOL")
        extensions = dict(hello.extensions)
        versions = extensions.get(m.SUPPORTED_VERSIONS)
        if versions is None:
            if hello.random[-8:] in (m.DOWNGRADE_TLS12, m.DOWNGRADE_TLS11):
                raise TLSAlert(ILLEGAL_PARAMETER, "downgrade detected", "INAPPROPRIATE_FALLBACK")
            if m.TLS12 in enabled_protocols(self.context) and self.ech_offer is None:
                from ._client12 import ClientHandshake12

                ClientHandshake12.take_over(self, hello, raw)  # TLS 1.2 from here on
                return
            raise TLSAlert(PROTOCOL_VERSION, "server does not speak TLS 1.3", "UNSUPPORTED_PROTOCOL")
        if m.parse_u16(versions) != m.TLS13:
            raise TLSAlert(ILLEGAL_PARAMETER, "server selected a version we did not offer", "UNSUPPORTED_PROTOCOL")
        if hello.session_id != client_hello.session_id:
            raise TLSAlert(ILLEGAL_PARAMETER, "session id not echoed", "INVALID_SESSION_ID")
        if hello.compression_method != 0:
            raise TLSAlert(ILLEGAL_PARAMETER, "compression selected", "INVALID_COMPRESSION_ALGORITHM")
        if hello.cipher_suite not in client_hello.cipher_suites or hello.cipher_suite not in TLS13_SUITES:
            raise TLSAlert(ILLEGAL_PARAMETER, "cipher suite not offered", "WRONG_CIPHER_RETURNED")
        _ech.client_server_hello(self, hello, raw, extensions, TLS13_SUITES[hello.cipher_suite].hash)
        if hello.is_hello_retry_request:
            self._hello_retry_request(hello, raw, extensions)
            return
        allowed = _SERVER_HELLO_EXTENSIONS | {m.PRE_SHARED_KEY} if self.psk_suite else _SERVER_HELLO_EXTENSIONS
        if not extensions.keys() <= allowed:
            raise TLSAlert(UNSUPPORTED_EXTENSION, "unexpected extension in ServerHello", "UNSOLICITED_EXTENSION")
        if self.retried and hello.cipher_suite != self.retry_suite:
            raise TLSAlert(ILLEGAL_PARAMETER, "suite changed after HelloRetryRequest", "WRONG_CIPHER_RETURNED")
        key_share = extensions.get(m.KEY_SHARE)
        if key_share is None:
            raise TLSAlert(MISSING_EXTENSION, "no key_share in ServerHello", "MISSING_KEY_SHARE")
        group, server_share = m.parse_key_share_server(key_share)
        share = self.key_shares.get(group)
        if share is None:
            raise TLSAlert(ILLEGAL_PARAMETER, "server chose a group we sent no share for", "BAD_KEY_SHARE")
        shared_secret = share.shared_secret(server_share)
        self.group = group
        suite = TLS13_SUITES[hello.cipher_suite]
        self.suite = suite
        if self.transcript is None:
            self.transcript = Transcript(suite.hash, self.client_hello_raw)
        self.transcript.update(raw)
        selected = extensions.get(m.PRE_SHARED_KEY)
        if selected is not None:
            self._resume(m.parse_u16(selected), suite)
        else:
            self.schedule = KeySchedule(suite)
        client_secret, server_secret = self.ks.handshake_secrets(shared_secret, self.transcript.digest())
        self.client_handshake_secret = client_secret
        self.server_handshake_secret = server_secret
        self.keylog("CLIENT_HANDSHAKE_TRAFFIC_SECRET", client_secret)
        self.keylog("SERVER_HANDSHAKE_TRAFFIC_SECRET", server_secret)
        self.install_read_key(server_secret)
        self._send_ccs_once()
        self.install_write_key(client_secret)
        self.key_shares = {}
        self.state = State.WAIT_ENCRYPTED_EXTENSIONS

    def _resume(self, selected_identity: int, suite: CipherSuite) -> None:
        """The server accepted our PSK: key the schedule with it and take the peer from the session."""
        session = self.session
        if selected_identity != 0 or self.psk_suite is None or self.psk_schedule is None \
                or (session is None and self.external_psk is None):
            raise TLSAlert(ILLEGAL_PARAMETER, "server selected a PSK we did not offer", "BAD_PSK_IDENTITY")
        if suite.hash is not self.psk_suite.hash:
            raise TLSAlert(ILLEGAL_PARAMETER, "suite hash differs from the PSK's", "BAD_PSK")
        # The server may choose another suite of the same hash (a SHA-256 PSK serves AES-128-GCM and
        # ChaCha20-Poly1305): the traffic keys are the chosen suite's.
        self.schedule = self.psk_schedule if self.psk_schedule.suite is suite else KeySchedule(suite, self.psk_secret)
        self.resumed = True  # as OpenSSL reports a PSK handshake (session_reused)
        if self.external_psk is None:
            assert session is not None
            self.restore_peer(session.peer_chain, session.verified_chain)

    def _hello_retry_request(self, hello: m.ServerHello, raw: bytes, extensions: dict[int, bytes]) -> None:
        client_hello = self.client_hello
        if self.retried or client_hello is None:
            raise TLSAlert(UNEXPECTED_MESSAGE, "second HelloRetryRequest")
        if not extensions.keys() <= _HRR_EXTENSIONS:
            raise TLSAlert(UNSUPPORTED_EXTENSION, "unexpected extension in HelloRetryRequest",
                           "UNSOLICITED_EXTENSION")
        cookie = extensions.get(m.COOKIE)
        key_share = extensions.get(m.KEY_SHARE)
        if key_share is None and cookie is None:
            raise TLSAlert(ILLEGAL_PARAMETER, "HelloRetryRequest changes nothing", "BAD_HELLO_RETRY_REQUEST")
        new_extensions = [(t, d) for t, d in client_hello.extensions if t not in (m.COOKIE, m.EARLY_DATA)]
        if key_share is not None:
            group = m.parse_u16(key_share)
            if group not in self.context.native_groups or group in self.key_shares:
                raise TLSAlert(ILLEGAL_PARAMETER, "bad group in HelloRetryRequest", "BAD_KEY_SHARE")
            self.key_shares = {group: generate_key_share(group)}
            new_extensions = [(t, self._key_share_extension() if t == m.KEY_SHARE else d)
                              for t, d in new_extensions]
        if cookie is not None:
            new_extensions.append((m.COOKIE, m.build_cookie(m.parse_cookie(cookie))))
        suite = TLS13_SUITES[hello.cipher_suite]
        self.retried = True
        self.retry_suite = suite.code
        digest = hashes.Hash(suite.hash())
        digest.update(self.client_hello_raw)
        self.transcript = Transcript(suite.hash, m.message_hash(digest.finalize()))
        self.transcript.update(raw)
        client_hello.extensions = new_extensions
        if self.psk_suite is not None and self.psk_suite.hash is not suite.hash:
            self.psk_suite = None  # the PSK cannot be used with the suite the server chose
        self.client_hello_raw = self._bind(self.transcript)
        self._send_ccs_once()
        _ech.client_send_second_hello(self)

    # -- encrypted flight ----------------------------------------------------------------------------------

    def _encrypted_extensions(self, message: m.EncryptedExtensions, raw: bytes) -> None:
        for ext_type, data in message.extensions:
            if ext_type == m.ALPN and self.context.alpn_protocols:
                protocols = m.parse_alpn(data)
                if len(protocols) != 1 or protocols[0] not in self.context.alpn_protocols:
                    raise TLSAlert(ILLEGAL_PARAMETER, "server selected an ALPN protocol we did not offer",
                                   "INVALID_ALPN_PROTOCOL")
                self.alpn = protocols[0]
            elif ext_type == m.SERVER_NAME and self.sent_sni:
                m.expect_empty(data)
            elif ext_type == m.SUPPORTED_GROUPS:
                m.parse_u16_list(data)
            elif ext_type == _ech.ENCRYPTED_CLIENT_HELLO:
                _ech.client_encrypted_extension(self, data)
            elif ext_type in (m.KEY_SHARE, m.SUPPORTED_VERSIONS, m.SIGNATURE_ALGORITHMS, m.PRE_SHARED_KEY,
                              m.COOKIE, m.PSK_KEY_EXCHANGE_MODES):
                raise TLSAlert(ILLEGAL_PARAMETER, "extension not allowed in EncryptedExtensions", "BAD_EXTENSION")
            else:
                raise TLSAlert(UNSUPPORTED_EXTENSION, "unsolicited extension", "UNSOLICITED_EXTENSION")
        self.th.update(raw)
        self.state = State.WAIT_FINISHED if self.resumed else State.WAIT_CERTIFICATE_OR_REQUEST

    def _certificate_request(self, message: m.CertificateRequest, raw: bytes) -> None:
        if message.context:
            raise TLSAlert(ILLEGAL_PARAMETER, "non-empty certificate_request_context", "BAD_EXTENSION")
        extensions = dict(message.extensions)
        schemes = extensions.get(m.SIGNATURE_ALGORITHMS)
        if schemes is None:
            raise TLSAlert(MISSING_EXTENSION, "CertificateRequest without signature_algorithms",
                           "MISSING_SIGALGS_EXTENSION")
        self.request_schemes = m.parse_u16_list(schemes)
        self.certificate_requested = True
        self.request_context = message.context
        self.th.update(raw)
        self.state = State.WAIT_CERTIFICATE

    def _certificate(self, message: m.Certificate, raw: bytes) -> None:
        if message.context:
            raise TLSAlert(ILLEGAL_PARAMETER, "non-empty certificate_request_context", "BAD_EXTENSION")
        if not message.entries:
            raise TLSAlert(DECODE_ERROR, "server sent no certificate", "NO_CERTIFICATES_RETURNED")
        self.peer_chain = [der for der, _ in message.entries]
        self.peer_certificate = load_certificate(self.peer_chain[0])
        if self.context.verify_mode != ssl.CERT_NONE:
            self.verified_chain = self.verify_chain(self.peer_chain)
        self.th.update(raw)
        self.state = State.WAIT_CERTIFICATE_VERIFY

    def _certificate_verify(self, message: m.CertificateVerify, raw: bytes) -> None:
        self.accept_certificate_verify(message, raw)
        self.state = State.WAIT_FINISHED

    def _finished(self, message: m.Finished, raw: bytes) -> None:
        schedule = self.ks
        transcript = self.th
        self.check_peer_finished(self.server_handshake_secret, transcript.digest(), message.verify_data, "server")
        _ech.client_abort_if_rejected(self)
        transcript.update(raw)
        self.derive_application_secrets()
        self.install_read_key(self.server_application_secret)
        if self.certificate_requested:
            self._send_client_certificate()
        verify_data = schedule.finished_verify_data(self.client_handshake_secret, transcript.digest())
        self.send(m.Finished(verify_data).build())
        self.client_finished = verify_data
        self.server_finished = message.verify_data
        self.resumption_master_secret = schedule.resumption_master_secret(transcript.digest())
        self.install_write_key(self.client_application_secret)
        self.state = State.CONNECTED

    def _send_client_certificate(self) -> None:
        choice = self.context.client_credential(self.request_schemes, tls13=True)
        if choice is None:
            self.send(m.Certificate(self.request_context, []).build())
            return
        chain, scheme = choice
        entries: list[tuple[bytes, m.Extensions]] = [(cert.public_bytes(Encoding.DER), [])
                                                     for cert in self.context.certificates_to_send(chain)]
        self.send(m.Certificate(self.request_context, entries).build())
        signature = sign(scheme, chain.key, tls13_certificate_verify_input(self.th.digest(), server=False))
        self.send(m.CertificateVerify(scheme, signature).build())

