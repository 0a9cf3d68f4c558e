"""``python -m bench.targets``: issue 19's native handshake targets as same-process CPU-time ratios.

``python -m bench`` measures wall-clock rates; on a loaded VM its spreads reach ±70 %. This tool runs the four
pairs the targets name (native against the stdlib backend: x25519, each backend's defaults, resumed, TLS 1.2)
in one process, interleaved round by round in rotating order, and times each series with
``time.process_time`` (CPU time of this process: time the scheduler gives to other jobs is not counted). The
figure is the median of the per-round ratios stdlib CPU time / native CPU time (above 1: native is faster),
with the quartiles.
"""

from __future__ import annotations

import argparse
import ssl
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tlsapi_conformance import pki as pki_module

from . import cases

Pair = cases.Pair
TARGETS = {  # name: (native pair, stdlib pair, resumed?, target ratio)
    "full handshake, x25519": (Pair("native", "native", group="x25519"), Pair("stdlib", "stdlib", group="x25519"),
                               False, 1.4),
    "full handshake, each backend's defaults": (Pair("native", "native"), Pair("stdlib", "stdlib"), False, 1.0),
    "resumed handshake, x25519": (Pair("native", "native", group="x25519"), Pair("stdlib", "stdlib", group="x25519"),
                                  True, 1.5),
    "full handshake, TLS 1.2 ECDHE": (Pair("native", "native", version=ssl.TLSVersion.TLSv1_2),
                                      Pair("stdlib", "stdlib", version=ssl.TLSVersion.TLSv1_2), False, 1.2),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.targets", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds, at least 2 (default 7)")
    parser.add_argument("--handshakes", type=int, default=20, help="handshakes per series per round (default 20)")
    parser.add_argument("--pki", type=Path, default=Path("/tmp/tlsapi-bench-pki"), help="PKI directory (reused)")
    parser.add_argument("--no-ech-grease", action="store_true",
                        help="native clients send no GREASE ECH (what it costs: compare with a run without)")
    args = parser.parse_args(argv)
    pki = pki_module.get(args.pki)
    works = {}
    for name, (native, stdlib, resumed, _) in TARGETS.items():
        make = cases.resumed_handshake_of if resumed else cases.full_handshake_of
        native_client, native_server = cases.contexts(native, pki)
        if args.no_ech_grease:
            native_client.ech_grease = False  # type: ignore[attr-defined]  # a native context
        works[name, "native"] = make(native_client, native_server)
        works[name, "stdlib"] = make(*cases.contexts(stdlib, pki))
    for work in works.values():
        for _ in range(5):  # warm-up
            work()
    times: dict[tuple[str, str], list[float]] = {key: [] for key in works}
    keys = list(works)
    for index in range(args.rounds):
        for key in keys[index % len(keys):] + keys[:index % len(keys)]:
            started = time.process_time()
            for _ in range(args.handshakes):
                works[key]()
            times[key].append(time.process_time() - started)
    for name, (*_, target) in TARGETS.items():
        ratios = [s / n for n, s in zip(times[name, "native"], times[name, "stdlib"], strict=True)]
        low, median, high = statistics.quantiles(ratios, n=4)
        per = {end: statistics.median(times[name, end]) / args.handshakes * 1000 for end in ("native", "stdlib")}
        print(f"{name:<42} native {median:.2f}x stdlib (quartiles {low:.2f}-{high:.2f}; target {target}x)  "
              f"CPU ms per handshake: native {per['native']:.2f}, stdlib {per['stdlib']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
