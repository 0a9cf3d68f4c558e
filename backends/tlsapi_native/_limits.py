"""Every limit the native engine enforces against a hostile or broken peer, in one place.

Record sizes come from the RFCs; the counts bound what a peer can make the engine do without sending
data ("SSL Death Alert", CVE-2016-8610: OpenSSL, Go and rustls all cap these). Each count is "in a row":
application data (and, during the handshake, handshake progress) resets it. Past a count the engine sends
``unexpected_message`` with the reason OpenSSL uses for the same condition where it has one.
"""

from __future__ import annotations

from typing import Final

#: RFC 8446 5.1: the largest record plaintext (TLSPlaintext / TLSInnerPlaintext content).
MAX_PLAINTEXT: Final = 1 << 14
#: RFC 8446 5.2: the largest TLS 1.3 ciphertext (``record_overflow`` above).
MAX_CIPHERTEXT: Final = MAX_PLAINTEXT + 256
#: RFC 5246 6.2.3: the largest TLS 1.2 ciphertext; OpenSSL reports ``PACKET_LENGTH_TOO_LONG`` from here on.
MAX_CIPHERTEXT12: Final = MAX_PLAINTEXT + 2048
#: The largest handshake message body buffered (Go: 64 KiB; OpenSSL's certificate list: 100 KiB). A larger
#: one is refused from its 4-byte header with ``illegal_parameter`` / ``EXCESSIVE_MESSAGE_SIZE``.
MAX_HANDSHAKE_MESSAGE: Final = 1 << 17
#: 0-RTT is never accepted: after a ClientHello offering early_data, the server skips this many bytes of
#: records it cannot decrypt (RFC 8446 4.2.10), then fails with ``bad_record_mac``. Only records that can
#: be real ciphertexts (over 16 bytes) are skipped; skipped records are not counted as empty.
MAX_SKIPPED_EARLY_DATA: Final = 1 << 15
#: Empty application-data records in a row (OpenSSL ``MAX_EMPTY_RECORDS``; reason ``RECORD_TOO_SMALL``).
MAX_EMPTY_RECORDS: Final = 32
#: Warning alerts in a row: user_canceled in TLS 1.3, any warning in TLS 1.2 (OpenSSL
#: ``MAX_WARN_ALERT_COUNT``; reason ``TOO_MANY_WARN_ALERTS``).
MAX_WARNING_ALERTS: Final = 5
#: KeyUpdate messages in a row (OpenSSL ``MAX_KEY_UPDATE_MESSAGES``; reason ``TOO_MANY_KEY_UPDATES``).
MAX_KEY_UPDATES: Final = 32
#: Other post-handshake messages in a row: NewSessionTicket, CertificateRequest (post-handshake auth) and
#: refused TLS 1.2 renegotiations (Go counts these with its 16 "useless" records; reason ``UNEXPECTED_MESSAGE``).
MAX_POST_HANDSHAKE_MESSAGES: Final = 32
#: Certificates in a peer's chain, leaf included: longer chains fail verification before any path
#: building with OpenSSL's ``X509_V_ERR_CERT_CHAIN_TOO_LONG`` (22), alert ``unknown_ca``.
MAX_CHAIN_LENGTH: Final = 10
