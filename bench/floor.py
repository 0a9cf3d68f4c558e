"""The crypto floor: what the ``cryptography`` primitives of one TLS 1.3 handshake cost on their own.

One full handshake (both ends, x25519, ECDSA P-256 leaf, TLS_AES_256_GCM_SHA384) needs: two X25519 key
generations and exchanges, one ECDSA signature (CertificateVerify) and two verifications (CertificateVerify
and the leaf's certificate signature by its issuer, and the intermediate's by the root: three in all), about
forty HMAC-SHA384 calls (HKDF-Extract/Expand-Label for the key schedule and Finished, both ends), and the
AEAD work of the encrypted flight (about eight seal/open operations on ~1-2 KiB). Anything an engine spends
above this is its own (Python) overhead.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tlsapi_conformance.pki import PKI

from .cases import Work

HMACS_PER_HANDSHAKE = 40
AEAD_OPERATIONS = 8
FLIGHT_BYTES = 1500


def crypto_floor(pki: PKI) -> Work:
    leaf = pki.leaf("ecdsa-p256")
    key = leaf.key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    public = key.public_key()
    issuer_key = leaf.chain[0].public_key() if leaf.chain else public
    tbs, certificate_signature = leaf.certificate.tbs_certificate_bytes, leaf.certificate.signature
    aead = AESGCM(b"\x01" * 32)
    nonce, flight, secret = b"\x02" * 12, b"\x03" * FLIGHT_BYTES, b"\x04" * 48
    transcript = b"\x05" * 48

    def work() -> int:
        client, server = x25519.X25519PrivateKey.generate(), x25519.X25519PrivateKey.generate()
        client.exchange(server.public_key())
        server.exchange(client.public_key())
        signature = key.sign(transcript, ec.ECDSA(hashes.SHA256()))
        public.verify(signature, transcript, ec.ECDSA(hashes.SHA256()))
        for _ in range(2):  # the leaf's and the intermediate's certificate signatures
            issuer_key.verify(certificate_signature, tbs, ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr, call-arg, arg-type]
        for _ in range(HMACS_PER_HANDSHAKE):
            mac = hmac.HMAC(secret, hashes.SHA384())
            mac.update(transcript)
            mac.finalize()
        for _ in range(AEAD_OPERATIONS // 2):
            aead.decrypt(nonce, aead.encrypt(nonce, flight, None), None)
        return 1

    return work
