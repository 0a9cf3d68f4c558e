#!/usr/bin/env python3
"""atheris harness: raw record streams into a fresh server, a client after its ClientHello, the bare
record layer, and protected records into a connected client.

    python fuzz/fuzz_record.py -max_total_time=600 fuzz/corpus/record

Any exception other than the engine's alert/``ssl.SSLError`` (reported as ``Finding``) is a crash.
"""

from __future__ import annotations

import _setup

if __name__ == "__main__":
    _setup.fuzz("record_target")
