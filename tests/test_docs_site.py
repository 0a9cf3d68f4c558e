"""The documentation site builds with ``mkdocs build --strict``, and the strict build does catch a broken
link and a reference to an API member that does not exist."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        cwd=config.parent, capture_output=True, text=True, timeout=300,
    )


def test_site_builds_strict(tmp_path: Path) -> None:
    result = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stderr
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    assert "inject_into_ssl" in api and "RequestsAdapter" in api and ":class:" not in api
    assert "Running unmodified programs" in (tmp_path / "site" / "index.html").read_text()  # the README


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The docs and config copied (so a test can break them), the sources and README linked."""
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    for name in ("README.md", "tlsapi", "backends", "conformance"):
        (copy / name).symlink_to(ROOT / name)
    return copy


@pytest.mark.parametrize(
    ("page", "addition", "complaint"),
    [("security.md", "\nSee [the missing page](no-such-page.md).\n", "no-such-page.md"),
     ("performance.md", "\nSee [a section](performance-history.md#no-such-section).\n", "no-such-section"),
     ("api.md", "\n::: tlsapi.no_such_function\n", "no_such_function")],
)
def test_strict_build_fails_on_broken_links_and_stale_references(
    project_copy: Path, tmp_path: Path, page: str, addition: str, complaint: str
) -> None:
    with open(project_copy / "docs" / page, "a") as handle:
        handle.write(addition)
    result = _build(project_copy / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0
    assert complaint in result.stderr
