"""Backend selection: argument, process default, environment, config file, default; and the errors."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

import tlsapi
from tlsapi import _registry


@pytest.fixture(autouse=True)
def clean_selection(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.delenv("TLSAPI_BACKEND", raising=False)
    monkeypatch.delenv("TLSAPI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    tlsapi.set_default_backend(None)
    yield
    tlsapi.set_default_backend(None)


def _other_backend() -> tlsapi.Backend:
    """A second backend object, distinct from the installed stdlib one but running the same engine."""
    return tlsapi.Backend(
        "stdlib-copy", version="test", description="the stdlib engine under another name",
        context_class="tlsapi_stdlib._backend:StdlibContext", capabilities=[],
    )


def test_default_is_stdlib() -> None:
    assert tlsapi.DEFAULT_BACKEND == "stdlib"
    assert tlsapi.get_backend().name == "stdlib"
    context = tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT)
    assert context.backend.name == "stdlib"
    assert isinstance(context, ssl.SSLContext)


def test_listing_names_every_installed_backend() -> None:
    names = {backend.name for backend in tlsapi.backends()}
    assert "stdlib" in names
    stdlib = tlsapi.get_backend("stdlib")
    assert stdlib.is_available() and stdlib.unavailable_reason is None
    assert tlsapi.Capability.CORE in stdlib.capabilities()
    assert tlsapi.Capability.TLSv1_3 in stdlib.capabilities()


def test_argument_wins_over_everything(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('backend = "nonexistent-in-config"\n')
    monkeypatch.setenv("TLSAPI_CONFIG", str(config))
    monkeypatch.setenv("TLSAPI_BACKEND", "nonexistent-in-env")
    assert tlsapi.get_backend("stdlib").name == "stdlib"
    other = _other_backend()
    assert tlsapi.get_backend(other) is other


def test_process_default_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TLSAPI_BACKEND", "nonexistent-in-env")
    other = _other_backend()
    tlsapi.set_default_backend(other)
    assert tlsapi.get_backend() is other
    assert tlsapi.create_default_context().backend is other


def test_environment_wins_over_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('backend = "nonexistent-in-config"\n')
    monkeypatch.setenv("TLSAPI_CONFIG", str(config))
    monkeypatch.setenv("TLSAPI_BACKEND", "stdlib")
    assert tlsapi.get_backend().name == "stdlib"


def test_environment_selects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TLSAPI_BACKEND", "nonexistent-in-env")
    with pytest.raises(tlsapi.BackendNotFoundError, match="nonexistent-in-env"):
        tlsapi.get_backend()


def test_config_file_selects(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('backend = "from-config"\n')
    monkeypatch.setenv("TLSAPI_CONFIG", str(config))
    with pytest.raises(tlsapi.BackendNotFoundError, match="from-config"):
        tlsapi.get_backend()
    config.write_text('backend = "stdlib"\n')
    assert tlsapi.get_backend().name == "stdlib"


def test_default_config_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "tlsapi").mkdir()
    (tmp_path / "tlsapi" / "config.toml").write_text('backend = "xdg-configured"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    with pytest.raises(tlsapi.BackendNotFoundError, match="xdg-configured"):
        tlsapi.get_backend()


def test_bad_config_file_is_a_configuration_error_naming_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("backend = [not toml")
    monkeypatch.setenv("TLSAPI_CONFIG", str(config))
    with pytest.raises(tlsapi.ConfigurationError, match="not valid TOML") as info:
        tlsapi.get_backend()
    assert str(config) in str(info.value)
    assert not isinstance(info.value, LookupError)  # not "no such backend": the file is the problem
    missing = tmp_path / "missing.toml"
    monkeypatch.setenv("TLSAPI_CONFIG", str(missing))
    with pytest.raises(tlsapi.ConfigurationError, match=r"does not exist") as info:
        tlsapi.get_backend()
    assert str(missing) in str(info.value) and "TLSAPI_CONFIG" in str(info.value)
    config.write_text("backend = 3\n")
    monkeypatch.setenv("TLSAPI_CONFIG", str(config))
    with pytest.raises(tlsapi.ConfigurationError, match="must be a string"):
        tlsapi.get_backend()


@pytest.mark.parametrize(
    ("content", "unknown"),
    [('backnd = "native"\n', "unknown key 'backnd'; did you mean 'backend'?"),
     ('backend = "stdlib"\ncolour = "blue"\n', "unknown key 'colour'"),
     ('[native]\nbackend = "native"\n', "unknown section 'native'")],
)
def test_unknown_config_keys_and_sections_are_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str, unknown: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(content)
    monkeypatch.setenv("TLSAPI_CONFIG", str(config))
    with pytest.raises(tlsapi.ConfigurationError) as info:
        tlsapi.get_backend()
    assert unknown in str(info.value) and str(config) in str(info.value)


@pytest.mark.parametrize(
    ("setting", "source"),
    [("argument", "the backend= argument"), ("default", "set_default_backend()"),
     ("environment", "TLSAPI_BACKEND"), ("config", "config file")],
)
def test_selection_errors_name_their_source(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, setting: str, source: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('backend = "nope"\n')
    if setting == "environment":
        monkeypatch.setenv("TLSAPI_BACKEND", "nope")
    elif setting == "config":
        monkeypatch.setenv("TLSAPI_CONFIG", str(config))
    with pytest.raises(tlsapi.BackendNotFoundError) as info:
        if setting == "argument":
            tlsapi.Context(backend="nope")
        elif setting == "default":
            tlsapi.set_default_backend("nope")
        else:
            tlsapi.create_default_context()
    message = str(info.value)
    assert "'nope'" in message and f"came from {source}" in message and "installed: " in message
    if setting == "config":
        assert str(config) in message


def test_names_match_case_insensitively_without_surrounding_whitespace(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert tlsapi.get_backend(" STDLIB ").name == "stdlib"
    monkeypatch.setenv("TLSAPI_BACKEND", " Native\n")
    assert tlsapi.get_backend().name == "native"
    monkeypatch.delenv("TLSAPI_BACKEND")
    config = tmp_path / "config.toml"
    config.write_text('backend = "  PyOpenSSL "\n')
    monkeypatch.setenv("TLSAPI_CONFIG", str(config))
    assert tlsapi.get_backend().name == "pyopenssl"
    tlsapi.set_default_backend("NATIVE")
    assert tlsapi.get_backend().name == "native"


def test_selection_reports_choice_and_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert (_registry.selection().name, _registry.selection().source) == ("stdlib", "the built-in default")
    config = tmp_path / "config.toml"
    config.write_text('backend = "native"\n')
    monkeypatch.setenv("TLSAPI_CONFIG", str(config))
    assert _registry.selection().source == f"config file {str(config)!r}"
    monkeypatch.setenv("TLSAPI_BACKEND", "pyopenssl")
    assert (_registry.selection().name, _registry.selection().source) == ("pyopenssl", "TLSAPI_BACKEND")


def test_unknown_backend_names_installed_ones() -> None:
    with pytest.raises(tlsapi.BackendNotFoundError) as info:
        tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT, backend="no-such-engine")
    message = str(info.value)
    assert "no-such-engine" in message
    assert "stdlib" in message  # the installed backends are named
    with pytest.raises(tlsapi.BackendNotFoundError):
        tlsapi.set_default_backend("no-such-engine")


def test_broken_backend_names_reason_and_installed() -> None:
    broken = tlsapi.Backend(
        "broken", version="0", description="imports a module that does not exist",
        context_class="tlsapi_no_such_module:Context", capabilities=[],
    )
    assert not broken.is_available()
    assert "tlsapi_no_such_module" in (broken.unavailable_reason or "")
    with pytest.raises(tlsapi.BackendUnavailableError) as info:
        tlsapi.create_default_context(backend=broken)
    assert "broken" in str(info.value) and "stdlib" in str(info.value)


def test_entry_point_that_fails_to_load(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    bad = importlib.metadata.EntryPoint("exploding", "tlsapi_no_such_module:BACKEND", _registry.ENTRY_POINT_GROUP)
    points = dict(_registry._entry_points())
    points["exploding"] = bad
    monkeypatch.setattr(_registry, "_entry_points", lambda: points)
    _registry._load.cache_clear()
    try:
        with pytest.raises(tlsapi.BackendUnavailableError, match=r"exploding.*failed to load"):
            tlsapi.get_backend("exploding")
        assert "exploding" not in {backend.name for backend in tlsapi.backends()}
    finally:
        _registry._load.cache_clear()
