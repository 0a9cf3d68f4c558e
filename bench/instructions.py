"""``python -m bench.instructions``: repeatable per-unit instruction counts (``valgrind --tool=callgrind``).

On a shared VM, time-based ratios of two cases move by ±10-30 % between runs, more than the margins the
targets ask about. Callgrind counts the user-space instructions a process executes; with nothing random in
the counted work (no key generation: the PKI is read from ``--pki``, generated there on first use, and a fixed
hash seed) a count repeats to about one part in ten thousand. Each case runs twice under callgrind, with 0 and
with N units after the same warm-up; the difference divided by N is one unit's instructions.

Cases over memory BIOs, both ends in the counted process: ``full`` and ``resumed``
(``cases.full_handshake`` / ``cases.resumed_handshake``, x25519, as in ``python -m bench``), ``bulk``
(``cases.bulk_bio``, 1 MiB), ``wantread`` (``cases.want_read_of``: reads that raise want-read). Asyncio, both
ends in one event loop of the counted process (``server.in_process``): ``asyncio-new`` (a connection per
request) and ``asyncio-keepalive`` (100 requests on one connection). Over loopback sockets, only the client
counted (``python -m bench.sockets --only``; its server is another process, started with ``exec``, which
valgrind does not follow): ``socket`` and ``pump`` (one unit sends ``--megabytes`` through
``TLSSocket.sendall`` or the minimal BIO pump, or with ``--direction receive`` receives it through
``TLSSocket.recv_into`` or the pump; the kernel's work, the same system calls for both, is not counted, so
their ratio bounds the CPU-time ratio from above), ``socket-receive`` (``socket`` with ``--direction
receive``), ``socket-connect`` (a new connection, its handshake, one small request and response, close) and
``socket-request`` (20 small requests on one connection, each response waited for in a ``recv`` that blocks).
Instructions are not time (crypto runs at a higher rate per instruction than the interpreter), but a change
in the count of one case is a change in its work, and the ratios compare like with like.

Copies: glibc copies and clears large blocks with ``rep movsb`` / ``rep stosb``, which callgrind counts as
one instruction per byte, so a 16 KiB ``memcpy`` counts like 16 k instructions of Python although the CPU
does it in a few hundred cycles. ``--vector-copies`` sets ``GLIBC_TUNABLES`` so that glibc uses its vector
loops instead (32 bytes per instruction): then a copy counts about as much as it costs, which matters where
one side copies more than the other (a ``TLSSocket`` passes every record through memory BIOs).
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

BIO_CASES = ("full", "resumed", "bulk", "wantread", "asyncio-new", "asyncio-keepalive")
#: The cases run by ``python -m bench.sockets``: its ``--only`` client and, if not the default, direction.
SOCKET_CASES = {"socket": ("socket", None), "socket-receive": ("socket", "receive"), "pump": ("pump", None),
                "socket-connect": ("connect", None), "socket-request": ("request", None)}
CASES = (*BIO_CASES, *SOCKET_CASES)
DEFAULT_UNITS = {"full": 200, "resumed": 200, "bulk": 8, "wantread": 10, "asyncio-new": 50,
                 "asyncio-keepalive": 5, "socket": 8, "socket-receive": 8, "pump": 8, "socket-connect": 20,
                 "socket-request": 5}
#: Units run before the counted ones (caches, imports, allocator pools warm).
WARM_UP = {"full": 20, "resumed": 20, "bulk": 2, "wantread": 2, "asyncio-new": 5, "asyncio-keepalive": 2}
#: glibc's string functions without ``rep movsb`` / ``rep stosb`` (their thresholds beyond any size copied).
VECTOR_COPIES = {"GLIBC_TUNABLES": "glibc.cpu.x86_rep_movsb_threshold=1073741824:"
                                   "glibc.cpu.x86_rep_stosb_threshold=1073741824"}
SIZES = {"full": "handshake", "resumed": "handshake", "bulk": "1 MiB over BIOs", "wantread": "1000 reads",
         "asyncio-new": "connection + request", "asyncio-keepalive": "100 requests",
         "socket-connect": "connection + request", "socket-request": f"{sockets.REQUESTS_PER_UNIT} requests"}


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
    if case in SOCKET_CASES:
        only, direction = SOCKET_CASES[case]
        command = ["-m", "bench.sockets", "--only", only, "--megabytes", str(args.megabytes),
                   "--direction", direction or args.direction]
    else:
        command = ["-m", "bench.instructions", "--run", case]
    command += ["--units", str(units), "--pki", str(args.pki), "--backend", backend]
    with tempfile.TemporaryDirectory() as directory:
        result = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={directory}/out", sys.executable, *command],
            capture_output=True, text=True, check=False,
            env={**os.environ, "PYTHONHASHSEED": "0", **(VECTOR_COPIES if args.vector_copies else {})},
            cwd=sockets.ROOT,
        )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode or found is None:
        # The program's own output (a traceback), without valgrind's lines (``==pid== ...``)
        told = [line for line in result.stderr.splitlines() if not line.startswith("==")]
        raise CountFailed(f"{backend} {case} ({units} units) under callgrind exited {result.returncode}: "
                          + ("\n".join(told[-25:]) or result.stderr[-800:]))
    return int(found.group(1))


class CountFailed(RuntimeError):
    """A counted process failed; the message has its exit status and what it wrote (not valgrind's lines)."""


def _count_or_reason(args: argparse.Namespace, backend: str, case: str, units: int) -> int | str:
    try:
        return _count(args, backend, case, units)
    except CountFailed as failure:
        return str(failure)


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
    parser.add_argument("--vector-copies", action="store_true",
                        help="count with glibc's vector memcpy/memset instead of rep movsb/stosb (see above)")
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
        results = dict(zip(jobs, pool.map(lambda job: _count_or_reason(args, *job), jobs), strict=True))
    failures = [reason for reason in results.values() if isinstance(reason, str)]
    for reason in failures:
        print(reason, file=sys.stderr)
    counts = {job: count for job, count in results.items() if isinstance(count, int)}
    per_unit: dict[tuple[str, str], float] = {}
    for backend in args.backend:
        for case in chosen:
            measured = sorted((u, c) for (b, name, u), c in counts.items() if (b, name) == (backend, case))
            if len(measured) != 2:
                continue  # a failure, reported above
            (_, base), (units, total) = measured
            per_unit[backend, case] = count = (total - base) / units
            size = SIZES.get(case, f"{args.megabytes} MiB")
            ratio = ""
            if backend != args.backend[0] and (args.backend[0], case) in per_unit:
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
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
