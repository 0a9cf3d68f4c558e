"""Glue for HTTP clients that take a context only through an extra hook.

``http.client``, urllib3, httpx, asyncio and aiohttp accept a tlsapi :class:`~tlsapi.Context` directly
(it is an ``ssl.SSLContext``). requests does not expose the context; mount :class:`RequestsAdapter`::

    session = requests.Session()
    session.mount("https://", RequestsAdapter(tlsapi.create_default_context(backend="native")))
"""

from __future__ import annotations

import ssl
from typing import Any

from requests.adapters import HTTPAdapter


class RequestsAdapter(HTTPAdapter):
    """A requests transport adapter whose connection pools use ``ssl_context``."""

    def __init__(self, ssl_context: ssl.SSLContext, **kwargs: Any) -> None:
        self.ssl_context = ssl_context
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        pool_kwargs["ssl_context"] = self.ssl_context
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        proxy_kwargs["ssl_context"] = self.ssl_context
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def cert_verify(self, conn: Any, url: str, verify: bool | str, cert: Any) -> None:
        """Verification is the context's business: requests' ``verify=`` must not override it."""
