#!/usr/bin/env python3
"""atheris harness: the Encrypted Client Hello parsers (first byte picks one): the ECHConfigList codec, the
server's encrypted_client_hello processing, the EncodedClientHelloInner decoder, a native server holding the key.

    python fuzz/fuzz_ech.py -max_total_time=600 fuzz/corpus/ech

Any exception other than the engine's alert/``ssl.SSLError`` (reported as ``Finding``) is a crash.
"""

from __future__ import annotations

import _setup

if __name__ == "__main__":
    _setup.fuzz("ech_target")
