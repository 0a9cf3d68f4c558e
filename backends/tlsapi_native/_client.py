"""The TLS 1.3 client handshake state machine (RFC 8446 section 4, client side)."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from . import _ech
from . import _messages as m
from ._alerts import (
    DECODE_ERROR,
    ILLEGAL_PARAMETER,
    MISSING_EXTENSION,
    PROTOCOL_VERSION,
    UNEXPECTED_MESSAGE,
    UNSUPPORTED_EXTENSION,
    TLSAlert,
)
from ._certificates import load_certificate
from ._groups import generate_key_share
from ._handshake import Handshake, Handshake13, State, unexpected
from ._keyschedule import KeySchedule, Transcript
from ._signatures import (
    sign,
    tls13_certificate_verify_input,
)
from ._suites import TLS13_SUITES, CipherSuite

if TYPE_CHECKING:
    from ._context import NativeContext
    from ._effects import Effects
    from ._hello import HelloOffer

_SERVER_HELLO_EXTENSIONS = frozenset({m.KEY_SHARE, m.SUPPORTED_VERSIONS})
_HRR_EXTENSIONS = frozenset({m.KEY_SHARE, m.SUPPORTED_VERSIONS, m.COOKIE})


class ClientHandshake(Handshake13):
    """The TLS 1.3 client handshake from the ServerHello on (``_hello`` sends the ClientHello and hands over);
    ``handle()`` takes each server message."""

    def __init__(self, connection: Any, context: NativeContext, effects: Effects, offer: HelloOffer) -> None:
        super().__init__(connection, context, offer.settings, effects)
        self.offer = offer  # what the ClientHello offered (rebuilt here after a HelloRetryRequest)
        self.server_hostname = offer.server_hostname
        self.client_random = offer.client_random
        self.state = State.WAIT_SERVER_HELLO
        self.retried = False
        self.retry_suite = 0
        self.sent_ccs = False
        self.certificate_requested = False
        self.request_context = b""
        self.request_schemes: list[int] = []
        self.client_handshake_secret = b""
        self.server_handshake_secret = b""
        self.ech_status = offer.ech_status
        self.ech_retry_configs: bytes | None = None  # the server's, after it rejected the offer

    def release(self) -> None:
        super().release()
        offer = self.offer
        offer.client_hello_raw = b""
        offer.ech_offer = None
        offer.psk_schedule = None
        offer.psk_secret = b""
        self.client_handshake_secret = self.server_handshake_secret = b""

    def _send_ccs_once(self) -> None:
        if self.offer.client_hello.session_id and not self.sent_ccs:
            self.effects.send_change_cipher_spec()
            self.sent_ccs = True

    # -- dispatch ------------------------------------------------------------------------------------

    def receive(self, msg_type: int, raw: bytes) -> Handshake:
        state = self.state
        body = raw[4:]
        if state is State.WAIT_SERVER_HELLO and msg_type == m.SERVER_HELLO:  # after a HelloRetryRequest
            self.server_hello(m.ServerHello.parse(body), raw)
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
        return self

    # -- ServerHello / HelloRetryRequest ---------------------------------------------------------------

    def server_hello(self, hello: m.ServerHello, raw: bytes) -> Handshake:
        """A ServerHello or HelloRetryRequest (the hello module has checked that it is not TLS 1.2)."""
        offer = self.offer
        client_hello = offer.client_hello
        if hello.legacy_version != m.TLS12:
            raise TLSAlert(PROTOCOL_VERSION, "bad legacy_version", "UNSUPPORTED_PROTOCOL")
        extensions = dict(hello.extensions)
        versions = extensions.get(m.SUPPORTED_VERSIONS)
        if versions is None:
            if hello.random[-8:] in (m.DOWNGRADE_TLS12, m.DOWNGRADE_TLS11):
                raise TLSAlert(ILLEGAL_PARAMETER, "downgrade detected", "INAPPROPRIATE_FALLBACK")
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
            return self
        allowed = _SERVER_HELLO_EXTENSIONS | {m.PRE_SHARED_KEY} if self.offer.psk_suite else _SERVER_HELLO_EXTENSIONS
        if not extensions.keys() <= allowed:
            raise TLSAlert(UNSUPPORTED_EXTENSION, "unexpected extension in ServerHello", "UNSOLICITED_EXTENSION")
        if self.retried and hello.cipher_suite != self.retry_suite:
            raise TLSAlert(ILLEGAL_PARAMETER, "suite changed after HelloRetryRequest", "WRONG_CIPHER_RETURNED")
        key_share = extensions.get(m.KEY_SHARE)
        if key_share is None:
            raise TLSAlert(MISSING_EXTENSION, "no key_share in ServerHello", "MISSING_KEY_SHARE")
        group, server_share = m.parse_key_share_server(key_share)
        share = self.offer.key_shares.get(group)
        if share is None:
            raise TLSAlert(ILLEGAL_PARAMETER, "server chose a group we sent no share for", "BAD_KEY_SHARE")
        shared_secret = share.shared_secret(server_share)
        self.group = group
        suite = TLS13_SUITES[hello.cipher_suite]
        self.suite = suite
        if self.transcript is None:
            self.transcript = Transcript(suite.hash, self.offer.client_hello_raw)
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
        offer.key_shares = {}
        self.state = State.WAIT_ENCRYPTED_EXTENSIONS
        return self

    def _resume(self, selected_identity: int, suite: CipherSuite) -> None:
        """The server accepted our PSK: key the schedule with it and take the peer from the session."""
        offer = self.offer
        session = offer.session
        psk_suite, psk_schedule = offer.psk_suite, offer.psk_schedule
        if selected_identity != 0 or psk_suite is None or psk_schedule is None \
                or (session is None and offer.external_psk is None):
            raise TLSAlert(ILLEGAL_PARAMETER, "server selected a PSK we did not offer", "BAD_PSK_IDENTITY")
        if suite.hash is not psk_suite.hash:
            raise TLSAlert(ILLEGAL_PARAMETER, "suite hash differs from the PSK's", "BAD_PSK")
        # The server may choose another suite of the same hash (a SHA-256 PSK serves AES-128-GCM and
        # ChaCha20-Poly1305): the traffic keys are the chosen suite's.
        self.schedule = psk_schedule if psk_schedule.suite is suite else KeySchedule(suite, offer.psk_secret)
        self.resumed = True  # as OpenSSL reports a PSK handshake (session_reused)
        if offer.external_psk is None:
            assert session is not None
            self.restore_peer(session.peer_chain, session.verified_chain)

    def _hello_retry_request(self, hello: m.ServerHello, raw: bytes, extensions: dict[int, bytes]) -> None:
        client_hello = self.offer.client_hello
        if self.retried:
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
            if group not in self.settings.groups or group in self.offer.key_shares:
                raise TLSAlert(ILLEGAL_PARAMETER, "bad group in HelloRetryRequest", "BAD_KEY_SHARE")
            self.offer.key_shares = {group: generate_key_share(group)}
            new_extensions = [(t, self.offer.key_share_extension() if t == m.KEY_SHARE else d)
                              for t, d in new_extensions]
        if cookie is not None:
            new_extensions.append((m.COOKIE, m.build_cookie(m.parse_cookie(cookie))))
        suite = TLS13_SUITES[hello.cipher_suite]
        self.retried = True
        self.retry_suite = suite.code
        digest = hashes.Hash(suite.hash())
        digest.update(self.offer.client_hello_raw)
        self.transcript = Transcript(suite.hash, m.message_hash(digest.finalize()))
        self.transcript.update(raw)
        client_hello.extensions = new_extensions
        if self.offer.psk_suite is not None and self.offer.psk_suite.hash is not suite.hash:
            self.offer.psk_suite = None  # the PSK cannot be used with the suite the server chose
        self.offer.client_hello_raw = self.offer.bind(self.transcript)
        self._send_ccs_once()
        _ech.client_send_second_hello(self)

    # -- encrypted flight ----------------------------------------------------------------------------------

    def _encrypted_extensions(self, message: m.EncryptedExtensions, raw: bytes) -> None:
        for ext_type, data in message.extensions:
            if ext_type == m.ALPN and self.settings.alpn_protocols:
                protocols = m.parse_alpn(data)
                if len(protocols) != 1 or protocols[0] not in self.settings.alpn_protocols:
                    raise TLSAlert(ILLEGAL_PARAMETER, "server selected an ALPN protocol we did not offer",
                                   "INVALID_ALPN_PROTOCOL")
                self.alpn = protocols[0]
            elif ext_type == m.SERVER_NAME and self.offer.sent_sni:
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
        if self.settings.verify_mode != ssl.CERT_NONE:
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
        choice = self.settings.client_credential(self.request_schemes, tls13=True)
        if choice is None:
            self.send(m.Certificate(self.request_context, []).build())
            return
        chain, scheme = choice
        entries: list[tuple[bytes, m.Extensions]] = [(cert.public_bytes(Encoding.DER), [])
                                                     for cert in self.settings.certificates_to_send(chain)]
        self.send(m.Certificate(self.request_context, entries).build())
        signature = sign(scheme, chain.key, tls13_certificate_verify_input(self.th.digest(), server=False))
        self.send(m.CertificateVerify(scheme, signature).build())

