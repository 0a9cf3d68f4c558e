"""``NativeContext``: the ``tlsapi.Context`` of the native engine, with cipher and group selection, and
``NativeSettings``: the frozen snapshot its connections are built from."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from tlsapi.ech import ECHConfig, ECHConfigError, HpkeSymmetricCipherSuite, load_ech_pem, parse_ech_config_list
from tlsapi.spi import OP_LEGACY_SERVER_CONNECT, CertChain, Context, Settings, make_error

from . import BACKEND
from ._connection import NativeConnection
from ._defaults import wire_versions
from ._ech import choose_config
from ._groups import DEFAULT_GROUPS, GROUPS_BY_NAME, SUPPORTED_GROUPS
from ._limits import MAX_CHAIN_LENGTH
from ._signatures import DEFAULT_SIGNATURE_SCHEMES, DEFAULT_TLS12_SIGNATURE_SCHEMES, scheme_matches_key
from ._suites import (
    DEFAULT_TLS12_SUITES,
    DEFAULT_TLS13_SUITES,
    TLS12_SUITES,
    TLS13_SUITES,
    cipher_dict,
    parse_cipher_string,
)
from ._tickets import TicketKeys

PSKClientCallback = Callable[[str | None], tuple[str | None, bytes]]
PSKServerCallback = Callable[[str | None], bytes]

# A chain, the trust store it was completed from, and the certificates to send.
_Completion = tuple[CertChain, list[x509.Certificate], tuple[x509.Certificate, ...]]

_ECDH_CURVES = {"prime256v1": "secp256r1", "secp256r1": "secp256r1", "secp384r1": "secp384r1",
                "secp521r1": "secp521r1", "X25519": "x25519", "x25519": "x25519", "X448": "x448", "x448": "x448"}


@dataclass(frozen=True, slots=True)
class NativeSettings(Settings):
    """The common settings and what the native engine derives from them or keeps of its own, fixed per
    snapshot: every handshake reads its configuration from here, never from the live context."""

    #: ``versions`` as wire codes (``0x0304``, ``0x0303``), newest first.
    wire_versions: tuple[int, ...]
    #: The TLS 1.3 suite codes in preference order.
    suites: tuple[int, ...]
    #: The TLS 1.2 suite codes in preference order (the cipher string's TLS 1.2 part).
    tls12_suites: tuple[int, ...]
    #: The key-exchange groups in preference order (a client sends a key share for the first).
    groups: tuple[int, ...]
    #: What each of ``cert_chains`` presents, in the same order (a lone leaf completed from the trust store).
    certificates_sent: tuple[tuple[x509.Certificate, ...], ...]
    #: Client: the ECH configuration and HPKE suite to offer (``None``: no ECH).
    ech: tuple[ECHConfig, HpkeSymmetricCipherSuite] | None
    #: Server: the (ECHConfig, private key) pairs tried on an ECH offer, in order.
    ech_keys: tuple[tuple[ECHConfig, X25519PrivateKey], ...]
    #: Server: the ``ECHConfigList`` sent to a client whose offer is rejected.
    ech_retry_configs: bytes | None
    #: Client: send a GREASE ``encrypted_client_hello`` when no configuration is set.
    ech_grease: bool
    #: Pad each protected record's plaintext to a multiple of this many bytes (``None``: no padding).
    record_padding: int | None

    def certificates_to_send(self, chain: CertChain) -> tuple[x509.Certificate, ...]:
        """What to present for ``chain``, one of ``cert_chains`` (``cert_chain`` is one of them)."""
        for index, candidate in enumerate(self.cert_chains):
            if candidate is chain:
                return self.certificates_sent[index]
        raise ValueError("not a chain of these settings")

    def client_credential(self, requested: Sequence[int], *, tls13: bool) -> tuple[CertChain, int] | None:
        """A client's answer to a CertificateRequest, as OpenSSL chooses it: in TLS 1.3 the chain and scheme
        for the first of our signature schemes the server asks for that one of the chains can sign with; in
        TLS 1.2 only the last chain loaded is considered. ``None``: send no certificate."""
        offered = set(requested)
        chains = self.cert_chains if tls13 else (self.cert_chain,) if self.cert_chain else ()
        for scheme in DEFAULT_SIGNATURE_SCHEMES if tls13 else DEFAULT_TLS12_SIGNATURE_SCHEMES:
            if scheme in offered:
                for chain in chains:
                    if scheme_matches_key(scheme, chain.key, tls13=tls13, certificate=chain.leaf):
                        return chain, scheme
        return None


class NativeContext(Context):
    """TLS configuration for the native (pure Python) TLS 1.3 engine."""

    backend = BACKEND
    #: The interface's verify flags, and the CRL checks too (``_trust.verify_peer_chain``).
    honoured_verify_flags = Context.honoured_verify_flags | ssl.VERIFY_CRL_CHECK_LEAF | ssl.VERIFY_CRL_CHECK_CHAIN
    #: OP_LEGACY_SERVER_CONNECT lets the TLS 1.2 client accept a server without renegotiation_info (it never
    #: renegotiates either way), as OpenSSL's client does.
    honoured_options = Context.honoured_options | OP_LEGACY_SERVER_CONNECT
    sslobject_class: ClassVar[type[NativeConnection]] = NativeConnection  # type: ignore[misc]

    def __init__(self, protocol: int | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(protocol, *args, **kwargs)
        self._native_suites: tuple[int, ...] = DEFAULT_TLS13_SUITES
        self._native_tls12_suites: tuple[int, ...] = DEFAULT_TLS12_SUITES
        # A client offers X25519MLKEM768 first (with an x25519 share too); a server prefers it as well.
        self._native_groups: tuple[int, ...] = DEFAULT_GROUPS if self.is_client else SUPPORTED_GROUPS
        self._ticket_keys: TicketKeys | None = None
        self._record_padding: int | None = None
        self._completed: dict[int, _Completion] = {}
        self._ech: tuple[ECHConfig, HpkeSymmetricCipherSuite] | None = None
        self._ech_keys: tuple[tuple[ECHConfig, X25519PrivateKey], ...] = ()
        self._ech_retry_configs: bytes | None = None
        self._ech_grease = True

    @property
    def psk_client_callback(self) -> PSKClientCallback | None:
        """The callback of ``set_psk_client_callback`` (``None``: no external PSK is offered)."""
        return self._psk_client_callback

    @property
    def psk_server_callback(self) -> PSKServerCallback | None:
        """The callback of ``set_psk_server_callback`` (``None``: external PSKs are not accepted)."""
        return self._psk_server_callback

    def set_psk_client_callback(self, callback: PSKClientCallback | None) -> None:
        """Python 3.13's TLS 1.3 external PSK, client side: ``callback(hint)`` returns ``(identity, psk)``;
        in TLS 1.3 the hint is always ``None``. Native has no TLS 1.2 PSK suites, so only TLS 1.3 uses it."""
        self._check_psk_callback(callback, server=False)
        self._psk_client_callback = callback
        self._settings_changed()

    def set_psk_server_callback(self, callback: PSKServerCallback | None, identity_hint: str | None = None) -> None:
        """Python 3.13's TLS 1.3 external PSK, server side: ``callback(identity)`` returns the PSK for the
        client's identity, or empty bytes to refuse it. ``identity_hint`` is a TLS 1.2 PSK notion, which
        TLS 1.3 does not send (it is kept, as ``ssl`` keeps it)."""
        self._check_psk_callback(callback, server=True)
        if identity_hint is not None and not isinstance(identity_hint, str):
            raise TypeError("set_psk_server_callback() argument 'identity_hint' must be str or None, "
                            f"not {type(identity_hint).__name__}")
        self._psk_server_callback = callback
        self._psk_identity_hint = identity_hint
        self._settings_changed()

    # -- the snapshot ------------------------------------------------------------------------------------

    def _take_settings(self) -> NativeSettings:
        chains = tuple(self._cert_chains.values())
        return NativeSettings(
            **self._settings_fields(), wire_versions=wire_versions(self.enabled_versions()),
            suites=self._native_suites, tls12_suites=self._native_tls12_suites, groups=self._native_groups,
            certificates_sent=tuple(self._certificates_to_send(chain) for chain in chains),
            ech=self._ech, ech_keys=self._ech_keys, ech_retry_configs=self._ech_retry_configs,
            ech_grease=self._ech_grease, record_padding=self._record_padding,
        )

    def _certificates_to_send(self, chain: CertChain) -> tuple[x509.Certificate, ...]:
        """What to present for ``chain``: its certificates, or for a lone leaf the chain completed from the
        trust store (issuers up to and including the anchor), as OpenSSL does when the certfile holds no
        intermediates. Remembered until the trust store changes (each change makes a new anchor list), so
        a new snapshot after another setter does not complete it again."""
        anchors = self._trust_anchors
        entry = self._completed.get(id(chain))
        if entry is not None and entry[0] is chain and entry[1] is anchors:
            return entry[2]
        certificates = chain.certificates
        if len(certificates) == 1:
            certificates = _complete(chain.leaf, anchors)
        self._completed[id(chain)] = (chain, anchors, certificates)
        return certificates

    def set_ech_configs(self, ech_config_list: bytes) -> None:
        """Offer Encrypted Client Hello with the first usable entry of ``ech_config_list`` (the wire
        ``ECHConfigList`` of a DNS HTTPS record), a client-side setting.

        Connections then send a ClientHelloOuter addressed to the configuration's public name that carries the
        real ClientHello encrypted; they offer TLS 1.3 only and no session resumption, and fail with an
        ``tlsapi.ECHRejectedError`` (reason ``ECH_REJECTED``, alert ``ech_required``) if the server rejects
        ECH: the handshake is completed with the public name, whose certificate must verify, and the error
        carries the server's ``retry_configs`` for one retry. ``ECHConfigError`` if the list is malformed or has
        no usable entry.
        """
        if not self.is_client:
            raise ValueError("set_ech_configs is a client setting")
        chosen = choose_config(parse_ech_config_list(bytes(ech_config_list)))
        if chosen is None:
            raise make_error(ECHConfigError, "no usable ECHConfig in the list", "BAD_ECH_CONFIG")
        self._ech = chosen
        self._settings_changed()

    @property
    def ech(self) -> tuple[ECHConfig, HpkeSymmetricCipherSuite] | None:
        """The ECH configuration and HPKE suite clients offer, or ``None`` (no ECH)."""
        return self._ech

    def set_ech_keys(self, pem_files: Iterable[bytes]) -> None:
        """Accept Encrypted Client Hello with these keys, a server-side setting replacing any earlier keys.

        Each item is an ECHConfig PEM file with its private key (what ``tlsapi ech --out`` writes); list the
        current key and the ones still published or cached by clients. A ClientHello whose ECH one of them
        opens is answered as its inner hello (SNI callback, certificate and ALPN choice included); otherwise
        the outer hello is served, with the configurations of the *first* file as ``retry_configs`` (so list
        the current key first; serve a certificate valid for its public name, which rejected clients verify).
        ``ECHConfigError`` for a file without a private key or whose configurations do not match it; an empty
        list disables ECH.
        """
        if self.is_client:
            raise ValueError("set_ech_keys is a server setting")
        pairs: list[tuple[ECHConfig, X25519PrivateKey]] = []
        retry_configs: bytes | None = None
        for pem in pem_files:
            config_list, key = load_ech_pem(bytes(pem))
            retry_configs = retry_configs or config_list
            if key is None:
                raise make_error(ECHConfigError, "the ECH PEM file has no private key", "BAD_ECH_CONFIG")
            public = key.public_key().public_bytes_raw()
            for config in parse_ech_config_list(config_list):
                if config.public_key != public:
                    raise make_error(ECHConfigError, "an ECHConfig does not match the private key", "BAD_ECH_CONFIG")
                pairs.append((config, key))
        self._ech_keys = tuple(pairs)
        self._ech_retry_configs = retry_configs
        self._settings_changed()

    @property
    def ech_keys(self) -> tuple[tuple[ECHConfig, X25519PrivateKey], ...]:
        """The (ECHConfig, private key) pairs a server tries on an ECH offer, in order (empty: no ECH)."""
        return self._ech_keys

    @property
    def ech_retry_configs(self) -> bytes | None:
        """The ``ECHConfigList`` a server with ECH keys sends to a client it rejects (the first key file's)."""
        return self._ech_retry_configs

    @property
    def ech_grease(self) -> bool:
        """Client: send a GREASE ``encrypted_client_hello`` when no ECH configuration is set and TLS 1.3 is
        offered (default ``True``, as the ECH specification recommends: real ECH then does not stand out).
        Set ``False`` to send no such extension; ``ValueError`` on a server context."""
        return self._ech_grease

    @ech_grease.setter
    def ech_grease(self, enabled: bool) -> None:
        if not self.is_client:
            raise ValueError("ech_grease is a client setting")
        self._ech_grease = bool(enabled)
        self._settings_changed()

    @property
    def ticket_keys(self) -> TicketKeys:
        """The server's session-ticket keys (made on first use, rotated as they age)."""
        if self._ticket_keys is None:
            self._ticket_keys = TicketKeys()
        return self._ticket_keys

    @property
    def record_padding(self) -> int | None:
        """Pad each protected record's plaintext to a multiple of this many bytes (``None``: no padding)."""
        return self._record_padding

    @record_padding.setter
    def record_padding(self, value: int | None) -> None:
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1 << 14):
            raise ValueError("record_padding must be None or a block size from 1 to 16384")
        self._record_padding = value
        self._settings_changed()

    @property
    def max_early_data(self) -> int:
        """0-RTT is not supported: no early data is ever sent or accepted."""
        return 0

    @property
    def native_suites(self) -> tuple[int, ...]:
        """The TLS 1.3 suite codes in preference order."""
        return self._native_suites

    @property
    def native_tls12_suites(self) -> tuple[int, ...]:
        """The TLS 1.2 suite codes in preference order (the cipher string's TLS 1.2 part)."""
        return self._native_tls12_suites

    @property
    def native_groups(self) -> tuple[int, ...]:
        """The key-exchange groups in preference order (the client sends a key share for the first)."""
        return self._native_groups

    def set_ciphers(self, cipherlist: str) -> None:
        """OpenSSL cipher string: its TLS 1.2 suites replace the TLS 1.2 list; TLS 1.3 suite names restrict
        the TLS 1.3 suites, as ``set_ciphersuites``."""
        codes = parse_cipher_string(cipherlist)
        tls13 = tuple(code for code in codes if code in TLS13_SUITES)
        if tls13:
            self._native_suites = tls13
        tls12 = tuple(code for code in codes if code in TLS12_SUITES)
        if tls12:
            self._native_tls12_suites = tls12
        self._settings_changed()

    def get_ciphers(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return ([cipher_dict(TLS13_SUITES[code]) for code in self._native_suites]
                + [cipher_dict(TLS12_SUITES[code]) for code in self._native_tls12_suites])

    def set_groups(self, names: str | Iterable[str]) -> None:
        """Restrict and order the key-exchange groups: ``"x25519:secp256r1"`` or a list of names."""
        items = names.split(":") if isinstance(names, str) else list(names)
        groups: list[int] = []
        for name in items:
            group = GROUPS_BY_NAME.get(name.strip())
            if group is None:
                raise ValueError(f"unknown group name {name!r}")
            if group not in groups:
                groups.append(group)
        if not groups:
            raise ValueError("no groups given")
        self._native_groups = tuple(groups)
        self._settings_changed()

    def set_ecdh_curve(self, name: str) -> None:
        if not isinstance(name, str | bytes):
            raise TypeError("curve name must be str or bytes")
        text = name.decode("ascii") if isinstance(name, bytes) else name
        group = _ECDH_CURVES.get(text)
        if group is None:
            raise ValueError(f"unknown elliptic curve name {text!r}")
        self.set_groups([group])


def _complete(leaf: x509.Certificate, anchors: list[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    """``leaf`` and its issuers found among ``anchors`` (by name and signature), up to a self-issued one."""
    chain = [leaf]
    while chain[-1].issuer != chain[-1].subject and len(chain) <= MAX_CHAIN_LENGTH:
        issuer = next((candidate for candidate in anchors
                       if candidate.subject == chain[-1].issuer and candidate not in chain
                       and _issued_by(chain[-1], candidate)), None)
        if issuer is None:
            break
        chain.append(issuer)
    return tuple(chain)


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


