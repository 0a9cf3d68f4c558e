"""The TLS 1.2 client handshake (RFC 5246), the modern subset only.

The hello module (``_hello``) builds the ClientHello: one offering TLS 1.2 and 1.3 when both are allowed, a
plain TLS 1.2 one when only TLS 1.2 is; this handshake continues from the ServerHello that picks TLS 1.2.

What it does: ECDHE (RFC 8422) over x25519, secp256r1 and secp384r1; ECDSA, Ed25519 and RSA server and
client certificates (rsa_pss_rsae_*, rsa_pkcs1_*, ecdsa_*, ed25519 signatures); the six ECDHE AEAD suites;
the extended master secret (RFC 7627), required: a server that does not echo it gets handshake_failure, as
does one that does not echo an empty renegotiation_info (RFC 5746); the TLS 1.3 downgrade sentinel is
checked by the TLS 1.3 client before it hands over; RFC 5077 session tickets, kept in the same
``NativeSession`` as TLS 1.3 sessions (``protocol`` 0x0303, ``secret`` the master secret).

Deliberately absent (no Lucky13, ROBOT/Bleichenbacher/Marvin, Raccoon, triple-handshake or SMACK surface):
CBC and other MAC-then-encrypt suites, static RSA key exchange, finite-field DHE, compression, export and
NULL suites, session-id-only resumption, and renegotiation: a HelloRequest is answered with a
``no_renegotiation`` warning and otherwise ignored.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import rsa

from tlsapi.spi import OP_LEGACY_SERVER_CONNECT

from . import _messages as m
from . import _messages12 as m12
from ._alerts import (
    DECODE_ERROR,
    HANDSHAKE_FAILURE,
    ILLEGAL_PARAMETER,
    PROTOCOL_VERSION,
    UNSUPPORTED_EXTENSION,
    TLSAlert,
)
from ._certificates import der_chain, load_certificate
from ._defaults import TLS12_GROUPS
from ._groups import server_key_exchange
from ._handshake import State, unexpected
from ._handshake12 import Handshake12
from ._session import NativeSession
from ._signatures import DEFAULT_TLS12_SIGNATURE_SCHEMES, sign, verify_offered
from ._suites import TLS12_SUITES
from ._tickets import TICKET_LIFETIME

if TYPE_CHECKING:
    from ._context import NativeContext
    from ._effects import Effects
    from ._hello import HelloOffer

__all__ = ["ClientHandshake12", "resumable_tls12_session"]

_SERVER_HELLO_EXTENSIONS = frozenset({
    m12.RENEGOTIATION_INFO, m12.EXTENDED_MASTER_SECRET, m12.EC_POINT_FORMATS, m12.SESSION_TICKET, m.ALPN,
    m.SERVER_NAME,
})


def resumable_tls12_session(session: NativeSession | None, server_hostname: str | None) -> NativeSession | None:
    """``session`` if a TLS 1.2 ClientHello can offer its ticket: TLS 1.2, unexpired, same server name."""
    if (session is None or session.protocol != m.TLS12 or not session.has_ticket or not session.is_valid()
            or session.server_hostname != server_hostname or session.cipher_suite not in TLS12_SUITES):
        return None
    return session


class ClientHandshake12(Handshake12):
    """A TLS 1.2 client handshake, continuing a ``ClientHandshake`` once TLS 1.2 is chosen or forced."""

    def __init__(self, connection: Any, context: NativeContext, effects: Effects, offer: HelloOffer) -> None:
        super().__init__(connection, context, offer.settings, effects)
        self.server_hostname = offer.server_hostname
        self.sent_sni = offer.sent_sni
        self.session = resumable_tls12_session(offer.session, offer.server_hostname)
        self.client_hello = offer.client_hello
        self.client_random = offer.client_random
        self.ech_status = offer.ech_status
        self.premaster = b""
        self.client_public = b""
        self.certificate_requested = False
        self.request_schemes: list[int] = []
        self.ticket_expected = False
        self.ticket: m12.NewSessionTicket12 | None = None
        self.received(offer.client_hello_raw)
        self.state = State.WAIT_SERVER_HELLO

    def server_hello(self, raw: bytes) -> Handshake12:
        """The ServerHello that picked TLS 1.2 (the hello module has read its version)."""
        return self.receive(m.SERVER_HELLO, raw)

    def receive(self, msg_type: int, raw: bytes) -> Handshake12:
        state = self.state
        body = raw[4:]
        if state is State.WAIT_SERVER_HELLO and msg_type == m.SERVER_HELLO:
            self._server_hello(m.ServerHello.parse(body), raw)
        elif state is State.WAIT_CERTIFICATE and msg_type == m.CERTIFICATE:
            self._certificate(m12.Certificate12.parse(body), raw)
        elif state is State.WAIT_SERVER_KEY_EXCHANGE and msg_type == m12.SERVER_KEY_EXCHANGE:
            self._server_key_exchange(m12.ServerKeyExchange.parse(body), raw)
        elif (state is State.WAIT_SERVER_HELLO_DONE and msg_type == m.CERTIFICATE_REQUEST
              and not self.certificate_requested):
            self._certificate_request(m12.CertificateRequest12.parse(body), raw)
        elif state is State.WAIT_SERVER_HELLO_DONE and msg_type == m12.SERVER_HELLO_DONE:
            m12.expect_empty_body(body)
            self.received(raw)
            self._send_client_flight()
        elif state is State.WAIT_NEW_SESSION_TICKET and msg_type == m.NEW_SESSION_TICKET:
            self.ticket = m12.NewSessionTicket12.parse(body)
            self.received(raw)
            self.state = State.WAIT_CHANGE_CIPHER_SPEC
        elif state is State.WAIT_FINISHED and msg_type == m.FINISHED:
            self._finished(m.Finished.parse(body, 12), raw)
        else:
            raise unexpected(msg_type, state)
        return self

    # -- ServerHello ----------------------------------------------------------------------------------

    def _server_hello(self, hello: m.ServerHello, raw: bytes) -> None:
        client_hello = self.client_hello
        if hello.legacy_version != m.TLS12:
            raise TLSAlert(PROTOCOL_VERSION, "server chose a version we did not offer", "UNSUPPORTED_PROTOCOL")
        if hello.compression_method != 0:
            raise TLSAlert(ILLEGAL_PARAMETER, "compression selected", "INVALID_COMPRESSION_ALGORITHM")
        if hello.cipher_suite not in client_hello.cipher_suites or hello.cipher_suite not in TLS12_SUITES:
            raise TLSAlert(ILLEGAL_PARAMETER, "cipher suite not offered", "WRONG_CIPHER_RETURNED")
        extensions = dict(hello.extensions)
        offered = {ext_type for ext_type, _ in client_hello.extensions}
        if not extensions.keys() <= _SERVER_HELLO_EXTENSIONS & offered:
            raise TLSAlert(UNSUPPORTED_EXTENSION, "unsolicited extension in ServerHello", "UNSOLICITED_EXTENSION")
        if m12.EXTENDED_MASTER_SECRET not in extensions:
            raise TLSAlert(HANDSHAKE_FAILURE, "the extended master secret is required",
                           "EXTENDED_MASTER_SECRET_REQUIRED")
        m.expect_empty(extensions[m12.EXTENDED_MASTER_SECRET])
        renegotiation_info = extensions.get(m12.RENEGOTIATION_INFO)
        if ((renegotiation_info is None and not self.settings.options & OP_LEGACY_SERVER_CONNECT)
                or (renegotiation_info is not None and m12.parse_renegotiation_info(renegotiation_info))):
            raise TLSAlert(HANDSHAKE_FAILURE, "no secure renegotiation support", "UNSAFE_LEGACY_RENEGOTIATION_DISABLED")
        if m.SERVER_NAME in extensions:
            m.expect_empty(extensions[m.SERVER_NAME])
        if m12.EC_POINT_FORMATS in extensions:
            m12.parse_ec_point_formats(extensions[m12.EC_POINT_FORMATS])
        ticket_data = extensions.get(m12.SESSION_TICKET)
        if ticket_data is not None:
            m.expect_empty(ticket_data)
        self.ticket_expected = ticket_data is not None
        alpn = extensions.get(m.ALPN)
        if alpn is not None:
            protocols = m.parse_alpn(alpn)
            if len(protocols) != 1 or protocols[0] not in self.settings.alpn_protocols:
                raise TLSAlert(ILLEGAL_PARAMETER, "server selected an ALPN protocol we did not offer",
                               "INVALID_ALPN_PROTOCOL")
            self.alpn = protocols[0]
        self.server_random = hello.random
        self.suite = TLS12_SUITES[hello.cipher_suite]
        self.shared_suites = [hello.cipher_suite]
        self.received(raw)
        session = self.session
        if session is not None and hello.session_id and hello.session_id == client_hello.session_id:
            if hello.cipher_suite != session.cipher_suite:
                raise TLSAlert(ILLEGAL_PARAMETER, "resumed with another cipher suite",
                               "OLD_SESSION_CIPHER_NOT_RETURNED")
            self.resumed = True
            self.restore_peer(session.peer_chain, session.verified_chain)
            self.set_master_secret(session.secret)
            self.state = State.WAIT_NEW_SESSION_TICKET if self.ticket_expected else State.WAIT_CHANGE_CIPHER_SPEC
        else:
            self.state = State.WAIT_CERTIFICATE

    # -- the server's certificate and key exchange ------------------------------------------------------

    def _certificate(self, message: m12.Certificate12, raw: bytes) -> None:
        if not message.chain:
            raise TLSAlert(DECODE_ERROR, "server sent no certificate", "NO_CERTIFICATES_RETURNED")
        self.peer_chain = message.chain
        certificate = self.peer_certificate = load_certificate(message.chain[0])
        key = certificate.public_key()
        if ("RSA" if isinstance(key, rsa.RSAPublicKey) else "ECDSA") != self.cipher_suite.auth:
            raise TLSAlert(ILLEGAL_PARAMETER, "certificate does not fit the cipher suite", "WRONG_CERTIFICATE_TYPE")
        if self.settings.verify_mode != ssl.CERT_NONE:
            self.verified_chain = self.verify_chain(self.peer_chain)
        self.received(raw)
        self.state = State.WAIT_SERVER_KEY_EXCHANGE

    def _server_key_exchange(self, message: m12.ServerKeyExchange, raw: bytes) -> None:
        certificate = self.peer_certificate
        client_hello = self.client_hello
        if certificate is None:
            raise unexpected(m12.SERVER_KEY_EXCHANGE, self.state)
        groups = m.parse_u16_list(dict(client_hello.extensions).get(m.SUPPORTED_GROUPS, b"\x00\x00"))
        if message.group not in TLS12_GROUPS or message.group not in groups:
            raise TLSAlert(ILLEGAL_PARAMETER, "server chose a group we did not offer", "WRONG_CURVE")
        verify_offered(message.scheme, DEFAULT_TLS12_SIGNATURE_SCHEMES, certificate, message.signature,
                       self.client_random + self.server_random + message.params, tls13=False)
        self.client_public, self.premaster = server_key_exchange(message.group, message.public)
        self.group = message.group
        self.received(raw)
        self.state = State.WAIT_SERVER_HELLO_DONE

    def _certificate_request(self, message: m12.CertificateRequest12, raw: bytes) -> None:
        self.certificate_requested = True
        self.request_schemes = message.schemes
        self.received(raw)

    # -- our flight, then the server's Finished ---------------------------------------------------------------

    def _send_client_flight(self) -> None:
        choice = None
        if self.certificate_requested:
            choice = self.settings.client_credential(self.request_schemes, tls13=False)
            certificates = list(der_chain(self.settings.certificates_to_send(choice[0]))) if choice is not None else []
            self.send(m12.Certificate12(certificates).build())
        self.send(m12.ClientKeyExchange(self.client_public).build())
        self.derive_master_secret(self.premaster)
        self.premaster = b""
        if choice is not None:
            chain, scheme = choice
            self.send(m.CertificateVerify(scheme, sign(scheme, chain.key, bytes(self.log))).build())
        self.send_finished()
        self.state = State.WAIT_NEW_SESSION_TICKET if self.ticket_expected else State.WAIT_CHANGE_CIPHER_SPEC

    def _finished(self, message: m.Finished, raw: bytes) -> None:
        self.check_finished(message, raw)
        if self.resumed:
            self.send_finished()
        self._keep_session()
        self.state = State.CONNECTED

    def _keep_session(self) -> None:
        ticket = self.ticket
        if ticket is None or not ticket.ticket:
            return
        self.new_session = NativeSession(
            self.context, protocol=m.TLS12, cipher_suite=self.cipher_suite.code, secret=self.master_secret,
            ticket=ticket.ticket, ticket_lifetime_hint=ticket.lifetime_hint, server_hostname=self.server_hostname,
            alpn=self.alpn, peer_chain=tuple(self.peer_chain), verified_chain=self.verified_der(),
            timeout=ticket.lifetime_hint or TICKET_LIFETIME,
        )

