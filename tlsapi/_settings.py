"""``Settings``: the frozen snapshot of a context's configuration that a connection is built from.

``Context.settings()`` returns one, made on the first call after a setter ran and shared until the next
change, so taking it per connection costs an attribute read. ``wrap_bio`` / ``wrap_socket`` take it (through
``Connection._new``) and the connection keeps it: a context changed afterwards affects only later
connections, as with ``ssl``, except the SNI callback's explicit switch (``connection.context = other``),
which moves the connection onto ``other``'s snapshot. A backend whose engine has configuration of its own
(ciphers, groups, ECH) subclasses :class:`Settings` with those fields and returns it from
``Context._take_settings``; a backend that builds an engine context (an OpenSSL ``SSL_CTX``, a rustls
configuration) caches it per snapshot.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography import x509

from ._enums import TLSVersion

if TYPE_CHECKING:
    from ._material import CertChain

#: ``sni_callback(connection, server_name, context)``, returning ``None`` or an alert number.
SNICallback = Callable[[Any, str | None, Any], int | None]
#: ``set_psk_client_callback``'s callback: ``hint -> (identity, psk)``.
PSKClientCallback = Callable[[str | None], tuple[str | None, bytes]]
#: ``set_psk_server_callback``'s callback: ``identity -> psk`` (empty bytes refuse).
PSKServerCallback = Callable[[str | None], bytes]


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a backend needs to build a connection, as it was when the snapshot was taken.

    Equal snapshots configure equal connections, so a backend may key its engine context on one. The
    certificate material is the loaded objects themselves (``cryptography`` certificates and key); nothing
    is read from files again. For the stdlib backend, whose engine context *is* the context, certificates,
    trust and cipher selection live in OpenSSL and are not part of its snapshot (see its module).
    """

    #: ``PROTOCOL_TLS_CLIENT``, ``PROTOCOL_TLS_SERVER`` or the deprecated ``PROTOCOL_TLS`` (either side).
    protocol: ssl._SSLMethod
    #: The versions allowed, newest first, after min/max and ``OP_NO_TLSv1_*`` (``Context.enabled_versions``).
    versions: tuple[TLSVersion, ...]
    minimum_version: TLSVersion
    maximum_version: TLSVersion
    options: ssl.Options
    verify_mode: ssl.VerifyMode
    verify_flags: ssl.VerifyFlags
    check_hostname: bool
    hostname_checks_common_name: bool
    #: The OpenSSL cipher string last given to ``set_ciphers``; ``None``: the backend's default suites.
    ciphers: str | None
    #: ALPN protocols in preference order (wire form: each 1 to 255 bytes).
    alpn_protocols: tuple[bytes, ...]
    #: The chain and key of the last ``load_cert_chain`` (``None``: none loaded).
    cert_chain: CertChain | None
    #: Every chain the server may present, one per key type in loading order (as OpenSSL keeps them).
    cert_chains: tuple[CertChain, ...]
    trust_anchors: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...]
    sni_callback: SNICallback | None
    keylog_filename: str | None
    num_tickets: int
    post_handshake_auth: bool
    psk_client_callback: PSKClientCallback | None
    psk_server_callback: PSKServerCallback | None
    psk_identity_hint: str | None

    @property
    def is_client(self) -> bool:
        """Client connections only (``PROTOCOL_TLS_CLIENT``)."""
        return self.protocol == ssl.PROTOCOL_TLS_CLIENT

    @property
    def is_server(self) -> bool:
        """Server connections only (``PROTOCOL_TLS_SERVER``)."""
        return self.protocol == ssl.PROTOCOL_TLS_SERVER
