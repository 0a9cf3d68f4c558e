"""The backend registry: entry points in the group ``tlsapi.backends``, and backend selection.

Selection, first match wins: the ``backend=`` argument (a name or a :class:`Backend`), the process default
set with :func:`set_default_backend`, the ``TLSAPI_BACKEND`` environment variable, the config file (the
path in ``TLSAPI_CONFIG``, else ``$XDG_CONFIG_HOME/tlsapi/config.toml``, a TOML file whose only key is
``backend = "NAME"``), then :data:`DEFAULT_BACKEND`. Names are matched case-insensitively, surrounding
whitespace ignored. Every selection error says where the name came from; a config file that is missing
(when ``TLSAPI_CONFIG`` names it), not TOML, or has keys other than ``backend`` raises
:class:`ConfigurationError`.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata
import os
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from ._enums import Capability
from ._errors import BackendError, BackendNotFoundError, BackendUnavailableError

if TYPE_CHECKING:
    from ._context import Context

ENTRY_POINT_GROUP = "tlsapi.backends"
DEFAULT_BACKEND = "stdlib"
ENV_BACKEND = "TLSAPI_BACKEND"
ENV_CONFIG = "TLSAPI_CONFIG"
ENV_INJECT = "TLSAPI_INJECT"  # read at interpreter start-up by tlsapi-inject.pth (tlsapi._startup)
CONFIG_KEYS = ("backend",)


class ConfigurationError(ValueError):
    """The tlsapi config file is missing (when ``TLSAPI_CONFIG`` names it), not valid TOML, or has a key or
    section tlsapi does not know, or a value of the wrong type. The message names the file."""


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
        """The declared capabilities on this build (computed once: contexts ask on every connection)."""
        return self._capability_set

    @functools.cached_property
    def _capability_set(self) -> frozenset[Capability]:
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
    return {ep.name.lower(): ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _installed_summary() -> str:
    names = sorted(_entry_points())
    return ", ".join(names) if names else "none"


def normalize_name(name: str) -> str:
    """A backend name as selection matches it: surrounding whitespace removed, lower case."""
    return name.strip().lower()


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


def _load_named(name: str, source: str) -> Backend:
    try:
        return _load(name)
    except BackendError as exc:
        raise type(exc)(f"{exc}; the name came from {source}") from exc.__cause__


def backends() -> list[Backend]:
    """Every installed backend that loads, available or not (see :meth:`Backend.is_available`)."""
    found = []
    for name in sorted(_entry_points()):
        try:
            found.append(_load(name))
        except BackendUnavailableError:
            continue
    return found


def broken_backends() -> dict[str, str]:
    """Installed entry points that fail to load, by name, with the reason."""
    broken = {}
    for name in sorted(_entry_points()):
        try:
            _load(name)
        except BackendUnavailableError as exc:
            broken[name] = str(exc)
    return broken


def set_default_backend(backend: BackendSpec | None) -> None:
    """Set (or with ``None`` clear) the process-wide default backend; an unknown name raises at once."""
    global _default
    if isinstance(backend, str):
        backend = normalize_name(backend)
        _load_named(backend, "set_default_backend()")  # fail now, not at the first context
    _default = backend


def current_default() -> Backend | str | None:
    """The process default set with :func:`set_default_backend` (``None`` when unset)."""
    return _default


@dataclass(frozen=True)
class Selection:
    """Which backend selection picks, before it is loaded, and why.

    ``source`` says where the choice came from: ``"the backend= argument"``, ``"the process default
    (set_default_backend)"``, ``"TLSAPI_BACKEND"``, ``"config file PATH"`` or ``"the built-in default"``.
    """

    choice: BackendSpec
    source: str

    @property
    def name(self) -> str:
        return self.choice.name if isinstance(self.choice, Backend) else self.choice


def config_path() -> Path:
    """The config file selection reads: ``TLSAPI_CONFIG``, else ``$XDG_CONFIG_HOME/tlsapi/config.toml``."""
    explicit = os.environ.get(ENV_CONFIG)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "tlsapi" / "config.toml"


def _configured_name(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            config = tomllib.load(handle)
    except FileNotFoundError:
        if os.environ.get(ENV_CONFIG):
            raise ConfigurationError(
                f"tlsapi config file {str(path)!r} (named by {ENV_CONFIG}) does not exist"
            ) from None
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"tlsapi config file {str(path)!r} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"tlsapi config file {str(path)!r} is not valid TOML: {exc}") from None
    for key, value in config.items():
        if key not in CONFIG_KEYS:
            kind = "section" if isinstance(value, dict) else "key"
            close = difflib.get_close_matches(key, CONFIG_KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (known keys: {', '.join(CONFIG_KEYS)})"
            raise ConfigurationError(f"tlsapi config file {str(path)!r}: unknown {kind} {key!r}{hint}")
    name = config.get("backend")
    if name is not None and not isinstance(name, str):
        raise ConfigurationError(f"tlsapi config file {str(path)!r}: 'backend' must be a string")
    if name is None:
        return None
    return normalize_name(name) or None


def selection(backend: BackendSpec | None = None) -> Selection:
    """What :func:`get_backend` would pick for ``backend``, and from where, without loading it.

    Raises :class:`ConfigurationError` when the config file has to be read and is broken.
    """
    if backend is not None:
        return Selection(normalize_name(backend) if isinstance(backend, str) else backend, "the backend= argument")
    if _default is not None:
        return Selection(_default, "the process default (set_default_backend)")
    from_environment = normalize_name(os.environ.get(ENV_BACKEND, ""))
    if from_environment:
        return Selection(from_environment, ENV_BACKEND)
    path = config_path()
    configured = _configured_name(path)
    if configured is not None:
        return Selection(configured, f"config file {str(path)!r}")
    return Selection(DEFAULT_BACKEND, "the built-in default")


def resolve(name: str, source: str) -> Backend:
    """The available backend named ``name``; errors say the name came from ``source``."""
    return _check_available(_load_named(normalize_name(name), source), source)


def _check_available(backend: Backend, source: str) -> Backend:
    if not backend.is_available():
        raise BackendUnavailableError(
            f"tlsapi backend {backend.name!r} is unavailable: {backend.unavailable_reason} "
            f"(installed: {_installed_summary()}); the name came from {source}"
        )
    return backend


def get_backend(backend: BackendSpec | None = None) -> Backend:
    """The backend to use: the argument, else the process default, environment, config file, default.

    Errors (:class:`BackendNotFoundError`, :class:`BackendUnavailableError`) name where the name came from.
    """
    chosen = selection(backend)
    if isinstance(chosen.choice, Backend):
        return _check_available(chosen.choice, chosen.source)
    return resolve(chosen.choice, chosen.source)
