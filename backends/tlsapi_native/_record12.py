"""TLS 1.2 record protection for the AEAD suites: AES-GCM (RFC 5288) and ChaCha20-Poly1305 (RFC 7905).

AES-GCM's nonce is the 4-byte implicit salt from the key block followed by an 8-byte explicit part sent in
front of each record (we send the sequence number, as OpenSSL does); ChaCha20-Poly1305's is the 12-byte IV
XOR the sequence number, nothing sent. The additional data is ``seq_num || type || version || length``
of the plaintext. There is no inner content type and no padding: CBC and MAC-then-encrypt do not exist
here (no Lucky13 surface).

``RecordLayer12`` only changes how protected records are read and written, so a connection switches its
``RecordLayer`` to it in place (``use_tls12``) once TLS 1.2 is negotiated: buffered bytes, BIOs and every
reference to the record layer stay as they are.
"""

from __future__ import annotations

from typing import Final, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._alerts import (
    BAD_RECORD_MAC,
    PROTOCOL_VERSION,
    RECORD_OVERFLOW,
    UNEXPECTED_MESSAGE,
    TLSAlert,
)
from ._limits import MAX_CIPHERTEXT12, MAX_PLAINTEXT
from ._record import APPLICATION_DATA, CHANGE_CIPHER_SPEC, RecordLayer

__all__ = ["RecordLayer12", "use_tls12"]

_EXPLICIT_NONCE_LEN: Final = 8
_TAG_LEN: Final = 16
_MAX_SEQ: Final = (1 << 64) - 1


class RecordLayer12(RecordLayer):
    """The record layer once TLS 1.2 is negotiated; plaintext records are handled as in ``RecordLayer``.

    Keys are set with ``set_read_key``/``set_write_key`` as in TLS 1.3; ``iv`` is the 4-byte salt (AES-GCM)
    or the 12-byte IV (ChaCha20-Poly1305).
    """

    __slots__ = ()

    def read_record(self) -> tuple[int, bytes | memoryview] | None:
        aead = self._read_aead
        if aead is None:
            return super().read_record()
        buf = self._buf
        pos = self._pos
        if len(buf) - pos < 5:
            if not self._fill(5):
                return None
            buf = self._buf
            pos = self._pos
        content_type = buf[pos]
        length = (buf[pos + 3] << 8) | buf[pos + 4]
        if buf[pos + 1] != 3 or buf[pos + 2] != 3:
            raise TLSAlert(PROTOCOL_VERSION, reason="WRONG_VERSION_NUMBER")
        if content_type < CHANGE_CIPHER_SPEC or content_type > APPLICATION_DATA:
            raise TLSAlert(UNEXPECTED_MESSAGE, "bad record type", "UNEXPECTED_RECORD")
        if length > MAX_CIPHERTEXT12:
            raise TLSAlert(RECORD_OVERFLOW, reason="ENCRYPTED_LENGTH_TOO_LONG")
        if len(buf) - pos < 5 + length:
            if not self._fill(5 + length):
                return None
            buf = self._buf
            pos = self._pos
        end = pos + 5 + length
        if end == len(buf):  # all consumed: hold no buffer (an idle connection keeps none)
            self._buf = b""
            self._pos = 0
        else:
            self._pos = end
        self.records_read += 1
        if content_type == CHANGE_CIPHER_SPEC:
            raise TLSAlert(UNEXPECTED_MESSAGE, "change_cipher_spec after the keys changed", "UNEXPECTED_CCS_MESSAGE")
        gcm = isinstance(aead, AESGCM)
        explicit = _EXPLICIT_NONCE_LEN if gcm else 0
        size = length - explicit - _TAG_LEN
        if size < 0:
            raise TLSAlert(BAD_RECORD_MAC, "record too short", "DECRYPTION_FAILED_OR_BAD_RECORD_MAC")
        seq = self._read_seq
        if seq >= _MAX_SEQ:
            raise TLSAlert(UNEXPECTED_MESSAGE, "sequence number exhausted", "TOO_MANY_RECORDS")
        if gcm:
            nonce = self._read_iv.to_bytes(4, "big") + buf[pos + 5 : pos + 5 + explicit]
        else:
            nonce = (self._read_iv ^ seq).to_bytes(12, "big")
        aad = seq.to_bytes(8, "big") + bytes((content_type, 3, 3, size >> 8, size & 255))
        try:
            plaintext: bytes = aead.decrypt(nonce, memoryview(buf)[pos + 5 + explicit : end], aad)
        except InvalidTag:
            raise TLSAlert(BAD_RECORD_MAC) from None
        self._read_seq = seq + 1
        if size > MAX_PLAINTEXT:
            raise TLSAlert(RECORD_OVERFLOW, reason="DATA_LENGTH_TOO_LONG")
        if content_type == APPLICATION_DATA:
            return content_type, memoryview(plaintext)
        if not plaintext:
            raise TLSAlert(UNEXPECTED_MESSAGE, "empty record", "BAD_LENGTH")
        return content_type, plaintext

    def write(self, content_type: int, data: bytes | bytearray | memoryview) -> None:
        aead = self._write_aead
        if aead is None:
            super().write(content_type, data)
            return
        write = self._outgoing.write
        gcm = isinstance(aead, AESGCM)
        iv = self._write_iv
        seq = self._write_seq
        total = len(data)
        view = memoryview(data) if total > MAX_PLAINTEXT else data
        start = 0
        while True:
            chunk = view[start : start + MAX_PLAINTEXT] if total > MAX_PLAINTEXT else view
            size = len(chunk)
            sequence = seq.to_bytes(8, "big")
            aad = sequence + bytes((content_type, 3, 3, size >> 8, size & 255))
            if gcm:
                ciphertext = aead.encrypt(iv.to_bytes(4, "big") + sequence, bytes(chunk), aad)
                n = _EXPLICIT_NONCE_LEN + len(ciphertext)
                write(bytes((content_type, 3, 3, n >> 8, n & 255)) + sequence)
            else:
                ciphertext = aead.encrypt((iv ^ seq).to_bytes(12, "big"), bytes(chunk), aad)
                n = len(ciphertext)
                write(bytes((content_type, 3, 3, n >> 8, n & 255)))
            write(ciphertext)
            seq += 1
            start += MAX_PLAINTEXT
            if start >= total:
                break
        if seq >= _MAX_SEQ:
            raise TLSAlert(UNEXPECTED_MESSAGE, "sequence number exhausted", "TOO_MANY_RECORDS")
        self._write_seq = seq


def use_tls12(records: RecordLayer) -> RecordLayer12:
    """Switch ``records`` to TLS 1.2 protection in place (same object, same buffers)."""
    records.__class__ = RecordLayer12
    return cast(RecordLayer12, records)
