"""``python -m bench.profile``: where a native handshake's time goes, crypto primitives against Python.

Three uses:

- ``python -m bench.profile full`` (or ``default``, ``resumed``, ``tls12``): that many handshakes of the case
  under ``cProfile``; prints the share of time spent inside the cryptographic primitives (cryptography's
  compiled module and ``hashlib``) and the Python functions with the most own time. cProfile charges every
  Python call, so the Python share it reports is inflated; use it for the ranking.
- ``--loop``: only run the handshakes, for a sampling profiler, which charges nothing:
  ``py-spy record --native -r 1000 -f raw -o OUT -- python -m bench.profile full --loop 3000``.
- ``--py-spy-raw OUT``: the split of such a profile (samples inside the handshake loop only): a sample is a
  primitive's if a frame of cryptography's compiled module, OpenSSL's libcrypto or ``_hashlib`` is on its stack,
  named by the last Python function above it.

The cases are those of ``python -m bench.targets``: both ends native, over memory BIOs, ECDSA P-256 leaf.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import re
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path

from tlsapi_conformance import pki as pki_module

from . import cases

CASES = {
    "full": (cases.Pair("native", "native", group="x25519"), False),
    "default": (cases.Pair("native", "native"), False),
    "resumed": (cases.Pair("native", "native", group="x25519"), True),
    "tls12": (cases.Pair("native", "native", version=ssl.TLSVersion.TLSv1_2), False),
}
PRIMITIVE_FRAMES = ("_rust.abi3.so", "libcrypto", "_hashlib")  # py-spy --native frames of the primitives
LOOP_FRAME = "work (bench/cases.py"  # the handshake loop's frame: samples outside it are start-up


def _work(case: str, pki_directory: Path) -> cases.Work:
    pair, resumed = CASES[case]
    pki = pki_module.get(pki_directory)
    return (cases.resumed_handshake if resumed else cases.full_handshake)(pair, pki)


def _is_primitive(function: tuple[str, int, str]) -> bool:
    """A cProfile entry of a primitive: a built-in of cryptography's compiled module or of ``hashlib``."""
    filename, _, name = function
    return filename == "~" and ("cryptography.hazmat.bindings" in name or "_hashlib" in name
                                or "x25519." in name or "ed25519." in name or "mlkem." in name)


def profile(case: str, handshakes: int, pki_directory: Path, top: int) -> str:
    work = _work(case, pki_directory)
    for _ in range(20):  # warm-up: imports, caches
        work()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(handshakes):
        work()
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in stats.values())
    primitive = sum(entry[2] for function, entry in stats.items() if _is_primitive(function))
    lines = [f"{case}: {handshakes} handshakes under cProfile, {total / handshakes * 1e6:.0f} us each (profiled)",
             f"  crypto primitives {primitive / total * 100:.1f} %, the rest {100 - primitive / total * 100:.1f} %",
             "  Python functions by own time:"]
    python = sorted(((entry[2], function) for function, entry in stats.items() if function[0] != "~"), reverse=True)
    for own, (filename, line, name) in python[:top]:
        lines.append(f"  {own / total * 100:5.1f} %  {name} ({Path(filename).name}:{line})")
    return "\n".join(lines)


def split_py_spy(raw: Path, top: int) -> str:
    """The primitives' share of a ``py-spy record --native -f raw`` profile of ``--loop``."""
    total = primitive = 0
    callers: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if LOOP_FRAME not in stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        first = next((i for i, frame in enumerate(frames) if any(lib in frame for lib in PRIMITIVE_FRAMES)), None)
        if first is None:
            continue
        primitive += count
        python = [frame for frame in frames[:first] if ".py:" in frame]
        callers[re.sub(r" \(.*", "", python[-1]) if python else "?"] += count
    if not total:
        return f"{raw}: no samples inside the handshake loop"
    lines = [f"{raw}: {total} samples in the handshake loop",
             f"  crypto primitives {primitive / total * 100:.1f} %, Python {100 - primitive / total * 100:.1f} %",
             "  primitives by the Python function calling them:"]
    lines += [f"  {count / total * 100:5.1f} %  {name}" for name, count in callers.most_common(top)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("case", nargs="?", choices=sorted(CASES), default="full")
    parser.add_argument("--handshakes", type=int, default=300, help="profiled handshakes (default 300)")
    parser.add_argument("--loop", type=int, metavar="N", help="only run N handshakes (for a sampling profiler)")
    parser.add_argument("--py-spy-raw", type=Path, metavar="OUT", help="split a py-spy --native raw profile")
    parser.add_argument("--top", type=int, default=15, help="functions listed (default 15)")
    parser.add_argument("--pki", type=Path, default=Path("/tmp/tlsapi-bench-pki"), help="PKI directory (reused)")
    args = parser.parse_args(argv)
    if args.py_spy_raw:
        print(split_py_spy(args.py_spy_raw, args.top))
    elif args.loop is not None:
        work = _work(args.case, args.pki)
        for _ in range(args.loop):
            work()
    else:
        print(profile(args.case, args.handshakes, args.pki, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
