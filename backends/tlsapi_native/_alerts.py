"""TLS alerts: the ``TLSAlert`` exception the engine raises, and the ``SSLError`` each alert becomes.

An alert the engine *sends* (it detected a problem) becomes an error carrying OpenSSL's reason for that
condition (``DECRYPTION_FAILED_OR_BAD_RECORD_MAC``, ``NO_SHARED_CIPHER``, ...). An alert the engine
*receives* becomes OpenSSL's ``SSLV3_ALERT_*`` / ``TLSV1_ALERT_*`` / ``TLSV13_ALERT_*`` reason.
"""

from __future__ import annotations

from typing import Final

from tlsapi.spi import SSLError, make_error, reason_text
from tlsapi.spi import received_alert_error as shared_received_alert_error

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
    return shared_received_alert_error(description, origin=ORIGIN)


def error(reason: str, cls: type[SSLError] = SSLError, *, errno: int | None = None) -> SSLError:
    """A local error with OpenSSL's ``reason`` (no alert involved); ``errno`` where ``_ssl`` reports OpenSSL's
    reason code instead of ``SSL_ERROR_SSL``."""
    return make_error(cls, reason_text(reason), reason, origin=ORIGIN, errno=errno)
