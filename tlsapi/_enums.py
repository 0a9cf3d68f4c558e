"""Enums and constants of the interface.

The ``ssl`` module's enums are the interface's enums: ``tlsapi.TLSVersion is ssl.TLSVersion``, so a value
from either module is accepted everywhere (urllib3 assigns ``ssl.TLSVersion.TLSv1_2`` to
``minimum_version``) and compares equal to itself. tlsapi adds :class:`Capability`, the vocabulary in which
a backend declares what it supports and the conformance suite certifies it.
"""

from __future__ import annotations

import enum
import ssl

TLSVersion = ssl.TLSVersion
Purpose = ssl.Purpose
VerifyMode = ssl.VerifyMode
VerifyFlags = ssl.VerifyFlags
Options = ssl.Options
AlertDescription = ssl.AlertDescription
SSLErrorNumber = ssl.SSLErrorNumber

PROTOCOL_TLS_CLIENT = ssl.PROTOCOL_TLS_CLIENT
PROTOCOL_TLS_SERVER = ssl.PROTOCOL_TLS_SERVER
CERT_NONE = ssl.CERT_NONE
CERT_OPTIONAL = ssl.CERT_OPTIONAL
CERT_REQUIRED = ssl.CERT_REQUIRED


class Capability(enum.Enum):
    """A feature a backend may declare. The conformance suite maps each to its tests.

    ``CORE`` is implied for every backend: handshakes, certificate and hostname verification, the
    ``CERT_*`` modes, close_notify, ragged EOF, want-read/want-write and the error values.
    """

    CORE = "core"
    TLSv1_2 = "TLS 1.2"
    TLSv1_3 = "TLS 1.3"
    ALPN = "ALPN"
    SNI_CALLBACK = "SNI callback"
    #: A server requests, verifies and enforces client certificates (``verify_mode`` on a server context).
    CLIENT_AUTH = "server verifies client certificates"
    #: A client presents the certificate of ``load_cert_chain`` when the server asks for one.
    CLIENT_CERT = "client presents a certificate"
    SESSION_RESUMPTION = "session resumption"
    POST_HANDSHAKE_AUTH = "post-handshake auth"
    KEYLOG = "keylog file"
    CHANNEL_BINDING = "channel binding"
    SET_CIPHERS = "cipher selection"
    HELLO_RETRY_REQUEST = "HelloRetryRequest"
    KEY_UPDATE = "KeyUpdate"
    EXPORTER = "keying material exporter"
    ECH = "Encrypted Client Hello"
    #: Server side of ECH: ``set_ech_keys`` (ECHConfig PEM files with their keys), the inner hello served,
    #: retry_configs on a rejection, ``ech_status()``, HelloRetryRequest with ECH, malformed offers refused.
    ECH_SERVER = "Encrypted Client Hello (server)"
    GROUP_X25519 = "group x25519"
    GROUP_SECP256R1 = "group secp256r1"
    GROUP_SECP384R1 = "group secp384r1"
    GROUP_X25519MLKEM768 = "group X25519MLKEM768"
    KEY_RSA = "RSA keys"
    KEY_RSA_PSS = "RSA-PSS keys"
    KEY_ECDSA = "ECDSA keys"
    KEY_ED25519 = "Ed25519 keys"
    #: ``verify_code`` / ``verify_message`` identical to OpenSSL's for every bad chain (core requires only
    #: the exception class, ``reason`` and ``errno``).
    VERIFY_DIAGNOSTICS = "OpenSSL verify diagnostics"
    #: A self-signed certificate with ``CA:TRUE`` (``openssl req -x509``'s development certificate), trusted and
    #: served as the leaf, verifies, as OpenSSL accepts it (webpki refuses a CA as an end entity).
    TRUSTED_CA_LEAF = "trusted self-signed CA leaf"
    #: The Connection takes no byte past the peer's close_notify from the incoming BIO, so what follows (a
    #: STARTTLS-style downgrade over a hand pump, trio's ``SSLStream.unwrap``) stays readable, as with
    #: ``ssl.SSLObject``. (Over ``TLSSocket`` every backend keeps them: it reads one record at a time.)
    BIO_TRAILING_DATA = "bytes after close_notify left in the BIO"


GROUP_CAPABILITIES: dict[Capability, str] = {
    Capability.GROUP_X25519: "x25519",
    Capability.GROUP_SECP256R1: "secp256r1",
    Capability.GROUP_SECP384R1: "secp384r1",
    Capability.GROUP_X25519MLKEM768: "X25519MLKEM768",
}

class ECHStatus(enum.StrEnum):
    """What became of Encrypted Client Hello on a connection (``Connection.ech_status()``).

    A string enum: ``ECHStatus.ACCEPTED == "accepted"``.
    """

    #: No ``encrypted_client_hello`` extension was sent (client) or received (server).
    NOT_OFFERED = "not_offered"
    #: Client: a real ECH offer whose answer has not arrived yet.
    OFFERED = "offered"
    #: Client: a GREASE extension (random bytes shaped like an offer) was sent; nothing was hidden.
    GREASE = "grease"
    #: The server decrypted the ClientHelloInner and the handshake is the inner one.
    ACCEPTED = "accepted"
    #: Client: the server answered the outer hello. Server: the client sent an extension no key opened (a
    #: stale configuration, or GREASE, which a server cannot tell apart), and the outer hello was served.
    REJECTED = "rejected"


#: Groups that exist for TLS 1.3 only: the hybrid post-quantum key exchange is not defined for TLS 1.2.
TLS13_ONLY_GROUPS = frozenset({"X25519MLKEM768"})
