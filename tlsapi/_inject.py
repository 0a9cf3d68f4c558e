"""Run unmodified applications on a tlsapi backend: :func:`inject_into_ssl` and :func:`extract_from_ssl`.

Applications and libraries build their contexts through the ``ssl`` module: ``ssl.SSLContext(...)``,
``ssl.create_default_context()`` (which calls the module's ``SSLContext``), ``http.client`` and
``urllib.request`` (through ``ssl._create_default_https_context``), asyncio (``ssl.create_default_context``),
urllib3 (``urllib3.util.ssl_.SSLContext``, its own reference) and aiohttp (two contexts made at import).
Injection replaces ``ssl.SSLContext`` (and urllib3's reference) with a stand-in class whose instances are
contexts of the selected backend, and remakes the contexts aiohttp made before; extraction puts every
original object back.

The stand-in is a class object that behaves as ``ssl.SSLContext`` towards everything else:

* ``isinstance(obj, ssl.SSLContext)`` and ``issubclass(cls, ssl.SSLContext)`` answer as for the original
  class, so contexts made before injection (or by the stdlib backend) still pass asyncio's and aiohttp's
  checks;
* the ``ssl`` module's own methods call ``super(SSLContext, SSLContext).options.__set__(self, value)`` with
  the module-global name, so the stand-in's base is ``_ssl._SSLContext``, the base of the original class,
  and those calls still reach OpenSSL for contexts that are stdlib ones;
* a class that subclasses ``ssl.SSLContext`` while injected (truststore does so at import) subclasses the
  original class instead: subclasses keep the stdlib's semantics, which their code was written for;
* class attributes the stand-in lacks (``ssl.SSLContext.wrap_socket``, ...) are the original's.

After extraction the stand-in, wherever a module kept a reference to it, makes stdlib contexts again.
"""

from __future__ import annotations

import _ssl
import ssl
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from . import _registry
from ._context import Context
from ._registry import Backend, BackendSpec

ORIGINAL_SSL_CONTEXT: type[ssl.SSLContext] = ssl.SSLContext
"""``ssl.SSLContext`` as it was when tlsapi was imported (the class every context instance derives from)."""

# Modules that keep their own reference to ``ssl.SSLContext``, taken at their import.
_SSL_CONTEXT_REFERENCES = ("urllib3.util.ssl_", "pip._vendor.urllib3.util.ssl_")


def _aiohttp_context(verified: bool) -> Callable[[ModuleType], Any]:
    return lambda connector: connector._make_ssl_context(verified)


# Contexts that modules build once at import: (module, attribute, how the module builds it).
_PREBUILT_CONTEXTS: tuple[tuple[str, str, Callable[[ModuleType], Any]], ...] = (
    ("aiohttp.connector", "_SSL_CONTEXT_VERIFIED", _aiohttp_context(True)),
    ("aiohttp.connector", "_SSL_CONTEXT_UNVERIFIED", _aiohttp_context(False)),
)


@dataclass
class _Injection:
    """What one injection changed, to be undone by extraction."""

    backend: Backend
    previous_default: Backend | str | None
    patched_ssl: bool
    saved: dict[tuple[str, str], Any] = field(default_factory=dict)


_lock = threading.RLock()
_active: _Injection | None = None


class _StandInType(type):
    """The metaclass of the stand-in: construction, type checks and attribute look-ups as described above."""

    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> Any:
        if "_tlsapi_stand_in" in namespace:
            return super().__new__(mcls, name, bases, namespace, **kwargs)
        original_bases = tuple(ORIGINAL_SSL_CONTEXT if base is SSLContextStandIn else base for base in bases)
        return type(name, original_bases, namespace, **kwargs)

    def __call__(cls, *args: Any, **kwargs: Any) -> ssl.SSLContext:
        with _lock:
            injection = _active
        if injection is None or not injection.patched_ssl:
            return ORIGINAL_SSL_CONTEXT(*args, **kwargs)
        return Context(*args, backend=injection.backend, **kwargs)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, ORIGINAL_SSL_CONTEXT)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, ORIGINAL_SSL_CONTEXT)

    def __getattr__(cls, name: str) -> Any:
        return getattr(ORIGINAL_SSL_CONTEXT, name)


class SSLContextStandIn(_ssl._SSLContext, metaclass=_StandInType):
    """``ssl.SSLContext`` while tlsapi is injected: calling it makes a context of the injected backend."""

    _tlsapi_stand_in = True


def inject_into_ssl(backend: BackendSpec | None = None, *, wrap_stdlib: bool = False) -> Backend:
    """Make the ``ssl`` module, and the libraries built on it, create contexts of ``backend``.

    ``backend`` is a name or :class:`Backend`; ``None`` takes the one selection picks now (process
    default, ``TLSAPI_BACKEND``, config file, ``stdlib``). The backend also becomes the process default
    (:func:`set_default_backend`), so ``tlsapi.Context()`` agrees with ``ssl.SSLContext()``. Selecting
    ``stdlib`` changes nothing else: its contexts are OpenSSL's already, unless ``wrap_stdlib`` is true, which
    makes ``ssl.SSLContext(...)`` a tlsapi context of the stdlib backend too (the interface over OpenSSL: what
    a test of the interface itself wants, such as ``tests/cpython_ssl.py``). Calling it again switches the
    backend; it is safe from any thread. Returns the backend injected. Selection errors
    (:class:`BackendNotFoundError`, ...) are raised before anything changes; an error remaking a context a
    module made at import (the backend cannot honour its settings: :class:`UnsupportedFeatureError`) undoes
    the injection before it propagates.
    """
    global _active
    selected = _registry.get_backend(backend)
    patched_ssl = wrap_stdlib or selected.name != "stdlib"
    with _lock:
        if _active is not None and _active.backend is selected and _active.patched_ssl == patched_ssl:
            return selected  # already injected: nothing is rebuilt
        previous_default = _registry.current_default() if _active is None else _active.previous_default
        _extract_locked()
        _registry.set_default_backend(selected)
        injection = _Injection(selected, previous_default, patched_ssl=patched_ssl)
        _active = injection
        if injection.patched_ssl:
            try:
                _patch(injection)
            except BaseException:  # e.g. a prebuilt context the backend cannot make: nothing stays changed
                _extract_locked()
                raise
    return selected


def extract_from_ssl() -> None:
    """Undo :func:`inject_into_ssl`: the original ``ssl.SSLContext`` and previous default backend return.

    Does nothing when tlsapi is not injected.
    """
    with _lock:
        _extract_locked()


def injected_backend() -> Backend | None:
    """The backend currently injected into ``ssl``, or ``None``."""
    with _lock:
        return None if _active is None else _active.backend


def _replace_references(old: type, new: type) -> None:
    """``ssl.SSLContext`` and the modules' own references to it: ``old`` becomes ``new`` where it is ``old``."""
    for module_name in ("ssl", *_SSL_CONTEXT_REFERENCES):
        module = sys.modules.get(module_name)
        if module is not None and getattr(module, "SSLContext", None) is old:
            setattr(module, "SSLContext", new)  # noqa: B010 (typeshed types ssl.SSLContext as the class)


def _patch(injection: _Injection) -> None:
    _replace_references(ORIGINAL_SSL_CONTEXT, SSLContextStandIn)
    for module_name, attribute, build in _PREBUILT_CONTEXTS:
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, attribute):
            injection.saved[module_name, attribute] = getattr(module, attribute)
            setattr(module, attribute, build(module))


def _extract_locked() -> None:
    global _active
    injection = _active
    if injection is None:
        return
    _active = None
    if injection.patched_ssl:
        _replace_references(SSLContextStandIn, ORIGINAL_SSL_CONTEXT)
        for module_name, attribute, build in _PREBUILT_CONTEXTS:
            module = sys.modules.get(module_name)
            if (module_name, attribute) in injection.saved:
                setattr(module, attribute, injection.saved[module_name, attribute])
            elif module is not None and isinstance(getattr(module, attribute, None), Context):
                setattr(module, attribute, build(module))  # imported while injected: made again, by ssl
    _registry.set_default_backend(injection.previous_default)
