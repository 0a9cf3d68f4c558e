#!/usr/bin/env python3
"""atheris harness: raw record streams into a fresh server, a client after its ClientHello, the bare
record layer, and protected records into a connected client.

    python fuzz/fuzz_record.py -max_total_time=600 fuzz/corpus/record

Any exception other than the engine's alert/``ssl.SSLError`` (reported as ``Finding``) is a crash.
"""

from __future__ import annotations

import sys

import _setup  # noqa: F401  (puts tests/ on sys.path)
import atheris

with atheris.instrument_imports(include=["tlsapi_native", "tlsapi", "hostile_peer", "fuzz_targets"]):
    import fuzz_targets


def test_one_input(data: bytes) -> None:
    """One fuzzer input."""
    fuzz_targets.record_target(data)


def main() -> None:
    fuzz_targets.setup()
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
