"""The documentation site builds with ``mkdocs build --strict``, the strict build does catch a broken link
and a reference to an API member that does not exist, and the README's server example works as written."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tlsapi_conformance.pki import PKI

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


def _readme_python_block(heading: str) -> str:
    """The first Python code block under ``### heading`` in the README."""
    section = (ROOT / "README.md").read_text().split(f"### {heading}\n", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def _connect_when_listening(port: int) -> socket.socket:
    for _ in range(200):
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=10)
        except ConnectionRefusedError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


def test_readme_server_example_serves(pki: PKI) -> None:
    """The README's server example, run as written (certificate paths and port substituted): the blocking
    server and then the asyncio server each echo to a stdlib client that verifies them."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    leaf = pki.leaf()
    code = (_readme_python_block("Serving").replace('"server.pem"', repr(str(leaf.certfile)))
            .replace('"server.key"', repr(str(leaf.keyfile))).replace("8443", str(port)))
    assert str(port) in code and str(leaf.keyfile) in code
    namespace: dict[str, Any] = {}
    runner = threading.Thread(target=exec, args=(code, namespace))
    runner.start()
    client = ssl.create_default_context(cafile=str(pki.ca_file))
    with client.wrap_socket(_connect_when_listening(port), server_hostname="localhost") as tls:
        tls.sendall(b"blocking")
        assert tls.recv(100) == b"blocking"
    runner.join(10)
    assert not runner.is_alive()

    async def talk_to_the_asyncio_server() -> bytes:
        serving = asyncio.ensure_future(namespace["serve"]())
        try:
            for _ in range(200):
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client,
                                                                  server_hostname="localhost")
                    break
                except ConnectionRefusedError:
                    await asyncio.sleep(0.05)
            writer.write(b"asyncio")
            answer = await reader.read()
            writer.close()
            return answer
        finally:
            serving.cancel()

    assert asyncio.run(talk_to_the_asyncio_server()) == b"asyncio"
