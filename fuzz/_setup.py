"""What the atheris harnesses share: ``tests/`` (where the targets live) on the import path, and the run."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


def fuzz(target_name: str) -> None:
    """Fuzz ``fuzz_targets.<target_name>`` (one input per call), with the engine and targets instrumented."""
    import atheris

    with atheris.instrument_imports(include=["tlsapi_native", "tlsapi", "hostile_peer", "fuzz_targets"]):
        import fuzz_targets

    fuzz_targets.setup()
    atheris.Setup(sys.argv, getattr(fuzz_targets, target_name))
    atheris.Fuzz()
