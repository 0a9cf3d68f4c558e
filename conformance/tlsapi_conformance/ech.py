"""Encrypted Client Hello material and hand-made offers for the ``ECH`` / ``ECH_SERVER`` cases.

Configurations and keys come from the public ``tlsapi.ech``. The cases that need an ECH *client* use the native
engine's (it ships with tlsapi) and rustls when rtls is installed. The malformed offers a server must refuse are
sealed here with the native engine's ECH code (``tlsapi_native._ech``), then sent as raw records over a socket:
what the server under test answers (its alert) is read back from the wire.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tlsapi import ech
from tlsapi_conformance.harness import ThreadedServer, tls_client

ENCRYPTED_CLIENT_HELLO = 0xFE0D  # the ClientHello extension type (draft-ietf-tls-esni, RFC 9849)
ECH_OUTER_EXTENSIONS = 0xFD00
HANDSHAKE = 22
ALERT = 21
X25519 = 0x001D
SECP256R1 = 0x0017
_TLS13 = 0x0304
_SIGNATURE_SCHEMES = (0x0403, 0x0804, 0x0807, 0x0805, 0x0503)  # ECDSA P-256, RSA-PSS, Ed25519


def ech_config_list(public_name: str, config_id: int = 7) -> bytes:
    """A one-entry ``ECHConfigList`` for a fresh X25519 key (HKDF-SHA256; AES-128-GCM and ChaCha20-Poly1305).

    A client given it encrypts its real ClientHello and names ``public_name`` in the outer one.
    """
    return ech.generate(public_name, config_id=config_id).config_list


def serve_once(server_ctx: Any, client_ctx: Any, server_hostname: str = "localhost") -> dict[str, Any]:
    """One connection over loopback: the client sends ``ping``, the server answers it upper-cased. What each
    side saw: ``reply``, ``client_status`` / ``server_status`` (``ech_status()``; rtls's own sockets have it as
    a property), ``client_error`` / ``server_error``."""
    seen: dict[str, Any] = {}

    def handle(raw: Any) -> None:
        with server_ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False) as tls:
            try:
                tls.do_handshake()
                tls.sendall(tls.recv(100).upper())
            except (ssl.SSLError, OSError) as exc:
                seen["server_error"] = exc
            finally:
                seen["server_status"] = tls.ech_status()

    with ThreadedServer(handle) as server:
        try:
            with tls_client(server, client_ctx, server_hostname=server_hostname) as tls:
                status = getattr(tls, "ech_status", None)
                seen["client_status"] = status() if callable(status) else status
                tls.sendall(b"ping")
                seen["reply"] = tls.recv(100)
        except ssl.SSLError as exc:
            seen["client_error"] = exc
        server.result()
    return seen


def record(content_type: int, payload: bytes) -> bytes:
    """A plaintext TLS record."""
    return bytes((content_type, 3, 3)) + len(payload).to_bytes(2, "big") + payload


def read_alert(sock: socket.socket) -> tuple[list[int], int | None]:
    """Read plaintext records until the peer closes: the handshake message types it sent, and its alert's
    description (``None`` if it sent none)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    handshake_types: list[int] = []
    pos = 0
    while pos + 5 <= len(data):
        kind, length = data[pos], int.from_bytes(data[pos + 3:pos + 5], "big")
        body = data[pos + 5:pos + 5 + length]
        pos += 5 + length
        if kind == ALERT and length == 2:
            return handshake_types, body[1]
        if kind == HANDSHAKE and body:
            handshake_types.append(body[0])
    return handshake_types, None


def _vector(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


def _server_name(name: str) -> bytes:
    return _vector(b"\x00" + _vector(name.encode("ascii"), 2), 2)


@dataclass
class CraftedOffer:
    """A hand-made ECH offer to ``keys``: the ClientHelloInner's extensions, the sealed ClientHelloOuter, and the
    sender state a second ClientHelloOuter (after a HelloRetryRequest) is sealed with."""

    inner_extensions: list[tuple[int, bytes]]
    outer: bytes  # the ClientHelloOuter handshake message
    state: object  # the native engine's ClientOffer


def inner_extensions(server_name: str, share_group: int = X25519) -> list[tuple[int, bytes]]:
    """A valid TLS 1.3-only ClientHelloInner's extensions, with a key share for ``share_group`` and
    supported_groups x25519 and secp256r1."""
    if share_group == X25519:
        share = X25519PrivateKey.generate().public_key().public_bytes_raw()
    else:
        share = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint)
    return [
        (0, _server_name(server_name)),
        (43, _vector(_TLS13.to_bytes(2, "big"), 1)),
        (10, _vector(X25519.to_bytes(2, "big") + SECP256R1.to_bytes(2, "big"), 2)),
        (51, _vector(share_group.to_bytes(2, "big") + _vector(share, 2), 2)),
        (13, _vector(b"".join(s.to_bytes(2, "big") for s in _SIGNATURE_SCHEMES), 2)),
        (ENCRYPTED_CLIENT_HELLO, b"\x01"),
    ]


def craft_offer(config_list: bytes, server_name: str, extensions: list[tuple[int, bytes]],
                encoded: Callable[[bytes], bytes] | None = None) -> CraftedOffer:
    """Seal a ClientHelloInner with ``extensions`` to the first entry of ``config_list``; ``encoded`` rewrites
    the EncodedClientHelloInner before sealing (to make it malformed)."""
    from tlsapi_native import _ech
    from tlsapi_native import _messages as m

    (config, *_) = ech.parse_ech_config_list(config_list)
    inner = m.ClientHello(bytes(32), bytes(32), [0x1301, 0x1302, 0x1303], list(extensions))
    suite = config.cipher_suites[0]
    plain = _ech._encode_inner(inner, server_name, config.maximum_name_length)[1]
    state = _ech.offer(config, suite, inner, server_name, encoded(plain) if encoded is not None else None)
    return CraftedOffer(list(extensions), state.outer_raw, state)


def second_outer(offer: CraftedOffer, extensions: list[tuple[int, bytes]]) -> bytes:
    """The second ClientHelloOuter of ``offer`` (after a HelloRetryRequest) for an inner hello with
    ``extensions``, sealed with the first offer's HPKE context."""
    from tlsapi_native import _ech
    from tlsapi_native import _messages as m

    state = offer.state
    assert isinstance(state, _ech.ClientOffer)
    inner = m.ClientHello(bytes(32), bytes(32), [0x1301, 0x1302, 0x1303], list(extensions))
    return _ech.second_outer_hello(state, inner)


def _split(hello: bytes) -> tuple[bytes, list[tuple[int, bytes]]]:
    """A ClientHello handshake message's body up to its extensions, and the extensions."""
    body = hello[4:]
    pos = 34
    pos += 1 + body[pos]
    pos += 2 + int.from_bytes(body[pos:pos + 2], "big")
    pos += 1 + body[pos]
    extensions: list[tuple[int, bytes]] = []
    cursor = pos + 2
    while cursor < len(body):
        length = int.from_bytes(body[cursor + 2:cursor + 4], "big")
        extensions.append((int.from_bytes(body[cursor:cursor + 2], "big"), body[cursor + 4:cursor + 4 + length]))
        cursor += 4 + length
    return body[:pos], extensions


def replace_extension(hello: bytes, ext_type: int, data: bytes | None) -> bytes:
    """The ClientHello handshake message ``hello`` with extension ``ext_type``'s data replaced (``None``
    removes it); the lengths are fixed up."""
    head, extensions = _split(hello)
    kept = [(kind, data if kind == ext_type else value) for kind, value in extensions]
    encoded = b"".join(kind.to_bytes(2, "big") + _vector(value, 2) for kind, value in kept if value is not None)
    body = head + _vector(encoded, 2)
    return hello[:1] + len(body).to_bytes(3, "big") + body


def extension_data(hello: bytes, ext_type: int) -> bytes:
    """The data of extension ``ext_type`` in the ClientHello handshake message ``hello``."""
    return dict(_split(hello)[1])[ext_type]
