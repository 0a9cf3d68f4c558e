"""The backend registry: entry points in the group ``tlsapi.backends``, and backend selection.

Selection, first match wins: the ``backend=`` argument (a name or a :class:`Backend`), the process default
set with :func:`set_default_backend`, the ``TLSAPI_BACKEND`` environment variable, the config file (the
path in ``TLSAPI_CONFIG``, else ``$XDG_CONFIG_HOME/tlsapi/config.toml``, a TOML file with
``backend = "NAME"``), then :data:`DEFAULT_BACKEND`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from ._enums import Capability
from ._errors import BackendNotFoundError, BackendUnavailableError

if TYPE_CHECKING:
    from ._context import Context

ENTRY_POINT_GROUP = "tlsapi.backends"
DEFAULT_BACKEND = "stdlib"
ENV_BACKEND = "TLSAPI_BACKEND"
ENV_CONFIG = "TLSAPI_CONFIG"


class Backend:
    """A TLS engine that tlsapi can select.

    ``context_class`` is ``"module:Class"``, imported on first use, so that listing backends never imports
    an engine's dependencies. ``capabilities`` is the declared feature set (or a function computing it for
    the running build); :data:`Capability.CORE` is always included.
    """

    def __init__(
        self,
        name: str,
        *,
        version: str,
        description: str,
        context_class: str,
        capabilities: Iterable[Capability] | Callable[[], Iterable[Capability]],
        requires: Iterable[str] = (),
    ) -> None:
        self.name = name
        self.version = version
        self.description = description
        self._context_class_path = context_class
        self._capabilities = capabilities
        self._requires = tuple(requires)

    @functools.cached_property
    def unavailable_reason(self) -> str | None:
        """Why the backend cannot run here, or ``None`` when it can."""
        for module in (*self._requires, self._context_class_path.partition(":")[0]):
            try:
                importlib.import_module(module)
            except Exception as exc:  # an import of any kind of broken module
                return f"cannot import {module}: {type(exc).__name__}: {exc}"
        return None

    def is_available(self) -> bool:
        """Whether the backend can be used here (see :attr:`unavailable_reason` when not)."""
        return self.unavailable_reason is None

    def capabilities(self) -> frozenset[Capability]:
        """The declared capabilities on this build."""
        declared = self._capabilities() if callable(self._capabilities) else self._capabilities
        return frozenset({Capability.CORE, *declared})

    def context_class(self) -> type[Context]:
        """The backend's ``Context`` subclass; :class:`BackendUnavailableError` when it cannot load."""
        reason = self.unavailable_reason
        if reason is not None:
            raise BackendUnavailableError(
                f"tlsapi backend {self.name!r} is unavailable: {reason} (installed: {_installed_summary()})"
            )
        module, _, attribute = self._context_class_path.partition(":")
        cls: type[Context] = getattr(importlib.import_module(module), attribute)
        if "backend" not in vars(cls):
            cls.backend = self  # the class learns which backend it implements
        return cls

    def __repr__(self) -> str:
        return f"<tlsapi.Backend {self.name!r} {self.version}>"


BackendSpec: TypeAlias = "str | Backend"

_default: Backend | str | None = None


@functools.cache
def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _installed_summary() -> str:
    names = sorted(_entry_points())
    return ", ".join(names) if names else "none"


@functools.cache
def _load(name: str) -> Backend:
    entry_point = _entry_points().get(name)
    if entry_point is None:
        raise BackendNotFoundError(
            f"no tlsapi backend named {name!r} is installed (installed: {_installed_summary()})"
        )
    try:
        backend = entry_point.load()
    except Exception as exc:
        raise BackendUnavailableError(
            f"tlsapi backend {name!r} failed to load: {type(exc).__name__}: {exc} "
            f"(installed: {_installed_summary()})"
        ) from exc
    if not isinstance(backend, Backend):
        raise BackendUnavailableError(
            f"entry point {entry_point.value!r} of tlsapi backend {name!r} is not a tlsapi.Backend"
        )
    return backend


def backends() -> list[Backend]:
    """Every installed backend that loads, available or not (see :meth:`Backend.is_available`)."""
    found = []
    for name in sorted(_entry_points()):
        try:
            found.append(_load(name))
        except BackendUnavailableError:
            continue
    return found


def set_default_backend(backend: BackendSpec | None) -> None:
    """Set (or with ``None`` clear) the process-wide default backend."""
    global _default
    if isinstance(backend, str):
        _load(backend)  # fail now, not at the first context
    _default = backend


def current_default() -> Backend | str | None:
    """The process default set with :func:`set_default_backend` (``None`` when unset)."""
    return _default


def _config_path() -> Path:
    explicit = os.environ.get(ENV_CONFIG)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "tlsapi" / "config.toml"


def _configured_name() -> str | None:
    path = _config_path()
    try:
        with open(path, "rb") as handle:
            config = tomllib.load(handle)
    except FileNotFoundError:
        if os.environ.get(ENV_CONFIG):
            raise BackendNotFoundError(
                f"tlsapi config file {str(path)!r} (from {ENV_CONFIG}) does not exist"
            ) from None
        return None
    except tomllib.TOMLDecodeError as exc:
        raise BackendNotFoundError(f"tlsapi config file {str(path)!r} is not valid TOML: {exc}") from None
    name = config.get("backend")
    if name is not None and not isinstance(name, str):
        raise BackendNotFoundError(f"tlsapi config file {str(path)!r}: 'backend' must be a string")
    return name


def get_backend(backend: BackendSpec | None = None) -> Backend:
    """The backend to use: the argument, else the process default, environment, config file, default."""
    choice: BackendSpec | None = backend
    if choice is None:
        choice = _default
    if choice is None:
        choice = os.environ.get(ENV_BACKEND) or None
    if choice is None:
        choice = _configured_name()
    if choice is None:
        choice = DEFAULT_BACKEND
    selected = choice if isinstance(choice, Backend) else _load(choice)
    if not selected.is_available():
        raise BackendUnavailableError(
            f"tlsapi backend {selected.name!r} is unavailable: {selected.unavailable_reason} "
            f"(installed: {_installed_summary()})"
        )
    return selected
