"""First-party backends are built on the public SPI: they import ``tlsapi`` and ``tlsapi.spi`` only, never an
underscore module of tlsapi or of another first-party package (their own private modules are theirs)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

BACKENDS = Path(__file__).resolve().parent.parent / "backends"
FIRST_PARTY_PREFIX = "tlsapi"  # tlsapi itself and every tlsapi_* package of this repository


def _first_party_private_imports(path: Path, own_package: str, root: Path = BACKENDS) -> Iterator[str]:
    """Each ``module`` or ``module.name`` imported by ``path`` that is private to another first-party package,
    as ``file:line: target`` with the file relative to ``root``."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            targets = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue  # relative imports stay inside the backend's own package
        for target in targets:
            package, *rest = target.split(".")
            foreign = package.startswith(FIRST_PARTY_PREFIX) and package != own_package
            if foreign and any(part.startswith("_") for part in rest):
                yield f"{path.relative_to(root)}:{node.lineno}: {target}"


def _backend_packages() -> list[Path]:
    return sorted(path for path in BACKENDS.iterdir() if (path / "__init__.py").exists())


@pytest.mark.parametrize("package", _backend_packages(), ids=lambda path: path.name)
def test_backend_imports_only_the_public_spi(package: Path) -> None:
    offending = [found for path in sorted(package.rglob("*.py"))
                 for found in _first_party_private_imports(path, package.name)]
    assert not offending, "private first-party imports (use tlsapi / tlsapi.spi):\n" + "\n".join(offending)


def test_the_rule_catches_each_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import tlsapi._errors as errors\n"
        "from tlsapi import _material\n"
        "from tlsapi._context import Context\n"
        "from tlsapi_native._alerts import TLSAlert\n"
        "from tlsapi.spi import Connection\n"
        "from tlsapi import Capability, spi\n"
        "from tlsapi_sample._own import helper\n"
        "from . import _backend\n"
    )
    found = [line.rsplit(": ", 1)[1] for line in _first_party_private_imports(sample, "tlsapi_sample", tmp_path)]
    assert found == ["tlsapi._errors", "tlsapi._material", "tlsapi._context.Context", "tlsapi_native._alerts.TLSAlert"]
