"""The TLS 1.2 server handshake (RFC 5246), the modern subset only.

What it does: ECDHE (RFC 8422) over x25519, x448, secp256r1, secp384r1 and secp521r1; ECDSA, Ed25519 and RSA
certificates (rsa_pss_rsae_*, rsa_pkcs1_*, ecdsa_*, ed25519 signatures); the six ECDHE AEAD suites; the extended
master secret (RFC 7627), optional (a session without it gets no ticket, tls-unique or exporter); renegotiation_info
(RFC 5746) echoed; TLS_FALLBACK_SCSV (RFC 7507) honoured; the ``DOWNGRD\\x01`` sentinel in
ServerHello.random whenever TLS 1.3 is enabled (RFC 8446 section 4.1.3); RFC 5077 session tickets, sealed
with the same ticket keys as TLS 1.3 (``_tickets``); ALPN, SNI and its callback, client certificates.

Deliberately absent (no Lucky13, ROBOT/Bleichenbacher/Marvin, Raccoon, triple-handshake or SMACK surface):
CBC and other MAC-then-encrypt suites, static RSA key exchange, finite-field DHE, compression, export and
NULL suites, session-id caching (tickets only), and renegotiation: a ClientHello after the handshake is
answered with a ``no_renegotiation`` warning and otherwise ignored.
"""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tlsapi.spi import select_alpn

from . import _messages as m
from . import _messages12 as m12
from ._alerts import HANDSHAKE_FAILURE, ILLEGAL_PARAMETER, TLSAlert
from ._certificates import der_chain, load_certificate
from ._defaults import TLS12_GROUPS
from ._groups import SECP256R1, SECP384R1, ClientKeyShare, generate_key_share
from ._handshake import NO_TICKET, State, unexpected
from ._handshake12 import Handshake12
from ._signatures import DEFAULT_TLS12_SIGNATURE_SCHEMES, choose_scheme, sign, verify_offered
from ._suites import TLS12_SUITES, CipherSuite
from ._tickets import TICKET_LIFETIME, TicketState

if TYPE_CHECKING:
    from tlsapi.spi import CertChain

    from ._context import NativeContext, NativeSettings
    from ._effects import Effects




def _auth_of(key: Any) -> str:
    return "RSA" if isinstance(key, rsa.RSAPrivateKey) else "ECDSA"


# RFC 8422 5.1.1: the supported_groups codes of the curves an ECDSA certificate's key may be on.
_CURVE_GROUPS = {"secp256r1": SECP256R1, "secp384r1": SECP384R1, "secp521r1": 25}


def _verifiable_chains(
    chains: Sequence[CertChain], client_schemes: Sequence[int], client_groups: set[int] | None
) -> dict[str, tuple[CertChain, int]]:
    """TLS 1.2: for each suite authentication ("RSA", "ECDSA"), the first chain the client can verify and the
    scheme to sign with: a scheme it offers, and for an ECDSA key a curve among its ``supported_groups``
    (RFC 8422 5.1; no such extension: any curve). As OpenSSL, a server never presents what the client
    cannot check (the client would abort with "wrong curve"); with nothing left, handshake_failure."""
    usable: dict[str, tuple[CertChain, int]] = {}
    for chain in chains:
        key = chain.key
        if isinstance(key, ec.EllipticCurvePrivateKey) and client_groups is not None \
                and _CURVE_GROUPS.get(key.curve.name) not in client_groups:
            continue
        scheme = choose_scheme(key, client_schemes, tls13=False, certificate=chain.leaf)
        if scheme is not None:
            usable.setdefault(_auth_of(key), (chain, scheme))
    return usable


class ServerHandshake12(Handshake12):
    """A TLS 1.2 server handshake, taking over from the TLS 1.3 one once the ClientHello chose TLS 1.2."""

    is_server = True

    def __init__(self, connection: Any, context: NativeContext, settings: NativeSettings, effects: Effects,
                 server_name: str | None) -> None:
        super().__init__(connection, context, settings, effects)
        self.uses_ems = True  # False when the client does not offer RFC 7627 (a native client always does)
        self.server_name = server_name
        self.certificate_requested = False
        self.key_share: ClientKeyShare | None = None  # the chosen group's ephemeral key (full handshakes)
        self.offered_ticket = False

    def receive(self, msg_type: int, raw: bytes) -> Handshake12:
        state = self.state
        body = raw[4:]
        if state is State.WAIT_CLIENT_CERTIFICATE and msg_type == m.CERTIFICATE:
            self._client_certificate(m12.Certificate12.parse(body), raw)
        elif state is State.WAIT_CLIENT_KEY_EXCHANGE and msg_type == m12.CLIENT_KEY_EXCHANGE:
            self._client_key_exchange(m12.ClientKeyExchange.parse(body), raw)
        elif state is State.WAIT_CLIENT_CERTIFICATE_VERIFY and msg_type == m.CERTIFICATE_VERIFY:
            self._client_certificate_verify(m.CertificateVerify.parse(body), raw)
        elif state is State.WAIT_CLIENT_FINISHED and msg_type == m.FINISHED:
            self._client_finished(m.Finished.parse(body, 12), raw)
        else:
            raise unexpected(msg_type, state)
        return self

    # -- ClientHello ---------------------------------------------------------------------------------

    def client_hello(self, hello: m.ClientHello, raw: bytes) -> Handshake12:
        """The ClientHello (``raw``; the hello module has chosen TLS 1.2 and run the SNI callback)."""
        self.client_random = hello.random
        extensions = dict(hello.extensions)
        self.received(raw)
        if 0 not in hello.compression_methods:
            raise TLSAlert(ILLEGAL_PARAMETER, "no null compression", "NO_COMPRESSION_SPECIFIED")
        renegotiation_info = extensions.get(m12.RENEGOTIATION_INFO)
        if renegotiation_info is not None and m12.parse_renegotiation_info(renegotiation_info):
            raise TLSAlert(HANDSHAKE_FAILURE, "renegotiation_info not empty", "RENEGOTIATION_MISMATCH")
        secure_renegotiation = (renegotiation_info is not None
                                or m12.EMPTY_RENEGOTIATION_INFO_SCSV in hello.cipher_suites)
        # RFC 7627: a client without the extended master secret (GnuTLS 3.7's wget) is served, but its
        # session is bound to nothing: no ticket, no resumption, no tls-unique, no exporter.
        self.uses_ems = m12.EXTENDED_MASTER_SECRET in extensions
        if self.uses_ems:
            m.expect_empty(extensions[m12.EXTENDED_MASTER_SECRET])
        formats = extensions.get(m12.EC_POINT_FORMATS)
        if formats is not None:
            m12.parse_ec_point_formats(formats)
        alpn_data = extensions.get(m.ALPN)
        if alpn_data is not None:
            offered = m.parse_alpn(alpn_data)
            self.alpn = select_alpn(self.settings.alpn_protocols, offered)
        ours = self.settings.tls12_suites
        self.shared_suites = [code for code in hello.cipher_suites if code in ours]
        ticket = extensions.get(m12.SESSION_TICKET)
        self.offered_ticket = (ticket is not None and self.uses_ems and not int(self.settings.options) & NO_TICKET
                               and self.settings.num_tickets > 0)
        state = self._open_ticket(hello, ticket) if ticket and self.uses_ems else None
        self.server_random = os.urandom(24) + (m.DOWNGRADE_TLS12 if m.TLS13 in self.settings.wire_versions
                                               else os.urandom(8))
        hello_extensions: m.Extensions = []
        if secure_renegotiation:
            hello_extensions.append((m12.RENEGOTIATION_INFO, m12.EMPTY_RENEGOTIATION_INFO))
        if self.uses_ems:
            hello_extensions.append((m12.EXTENDED_MASTER_SECRET, b""))
        if self.alpn is not None:
            hello_extensions.append((m.ALPN, m.build_alpn([self.alpn])))
        if state is not None:
            self._resume(hello, state, hello_extensions)
            return self
        if ticket:
            self.context.record_stat("misses")
        self._full_handshake(hello, extensions, hello_extensions)
        return self

    def _open_ticket(self, hello: m.ClientHello, ticket: bytes) -> TicketState | None:
        sealed = self.context.ticket_keys.open(ticket)
        state = TicketState.decode(sealed) if sealed is not None else None
        if (state is None or state.protocol != m.TLS12 or state.server_name != self.server_name
                or state.cipher_suite not in hello.cipher_suites or state.cipher_suite not in TLS12_SUITES
                or not 0 <= int(time.time() * 1000) - state.issued_ms <= state.lifetime * 1000
                or not hello.session_id):
            return None
        return state

    def _resume(self, hello: m.ClientHello, state: TicketState, hello_extensions: m.Extensions) -> None:
        """The abbreviated handshake: ServerHello echoing the session id, ChangeCipherSpec, Finished."""
        self.resumed = True
        self.suite = TLS12_SUITES[state.cipher_suite]
        self.restore_peer(state.peer_chain, state.verified_chain)
        self.context.record_stat("hits")
        self.send(m.ServerHello(self.server_random, hello.session_id, state.cipher_suite, hello_extensions).build())
        self.set_master_secret(state.secret)
        self.send_finished()
        self.state = State.WAIT_CHANGE_CIPHER_SPEC

    def _choose_suite(self, hello: m.ClientHello, auths: tuple[str, ...]) -> CipherSuite:
        ours = [code for code in self.settings.tls12_suites if TLS12_SUITES[code].auth in auths]
        return TLS12_SUITES[self.choose_suite_code(ours, hello.cipher_suites)]

    def _full_handshake(self, hello: m.ClientHello, extensions: dict[int, bytes],
                        hello_extensions: m.Extensions) -> None:
        settings = self.settings
        if settings.cert_chain is None:
            raise TLSAlert(HANDSHAKE_FAILURE, "no certificate configured", "NO_CERTIFICATE_ASSIGNED")
        schemes_data = extensions.get(m.SIGNATURE_ALGORITHMS)
        if schemes_data is None:  # RFC 5246 would imply SHA-1, which we do not sign with
            raise TLSAlert(HANDSHAKE_FAILURE, "no signature_algorithms", "NO_SUITABLE_SIGNATURE_ALGORITHM")
        groups_data = extensions.get(m.SUPPORTED_GROUPS)
        client_schemes = m.parse_u16_list(schemes_data)
        client_groups = None if groups_data is None else set(m.parse_u16_list(groups_data))
        usable = _verifiable_chains(settings.cert_chains, client_schemes, client_groups)
        if not usable:
            raise TLSAlert(HANDSHAKE_FAILURE, "no certificate the client can verify", "NO_SHARED_CIPHER")
        suite = self._choose_suite(hello, tuple(usable))
        chain, scheme = usable[suite.auth]
        offered_groups = client_groups if client_groups is not None else {SECP256R1}
        group = next((g for g in settings.groups if g in TLS12_GROUPS and g in offered_groups), None)
        if group is None:
            raise TLSAlert(HANDSHAKE_FAILURE, "no shared group", "NO_SHARED_GROUP")
        self.suite = suite
        self.group = group
        if self.offered_ticket:
            hello_extensions.append((m12.SESSION_TICKET, b""))
        if m12.EC_POINT_FORMATS in extensions:
            hello_extensions.append((m12.EC_POINT_FORMATS, m12.EC_POINT_FORMATS_DATA))
        self.send(m.ServerHello(self.server_random, b"", suite.code, hello_extensions).build())
        self.send(m12.Certificate12(list(der_chain(settings.certificates_to_send(chain)))).build())
        key_share = self.key_share = generate_key_share(group)
        params = m12.ServerKeyExchange(group, key_share.public, scheme, b"")
        params.signature = sign(scheme, chain.key, self.client_random + self.server_random + params.params)
        self.send(params.build())
        if self.settings.verify_mode != ssl.CERT_NONE:
            self.certificate_requested = True
            self.send(m12.CertificateRequest12(m12.CERTIFICATE_TYPES, list(DEFAULT_TLS12_SIGNATURE_SCHEMES)).build())
        self.send(m.handshake_message(m12.SERVER_HELLO_DONE, b""))
        self.flush()
        self.state = State.WAIT_CLIENT_CERTIFICATE if self.certificate_requested else State.WAIT_CLIENT_KEY_EXCHANGE

    # -- the client's flight --------------------------------------------------------------------------------

    def _client_certificate(self, message: m12.Certificate12, raw: bytes) -> None:
        self.received(raw)
        self.state = State.WAIT_CLIENT_KEY_EXCHANGE
        if not message.chain:
            if self.settings.verify_mode == ssl.CERT_REQUIRED:
                raise TLSAlert(HANDSHAKE_FAILURE, "client sent no certificate", "PEER_DID_NOT_RETURN_A_CERTIFICATE")
            return
        self.peer_chain = message.chain
        self.peer_certificate = load_certificate(message.chain[0])
        self.verified_chain = self.verify_chain(self.peer_chain)

    def _client_key_exchange(self, message: m12.ClientKeyExchange, raw: bytes) -> None:
        key_share = self.key_share
        if key_share is None:  # unreachable: only a full handshake waits for ClientKeyExchange
            raise unexpected(m12.CLIENT_KEY_EXCHANGE, self.state)
        premaster = key_share.shared_secret(message.public)
        self.key_share = None
        self.received(raw)
        self.derive_master_secret(premaster)
        self.state = (State.WAIT_CLIENT_CERTIFICATE_VERIFY if self.peer_certificate is not None
                      else State.WAIT_CHANGE_CIPHER_SPEC)

    def _client_certificate_verify(self, message: m.CertificateVerify, raw: bytes) -> None:
        certificate = self.peer_certificate
        if certificate is None:
            raise unexpected(m.CERTIFICATE_VERIFY, self.state)
        verify_offered(message.scheme, DEFAULT_TLS12_SIGNATURE_SCHEMES, certificate, message.signature,
                       bytes(self.log), tls13=False)
        self.received(raw)
        self.state = State.WAIT_CHANGE_CIPHER_SPEC

    def _client_finished(self, message: m.Finished, raw: bytes) -> None:
        self.check_finished(message, raw)
        if not self.resumed:
            self._issue_ticket()
            self.send_finished()
        self.state = State.CONNECTED

    def _issue_ticket(self) -> None:
        if not self.offered_ticket:
            return
        state = TicketState(m.TLS12, self.cipher_suite.code, self.master_secret, int(time.time() * 1000),
                            TICKET_LIFETIME, 0, self.server_name, self.alpn, tuple(self.peer_chain),
                            self.verified_der())
        self.send(m12.NewSessionTicket12(TICKET_LIFETIME, self.context.ticket_keys.seal(state.encode())).build())
