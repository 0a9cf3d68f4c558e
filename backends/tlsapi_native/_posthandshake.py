"""Post-handshake client authentication (RFC 8446 4.6.2): the server's request and the client's answer.

Each exchange hashes the main handshake's transcript (ClientHello .. client Finished), then the
CertificateRequest, Certificate and CertificateVerify; the Finished key comes from the client's current
application traffic secret.
"""

from __future__ import annotations

import dataclasses
import os
import ssl
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.serialization import Encoding

from . import _messages as m
from ._alerts import (
    CERTIFICATE_REQUIRED,
    ILLEGAL_PARAMETER,
    MISSING_EXTENSION,
    UNEXPECTED_MESSAGE,
    TLSAlert,
)
from ._certificates import der_chain, load_certificate
from ._record import HANDSHAKE
from ._signatures import DEFAULT_SIGNATURE_SCHEMES, sign, tls13_certificate_verify_input, verify

if TYPE_CHECKING:
    from cryptography import x509

    from ._effects import Negotiated
    from ._handshake import Handshake13
    from ._keyschedule import Transcript

__all__ = ["PostHandshakeAuth"]


class PostHandshakeAuth:
    """The server's side of one post-handshake authentication, from CertificateRequest to Finished."""

    def __init__(self, handshake: Handshake13, transcript: Transcript, request_context: bytes) -> None:
        self.handshake = handshake
        self.transcript = transcript
        self.request_context = request_context
        self.expect = m.CERTIFICATE
        self.chain: list[bytes] = []
        self.certificate: x509.Certificate | None = None
        self.verified: list[x509.Certificate] | None = None

    @classmethod
    def request(cls, handshake: Handshake13) -> PostHandshakeAuth:
        """Send a CertificateRequest with a fresh context."""
        request_context = os.urandom(32)
        raw = m.CertificateRequest(request_context, [
            (m.SIGNATURE_ALGORITHMS, m.build_u16_list(DEFAULT_SIGNATURE_SCHEMES)),
        ]).build()
        transcript = handshake.th.copy()
        transcript.update(raw)
        handshake.effects.send(HANDSHAKE, raw)
        return cls(handshake, transcript, request_context)

    def handle(self, msg_type: int, raw: bytes, client_secret: bytes) -> bool:
        """Take the client's next message; ``True`` once its Finished has been checked."""
        if msg_type != self.expect:
            raise TLSAlert(UNEXPECTED_MESSAGE, f"handshake message {msg_type} during post-handshake auth")
        handshake = self.handshake
        settings = handshake.settings
        body = raw[4:]
        if msg_type == m.CERTIFICATE:
            message = m.Certificate.parse(body)
            if message.context != self.request_context:
                raise TLSAlert(ILLEGAL_PARAMETER, "wrong certificate_request_context", "BAD_EXTENSION")
            if not message.entries:
                if settings.verify_mode == ssl.CERT_REQUIRED:
                    raise TLSAlert(CERTIFICATE_REQUIRED, "client sent no certificate",
                                   "PEER_DID_NOT_RETURN_A_CERTIFICATE")
                self.expect = m.FINISHED
            else:
                self.chain = [der for der, _ in message.entries]
                self.certificate = load_certificate(self.chain[0])
                if settings.verify_mode != ssl.CERT_NONE:
                    self.verified = handshake.verify_chain(self.chain)
                self.expect = m.CERTIFICATE_VERIFY
        elif msg_type == m.CERTIFICATE_VERIFY:
            message_cv = m.CertificateVerify.parse(body)
            certificate = self.certificate
            if certificate is None or message_cv.scheme not in DEFAULT_SIGNATURE_SCHEMES:
                raise TLSAlert(ILLEGAL_PARAMETER, "signature scheme not offered", "WRONG_SIGNATURE_TYPE")
            verify(message_cv.scheme, certificate.public_key(), message_cv.signature,
                   tls13_certificate_verify_input(self.transcript.digest(), server=False), certificate=certificate)
            self.expect = m.FINISHED
        else:
            finished = m.Finished.parse(body, handshake.ks.suite.hash_len)
            handshake.check_peer_finished(client_secret, self.transcript.digest(), finished.verify_data,
                                          "post-handshake")
            return True
        self.transcript.update(raw)
        return False

    def authenticated(self, negotiated: Negotiated) -> Negotiated:
        """``negotiated`` with the client's certificates once its Finished is checked (unchanged when it sent
        none)."""
        if self.certificate is None:
            return negotiated
        return dataclasses.replace(
            negotiated, peer_chain=tuple(self.chain), peer_certificate=self.certificate,
            verified_chain=None if self.verified is None else tuple(self.verified),
            verified_der=der_chain(self.verified),
        )

    @staticmethod
    def answer(handshake: Handshake13, raw: bytes, client_secret: bytes) -> None:
        """Client: answer a CertificateRequest with Certificate, CertificateVerify (if any) and Finished."""
        request = m.CertificateRequest.parse(raw[4:])
        schemes = dict(request.extensions).get(m.SIGNATURE_ALGORITHMS)
        if schemes is None:
            raise TLSAlert(MISSING_EXTENSION, "CertificateRequest without signature_algorithms",
                           "MISSING_SIGALGS_EXTENSION")
        transcript = handshake.th.copy()
        transcript.update(raw)

        def send(message: bytes) -> None:
            transcript.update(message)
            handshake.effects.send(HANDSHAKE, message)

        choice = handshake.settings.client_credential(m.parse_u16_list(schemes), tls13=True)
        if choice is None:
            send(m.Certificate(request.context, []).build())
        else:
            chain, scheme = choice
            send(m.Certificate(request.context, [(cert.public_bytes(Encoding.DER), [])
                                                 for cert in handshake.settings.certificates_to_send(chain)]).build())
            signature = sign(scheme, chain.key, tls13_certificate_verify_input(transcript.digest(), server=False))
            send(m.CertificateVerify(scheme, signature).build())
        send(m.Finished(handshake.ks.finished_verify_data(client_secret, transcript.digest())).build())
