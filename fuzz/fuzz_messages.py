#!/usr/bin/env python3
"""atheris harness: Every handshake-message and extension parser (first byte picks one); parse(build(x)) must equal x.

    python fuzz/fuzz_messages.py -max_total_time=600 fuzz/corpus/messages

Any exception other than the engine's alert/``ssl.SSLError`` (reported as ``Finding``) is a crash.
"""

from __future__ import annotations

import _setup

if __name__ == "__main__":
    _setup.fuzz("messages_target")
