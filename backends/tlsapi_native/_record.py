"""The TLS 1.3 record layer over two memory BIOs, and handshake-message reassembly.

Built for throughput: one AEAD object per key, the nonce computed as ``iv XOR seq`` with integer
arithmetic, each incoming record taken from the BIO alone (header, then body: bytes after it stay in the
BIO) and sliced with ``memoryview`` (no copy before decryption), and each outgoing record written to the
BIO as header + ciphertext without joining.
"""

from __future__ import annotations

import struct
from typing import Any, Final

from cryptography.exceptions import InvalidTag

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
_FINISHED: Final = 20  # the handshake message type
_MAX_SEQ: Final = (1 << 64) - 1
_LAST_SEQ: Final = _MAX_SEQ - 1  # a record written with this sequence number exhausts the key
_pack_header: Final = struct.Struct(">BHH").pack  # content type, legacy version, length

_CONTENT_TYPE_BYTES: Final = {t: bytes((t,)) for t in (ALERT, HANDSHAKE, APPLICATION_DATA)}


class RecordLayer:
    """Reads records from ``incoming`` and writes records to ``outgoing``, protected once keys are set."""

    __slots__ = (
        "_buf", "_incoming", "_outgoing", "_pos", "_read_aead", "_read_iv", "_read_seq", "_write_aead",
        "_write_iv", "_write_seq", "early_data_budget", "padding", "records_read",
    )

    def __init__(self, incoming: Any, outgoing: Any) -> None:
        self._incoming = incoming
        self._outgoing = outgoing
        self._buf = b""
        self._pos = 0
        self._read_aead: Any = None
        self._read_iv = 0
        self._read_seq = 0
        self._write_aead: Any = None
        self._write_iv = 0
        self._write_seq = 0
        self.records_read = 0
        self.padding = 0  # pad protected records' plaintext to a multiple of this (0: no padding)
        # Server, after a ClientHello with early_data that we reject: bytes of 0-RTT records still to skip
        # (RFC 8446 4.2.10); a skipped record reads as empty application data.
        self.early_data_budget = 0

    # -- keys ------------------------------------------------------------------------------------------

    def set_read_key(self, aead_class: Any, key: bytes, iv: bytes) -> None:
        self._read_aead = aead_class(key)
        self._read_iv = int.from_bytes(iv, "big")
        self._read_seq = 0

    def set_write_key(self, aead_class: Any, key: bytes, iv: bytes) -> None:
        self._write_aead = aead_class(key)
        self._write_iv = int.from_bytes(iv, "big")
        self._write_seq = 0

    @property
    def read_protected(self) -> bool:
        return self._read_aead is not None

    @property
    def write_sequence(self) -> int:
        """Records written under the current write key."""
        return self._write_seq

    @property
    def buffered(self) -> int:
        """Received bytes not yet consumed as records (excluding what is still in the BIO)."""
        return len(self._buf) - self._pos

    # -- reading -------------------------------------------------------------------------------------

    def _fill(self, needed: int) -> bool:
        """Pull from the BIO until ``needed`` bytes are buffered; False if it runs dry first.

        Only the missing bytes are taken: whatever follows the current record (plaintext after a
        close_notify, as in a STARTTLS downgrade) stays in the BIO for the caller.
        """
        buf = self._buf
        pos = self._pos
        while len(buf) - pos < needed:
            chunk = self._incoming.read(needed - (len(buf) - pos))
            if not chunk:
                self._buf = buf
                self._pos = pos
                return False
            buf = chunk if pos >= len(buf) else buf[pos:] + chunk
            pos = 0
        self._buf = buf
        self._pos = pos
        return True

    def _check_header(self, content_type: int, major: int, length: int) -> None:
        """Refuse a record header with a bad version, content type or length."""
        if major != 3:
            raise TLSAlert(PROTOCOL_VERSION, reason="WRONG_VERSION_NUMBER")
        if content_type < CHANGE_CIPHER_SPEC or content_type > APPLICATION_DATA:
            raise TLSAlert(UNEXPECTED_MESSAGE, reason="WRONG_VERSION_NUMBER" if self.records_read == 0
                           else "UNEXPECTED_RECORD")
        protected = self._read_aead is not None and content_type == APPLICATION_DATA
        if length > (MAX_CIPHERTEXT if protected else MAX_PLAINTEXT):
            raise TLSAlert(RECORD_OVERFLOW, reason="PACKET_LENGTH_TOO_LONG" if length >= MAX_CIPHERTEXT12
                           else "ENCRYPTED_LENGTH_TOO_LONG" if protected else "DATA_LENGTH_TOO_LONG")

    def read_record(self) -> tuple[int, bytes | memoryview] | None:
        """The next record as ``(content_type, plaintext)``, or ``None`` until a whole record is here."""
        buf = self._buf
        pos = self._pos
        if len(buf) - pos < 5:
            if not self._fill(5):
                return None
            buf = self._buf
            pos = self._pos
        content_type = buf[pos]
        length = (buf[pos + 3] << 8) | buf[pos + 4]
        aead = self._read_aead
        protected = content_type == APPLICATION_DATA and aead is not None
        if not protected or length > MAX_CIPHERTEXT or buf[pos + 1] != 3:  # else every check passes
            self._check_header(content_type, buf[pos + 1], length)
        end = pos + 5 + length
        size = len(buf)
        if size < end:
            if not self._fill(5 + length):
                return None
            buf = self._buf
            pos = self._pos
            end = pos + 5 + length
            size = len(buf)
        if end == size:  # all consumed: hold no buffer (an idle connection keeps none)
            self._buf = b""
            self._pos = 0
        else:
            self._pos = end
        self.records_read += 1
        if not protected:
            if content_type == APPLICATION_DATA:
                if self.early_data_budget >= length > _TAG_LEN:  # 0-RTT data sent before a second ClientHello
                    self.early_data_budget -= length
                    return SKIPPED_EARLY_DATA, b""
                raise TLSAlert(UNEXPECTED_MESSAGE, "application data before the handshake keys")
            if length == 0:
                raise TLSAlert(UNEXPECTED_MESSAGE, "empty record", "BAD_LENGTH")
            if aead is not None and content_type == HANDSHAKE:
                raise TLSAlert(UNEXPECTED_MESSAGE, "unprotected handshake record")
            return content_type, buf[pos + 5 : end]
        seq = self._read_seq
        if seq >= _MAX_SEQ:
            raise TLSAlert(UNEXPECTED_MESSAGE, "sequence number exhausted", "TOO_MANY_RECORDS")
        try:
            plaintext: bytes = aead.decrypt(
                (self._read_iv ^ seq).to_bytes(12, "big"), memoryview(buf)[pos + 5 : end], buf[pos : pos + 5]
            )
        except InvalidTag:
            if self.early_data_budget >= length > _TAG_LEN:  # rejected 0-RTT data, under a key we never had
                self.early_data_budget -= length
                return SKIPPED_EARLY_DATA, b""
            raise TLSAlert(BAD_RECORD_MAC) from None
        if self.early_data_budget:
            self.early_data_budget = 0
        self._read_seq = seq + 1
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

    # -- writing -------------------------------------------------------------------------------------

    def write(self, content_type: int, data: bytes | bytearray | memoryview) -> None:
        """Send ``data`` as records of ``content_type`` (fragmented, protected once a write key is set)."""
        aead = self._write_aead
        write = self._outgoing.write
        total = len(data)
        if total <= MAX_PLAINTEXT and aead is not None and not self.padding:  # one record, the usual case
            seq = self._write_seq
            header = _pack_header(APPLICATION_DATA, 0x0303, total + 1 + _TAG_LEN)
            write(header)
            write(aead.encrypt((self._write_iv ^ seq).to_bytes(12, "big"),
                               b"".join((data, _CONTENT_TYPE_BYTES[content_type])), header))
            if seq >= _LAST_SEQ:
                raise TLSAlert(UNEXPECTED_MESSAGE, "sequence number exhausted", "TOO_MANY_RECORDS")
            self._write_seq = seq + 1
            return
        if aead is None:
            for start in range(0, total, MAX_PLAINTEXT):
                chunk = data[start : start + MAX_PLAINTEXT]
                n = len(chunk)
                write(bytes((content_type, 3, 3, n >> 8, n & 255)))
                write(chunk)
            return
        type_byte = _CONTENT_TYPE_BYTES[content_type]
        padding = self.padding
        iv = self._write_iv
        seq = self._write_seq
        view = memoryview(data) if total > MAX_PLAINTEXT else data
        start = 0
        while True:
            chunk = view[start : start + MAX_PLAINTEXT] if total > MAX_PLAINTEXT else view
            n = len(chunk) + 1 + _TAG_LEN
            header = bytes((APPLICATION_DATA, 3, 3, n >> 8, n & 255))
            if padding:
                inner_len = n - _TAG_LEN  # content + type byte, padded to a multiple of ``padding``
                pad = min(-inner_len % padding, MAX_PLAINTEXT + 1 - inner_len)
                n += pad
                header = bytes((APPLICATION_DATA, 3, 3, n >> 8, n & 255))
                inner = b"".join((chunk, type_byte, bytes(pad)))
            else:
                inner = b"".join((chunk, type_byte))
            write(header)
            write(aead.encrypt((iv ^ seq).to_bytes(12, "big"), inner, header))
            seq += 1
            start += MAX_PLAINTEXT
            if start >= total:
                break
        if seq >= _MAX_SEQ:
            raise TLSAlert(UNEXPECTED_MESSAGE, "sequence number exhausted", "TOO_MANY_RECORDS")
        self._write_seq = seq

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
