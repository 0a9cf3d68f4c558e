"""Fixtures shared by the project's tests: the conformance suite's PKI and the installed backends."""

from __future__ import annotations

from pathlib import Path

import pytest

import tlsapi
from tlsapi_conformance import pki as pki_module

pytest_plugins = ["observing_server"]  # the observer and backend_fingerprints fixtures


def available_backends() -> list[str]:
    """Names of the installed backends that can run here: every drop-in test runs over each."""
    return [backend.name for backend in tlsapi.backends() if backend.is_available()]


def backends_declaring(capability: tlsapi.Capability) -> list[str]:
    """The available backends that declare ``capability``: tests of that feature run over each of these."""
    return [name for name in available_backends() if capability in tlsapi.get_backend(name).capabilities()]


#: Backends whose Connection cannot leave the bytes after the peer's close_notify in the incoming BIO: rtls's
#: sans-IO connection takes ciphertext without telling when a close_notify arrived (docs/backends.md).
TRAILING_BYTES_UNSUPPORTED = frozenset({"rustls"})


def backends_keeping_trailing_bytes() -> list[str]:
    """The available backends that leave what follows a close_notify unread, as ``ssl`` does."""
    return [name for name in available_backends() if name not in TRAILING_BYTES_UNSUPPORTED]


def pytest_report_header() -> list[str]:
    """Name each installed backend that cannot run here, and why: its tests are skipped, not failed."""
    return [f"tlsapi backend {backend.name} skipped: unavailable: {backend.unavailable_reason}"
            for backend in tlsapi.backends() if not backend.is_available()]


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> pki_module.PKI:
    """The suite's certificates (root, intermediate, leaves of every key type, client, bad ones)."""
    return pki_module.get(Path(tmp_path_factory.mktemp("pki")))


@pytest.fixture(params=available_backends())
def backend(request: pytest.FixtureRequest) -> tlsapi.Backend:
    """Each installed backend in turn."""
    return tlsapi.get_backend(request.param)
