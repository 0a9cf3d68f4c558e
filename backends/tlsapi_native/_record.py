"""The record layer over two memory BIOs (TLS 1.3 and TLS 1.2), and handshake-message reassembly.

One framing path reads and writes records (header checks, buffering, fragmentation); the cryptography of
each direction is a protection object, as Go's ``halfConn``: ``Protection13`` (RFC 8446 5.2: the inner
content type, padding, ``iv XOR seq`` nonces) or ``Protection12`` (RFC 5288 / RFC 7905 AEAD records). The
connection installs them in ``read_protection`` / ``write_protection`` (each replaced, never changed, at a key
change).

Built for throughput: one AEAD object per key, the nonce computed with integer arithmetic, each incoming
record taken from the BIO alone (header, then body: bytes after it stay in the BIO) and sliced with
``memoryview`` (no copy before decryption), and each outgoing record written to the BIO as header +
ciphertext without joining.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._alerts import (
    BAD_RECORD_MAC,
    DECODE_ERROR,
    ILLEGAL_PARAMETER,
    PROTOCOL_VERSION,
    RECORD_OVERFLOW,
    UNEXPECTED_MESSAGE,
    TLSAlert,
)
from ._limits import MAX_CIPHERTEXT, MAX_CIPHERTEXT12, MAX_HANDSHAKE_MESSAGE, MAX_PLAINTEXT

CHANGE_CIPHER_SPEC: Final = 20
ALERT: Final = 21
HANDSHAKE: Final = 22
APPLICATION_DATA: Final = 23
#: Not a TLS content type: what ``read_record`` returns for a record of rejected 0-RTT data it skipped.
SKIPPED_EARLY_DATA: Final = 0

_TAG_LEN: Final = 16
_EXPLICIT_NONCE_LEN: Final = 8  # TLS 1.2 AES-GCM
_FINISHED: Final = 20  # the handshake message type
_MAX_SEQ: Final = (1 << 64) - 1
_LAST_SEQ: Final = _MAX_SEQ - 1  # a record written with this sequence number exhausts the key
_pack_header: Final = struct.Struct(">BHH").pack  # content type, legacy version, length

_CONTENT_TYPE_BYTES: Final = {t: bytes((t,)) for t in (ALERT, HANDSHAKE, APPLICATION_DATA)}


def _check_header(content_type: int, major: int, length: int, first: bool, protected: bool) -> None:
    """Refuse a record header with a bad version, content type or length (``first``: the first record
    read, whose bad type is reported as a wrong version, as OpenSSL does for a non-TLS peer)."""
    if major != 3:
        raise TLSAlert(PROTOCOL_VERSION, reason="WRONG_VERSION_NUMBER")
    if content_type < CHANGE_CIPHER_SPEC or content_type > APPLICATION_DATA:
        raise TLSAlert(UNEXPECTED_MESSAGE, reason="WRONG_VERSION_NUMBER" if first else "UNEXPECTED_RECORD")
    if length > (MAX_CIPHERTEXT if protected else MAX_PLAINTEXT):
        raise TLSAlert(RECORD_OVERFLOW, reason="PACKET_LENGTH_TOO_LONG" if length >= MAX_CIPHERTEXT12
                       else "ENCRYPTED_LENGTH_TOO_LONG" if protected else "DATA_LENGTH_TOO_LONG")


def _exhausted() -> TLSAlert:
    return TLSAlert(UNEXPECTED_MESSAGE, "sequence number exhausted", "TOO_MANY_RECORDS")


class Protection:
    """One direction's record protection: an AEAD key, its IV (an integer) and the sequence number."""

    __slots__ = ("aead", "iv", "seq")

    #: Whether records of every content type are protected (TLS 1.2) or only the outer application_data
    #: ones (TLS 1.3, whose unprotected change_cipher_spec records are middlebox compatibility).
    protects_every_type: bool = False

    def __init__(self, aead_class: Any, key: bytes, iv: bytes) -> None:
        self.aead = aead_class(key)
        self.iv = int.from_bytes(iv, "big")
        self.seq = 0

    def check_header(self, content_type: int, major: int, minor: int, length: int) -> None:
        """Refuse the header of a record to be opened."""
        raise NotImplementedError

    def open(self, content_type: int, header: bytes, body: bytes) -> tuple[int, bytes | memoryview]:
        """The record's ``(content_type, plaintext)``; ``InvalidTag`` if it does not authenticate."""
        raise NotImplementedError

    def seal(self, content_type: int, chunk: bytes | bytearray | memoryview, padding: int,
             write: Callable[[bytes], object]) -> None:
        """Write one protected record of at most ``MAX_PLAINTEXT`` bytes of ``chunk`` with ``write``."""
        raise NotImplementedError



class Protection13(Protection):
    """TLS 1.3 record protection (RFC 8446 5.2): records are application_data outside, the real content
    type is the last non-zero byte of the plaintext, the nonce is ``iv XOR seq``, the header is the AAD."""

    __slots__ = ()

    def check_header(self, content_type: int, major: int, minor: int, length: int) -> None:
        if major != 3 or length > MAX_CIPHERTEXT:
            _check_header(content_type, major, length, False, True)

    def open(self, content_type: int, header: bytes, body: bytes) -> tuple[int, bytes | memoryview]:
        seq = self.seq
        if seq >= _MAX_SEQ:
            raise _exhausted()
        plaintext: bytes = self.aead.decrypt((self.iv ^ seq).to_bytes(12, "big"), body, header)
        self.seq = seq + 1
        last = len(plaintext) - 1
        if last > MAX_PLAINTEXT:  # RFC 8446 5.4: TLSInnerPlaintext, padding included, is at most 2^14 + 1
            raise TLSAlert(RECORD_OVERFLOW, reason="DATA_LENGTH_TOO_LONG")
        if last >= 0 and plaintext[last]:
            inner = plaintext[last]
        else:
            stripped = plaintext.rstrip(b"\x00")
            if not stripped:
                raise TLSAlert(UNEXPECTED_MESSAGE, "record without a content type", "UNEXPECTED_RECORD")
            last = len(stripped) - 1
            inner = stripped[last]
        if inner == APPLICATION_DATA:
            return inner, memoryview(plaintext)[:last]
        if inner == CHANGE_CIPHER_SPEC or inner > APPLICATION_DATA or inner < CHANGE_CIPHER_SPEC:
            raise TLSAlert(UNEXPECTED_MESSAGE, "bad inner content type", "UNEXPECTED_RECORD")
        if last == 0:
            raise TLSAlert(UNEXPECTED_MESSAGE, "empty record", "BAD_LENGTH")
        return inner, plaintext[:last]

    def seal(self, content_type: int, chunk: bytes | bytearray | memoryview, padding: int,
             write: Callable[[bytes], object]) -> None:
        seq = self.seq
        n = len(chunk) + 1 + _TAG_LEN
        if padding:
            inner_len = n - _TAG_LEN  # content + type byte, padded to a multiple of ``padding``
            pad = min(-inner_len % padding, MAX_PLAINTEXT + 1 - inner_len)
            n += pad
            inner = b"".join((chunk, _CONTENT_TYPE_BYTES[content_type], bytes(pad)))
        else:
            inner = b"".join((chunk, _CONTENT_TYPE_BYTES[content_type]))
        header = _pack_header(APPLICATION_DATA, 0x0303, n)
        write(header)
        write(self.aead.encrypt((self.iv ^ seq).to_bytes(12, "big"), inner, header))
        self.seq = seq + 1
        if seq >= _LAST_SEQ:
            raise _exhausted()


class Protection12(Protection):
    """TLS 1.2 AEAD record protection: AES-GCM (RFC 5288) and ChaCha20-Poly1305 (RFC 7905).

    AES-GCM's nonce is the 4-byte implicit salt (``iv``) followed by an 8-byte explicit part sent in front
    of each record (we send the sequence number, as OpenSSL does); ChaCha20-Poly1305's is the 12-byte IV XOR
    the sequence number, nothing sent. The additional data is ``seq_num || type || version || length`` of
    the plaintext. There is no inner content type and no padding: CBC and MAC-then-encrypt do not exist here
    (no Lucky13 surface).
    """

    __slots__ = ("explicit",)

    protects_every_type = True

    def __init__(self, aead_class: Any, key: bytes, iv: bytes) -> None:
        super().__init__(aead_class, key, iv)
        self.explicit = _EXPLICIT_NONCE_LEN if aead_class is AESGCM else 0

    def check_header(self, content_type: int, major: int, minor: int, length: int) -> None:
        if major != 3 or minor != 3:
            raise TLSAlert(PROTOCOL_VERSION, reason="WRONG_VERSION_NUMBER")
        if content_type < CHANGE_CIPHER_SPEC or content_type > APPLICATION_DATA:
            raise TLSAlert(UNEXPECTED_MESSAGE, "bad record type", "UNEXPECTED_RECORD")
        if length > MAX_CIPHERTEXT12:
            raise TLSAlert(RECORD_OVERFLOW, reason="ENCRYPTED_LENGTH_TOO_LONG")

    def open(self, content_type: int, header: bytes, body: bytes) -> tuple[int, bytes | memoryview]:
        if content_type == CHANGE_CIPHER_SPEC:
            raise TLSAlert(UNEXPECTED_MESSAGE, "change_cipher_spec after the keys changed", "UNEXPECTED_CCS_MESSAGE")
        explicit = self.explicit
        size = len(body) - explicit - _TAG_LEN
        if size < 0:
            raise TLSAlert(BAD_RECORD_MAC, "record too short", "DECRYPTION_FAILED_OR_BAD_RECORD_MAC")
        seq = self.seq
        if seq >= _MAX_SEQ:
            raise _exhausted()
        aad = seq.to_bytes(8, "big") + bytes((content_type, 3, 3, size >> 8, size & 255))
        if explicit:
            nonce = self.iv.to_bytes(4, "big") + body[:explicit]
            plaintext: bytes = self.aead.decrypt(nonce, memoryview(body)[explicit:], aad)
        else:
            plaintext = self.aead.decrypt((self.iv ^ seq).to_bytes(12, "big"), body, aad)
        self.seq = seq + 1
        if size > MAX_PLAINTEXT:
            raise TLSAlert(RECORD_OVERFLOW, reason="DATA_LENGTH_TOO_LONG")
        if content_type == APPLICATION_DATA:
            return content_type, memoryview(plaintext)
        if not plaintext:
            raise TLSAlert(UNEXPECTED_MESSAGE, "empty record", "BAD_LENGTH")
        return content_type, plaintext

    def seal(self, content_type: int, chunk: bytes | bytearray | memoryview, padding: int,
             write: Callable[[bytes], object]) -> None:
        seq = self.seq
        size = len(chunk)
        sequence = seq.to_bytes(8, "big")
        aad = sequence + bytes((content_type, 3, 3, size >> 8, size & 255))
        if self.explicit:
            ciphertext = self.aead.encrypt(self.iv.to_bytes(4, "big") + sequence, bytes(chunk), aad)
            n = _EXPLICIT_NONCE_LEN + len(ciphertext)
            write(bytes((content_type, 3, 3, n >> 8, n & 255)) + sequence)
        else:
            ciphertext = self.aead.encrypt((self.iv ^ seq).to_bytes(12, "big"), bytes(chunk), aad)
            n = len(ciphertext)
            write(bytes((content_type, 3, 3, n >> 8, n & 255)))
        write(ciphertext)
        self.seq = seq + 1
        if seq >= _LAST_SEQ:
            raise _exhausted()


class RecordLayer:
    """Reads records from ``incoming`` and writes records to ``outgoing``, protected once protection is set."""

    __slots__ = (
        "_header", "_incoming", "_outgoing", "_partial", "early_data_budget", "padding", "read_protection",
        "records_read", "write_protection",
    )

    def __init__(self, incoming: Any, outgoing: Any) -> None:
        self._incoming = incoming
        self._outgoing = outgoing
        self._header: bytes | None = None  # the current record's header, once it has arrived before its body
        self._partial: bytearray | None = None  # the part of a header or a body that has arrived (else None)
        self.read_protection: Protection | None = None  # replaced, never changed, at each key change
        self.write_protection: Protection | None = None
        self.records_read = 0
        self.padding = 0  # pad TLS 1.3 protected records' plaintext to a multiple of this (0: no padding)
        # Server, after a ClientHello with early_data that we reject: bytes of 0-RTT records still to skip
        # (RFC 8446 4.2.10); a skipped record reads as empty application data.
        self.early_data_budget = 0

    # -- keys ------------------------------------------------------------------------------------------

    def set_read_key(self, aead_class: Any, key: bytes, iv: bytes) -> None:
        """TLS 1.3 read protection under ``key``."""
        self.read_protection = Protection13(aead_class, key, iv)

    def set_write_key(self, aead_class: Any, key: bytes, iv: bytes) -> None:
        """TLS 1.3 write protection under ``key``."""
        self.write_protection = Protection13(aead_class, key, iv)

    @property
    def write_sequence(self) -> int:
        """Records written under the current write key."""
        protection = self.write_protection
        return 0 if protection is None else protection.seq

    # -- reading -------------------------------------------------------------------------------------

    def _take(self, size: int) -> bytes | None:
        """Exactly ``size`` bytes from the BIO, or ``None`` until they have all arrived (what came is kept).

        Only the missing bytes are taken: whatever follows the current record (plaintext after a
        close_notify, as in a STARTTLS downgrade) stays in the BIO for the caller.
        """
        partial = self._partial
        if partial is None:  # the usual case: the whole header, or the whole body, is in the BIO
            data: bytes = self._incoming.read(size)
            if len(data) == size:
                return data
            if data:
                self._partial = bytearray(data)
            return None
        partial += self._incoming.read(size - len(partial))
        if len(partial) < size:
            return None
        self._partial = None
        return bytes(partial)

    def read_record(self) -> tuple[int, bytes | memoryview] | None:
        """The next record as ``(content_type, plaintext)``, or ``None`` until a whole record is here.

        The header is checked as soon as it has arrived, before its body; header and body are taken from
        the BIO separately and never joined (the body goes to the AEAD as it came).
        """
        header = self._header
        if header is None:
            header = self._take(5)
            if header is None:
                return None
        else:
            self._header = None
        content_type = header[0]
        length = (header[3] << 8) | header[4]
        protection = self.read_protection
        protected = protection is not None and (content_type == APPLICATION_DATA or protection.protects_every_type)
        if protected:
            assert protection is not None
            if content_type != APPLICATION_DATA or length > MAX_CIPHERTEXT or header[1] != 3 or header[2] != 3:
                protection.check_header(content_type, header[1], header[2], length)  # else all checks pass
        else:
            _check_header(content_type, header[1], length, self.records_read == 0, False)
        body = self._take(length)
        if body is None:
            self._header = header  # checked: the next call waits for its body
            return None
        self.records_read += 1
        if not protected:
            if content_type == APPLICATION_DATA:
                if self.early_data_budget >= length > _TAG_LEN:  # 0-RTT data sent before a second ClientHello
                    self.early_data_budget -= length
                    return SKIPPED_EARLY_DATA, b""
                raise TLSAlert(UNEXPECTED_MESSAGE, "application data before the handshake keys")
            if length == 0:
                raise TLSAlert(UNEXPECTED_MESSAGE, "empty record", "BAD_LENGTH")
            if protection is not None and content_type == HANDSHAKE:
                raise TLSAlert(UNEXPECTED_MESSAGE, "unprotected handshake record")
            return content_type, body
        assert protection is not None
        try:
            record = protection.open(content_type, header, body)
        except InvalidTag:
            if self.early_data_budget >= length > _TAG_LEN:  # rejected 0-RTT data, under a key we never had
                self.early_data_budget -= length
                return SKIPPED_EARLY_DATA, b""
            raise TLSAlert(BAD_RECORD_MAC) from None
        if self.early_data_budget:
            self.early_data_budget = 0
        return record

    # -- writing -------------------------------------------------------------------------------------

    def write(self, content_type: int, data: bytes | bytearray | memoryview) -> None:
        """Send ``data`` as records of ``content_type`` (fragmented, protected once write protection is set)."""
        protection = self.write_protection
        write = self._outgoing.write
        total = len(data)
        if protection is None:
            for start in range(0, total, MAX_PLAINTEXT):
                chunk = data[start : start + MAX_PLAINTEXT]
                n = len(chunk)
                write(bytes((content_type, 3, 3, n >> 8, n & 255)))
                write(chunk)
        elif total <= MAX_PLAINTEXT:  # one record, the usual case (an empty one too)
            protection.seal(content_type, data, self.padding, write)
        else:
            view = memoryview(data)
            for start in range(0, total, MAX_PLAINTEXT):
                protection.seal(content_type, view[start : start + MAX_PLAINTEXT], self.padding, write)

    def write_change_cipher_spec(self) -> None:
        self._outgoing.write(b"\x14\x03\x03\x00\x01\x01")


class HandshakeBuffer:
    """Reassembles handshake messages from record payloads, refusing messages over ``limit`` bytes."""

    __slots__ = ("_buf", "limit")

    def __init__(self, limit: int = MAX_HANDSHAKE_MESSAGE) -> None:
        self._buf = bytearray()
        self.limit = limit

    def __len__(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes | memoryview) -> None:
        self._buf += data
        if len(self._buf) >= 4:
            self._announced_length()

    def _announced_length(self) -> int:
        """The length in the buffered message's header; over ``limit``, the alert: ``decode_error`` for a
        Finished (whose length is fixed, RFC 8446 4.4.4 / RFC 5246 7.4.9), else ``illegal_parameter`` with
        ``EXCESSIVE_MESSAGE_SIZE``, as OpenSSL."""
        buf = self._buf
        length = int.from_bytes(buf[1:4], "big")
        if length > self.limit:
            if buf[0] == _FINISHED:
                raise TLSAlert(DECODE_ERROR, "bad Finished length", "BAD_LENGTH")
            raise TLSAlert(ILLEGAL_PARAMETER, "handshake message too long", "EXCESSIVE_MESSAGE_SIZE")
        return length

    def pop(self) -> tuple[int, bytes] | None:
        """The next complete message as ``(type, raw bytes including the 4-byte header)``."""
        buf = self._buf
        if len(buf) < 4:
            return None
        end = 4 + self._announced_length()
        if len(buf) < end:
            return None
        raw = bytes(buf[:end])
        del buf[:end]
        return raw[0], raw
