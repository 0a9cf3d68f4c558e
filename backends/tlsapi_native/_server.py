"""The TLS 1.3 server handshake state machine (RFC 8446 section 4, server side)."""

from __future__ import annotations

import hmac
import os
import ssl
import time
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes

from tlsapi.spi import select_alpn

from . import _ech
from . import _messages as m
from ._alerts import (
    CERTIFICATE_REQUIRED,
    DECRYPT_ERROR,
    HANDSHAKE_FAILURE,
    ILLEGAL_PARAMETER,
    MISSING_EXTENSION,
    TLSAlert,
)
from ._certificates import der_chain, load_certificate
from ._groups import server_key_exchange
from ._handshake import NO_TICKET, Handshake, Handshake13, State, unexpected
from ._keyschedule import KeySchedule, Transcript
from ._limits import MAX_SKIPPED_EARLY_DATA
from ._record import HANDSHAKE
from ._signatures import (
    DEFAULT_SIGNATURE_SCHEMES,
    scheme_matches_key,
    sign,
    tls13_certificate_verify_input,
)
from ._suites import EXTERNAL_PSK_SUITE, TLS13_SUITES, CipherSuite
from ._tickets import TICKET_LIFETIME, TicketState

if TYPE_CHECKING:
    from cryptography import x509

    from tlsapi.spi import CertChain

    from ._context import NativeContext, NativeSettings
    from ._effects import Effects


_SSL3 = 0x0300
_PADDING = 21  # RFC 7685
# The messages that only depend on the configuration, built once.
_ENCRYPTED_EXTENSIONS = m.EncryptedExtensions([]).build()
_ENCRYPTED_EXTENSIONS_SNI = m.EncryptedExtensions([(m.SERVER_NAME, b"")]).build()
_CERTIFICATE_REQUEST = m.CertificateRequest(b"", [
    (m.SIGNATURE_ALGORITHMS, m.build_u16_list(DEFAULT_SIGNATURE_SCHEMES)),
]).build()
_CREDENTIALS: dict[int, tuple[tuple[x509.Certificate, ...], bytes, tuple[int, ...]]] = {}


def _credentials(chain: CertChain, certificates: tuple[x509.Certificate, ...]) -> tuple[bytes, tuple[int, ...]]:
    """The Certificate message of ``certificates`` (what ``chain`` presents) and the TLS 1.3 schemes its key
    can sign with, in our order.

    Both are fixed per tuple of certificates (the settings snapshot keeps it, and the context gives the next
    snapshot the same tuple until the chain or the trust store changes), so they are remembered by identity.
    """
    entry = _CREDENTIALS.get(id(certificates))
    if entry is None or entry[0] is not certificates:
        if len(_CREDENTIALS) >= 16:
            _CREDENTIALS.clear()
        message = m.Certificate(b"", [(der, []) for der in der_chain(certificates)]).build()
        usable = tuple(code for code in DEFAULT_SIGNATURE_SCHEMES
                       if scheme_matches_key(code, chain.key, certificate=chain.leaf))
        entry = _CREDENTIALS[id(certificates)] = (certificates, message, usable)
    return entry[1], entry[2]


def choose_credential(settings: NativeSettings, peer_schemes: set[int]) -> tuple[CertChain, bytes, int] | None:
    """TLS 1.3: the chain to present, its Certificate message and the scheme to sign with. As OpenSSL, the
    first of our schemes that the client offers and one of the chains (one per key type) can sign with."""
    options = [(chain, *_credentials(chain, certificates))
               for chain, certificates in zip(settings.cert_chains, settings.certificates_sent, strict=True)]
    for scheme in DEFAULT_SIGNATURE_SCHEMES:
        if scheme in peer_schemes:
            for chain, message, usable in options:
                if scheme in usable:
                    return chain, message, scheme
    return None


def _is_obsolete_group(group: int) -> bool:
    """RFC 8446 4.2.7 / B.3.1.4: the ``obsolete_RESERVED`` code points (TLS 1.2's curves other than
    secp256r1/384r1/521r1, x25519 and x448, and the explicit-curve values)."""
    return 0x0001 <= group <= 0x0016 or 0x001A <= group <= 0x001C or group in (0xFF01, 0xFF02)


def _tls13_only(extensions: dict[int, bytes]) -> bool:
    """Whether the client offers no version below TLS 1.3, so that all it offers must be valid in TLS 1.3."""
    versions = m.parse_supported_versions_client(extensions[m.SUPPORTED_VERSIONS])
    return not any(_SSL3 <= version < m.TLS13 for version in versions)


#: RFC 8446 4.1.2: what a ClientHello after a HelloRetryRequest may change (key_share, the PSK ages and
#: binders, padding) and what it may add or drop (early_data, cookie, PSKs, padding).
_MAY_CHANGE_AFTER_RETRY = frozenset({m.KEY_SHARE, m.PRE_SHARED_KEY, _PADDING})
_MAY_COME_OR_GO_AFTER_RETRY = frozenset({m.EARLY_DATA, m.COOKIE, m.PRE_SHARED_KEY, _PADDING})


def _retry_invariant(hello: m.ClientHello) -> tuple[object, ...]:
    """What must be the same in both ClientHellos around a HelloRetryRequest, extension order included."""
    return (hello.legacy_version, hello.random, hello.session_id, hello.cipher_suites, hello.compression_methods,
            [(ext_type, None if ext_type in _MAY_CHANGE_AFTER_RETRY else data)
             for ext_type, data in hello.extensions if ext_type not in _MAY_COME_OR_GO_AFTER_RETRY])


class ServerHandshake(Handshake13):
    """Drives a server handshake: ``handle()`` takes each client message and sends the server's flight."""

    is_server = True

    def __init__(self, connection: Any, context: NativeContext, settings: NativeSettings, effects: Effects,
                 server_name: str | None, ech_accepted: _ech.ServerAcceptance | None) -> None:
        super().__init__(connection, context, settings, effects)
        self.state = State.WAIT_CLIENT_HELLO
        self.server_name = server_name
        self.first_hello: m.ClientHello | None = None
        self.retry_group = 0
        self.client_handshake_secret = b""
        self.certificate_requested = False
        self.sent_ccs = False
        self.selected_identity = 0
        self.ech_accepted = ech_accepted  # the decrypted ClientHelloInner, if ECH is accepted
        # What a rejected ECH offer is answered with: the configurations of the keys that were tried (those of
        # the settings before the SNI callback, which may switch to a context without ECH keys).
        self.ech_retry_configs: bytes | None = None

    def release(self) -> None:
        super().release()
        self.first_hello = None
        self.client_handshake_secret = b""

    def receive(self, msg_type: int, raw: bytes) -> Handshake:
        state = self.state
        body = raw[4:]
        if state is State.WAIT_SECOND_CLIENT_HELLO and msg_type == m.CLIENT_HELLO:
            self._second_client_hello(m.ClientHello.parse(body), raw)
        elif state is State.WAIT_CLIENT_CERTIFICATE and msg_type == m.CERTIFICATE:
            self._client_certificate(m.Certificate.parse(body), raw)
        elif state is State.WAIT_CLIENT_CERTIFICATE_VERIFY and msg_type == m.CERTIFICATE_VERIFY:
            self._client_certificate_verify(m.CertificateVerify.parse(body), raw)
        elif state is State.WAIT_CLIENT_FINISHED and msg_type == m.FINISHED:
            self._client_finished(m.Finished.parse(body, self.ks.suite.hash_len), raw)
        else:
            raise unexpected(msg_type, state)
        return self

    # -- ClientHello ---------------------------------------------------------------------------------

    def client_hello(self, hello: m.ClientHello, raw: bytes, extensions: dict[int, bytes]) -> Handshake:
        """The first ClientHello (``raw``; the hello module has chosen TLS 1.3 and run the SNI callback)."""
        self.client_random = hello.random
        self.peer_offered_pha = m.POST_HANDSHAKE_AUTH in extensions
        if m.EARLY_DATA in extensions:
            self.effects.skip_early_data(MAX_SKIPPED_EARLY_DATA)
        suite = self._choose_suite(hello)
        ours = self.settings.suites
        self.shared_suites = [code for code in hello.cipher_suites if code in ours]
        groups_data = extensions.get(m.SUPPORTED_GROUPS)
        shares_data = extensions.get(m.KEY_SHARE)
        if groups_data is None or shares_data is None:
            raise TLSAlert(MISSING_EXTENSION, "no supported_groups or key_share", "MISSING_SUPPORTED_GROUPS_EXTENSION")
        client_groups = m.parse_u16_list(groups_data)
        if any(_is_obsolete_group(group) for group in client_groups) and _tls13_only(extensions):
            raise TLSAlert(ILLEGAL_PARAMETER, "obsolete group offered for TLS 1.3", "BAD_KEY_SHARE")
        shares = dict(m.parse_key_share_client(shares_data))
        if not shares.keys() <= set(client_groups):
            raise TLSAlert(ILLEGAL_PARAMETER, "key share for a group not in supported_groups", "BAD_KEY_SHARE")
        ours = self.settings.groups
        group = next((g for g in ours if g in shares), None)
        if group is None:
            group = next((g for g in ours if g in client_groups), None)
            if group is None:
                raise TLSAlert(HANDSHAKE_FAILURE, "no shared group", "NO_SUITABLE_KEY_SHARE")
            self._hello_retry_request(hello, raw, suite, group)
            return self
        self.transcript = Transcript(suite.hash)
        self._negotiate(hello, extensions, raw, suite, group, shares[group])
        return self

    def _second_client_hello(self, hello: m.ClientHello, raw: bytes) -> None:
        first = self.first_hello
        suite = self.suite
        if first is None or suite is None:
            raise unexpected(m.CLIENT_HELLO, self.state)
        hello, raw = _ech.server_second_client_hello(self, hello, raw)  # the inner hello if ECH is accepted
        extensions = dict(hello.extensions)
        if m.PRE_SHARED_KEY in extensions and hello.extensions[-1][0] != m.PRE_SHARED_KEY:
            raise TLSAlert(ILLEGAL_PARAMETER, "pre_shared_key is not the last extension", "BAD_EXTENSION")
        self.effects.skip_early_data(0)
        if _retry_invariant(hello) != _retry_invariant(first):
            raise TLSAlert(ILLEGAL_PARAMETER, "second ClientHello changed", "BAD_VALUE")
        shares_data = extensions.get(m.KEY_SHARE)
        if shares_data is None:
            raise TLSAlert(MISSING_EXTENSION, "no key_share", "MISSING_KEY_SHARE")
        shares = m.parse_key_share_client(shares_data)
        if len(shares) != 1 or shares[0][0] != self.retry_group:
            raise TLSAlert(ILLEGAL_PARAMETER, "wrong key share after HelloRetryRequest", "BAD_KEY_SHARE")
        if suite.code not in hello.cipher_suites or m.EARLY_DATA in extensions:
            raise TLSAlert(ILLEGAL_PARAMETER, "second ClientHello changed", "BAD_VALUE")
        self._negotiate(hello, extensions, raw, suite, self.retry_group, shares[0][1])

    def _choose_suite(self, hello: m.ClientHello) -> CipherSuite:
        """The suite by the usual preference; with a PSK server callback and a client offering a PSK, the
        first SHA-256 suite of that order (OpenSSL's ``prefer_sha256``: external PSKs are SHA-256 ones)."""
        ours = self.settings.suites
        external_psk_hash = TLS13_SUITES[EXTERNAL_PSK_SUITE].hash
        if self.settings.psk_server_callback is not None \
                and any(kind == m.PRE_SHARED_KEY for kind, _ in hello.extensions):
            sha256 = [code for code in ours if TLS13_SUITES[code].hash is external_psk_hash]
            offered = [code for code in hello.cipher_suites if code in sha256]
            if offered:
                return TLS13_SUITES[self.choose_suite_code(sha256, offered)]
        return TLS13_SUITES[self.choose_suite_code(ours, hello.cipher_suites)]

    def _hello_retry_request(self, hello: m.ClientHello, raw: bytes, suite: CipherSuite, group: int) -> None:
        self.suite = suite
        self.first_hello = hello
        self.retry_group = group
        digest = hashes.Hash(suite.hash())
        digest.update(raw)
        self.transcript = Transcript(suite.hash, m.message_hash(digest.finalize()))
        retry = m.ServerHello(m.HRR_RANDOM, hello.session_id, suite.code, [
            (m.SUPPORTED_VERSIONS, m.TLS13.to_bytes(2, "big")),
            (m.KEY_SHARE, group.to_bytes(2, "big")),
        ])
        _ech.server_retry_request(self, retry, suite.hash)
        self.send(retry.build())
        self._send_ccs_once(hello)
        self.state = State.WAIT_SECOND_CLIENT_HELLO

    def _send_ccs_once(self, hello: m.ClientHello) -> None:
        if hello.session_id and not self.sent_ccs:
            self.effects.send_change_cipher_spec()
            self.sent_ccs = True

    # -- the server flight -----------------------------------------------------------------------------

    def _accept_psk(self, extensions: dict[int, bytes], raw: bytes, suite: CipherSuite) -> KeySchedule | None:
        """The key schedule of the first offered ticket we can resume with ``suite``, else ``None``.

        ``extensions`` are the ClientHello's (``raw``). Call with the transcript holding what precedes this
        ClientHello. A ticket we cannot open or use is skipped (a full handshake follows); a usable ticket
        with a wrong binder is a decrypt_error.
        """
        psk_data = extensions.get(m.PRE_SHARED_KEY)
        if psk_data is None:
            return None
        identities, binders = m.parse_pre_shared_key_client(psk_data)
        modes = extensions.get(m.PSK_KEY_EXCHANGE_MODES)
        if modes is None:
            raise TLSAlert(MISSING_EXTENSION, "pre_shared_key without psk_key_exchange_modes",
                           "MISSING_PSK_KEX_MODES_EXTENSION")
        if m.PSK_DHE_KE in m.parse_psk_key_exchange_modes(modes):
            keys = self.context.ticket_keys
            now_ms = int(time.time() * 1000)
            truncated_hash = self.th.digest_with(raw[: -m.binders_length(binders)])
            for index, (identity, _age) in enumerate(identities):
                external = self._external_psk(identity, suite)
                if external is not None:
                    if not hmac.compare_digest(external.binder(truncated_hash, external=True), binders[index]):
                        raise TLSAlert(DECRYPT_ERROR, "bad PSK binder", "BINDER_DOES_NOT_VERIFY")
                    self.resumed = True  # as OpenSSL reports a PSK handshake (session_reused)
                    self.selected_identity = index
                    return external
                sealed = keys.open(identity)
                state = TicketState.decode(sealed) if sealed is not None else None
                if state is None or state.protocol != m.TLS13 or state.server_name != self.server_name:
                    continue
                ticket_suite = TLS13_SUITES.get(state.cipher_suite)
                if ticket_suite is None or ticket_suite.hash is not suite.hash:
                    continue
                if not 0 <= now_ms - state.issued_ms <= state.lifetime * 1000:
                    continue
                schedule = KeySchedule(suite, state.secret)
                if not hmac.compare_digest(schedule.binder(truncated_hash), binders[index]):
                    raise TLSAlert(DECRYPT_ERROR, "bad PSK binder", "BINDER_DOES_NOT_VERIFY")
                self._resume(index, state)
                return schedule
        self.context.record_stat("misses")
        return None

    def _external_psk(self, identity: bytes, suite: CipherSuite) -> KeySchedule | None:
        """Python 3.13's ``set_psk_server_callback``, as OpenSSL runs it in TLS 1.3: the callback gets the
        identity (``str``) and returns the key, empty for an unknown identity. The key is an external PSK
        for SHA-256 suites (TLS_AES_128_GCM_SHA256's hash); with another suite it is skipped, as are an
        identity that is not UTF-8 and a callback that fails (OpenSSL's callback returns 0 then)."""
        callback = self.settings.psk_server_callback
        if callback is None or suite.hash is not TLS13_SUITES[EXTERNAL_PSK_SUITE].hash:
            return None
        try:
            key = bytes(callback(identity.decode("utf-8")))
        except Exception:  # the stdlib reports it as unraisable and uses no PSK
            return None
        return KeySchedule(suite, key) if key else None

    def _resume(self, index: int, state: TicketState) -> None:
        self.resumed = True
        self.selected_identity = index
        self.restore_peer(state.peer_chain, state.verified_chain)
        self.context.record_stat("hits")

    def _negotiate(self, hello: m.ClientHello, extensions: dict[int, bytes], raw: bytes, suite: CipherSuite,
                   group: int, client_share: bytes) -> None:
        psk_schedule = self._accept_psk(extensions, raw, suite)
        self.th.update(raw)
        chain = self.settings.cert_chain
        scheme = None
        certificate_message = b""
        if psk_schedule is None:
            schemes_data = extensions.get(m.SIGNATURE_ALGORITHMS)
            if schemes_data is None:
                raise TLSAlert(MISSING_EXTENSION, "no signature_algorithms", "MISSING_SIGALGS_EXTENSION")
            if chain is None:
                raise TLSAlert(HANDSHAKE_FAILURE, "no certificate configured", "NO_CERTIFICATE_ASSIGNED")
            choice = choose_credential(self.settings, set(m.parse_u16_list(schemes_data)))
            if choice is None:
                raise TLSAlert(HANDSHAKE_FAILURE, "no shared signature scheme", "NO_SUITABLE_SIGNATURE_ALGORITHM")
            chain, certificate_message, scheme = choice
        alpn_data = extensions.get(m.ALPN)
        if alpn_data is not None:
            offered = m.parse_alpn(alpn_data)
            self.alpn = select_alpn(self.settings.alpn_protocols, offered)
        server_share, shared_secret = server_key_exchange(group, client_share)
        self.suite = suite
        self.group = group
        transcript = self.th
        hello_extensions: m.Extensions = [
            (m.SUPPORTED_VERSIONS, m.TLS13.to_bytes(2, "big")),
            (m.KEY_SHARE, m.build_key_share_server(group, server_share)),
        ]
        if psk_schedule is not None:
            hello_extensions.append((m.PRE_SHARED_KEY, self.selected_identity.to_bytes(2, "big")))
        server_hello = m.ServerHello(os.urandom(32), hello.session_id, suite.code, hello_extensions)
        if self.ech_accepted is not None:
            _ech.confirm_acceptance(server_hello, suite.hash, self.ech_accepted.inner.random, transcript)
        self.send(server_hello.build())
        self._send_ccs_once(hello)
        schedule = self.schedule = psk_schedule or KeySchedule(suite)
        client_secret, server_secret = schedule.handshake_secrets(shared_secret, transcript.digest())
        self.client_handshake_secret = client_secret
        self.keylog("CLIENT_HANDSHAKE_TRAFFIC_SECRET", client_secret)
        self.keylog("SERVER_HANDSHAKE_TRAFFIC_SECRET", server_secret)
        self.install_write_key(server_secret)
        self.install_read_key(client_secret)

        # The encrypted flight (EncryptedExtensions to Finished) goes out in one write: one record under the
        # handshake key unless it is larger.
        if self.alpn is None:
            flight = [_ENCRYPTED_EXTENSIONS_SNI if self.server_name is not None else _ENCRYPTED_EXTENSIONS]
        else:
            encrypted: m.Extensions = [(m.SERVER_NAME, b"")] if self.server_name is not None else []
            encrypted.append((m.ALPN, m.build_alpn([self.alpn])))
            flight = [m.EncryptedExtensions(encrypted).build()]
        flight[0] = _ech.server_encrypted_extensions(self, flight[0])
        if chain is not None and scheme is not None:  # a full handshake: authenticate with the certificate
            # As OpenSSL with SSL_VERIFY_POST_HANDSHAKE: post_handshake_auth defers the request.
            if self.settings.verify_mode != ssl.CERT_NONE and not self.settings.post_handshake_auth:
                self.certificate_requested = True
                flight.append(_CERTIFICATE_REQUEST)
            flight.append(certificate_message)
            transcript.update(b"".join(flight))
            signature = sign(scheme, chain.key, tls13_certificate_verify_input(transcript.digest(), server=True))
            flight.append(m.CertificateVerify(scheme, signature).build())
            transcript.update(flight[-1])
        else:
            transcript.update(flight[0])
        self.server_finished = schedule.finished_verify_data(server_secret, transcript.digest())
        flight.append(m.Finished(self.server_finished).build())
        transcript.update(flight[-1])
        self.effects.send(HANDSHAKE, b"".join(flight))

        self.derive_application_secrets()
        self.install_write_key(self.server_application_secret)
        self.state = State.WAIT_CLIENT_CERTIFICATE if self.certificate_requested else State.WAIT_CLIENT_FINISHED

    # -- client authentication and Finished ------------------------------------------------------------------

    def _client_certificate(self, message: m.Certificate, raw: bytes) -> None:
        if message.context:
            raise TLSAlert(ILLEGAL_PARAMETER, "wrong certificate_request_context", "BAD_EXTENSION")
        if not message.entries:
            if self.settings.verify_mode == ssl.CERT_REQUIRED:
                raise TLSAlert(CERTIFICATE_REQUIRED, "client sent no certificate",
                               "PEER_DID_NOT_RETURN_A_CERTIFICATE")
            self.th.update(raw)
            self.state = State.WAIT_CLIENT_FINISHED
            return
        self.peer_chain = [der for der, _ in message.entries]
        self.peer_certificate = load_certificate(self.peer_chain[0])
        self.verified_chain = self.verify_chain(self.peer_chain)
        self.th.update(raw)
        self.state = State.WAIT_CLIENT_CERTIFICATE_VERIFY

    def _client_certificate_verify(self, message: m.CertificateVerify, raw: bytes) -> None:
        self.accept_certificate_verify(message, raw)
        self.state = State.WAIT_CLIENT_FINISHED

    def _client_finished(self, message: m.Finished, raw: bytes) -> None:
        schedule = self.ks
        transcript = self.th
        self.check_peer_finished(self.client_handshake_secret, transcript.digest(), message.verify_data, "client")
        self.client_finished = message.verify_data
        transcript.update(raw)
        self.resumption_master_secret = schedule.resumption_master_secret(transcript.digest())
        self.install_read_key(self.client_application_secret)
        self.state = State.CONNECTED
        self._issue_tickets()

    def _issue_tickets(self) -> None:
        """Send ``num_tickets`` NewSessionTickets (none with ``OP_NO_TICKET``), each sealing its own PSK, in
        one write (one record unless they exceed its size)."""
        settings = self.settings
        count = 0 if int(settings.options) & NO_TICKET else settings.num_tickets
        if not count:
            return
        schedule = self.ks
        keys = self.context.ticket_keys
        now_ms = int(time.time() * 1000)
        verified = self.verified_der()
        peer_chain = tuple(self.peer_chain)
        messages = []
        for index in range(count):
            nonce = index.to_bytes(8, "big")
            age_add = int.from_bytes(os.urandom(4), "big")
            state = TicketState(m.TLS13, schedule.suite.code,
                                schedule.resumption_psk(self.resumption_master_secret, nonce), now_ms,
                                TICKET_LIFETIME, age_add, self.server_name, self.alpn, peer_chain, verified)
            ticket = m.NewSessionTicket(TICKET_LIFETIME, age_add, nonce, keys.seal(state.encode()))
            messages.append(ticket.build())
        self.effects.send(HANDSHAKE, b"".join(messages))
