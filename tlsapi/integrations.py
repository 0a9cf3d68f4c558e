"""Glue for HTTP clients that take a context only through an extra hook.

``http.client``, urllib3, httpx, asyncio and aiohttp accept a tlsapi :class:`~tlsapi.Context` directly
(it is an ``ssl.SSLContext``). requests does not expose the context; mount :class:`RequestsAdapter`::

    session = requests.Session()
    session.mount("https://", RequestsAdapter(tlsapi.create_default_context(backend="native")))

(To move every requests call of a program to a backend without changing it, see
:func:`tlsapi.inject_into_ssl` and ``tlsapi run``.)
"""

from __future__ import annotations

import os
import ssl
import threading
from typing import Any, TypeAlias

from requests.adapters import HTTPAdapter

from ._context import Context

ClientCert: TypeAlias = "str | tuple[str, str] | None"


class RequestsAdapter(HTTPAdapter):
    """A requests transport adapter whose connections use ``ssl_context``, a :class:`tlsapi.Context`.

    Requests made with the default ``verify=True`` and no ``cert=`` use ``ssl_context`` itself. A request's
    ``verify=`` and ``cert=`` keep their requests meaning and never change ``ssl_context``: the adapter
    derives a new context of the same backend for each distinct ``(verify, cert)`` pair and caches it (so
    connection pools are reused); a derived context copies the versions, options, verify flags, ALPN
    protocols and key-log file of ``ssl_context``, and then

    * ``verify="bundle.pem"`` (or a directory): trusts that bundle instead of ``ssl_context``'s anchors,
      with ``ssl_context``'s verification mode and hostname checking;
    * ``verify=False``: no certificate or hostname verification, as in requests;
    * ``cert="both.pem"`` or ``cert=("cert.pem", "key.pem")``: presents that client certificate
      (with ``verify=True``, trusting ``ssl_context``'s anchors).

    A ``verify`` path equal to ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` is requests' environment default
    replacing ``True`` (``Session.trust_env``), so it means ``ssl_context``'s own trust. A file is read when
    its pair is first used; the cache is keyed by the paths. A derived context presents only the ``cert=``
    of its request: a client certificate loaded into ``ssl_context`` is not carried over (pass ``cert=``
    with a request that needs one and a ``verify=`` of its own).
    """

    def __init__(self, ssl_context: Context, **kwargs: Any) -> None:
        if not isinstance(ssl_context, Context):
            raise TypeError("RequestsAdapter takes a tlsapi.Context (mount a plain ssl.SSLContext with urllib3)")
        self.ssl_context = ssl_context
        self._derived: dict[tuple[bool | str, ClientCert], Context] = {}
        self._derived_lock = threading.Lock()
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        pool_kwargs["ssl_context"] = self.ssl_context
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        proxy_kwargs["ssl_context"] = self.ssl_context
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def context_for(self, verify: bool | str | None, cert: ClientCert) -> Context:
        """The context for a request's ``verify=`` and ``cert=``: ``ssl_context``, or a cached derived one."""
        if verify is None or (isinstance(verify, str) and verify in _environment_bundles()):
            verify = True  # requests' default bundle from the environment: the adapter's context is the default
        if isinstance(cert, list):
            cert = (cert[0], cert[1])
        if verify is True and cert is None:
            return self.ssl_context
        key = (verify, cert)
        with self._derived_lock:
            derived = self._derived.get(key)
            if derived is None:
                derived = self._derived[key] = self._derive(verify, cert)
        return derived

    def build_connection_pool_key_attributes(
        self, request: Any, verify: bool | str, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The pool is keyed by the request's context alone: urllib3 gets no CA or certificate paths that it
        would load into a shared context, and a ``cert_reqs`` equal to the context's mode."""
        host_params, _ = super().build_connection_pool_key_attributes(request, verify, cert)
        context = self.context_for(verify, cert)
        return host_params, {"ssl_context": context, "cert_reqs": context.verify_mode}

    def cert_verify(self, conn: Any, url: str, verify: bool | str, cert: Any) -> None:
        """Nothing to do: the request's context (see :meth:`context_for`) carries verification and ``cert``."""

    def _derive(self, verify: bool | str, cert: ClientCert) -> Context:
        base = self.ssl_context
        derived = Context(base.protocol, backend=base.backend)
        derived.minimum_version = base.minimum_version
        derived.maximum_version = base.maximum_version
        derived.options = base.options
        derived.verify_flags = base.verify_flags
        if base.alpn_protocols:
            derived.set_alpn_protocols([protocol.decode("ascii") for protocol in base.alpn_protocols])
        if base.keylog_filename:
            derived.keylog_filename = base.keylog_filename
        if verify is False:
            derived.check_hostname = False
            derived.verify_mode = ssl.CERT_NONE
        else:
            derived.check_hostname = base.check_hostname
            derived.verify_mode = base.verify_mode
            if isinstance(verify, str):
                if os.path.isdir(verify):
                    derived.load_verify_locations(capath=verify)
                else:
                    derived.load_verify_locations(cafile=verify)
            elif anchors := _anchors(base):
                derived.load_verify_locations(cadata="".join(ssl.DER_cert_to_PEM_cert(der) for der in anchors))
        if cert is not None:
            certfile, keyfile = cert if isinstance(cert, tuple) else (cert, None)
            derived.load_cert_chain(certfile, keyfile)
        return derived


def _environment_bundles() -> set[str]:
    return {os.environ[name] for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") if os.environ.get(name)}


def _anchors(context: Context) -> list[bytes]:
    """The context's trust anchors as DER: those tlsapi holds, else (the stdlib backend keeps them in
    OpenSSL) the CA certificates OpenSSL reports."""
    from cryptography.hazmat.primitives.serialization import Encoding

    if context.trust_anchors:
        return [anchor.public_bytes(Encoding.DER) for anchor in context.trust_anchors]
    return [bytes(der) for der in context.get_ca_certs(binary_form=True)]
