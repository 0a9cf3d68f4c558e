"""Fixtures of the conformance cases: ``backend`` (parametrised per backend under test), ``pki``,
``interop_cell`` (parametrised over the interop matrix)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tlsapi_conformance import pki as pki_module
from tlsapi_conformance import plugin
from tlsapi_conformance.interop import matrix_cells


def pytest_configure(config: pytest.Config) -> None:
    plugin.activate(config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    run = plugin.get_run(metafunc.config)
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", run.backends, ids=[b.name for b in run.backends])
    if "interop_cell" in metafunc.fixturenames:
        metafunc.parametrize("interop_cell", matrix_cells(run.peers(), run.backends))


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> pki_module.PKI:
    """The suite's PKI, generated once per run into a temporary directory."""
    return pki_module.get(Path(tmp_path_factory.mktemp("tlsapi-pki")))
