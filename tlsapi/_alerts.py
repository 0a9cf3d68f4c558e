"""TLS alert descriptions and the ``SSLError`` an alert received from the peer becomes.

OpenSSL reports a fatal alert received from the peer as reason ``SSL_AD_REASON_OFFSET + description``, whose
names are ``SSLV3_ALERT_*``, ``TLSV1_ALERT_*``, ``TLSV13_ALERT_*`` (and a few without ``ALERT``); the stdlib
copies that reason into ``SSLError.reason``. Every backend reports a received alert with these names so that
code branching on ``reason`` works whatever the engine.
"""

from __future__ import annotations

from typing import Final

from ._errors import SSLError, make_error

__all__ = ["ALERT_REASONS", "reason_text", "received_alert_error"]

#: OpenSSL's reason for each alert description received from the peer.
ALERT_REASONS: Final[dict[int, str]] = {
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


def reason_text(reason: str) -> str:
    """OpenSSL's error string for a reason code: ``WRONG_VERSION_NUMBER`` -> ``wrong version number``."""
    return reason.lower().replace("_", " ")


def received_alert_error(description: int, *, origin: str = "tlsapi") -> SSLError:
    """The ``SSLError`` for a fatal alert ``description`` received from the peer, as OpenSSL reports it.

    An alert OpenSSL has no name for gets the stdlib's shape for a reasonless error.
    """
    reason = ALERT_REASONS.get(description)
    if reason is None:
        return make_error(SSLError, f"unknown alert {description}", origin=origin)
    return make_error(SSLError, reason_text(reason), reason, origin=origin)
