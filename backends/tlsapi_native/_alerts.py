"""TLS alerts: the ``TLSAlert`` exception the engine raises, and the ``SSLError`` each alert becomes.

An alert the engine *sends* (it detected a problem) becomes an error carrying OpenSSL's reason for that
condition (``DECRYPTION_FAILED_OR_BAD_RECORD_MAC``, ``NO_SHARED_CIPHER``, ...). An alert the engine
*receives* becomes OpenSSL's ``SSLV3_ALERT_*`` / ``TLSV1_ALERT_*`` / ``TLSV13_ALERT_*`` reason.
"""

from __future__ import annotations

from typing import Final

from tlsapi._errors import SSLError, make_error

ORIGIN: Final = "native"

CLOSE_NOTIFY: Final = 0
UNEXPECTED_MESSAGE: Final = 10
BAD_RECORD_MAC: Final = 20
RECORD_OVERFLOW: Final = 22
HANDSHAKE_FAILURE: Final = 40
BAD_CERTIFICATE: Final = 42
UNSUPPORTED_CERTIFICATE: Final = 43
CERTIFICATE_EXPIRED: Final = 45
CERTIFICATE_UNKNOWN: Final = 46
ILLEGAL_PARAMETER: Final = 47
UNKNOWN_CA: Final = 48
DECODE_ERROR: Final = 50
DECRYPT_ERROR: Final = 51
PROTOCOL_VERSION: Final = 70
INSUFFICIENT_SECURITY: Final = 71
INTERNAL_ERROR: Final = 80
USER_CANCELED: Final = 90
MISSING_EXTENSION: Final = 109
UNSUPPORTED_EXTENSION: Final = 110
UNRECOGNIZED_NAME: Final = 112
CERTIFICATE_REQUIRED: Final = 116
NO_APPLICATION_PROTOCOL: Final = 120

# OpenSSL's reason for each alert received from the peer (SSL_AD_REASON_OFFSET + description).
RECEIVED_REASONS: Final[dict[int, str]] = {
    10: "SSLV3_ALERT_UNEXPECTED_MESSAGE",
    20: "SSLV3_ALERT_BAD_RECORD_MAC",
    21: "TLSV1_ALERT_DECRYPTION_FAILED",
    22: "TLSV1_ALERT_RECORD_OVERFLOW",
    30: "SSLV3_ALERT_DECOMPRESSION_FAILURE",
    40: "SSLV3_ALERT_HANDSHAKE_FAILURE",
    41: "SSLV3_ALERT_NO_CERTIFICATE",
    42: "SSLV3_ALERT_BAD_CERTIFICATE",
    43: "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
    44: "SSLV3_ALERT_CERTIFICATE_REVOKED",
    45: "SSLV3_ALERT_CERTIFICATE_EXPIRED",
    46: "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
    47: "SSLV3_ALERT_ILLEGAL_PARAMETER",
    48: "TLSV1_ALERT_UNKNOWN_CA",
    49: "TLSV1_ALERT_ACCESS_DENIED",
    50: "TLSV1_ALERT_DECODE_ERROR",
    51: "TLSV1_ALERT_DECRYPT_ERROR",
    60: "TLSV1_ALERT_EXPORT_RESTRICTION",
    70: "TLSV1_ALERT_PROTOCOL_VERSION",
    71: "TLSV1_ALERT_INSUFFICIENT_SECURITY",
    80: "TLSV1_ALERT_INTERNAL_ERROR",
    86: "TLSV1_ALERT_INAPPROPRIATE_FALLBACK",
    90: "TLSV1_ALERT_USER_CANCELLED",
    100: "TLSV1_ALERT_NO_RENEGOTIATION",
    109: "TLSV13_ALERT_MISSING_EXTENSION",
    110: "TLSV1_UNSUPPORTED_EXTENSION",
    111: "TLSV1_CERTIFICATE_UNOBTAINABLE",
    112: "TLSV1_UNRECOGNIZED_NAME",
    113: "TLSV1_BAD_CERTIFICATE_STATUS_RESPONSE",
    114: "TLSV1_BAD_CERTIFICATE_HASH_VALUE",
    115: "TLSV1_ALERT_UNKNOWN_PSK_IDENTITY",
    116: "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    120: "TLSV1_ALERT_NO_APPLICATION_PROTOCOL",
}

# The reason reported locally when we send an alert and the raising site named no better one.
_SENT_REASONS: Final[dict[int, str]] = {
    UNEXPECTED_MESSAGE: "UNEXPECTED_MESSAGE",
    BAD_RECORD_MAC: "DECRYPTION_FAILED_OR_BAD_RECORD_MAC",
    RECORD_OVERFLOW: "PACKET_LENGTH_TOO_LONG",
    HANDSHAKE_FAILURE: "HANDSHAKE_FAILURE",
    BAD_CERTIFICATE: "BAD_CERTIFICATE",
    ILLEGAL_PARAMETER: "BAD_VALUE",
    DECODE_ERROR: "BAD_PACKET",
    DECRYPT_ERROR: "BAD_SIGNATURE",
    PROTOCOL_VERSION: "UNSUPPORTED_PROTOCOL",
    INTERNAL_ERROR: "INTERNAL_ERROR",
    MISSING_EXTENSION: "MISSING_EXTENSION",
    UNSUPPORTED_EXTENSION: "UNSOLICITED_EXTENSION",
    CERTIFICATE_REQUIRED: "PEER_DID_NOT_RETURN_A_CERTIFICATE",
    NO_APPLICATION_PROTOCOL: "NO_APPLICATION_PROTOCOL",
}


def reason_text(reason: str) -> str:
    """OpenSSL's error string for a reason code: ``WRONG_VERSION_NUMBER`` -> ``wrong version number``."""
    return reason.lower().replace("_", " ")


class TLSAlert(Exception):
    """A fatal protocol error: send alert ``description``; the caller sees ``reason`` (OpenSSL's name)."""

    def __init__(self, description: int, message: str = "", reason: str | None = None) -> None:
        self.description = description
        self.reason = reason or _SENT_REASONS.get(description, "UNEXPECTED_MESSAGE")
        self.message = message or reason_text(self.reason)
        super().__init__(description, self.message)

    def to_error(self) -> SSLError:
        """The error the local caller sees after this alert was sent."""
        return make_error(SSLError, reason_text(self.reason), self.reason, origin=ORIGIN)


def received_alert_error(description: int) -> SSLError:
    """The error for a fatal alert received from the peer."""
    reason = RECEIVED_REASONS.get(description)
    if reason is None:
        return make_error(SSLError, f"unknown alert {description}", origin=ORIGIN)
    return make_error(SSLError, reason_text(reason), reason, origin=ORIGIN)


def error(reason: str, cls: type[SSLError] = SSLError) -> SSLError:
    """A local error with OpenSSL's ``reason`` (no alert involved)."""
    return make_error(cls, reason_text(reason), reason, origin=ORIGIN)
