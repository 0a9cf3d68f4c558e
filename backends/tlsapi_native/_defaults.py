"""The native engine's policy: what it offers and accepts, in order of preference, and what the context's
version settings mean on the wire.

Every list here is the engine's default; a context narrows it (``set_ciphers``, ``set_groups``,
``minimum_version``/``maximum_version``), never widens it. The limits against hostile peers are in
``_limits``; the algorithms themselves in ``_suites``, ``_groups`` and ``_signatures``.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Final

from ._groups import SECP256R1, SECP384R1, SECP521R1, X448, X25519

if TYPE_CHECKING:
    from ._context import NativeContext

#: The wire codes of the protocol versions the engine speaks.
TLS12: Final = 0x0303
TLS13: Final = 0x0304
#: ECDHE groups usable in TLS 1.2 (RFC 8422 and RFC 7748), in order of preference.
TLS12_GROUPS: Final = (X25519, SECP256R1, SECP384R1, X448, SECP521R1)

_CODES = {ssl.TLSVersion.TLSv1_3: TLS13, ssl.TLSVersion.TLSv1_2: TLS12}
_ENABLED: dict[tuple[ssl.TLSVersion, ssl.TLSVersion, int], tuple[int, ...]] = {}


def enabled_protocols(context: NativeContext) -> tuple[int, ...]:
    """The context's enabled versions as wire codes, newest first (remembered per min, max and options,
    which are all ``enabled_versions`` reads)."""
    key = (context.minimum_version, context.maximum_version, int(context.options))
    protocols = _ENABLED.get(key)
    if protocols is None:
        if len(_ENABLED) >= 64:
            _ENABLED.clear()
        protocols = _ENABLED[key] = tuple(_CODES[v] for v in context.enabled_versions() if v in _CODES)
    return protocols
