"""``python -m bench.records``: the per-record cost of bulk transfer, native against stdlib, per suite.

Each series writes 16 KiB records on one connection end and reads them on the other over memory BIOs (the
``bulk_bio`` case). The "floor" series does the same AEAD, BIO and copy operations as the native record path
with none of the engine around them (one 16 KiB record: seal with the inner content type, two BIO writes,
the pump, one BIO read, open, copy out): the native figure minus the floor is the engine's Python overhead.
Rounds are interleaved; figures are medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tlsapi_conformance import pki as pki_module

from . import cases
from .__main__ import SUITES, _bulk_pair
from .cases import CHUNK, Work

RECORDS = 64


def floor(pki: pki_module.PKI, suite: str) -> Work:
    """The native record path's unavoidable operations, on a native connection's own keys."""
    found = _bulk_pair("native", suite, pki)
    if found is None:
        raise RuntimeError(f"native cannot run {suite}")
    pair, cipher, _ = found
    link = cases.BIOLink(*cases.contexts(pair, pki, suite=cipher))
    link.handshake()
    seal = link.client._records.write_protection.aead.encrypt  # type: ignore[attr-defined]
    unseal = link.server._records.read_protection.aead.decrypt  # type: ignore[attr-defined]
    outgoing, incoming = link.c_out, link.s_in
    payload, buffer = b"\x5a" * CHUNK, bytearray(CHUNK)
    header = bytes((23, 3, 3, (CHUNK + 17) >> 8, (CHUNK + 17) & 255))

    def work() -> int:
        for seq in range(RECORDS):
            nonce = seq.to_bytes(12, "big")
            outgoing.write(header)
            outgoing.write(seal(nonce, payload + b"\x17", header))
            incoming.write(outgoing.read())
            record = incoming.read()
            memoryview(buffer)[:CHUNK] = memoryview(unseal(nonce, memoryview(record)[5:], record[:5]))[:CHUNK]
        return RECORDS * CHUNK

    return work


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.records", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--duration", type=float, default=0.3, help="seconds per measurement")
    parser.add_argument("--suites", nargs="+", choices=list(SUITES), default=list(SUITES))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tlsapi-bench-") as directory:
        pki = pki_module.get(Path(directory))
        for suite in args.suites:
            series: dict[str, Work] = {}
            for name in ("stdlib", "native"):
                found = _bulk_pair(name, suite, pki)
                if found is not None:
                    pair, cipher, note = found
                    series[name + note] = cases.bulk_bio(pair, pki, cipher, 1)
            series["floor (native ops, no engine)"] = floor(pki, suite)
            rates: dict[str, list[float]] = {label: [] for label in series}
            for _ in range(args.rounds):
                for label, work in series.items():
                    done, start = 0, time.perf_counter()
                    while time.perf_counter() - start < args.duration:
                        done += work()
                    rates[label].append(done / (time.perf_counter() - start) / 1e6)
            base = statistics.median(next(iter(rates.values())))
            print(f"\n{suite}, 16 KiB records (BIO)")
            for label, values in rates.items():
                median = statistics.median(values)
                print(f"  {label:32}{median:8.1f} MB/s  {median / base:5.2f}x stdlib  "
                      f"{CHUNK / median:6.2f} us/record")
    return 0


if __name__ == "__main__":
    sys.exit(main())
