"""Whole-process switch: ``python -m tlsapi run`` and ``TLSAPI_INJECT`` at interpreter start-up.

Each case starts a fresh interpreter running an unmodified urllib client against :class:`ObservingServer`,
which sees the engine fingerprint of the ClientHello; a bad name must stop the process before the program
runs, with the selection error on stderr.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import available_backends
from observing_server import BODY, EngineFingerprint, ObservingServer

from tlsapi_conformance.pki import PKI

ROOT = Path(__file__).resolve().parent.parent
HOOK = ROOT / "tlsapi-inject.pth"

CLIENT = """\
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as response:
    print(response.read().decode().strip(), sys.argv[2:], "tlsapi" in sys.modules)
"""
NON_STDLIB = [name for name in available_backends() if name != "stdlib"]


@pytest.fixture
def program(tmp_path: Path) -> Path:
    (tmp_path / "client.py").write_text(CLIENT)
    return tmp_path / "client.py"


@pytest.fixture
def environment(pki: PKI, tmp_path: Path) -> dict[str, str]:
    """The child's environment: trusts the test CA, no tlsapi settings, and the start-up hook installed in a
    user site-packages directory (the hook file and the module it imports, as the wheel installs them into
    site-packages; the user site is read before the one holding an editable install's finder)."""
    user_base = tmp_path / "userbase"
    env = {key: value for key, value in os.environ.items() if not key.startswith("TLSAPI_")}
    env.update(SSL_CERT_FILE=str(pki.ca_file), PYTHONUSERBASE=str(user_base), PYTHONNOUSERSITE="",
               XDG_CONFIG_HOME=str(tmp_path / "no-config"))
    env.pop("PYTHONNOUSERSITE")
    user_site = Path(sysconfig.get_path("purelib", f"{os.name}_user", {"userbase": str(user_base)}))
    user_site.mkdir(parents=True)
    for installed in (HOOK, HOOK.with_name("_tlsapi_startup.py")):  # what a wheel puts in site-packages
        shutil.copy(installed, user_site / installed.name)
    return env


def _python(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", NON_STDLIB)
def test_run_script_on_backend(
    name: str, observer: ObservingServer, backend_fingerprints: dict[str, EngineFingerprint], program: Path,
    environment: dict[str, str],
) -> None:
    result = _python(["-m", "tlsapi", "run", "--backend", name, str(program), observer.url(), "--flag"], environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == BODY.decode().split()[0] and "['--flag']" in result.stdout
    assert observer.fingerprints[-1] == backend_fingerprints[name]


@pytest.mark.parametrize("name", NON_STDLIB)
def test_run_module_selected_by_environment(
    name: str, observer: ObservingServer, backend_fingerprints: dict[str, EngineFingerprint], program: Path,
    environment: dict[str, str],
) -> None:
    environment["TLSAPI_BACKEND"] = name.upper()
    result = _python(["-m", "tlsapi", "run", "-m", "client", observer.url()], environment, cwd=program.parent)
    assert result.returncode == 0, result.stderr
    assert observer.fingerprints[-1] == backend_fingerprints[name]


def test_run_without_setting_is_stdlib(
    observer: ObservingServer, backend_fingerprints: dict[str, EngineFingerprint], program: Path,
    environment: dict[str, str]
) -> None:
    result = _python(["-m", "tlsapi", "run", str(program), observer.url()], environment)
    assert result.returncode == 0, result.stderr
    assert observer.fingerprints[-1] == backend_fingerprints["stdlib"]


@pytest.mark.parametrize(
    ("args", "setting", "source"),
    [(["--backend", "nope"], {}, "tlsapi run --backend"), ([], {"TLSAPI_BACKEND": "nope"}, "TLSAPI_BACKEND")],
)
def test_run_with_bad_name_fails_before_the_program(
    args: list[str], setting: dict[str, str], source: str, tmp_path: Path, environment: dict[str, str]
) -> None:
    marker = tmp_path / "ran"
    script = tmp_path / "touch.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    result = _python(["-m", "tlsapi", "run", *args, str(script)], {**environment, **setting})
    assert result.returncode == 3
    assert "no tlsapi backend named 'nope'" in result.stderr and f"came from {source}" in result.stderr
    assert "Traceback" not in result.stderr and not marker.exists()


@pytest.mark.parametrize("name", NON_STDLIB)
def test_environment_variable_switches_an_unmodified_program_at_start_up(
    name: str, observer: ObservingServer, backend_fingerprints: dict[str, EngineFingerprint], program: Path,
    environment: dict[str, str],
) -> None:
    environment["TLSAPI_INJECT"] = f" {name} "
    result = _python([str(program), observer.url()], environment)
    assert result.returncode == 0, result.stderr
    assert observer.fingerprints[-1] == backend_fingerprints[name]


def test_start_up_hook_does_nothing_when_unset(
    observer: ObservingServer, backend_fingerprints: dict[str, EngineFingerprint], program: Path,
    environment: dict[str, str]
) -> None:
    result = _python([str(program), observer.url()], environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "False"  # tlsapi was not even imported
    assert observer.fingerprints[-1] == backend_fingerprints["stdlib"]


def test_start_up_hook_bad_name_stops_the_interpreter(
    tmp_path: Path, program: Path, environment: dict[str, str]
) -> None:
    environment["TLSAPI_INJECT"] = "nope"
    result = _python(["-c", "print('program ran')"], environment)
    assert result.returncode == 3 and result.stdout == ""
    assert result.stderr.startswith("tlsapi: no tlsapi backend named 'nope'")
    assert "came from TLSAPI_INJECT" in result.stderr and "Traceback" not in result.stderr


def test_run_exports_the_switch_to_child_processes(
    observer: ObservingServer, backend_fingerprints: dict[str, EngineFingerprint], program: Path,
    environment: dict[str, str],
    tmp_path: Path,
) -> None:
    parent = tmp_path / "parent.py"
    parent.write_text(
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, {str(program)!r}, sys.argv[1]], check=True)\n"
    )
    result = _python(["-m", "tlsapi", "run", "--backend", "native", str(parent), observer.url()], environment)
    assert result.returncode == 0, result.stderr
    assert observer.fingerprints[-1] == backend_fingerprints["native"]


def test_build_installs_the_start_up_hook_at_the_top_of_site_packages(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / HOOK.name).read_text() == HOOK.read_text()
    assert (tmp_path / "_tlsapi_startup.py").is_file()  # the module the hook imports


def test_pip_runs_on_the_backend(
    observer: ObservingServer, backend_fingerprints: dict[str, EngineFingerprint], environment: dict[str, str],
    tmp_path: Path, pki: PKI,
) -> None:
    """pip (its vendored requests and urllib3) under ``tlsapi run``: the index sees native's ClientHello.

    pip's urllib3 sets its own cipher list, so the groups, key shares and signature algorithms, which only
    the engine decides, are compared; the index serves no packages, so pip itself fails afterwards.
    """
    result = _python(
        ["-m", "tlsapi", "run", "--backend", "native", "-m", "pip", "download", "--isolated", "--no-deps",
         "--no-cache-dir", "--retries", "0", "--timeout", "10", "--index-url", observer.url("/simple/"),
         "--cert", str(pki.ca_file), "-d", str(tmp_path / "downloads"), "no-such-package"],
        environment,
    )
    assert "No matching distribution found for no-such-package" in result.stderr
    seen, native = observer.fingerprints[-1], backend_fingerprints["native"]
    assert (seen.groups, seen.key_share_groups, seen.signature_algorithms) == (
        native.groups, native.key_share_groups, native.signature_algorithms)
