"""Host names as ``ssl`` reads them."""

from __future__ import annotations

import functools
import ipaddress


@functools.lru_cache(maxsize=256)
def is_ip_address(hostname: str) -> bool:
    """Whether ``hostname`` is an IPv4 or IPv6 address: ``ssl`` sends no SNI for one and checks the
    certificate's IP addresses instead of its DNS names (cached: the parse fails by raising)."""
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True
