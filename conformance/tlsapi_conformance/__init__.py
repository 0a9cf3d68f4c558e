"""tlsapi's conformance suite: certify a backend's declared capabilities with one command.

``tlsapi-conformance [BACKEND ...]`` (see :mod:`tlsapi_conformance.cli`), ``pytest --tlsapi-backend NAME``
(the plugin), or from Python :func:`run`. A backend is an entry-point name, a ``module:attr`` spec, or a
:class:`tlsapi.Backend` object.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tlsapi import Backend

    from .report import Report

__all__ = ["CASES_DIR", "MissingRequirementError", "require_runner", "resolve_backend", "resolve_backends", "run"]

#: The directory of the shipped test modules.
CASES_DIR = Path(__file__).parent / "cases"
#: The modules a run needs beyond tlsapi, and how to get them.
RUNNER_MODULES = ("pytest",)
INSTALL_HINT = 'pip install "tlsapi[conformance]"'


class MissingRequirementError(ImportError):
    """The suite's runner is not installed: the message says what to install."""


def require_runner() -> None:
    """Raise :class:`MissingRequirementError` naming the ``conformance`` extra when pytest is missing."""
    missing = []
    for module in RUNNER_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise MissingRequirementError(
            f"the conformance suite needs {', '.join(missing)}, which is not installed: {INSTALL_HINT}",
            name=missing[0],
        )


def resolve_backend(spec: str | Backend) -> Backend:
    """A :class:`tlsapi.Backend` from an object, a ``module:attr`` spec, or an entry-point name."""
    import tlsapi

    if isinstance(spec, tlsapi.Backend):
        backend = spec
    elif isinstance(spec, str) and ":" in spec:
        module, _, attribute = spec.partition(":")
        found: object = importlib.import_module(module)
        for part in attribute.split("."):
            found = getattr(found, part)
        if not isinstance(found, tlsapi.Backend):
            raise TypeError(f"{spec!r} is not a tlsapi.Backend (got {type(found).__name__})")
        backend = found
    elif isinstance(spec, str):
        backend = tlsapi.get_backend(spec)
    else:
        raise TypeError(f"a backend is a name, 'module:attr' or a tlsapi.Backend, not {spec!r}")
    if not backend.is_available():
        raise tlsapi.BackendUnavailableError(
            f"tlsapi backend {backend.name!r} is unavailable: {backend.unavailable_reason}"
        )
    return backend


def resolve_backends(specs: Sequence[str | Backend] | None) -> list[Backend]:
    """The backends to certify; with no specs, every installed backend that is available."""
    import tlsapi

    if not specs:
        return [b for b in tlsapi.backends() if b.is_available()]
    found: list[Backend] = []
    for spec in specs:
        backend = resolve_backend(spec)
        if all(b.name != backend.name for b in found):
            found.append(backend)
    return found


def run(
    backends: Sequence[str | Backend] | None = None,
    *,
    reports: Sequence[str | Path] = (),
    pytest_args: Sequence[str] = (),
    installed_peers: bool = True,
) -> tuple[int, Report | None]:
    """Run the suite in this process; returns pytest's exit code and the report.

    ``pytest_args`` are passed through (``-k``, ``-x``, ``-v`` ...). Raises :class:`MissingRequirementError`
    when pytest (the ``conformance`` extra) is not installed.
    """
    require_runner()
    import pytest

    from .plugin import ConformanceRun

    state = ConformanceRun(resolve_backends(backends), reports=[str(p) for p in reports],
                           include_installed_peers=installed_peers)
    args = [str(CASES_DIR), "-p", "no:cacheprovider", f"--rootdir={CASES_DIR}", "-c",
            str(CASES_DIR / "pytest.ini"), *pytest_args]
    code = pytest.main(args, plugins=[state])
    return int(code), state.report

