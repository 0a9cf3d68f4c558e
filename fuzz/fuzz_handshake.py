#!/usr/bin/env python3
"""atheris harness: Structure-aware edits of real handshake flights against a native client and server.

    python fuzz/fuzz_handshake.py -max_total_time=600 fuzz/corpus/handshake

Any exception other than the engine's alert/``ssl.SSLError`` (reported as ``Finding``) is a crash.
"""

from __future__ import annotations

import _setup

if __name__ == "__main__":
    _setup.fuzz("handshake_bytes_target")
