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
from . import server as server_bench

CASES = ("full", "resumed", "bulk", "wantread", "asyncio-new", "asyncio-keepalive", "socket", "pump")
BIO_CASES = ("full", "resumed", "bulk", "wantread", "asyncio-new", "asyncio-keepalive")
DEFAULT_UNITS = {"full": 200, "resumed": 200, "bulk": 8, "wantread": 10, "asyncio-new": 50,
                 "asyncio-keepalive": 5, "socket": 8, "pump": 8}
#: Units run before the counted ones (caches, imports, allocator pools warm).
WARM_UP = {"full": 20, "resumed": 20, "bulk": 2, "wantread": 2, "asyncio-new": 5, "asyncio-keepalive": 2}
SIZES = {"full": "handshake", "resumed": "handshake", "bulk": "1 MiB over BIOs", "wantread": "1000 reads",
         "asyncio-new": "connection + request", "asyncio-keepalive": "100 requests"}


def _run(backend: str, directory: Path, case: str, units: int) -> None:
    """The counted process: a warm-up of the in-process ``case``, then ``units`` more units."""
    client, server = sockets.contexts(backend, directory)
    for context in (client, server):
        if hasattr(context, "set_groups"):
            context.set_groups(["x25519"])
        else:  # plain ssl: OpenSSL's name for the same group
            context.set_ecdh_curve("X25519")
    if case.startswith("asyncio-"):
        work = server_bench.in_process(client, server, case.removeprefix("asyncio-"))
    elif case == "bulk":
        work = cases.bulk_bio_of(client, server, megabytes=1)
    else:
        make = {"full": cases.full_handshake_of, "resumed": cases.resumed_handshake_of,
                "wantread": cases.want_read_of}[case]
        work = make(client, server)
    for _ in range(WARM_UP[case] + units):
        work()


def _count(args: argparse.Namespace, backend: str, case: str, units: int) -> int:
    """Instructions of one process running ``units`` units of ``case`` with ``backend`` (after its warm-up)."""
    if case in ("socket", "pump"):
        command = ["-m", "bench.sockets", "--only", case, "--megabytes", str(args.megabytes),
                   "--direction", args.direction]
    else:
        command = ["-m", "bench.instructions", "--run", case]
    command += ["--units", str(units), "--pki", str(args.pki), "--backend", backend]
    with tempfile.TemporaryDirectory() as directory:
        result = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={directory}/out", sys.executable, *command],
            capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, check=False,
            cwd=sockets.ROOT,
        )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode or found is None:
        raise RuntimeError(f"{backend} {case} under callgrind (exit {result.returncode}): {result.stderr[-800:]}")
    return int(found.group(1))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help=f"cases to count, of {', '.join(CASES)} (default: all)")
    parser.add_argument("--backend", nargs="+", default=["native"],
                        help=f"backends to count (or {cases.PLAIN_SSL!r}: plain ssl); several: ratios to the first")
    parser.add_argument("--pki", type=Path, default=Path("/tmp/tlsapi-bench-pki"), help="PKI directory (reused)")
    parser.add_argument("--units", type=int, help="counted units (default per case: " +
                        ", ".join(f"{case} {units}" for case, units in DEFAULT_UNITS.items()) + ")")
    parser.add_argument("--megabytes", type=int, default=4, help="MiB per socket or pump unit (default 4)")
    parser.add_argument("--direction", choices=("send", "receive"), default="send",
                        help="socket and pump: the client sends (default) or receives the bulk data")
    parser.add_argument("--run", choices=BIO_CASES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        _run(args.backend[0], args.pki, args.run, args.units or 0)
        return 0
    sockets.pki_files(args.pki)  # generate the PKI once, before the counted processes read it
    chosen = args.cases or list(CASES)
    if not set(chosen) <= set(CASES):
        parser.error(f"cases are among {', '.join(CASES)}")
    jobs = [(backend, case, units) for backend in args.backend for case in chosen
            for units in (0, args.units or DEFAULT_UNITS[case])]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        counts = dict(zip(jobs, pool.map(lambda job: _count(args, *job), jobs), strict=True))
    per_unit: dict[tuple[str, str], float] = {}
    for backend in args.backend:
        for case in chosen:
            (_, base), (units, total) = sorted((u, c) for (b, name, u), c in counts.items()
                                               if (b, name) == (backend, case))
            per_unit[backend, case] = count = (total - base) / units
            size = f"{args.megabytes} MiB" if case in ("socket", "pump") else SIZES[case]
            ratio = ""
            if backend != args.backend[0]:
                ratio = f"  {count / per_unit[args.backend[0], case]:.4f}x {args.backend[0]}"
            print(f"{backend:<10}{case:<18} {count / 1e6:10.4f} M instructions per unit ({size}){ratio}")
    for backend in args.backend:
        if (backend, "full") in per_unit and (backend, "resumed") in per_unit:
            print(f"{backend}: full / resumed (instructions): "
                  f"{per_unit[backend, 'full'] / per_unit[backend, 'resumed']:.3f}")
        if (backend, "socket") in per_unit and (backend, "pump") in per_unit:
            records = args.megabytes * 1024 * 1024 // cases.CHUNK
            extra = (per_unit[backend, "socket"] - per_unit[backend, "pump"]) / records
            print(f"{backend}: TLSSocket / pump (instructions): "
                  f"{per_unit[backend, 'socket'] / per_unit[backend, 'pump']:.4f} ({extra:.0f} more per 16 KiB record)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
