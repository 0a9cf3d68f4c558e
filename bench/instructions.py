"""``python -m bench.instructions``: repeatable per-unit instruction counts (``valgrind --tool=callgrind``).

On a shared VM, time-based ratios of two cases move by ±10-30 % between runs, more than the margins the
targets ask about. Callgrind counts the user-space instructions a process executes; with nothing random in
the counted work (no key generation: the PKI is read from ``--pki``, generated there on first use, and a fixed
hash seed) a count repeats to about one part in ten thousand. Each case runs twice under callgrind, with 0 and
with N units after the same warm-up; the difference divided by N is one unit's instructions.

Cases: ``full`` and ``resumed`` (``cases.full_handshake`` / ``cases.resumed_handshake``, native, x25519, as
in ``python -m bench``) and ``socket`` and ``pump`` (``python -m bench.sockets --only``: one unit sends
``--megabytes`` through ``TLSSocket.sendall`` or the minimal BIO pump, or with ``--direction receive``
receives it through ``TLSSocket.recv_into`` or the pump; the kernel's work, the same system
calls for both, is not counted, so their ratio bounds the CPU-time ratio from above). Instructions are not
time (crypto runs at a higher rate per instruction than the interpreter), but a change in the count of one
case is a change in its work, and the ratios compare like with like.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import cases, sockets

CASES = ("full", "resumed", "socket", "pump")


def _run(backend: str, directory: Path, case: str, units: int) -> None:
    """The counted process: a warm-up of the handshake ``case``, then ``units`` more units."""
    client, server = sockets.contexts(backend, directory)
    for context in (client, server):
        context.set_groups(["x25519"])  # type: ignore[attr-defined]
    make = cases.resumed_handshake_of if case == "resumed" else cases.full_handshake_of
    work = make(client, server)
    for _ in range(20 + units):
        work()


def _count(args: argparse.Namespace, case: str, units: int) -> int:
    """Instructions of one process running ``units`` units of ``case`` (after its warm-up)."""
    if case in ("socket", "pump"):
        command = ["-m", "bench.sockets", "--only", case, "--megabytes", str(args.megabytes),
                   "--direction", args.direction]
    else:
        command = ["-m", "bench.instructions", "--run", case]
    command += ["--units", str(units), "--pki", str(args.pki), "--backend", args.backend]
    with tempfile.TemporaryDirectory() as directory:
        result = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={directory}/out", sys.executable, *command],
            capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, check=True,
            cwd=sockets.ROOT,
        )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if found is None:
        raise RuntimeError(f"no callgrind total in: {result.stderr[-500:]}")
    return int(found.group(1))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help=f"cases to count, of {', '.join(CASES)} (default: all)")
    parser.add_argument("--backend", default="native")
    parser.add_argument("--pki", type=Path, default=Path("/tmp/tlsapi-bench-pki"), help="PKI directory (reused)")
    parser.add_argument("--units", type=int, help="counted units (default 200 handshakes, 8 bulk units)")
    parser.add_argument("--megabytes", type=int, default=4, help="MiB per bulk unit (default 4)")
    parser.add_argument("--direction", choices=("send", "receive"), default="send",
                        help="socket and pump: the client sends (default) or receives the bulk data")
    parser.add_argument("--run", choices=("full", "resumed"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        _run(args.backend, args.pki, args.run, args.units or 0)
        return 0
    sockets.pki_files(args.pki)  # generate the PKI once, before the counted processes read it
    chosen = args.cases or list(CASES)
    if not set(chosen) <= set(CASES):
        parser.error(f"cases are among {', '.join(CASES)}")
    jobs = [(case, units) for case in chosen
            for units in (0, args.units or (8 if case in ("socket", "pump") else 200))]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        counts = dict(zip(jobs, pool.map(lambda job: _count(args, *job), jobs), strict=True))
    per_unit = {}
    for case in chosen:
        (_, base), (units, total) = sorted((u, c) for (name, u), c in counts.items() if name == case)
        per_unit[case] = (total - base) / units
        size = f"{args.megabytes} MiB" if case in ("socket", "pump") else "handshake"
        print(f"{case:<8} {per_unit[case] / 1e6:10.3f} M instructions per unit ({size})")
    if "full" in per_unit and "resumed" in per_unit:
        print(f"full / resumed (instructions): {per_unit['full'] / per_unit['resumed']:.3f}")
    if "socket" in per_unit and "pump" in per_unit:
        records = args.megabytes * 1024 * 1024 // cases.CHUNK
        extra = (per_unit["socket"] - per_unit["pump"]) / records
        print(f"TLSSocket / pump (instructions): {per_unit['socket'] / per_unit['pump']:.4f} "
              f"({extra:.0f} more per 16 KiB record)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
