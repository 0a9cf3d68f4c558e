"""Where the ssl module differs between Python versions, every backend follows the running interpreter's."""

from __future__ import annotations

import ssl

import pytest

import tlsapi


def _outcome(context: ssl.SSLContext, value: object) -> str:
    try:
        context.options = value  # type: ignore[assignment]
    except tlsapi.UnsupportedFeatureError:
        return "accepted by ssl, refused by the backend"
    except Exception as error:
        return type(error).__name__
    return "accepted"


@pytest.mark.parametrize("value", [-1, 1 << 63, 1 << 64, 1 << 100, "abc", 1.0])
def test_options_range_and_type_follow_the_interpreter(backend: tlsapi.Backend, value: object) -> None:
    """``options`` is a C long up to 3.11 and a uint64 from 3.12: out-of-range values raise OverflowError and
    non-integers TypeError exactly where ssl raises them; a value ssl accepts is accepted or refused as an
    unsupported feature (these set options no backend honours)."""
    plain = _outcome(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), value)
    ours = _outcome(tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT, backend=backend), value)
    if plain == "accepted":
        assert ours in ("accepted", "accepted by ssl, refused by the backend")
    else:
        assert ours == plain
