"""``python -m bench``: every installed backend measured side by side, as ratios to the stdlib backend.

Each figure is the median over ``--rounds`` rounds of a ``--duration``-second measurement; the rounds are
interleaved (every case and backend once per round, in rotating order) so that machine drift hits all
backends alike. ``--quick`` finishes in well under three minutes.
"""

from __future__ import annotations

import argparse
import json
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import tlsapi
from tlsapi_conformance import pki as pki_module

from . import cases, rtls_direct
from .cases import PLAIN_SSL, Pair, Work
from .floor import crypto_floor

C = tlsapi.Capability
REFERENCE = "stdlib"
RUSTLS = "rustls"
RTLS_API = "rtls's own wrap_bio (no adapter)"  # rtls used directly, as its users do: the adapter's cost
RTLS_ENGINE = "rtls engine pumped by hand"  # the floor: rustls's sans-IO calls with no SSLObject layer
FULL_CASE = "full handshake, ecdsa-p256 leaf, x25519 (BIO)"
DEFAULTS_CASE = "full handshake, ecdsa-p256 leaf, each backend's default groups (BIO)"
RESUMED_CASE = "resumed handshake, TLS 1.3, x25519 where selectable (BIO)"
BIO_BULK_CASE = "bulk one way, 16 KiB writes, AES-256-GCM (BIO)"
SOCKET_BULK_CASE = "bulk one way, 16 KiB writes, AES-256-GCM, TLSSocket client (loopback, per client CPU second)"
PUMP_BULK_CASE = "bulk one way, 16 KiB writes, AES-256-GCM, minimal BIO pump client (loopback, per client CPU second)"
BASELINE_CASES = {"hs/s": FULL_CASE, "MB/s": BIO_BULK_CASE}
# Ratios within one backend: (label, numerator case, denominator case).
WITHIN_BACKEND = (
    ("resumed / full handshake", RESUMED_CASE, FULL_CASE),
    ("TLSSocket / minimal pump (bulk)", SOCKET_BULK_CASE, PUMP_BULK_CASE),
)
SUITES = {  # bulk suites: the TLS 1.3 name, and the TLS 1.2 suite with the same AEAD for engines that
    # cannot select TLS 1.3 suites (the ssl module cannot)
    "AES-128-GCM": ("TLS_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"),
    "AES-256-GCM": ("TLS_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"),
    "ChaCha20-Poly1305": ("TLS_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"),
}


@dataclass
class Series:
    """One line of the table: a case, a variant (backend pair or floor) and its per-round rates."""

    case: str
    variant: str
    unit: str
    backend: str | None  # the backend measured (None for the crypto floor and cross-backend pairs)
    rates: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.rates) if self.rates else 0.0

    @property
    def spread(self) -> float:
        """Half the min-max range as a fraction of the median."""
        if len(self.rates) < 2 or not self.median:
            return 0.0
        return (max(self.rates) - min(self.rates)) / 2 / self.median


@dataclass
class Plan:
    series: Series
    make: Callable[[], Work]
    work: Work | None = None
    clock: Callable[[], float] = time.perf_counter  # what a rate is per: wall time, or this process's CPU time


def _declares(name: str, capability: C) -> bool:
    """Whether backend ``name`` declares ``capability`` (plain ``ssl`` as the stdlib backend does)."""
    return capability in tlsapi.get_backend(REFERENCE if name == PLAIN_SSL else name).capabilities()


def _can_select_group(name: str, group: str) -> bool:
    """Whether backend ``name`` can restrict key exchange to ``group`` (the tlsapi ``set_groups`` extension)."""
    context = cases.new_context(tlsapi.PROTOCOL_TLS_CLIENT, name)
    try:
        context.set_groups([group])  # type: ignore[attr-defined]
    except (AttributeError, tlsapi.UnsupportedFeatureError):
        return False
    return True


def _bulk_pair(name: str, suite: str, pki: pki_module.PKI, *, tls12_only: bool = False,
               ) -> tuple[Pair, str | None, str] | None:
    """The pair and cipher setting that run ``suite`` on backend ``name`` (TLS 1.3 when selectable, unless
    ``tls12_only``)."""
    tls13, tls12 = SUITES[suite]
    attempts: list[tuple[ssl.TLSVersion, str | None, str]] = [] if tls12_only else [
        (ssl.TLSVersion.TLSv1_3, None, ""), (ssl.TLSVersion.TLSv1_3, tls13, "")]
    if _declares(name, C.TLSv1_2):
        attempts.append((ssl.TLSVersion.TLSv1_2, tls12, " (TLS 1.2)"))
    for version, cipher, note in attempts:
        pair = Pair(name, name, version=version)
        try:
            client, server = cases.contexts(pair, pki, suite=cipher)
            link = cases.BIOLink(client, server)
            link.handshake()
        except (ssl.SSLError, tlsapi.UnsupportedFeatureError, ValueError):
            continue
        negotiated = link.client.cipher()
        if negotiated and negotiated[0] in (tls13, tls12):
            return pair, cipher, note
    return None


def plan(backends: Sequence[str], pki: pki_module.PKI, megabytes: int) -> list[Plan]:
    plans: list[Plan] = []

    def add(case: str, variant: str, unit: str, make: Callable[[], Work], backend: str | None = None,
            clock: Callable[[], float] = time.perf_counter) -> None:
        plans.append(Plan(Series(case, variant, unit, backend), make, clock=clock))

    for leaf in ("ecdsa-p256", "rsa-2048"):
        case = FULL_CASE if leaf == "ecdsa-p256" else f"full handshake, {leaf} leaf, x25519 (BIO)"
        for name in backends:
            group = "x25519" if _can_select_group(name, "x25519") else None
            pair = Pair(name, name, leaf, group)
            add(case, name, "hs/s", partial(cases.full_handshake, pair, pki), name)
        if leaf == "ecdsa-p256":
            add(case, "crypto floor", "hs/s", partial(crypto_floor, pki))
            if RUSTLS in backends:
                add(case, RTLS_API, "hs/s", partial(rtls_direct.api_full_handshake, pki))
                add(case, RTLS_ENGINE, "hs/s", partial(rtls_direct.full_handshake, pki))
    for name in backends:  # what users get out of the box: each backend's own default groups
        add(DEFAULTS_CASE, name, "hs/s", partial(cases.full_handshake, Pair(name, name), pki), name)
    pq = [name for name in backends
          if _declares(name, C.GROUP_X25519MLKEM768) and _can_select_group(name, "X25519MLKEM768")]
    for name in pq:
        pair = Pair(name, name, "ecdsa-p256", "X25519MLKEM768")
        add("full handshake, ecdsa-p256, X25519MLKEM768 (BIO)", name, "hs/s",
            partial(cases.full_handshake, pair, pki), name)
    for name in backends:
        if _declares(name, C.SESSION_RESUMPTION):  # the full case's group, so the two compare like for like
            pair = Pair(name, name, group="x25519" if _can_select_group(name, "x25519") else None)
            add(RESUMED_CASE, name, "hs/s", partial(cases.resumed_handshake, pair, pki), name)
    for name in backends:
        if _declares(name, C.TLSv1_2):
            pair = Pair(name, name, version=ssl.TLSVersion.TLSv1_2)
            add("full handshake, TLS 1.2 ECDHE (BIO)", name, "hs/s",
                partial(cases.full_handshake, pair, pki), name)
    for suite in SUITES:
        case = f"bulk one way, 16 KiB writes, {suite} (BIO)"
        over_tls13, reference_note = [], ""
        for name in backends:
            found = _bulk_pair(name, suite, pki)
            if found is None:
                continue
            pair, cipher, note = found
            add(case, name + note, "MB/s", partial(cases.bulk_bio, pair, pki, cipher, megabytes), name)
            if not note:
                over_tls13.append(name)
            elif name == REFERENCE:
                reference_note = note
        if reference_note:  # the stdlib runs this suite over TLS 1.2 only: the others too, like for like
            for name in over_tls13:
                found = None if name == PLAIN_SSL else _bulk_pair(name, suite, pki, tls12_only=True)
                if found is not None:
                    pair, cipher, _ = found
                    add(case, f"{name} (TLS 1.2, as stdlib)", "MB/s",
                        partial(cases.bulk_bio, pair, pki, cipher, megabytes))
    if RUSTLS in backends:  # rustls's first TLS 1.3 suite is AES-128-GCM, and rtls cannot select another
        add("bulk one way, 16 KiB writes, AES-128-GCM (BIO)", RTLS_API, "MB/s",
            partial(rtls_direct.api_bulk, pki, megabytes))
        add("bulk one way, 16 KiB writes, AES-128-GCM (BIO)", RTLS_ENGINE, "MB/s",
            partial(rtls_direct.bulk, pki, megabytes))
    for name in backends:
        pair = Pair(name, name)
        add("full handshake (loopback socket)", name, "hs/s",
            partial(cases.handshake_socket, pair, pki), name)
        add(SOCKET_BULK_CASE, name, "MB/s", partial(cases.bulk_socket, pair, pki, megabytes), name,
            clock=time.process_time)
        add(PUMP_BULK_CASE, name, "MB/s", partial(cases.bulk_socket_pump, pair, pki, megabytes), name,
            clock=time.process_time)
    for name in backends:
        if name in (REFERENCE, PLAIN_SSL):
            continue
        for pair in (Pair(name, REFERENCE), Pair(REFERENCE, name)):
            add("cross-backend full handshake (BIO)", pair.label, "hs/s",
                partial(cases.full_handshake, pair, pki))
            add("cross-backend bulk, default suite (BIO)", pair.label, "MB/s",
                partial(cases.bulk_bio, pair, pki, None, megabytes))
    return plans


def measure(work: Work, duration: float, unit: str, clock: Callable[[], float] = time.perf_counter) -> float:
    """Units per second of ``clock`` over about ``duration`` wall-clock seconds of ``work``."""
    done = 0
    start = time.perf_counter()
    begin = clock()
    while True:
        done += work()
        if time.perf_counter() - start >= duration:
            break
    return done / (clock() - begin) / (1e6 if unit == "MB/s" else 1.0)


def run(plans: list[Plan], rounds: int, duration: float) -> None:
    interactive = sys.stderr.isatty()
    for index in range(rounds):
        order = plans[index % len(plans):] + plans[: index % len(plans)] if plans else []
        if not interactive:
            print(f"  round {index + 1}/{rounds}", file=sys.stderr, flush=True)
        for step, item in enumerate(order, 1):
            if interactive:
                print(f"\r  round {index + 1}/{rounds}, {step}/{len(order)}: {item.series.case[:50]:<50}",
                      end="", file=sys.stderr, flush=True)
            try:
                if item.work is None:
                    item.work = item.make()
                item.series.rates.append(measure(item.work, duration, item.series.unit, item.clock))
            except Exception as exc:  # a backend that fails a case is reported, not fatal to the run
                item.series.note = f"failed: {type(exc).__name__}: {exc}"[:120]
    if interactive:
        print(file=sys.stderr)


def ratio(series: Series, table: list[Series]) -> float | None:
    """The median over the stdlib backend's in the same case; rows without a stdlib row of their own
    (the crypto floor, cross-backend pairs) compare with the stdlib's ECDSA handshake or AES-256 bulk."""
    if series.backend == REFERENCE:
        return None
    base = next((s for s in table if s.case == series.case and s.backend == REFERENCE), None)
    if base is None:
        base = next((s for s in table if s.case == BASELINE_CASES[series.unit] and s.backend == REFERENCE), None)
    return series.median / base.median if base is not None and base.median else None


def within_backend(table: list[Series]) -> dict[str, dict[str, float]]:
    """Per backend, the ``WITHIN_BACKEND`` ratios of its own medians (resumed/full, socket/BIO bulk)."""
    medians = {(s.case, s.backend): s.median for s in table if s.backend is not None and s.median}
    result: dict[str, dict[str, float]] = {}
    for backend in dict.fromkeys(s.backend for s in table if s.backend is not None):
        for label, numerator, denominator in WITHIN_BACKEND:
            top, bottom = medians.get((numerator, backend)), medians.get((denominator, backend))
            if top and bottom:
                result.setdefault(backend, {})[label] = top / bottom
    return result


def stdlib_overhead(table: list[Series]) -> dict[str, float]:
    """Per case measured both ways, how much slower the stdlib backend is than plain ``ssl``."""
    medians = {(s.case, s.backend): s.median for s in table if s.backend in (REFERENCE, PLAIN_SSL) and s.median}
    return {case: 1 - medians[case, REFERENCE] / medians[case, PLAIN_SSL]
            for case, backend in medians if backend == PLAIN_SSL and (case, REFERENCE) in medians}


def _row(series: Series, table: list[Series], width: int) -> str:
    figure = f"{series.median:>10.1f} {series.unit:<5} ±{series.spread * 100:4.1f}%" if series.rates else (
        f"{'-':>10} {series.unit:<5}       ")
    r = ratio(series, table)
    return f"  {series.variant:<{width}}{figure}  {'' if r is None else f'{r:5.2f}x stdlib'}  {series.note}".rstrip()


def render(table: list[Series], memory: dict[str, cases.Memory]) -> str:
    lines = []
    width = max((len(s.variant) for s in table), default=10) + 2
    for case in dict.fromkeys(s.case for s in table):
        lines.append(f"\n{case}")
        for series in (s for s in table if s.case == case):
            lines.append(_row(series, table, width))
    overhead = stdlib_overhead(table)
    if overhead:
        lines.append("\nthe stdlib backend's cost over plain ssl (1 - stdlib / ssl, medians; target <= 5 %)")
        case_width = max(len(case) for case in overhead) + 2
        lines.extend(f"  {case:<{case_width}}{value * 100:6.1f} %" for case, value in overhead.items())
    ratios = within_backend(table)
    if ratios:
        lines.append("\nratios within one backend (medians of the rows above)")
        for name, figures in ratios.items():
            text = "   ".join(f"{label} {value:5.2f}x" for label, value in figures.items())
            lines.append(f"  {name:<{width}}{text}")
    if memory:
        lines.append("\nmemory per idle established connection end (and Python-heap peak of one handshake)")
        for name, usage in memory.items():
            lines.append(f"  {name:<{width}}python heap {usage.python_retained / 1024:7.1f} KiB   "
                         f"resident {usage.resident_retained / 1024:7.1f} KiB   "
                         f"handshake peak {usage.handshake_peak / 1024:7.1f} KiB")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short measurements (under three minutes)")
    parser.add_argument("--duration", type=float, help="seconds per measurement (default 1.0; quick 0.25)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5; quick 3)")
    parser.add_argument("--megabytes", type=int, help="MiB per bulk work unit (default 4; quick 1)")
    parser.add_argument("--backends", nargs="+", help="backends to measure (default: every available one)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    args = parser.parse_args(argv)
    duration = args.duration or (0.25 if args.quick else 1.0)
    rounds = args.rounds or (3 if args.quick else 5)
    megabytes = args.megabytes or (1 if args.quick else 4)
    names = args.backends or [b.name for b in tlsapi.backends() if b.is_available()]
    if REFERENCE not in names:
        names.insert(0, REFERENCE)
    if PLAIN_SSL not in names:  # what the default backend costs over ssl itself
        names.insert(names.index(REFERENCE) + 1, PLAIN_SSL)
    with tempfile.TemporaryDirectory(prefix="tlsapi-bench-") as directory:
        pki = pki_module.get(Path(directory))
        plans = plan(names, pki, megabytes)
        print(f"tlsapi bench: {len(plans)} series x {rounds} rounds x {duration}s, backends: {', '.join(names)}",
              file=sys.stderr)
        run(plans, rounds, duration)
        memory = {} if args.no_memory else {
            name: cases.idle_memory(Pair(name, name), pki, connections=20 if args.quick else 100)
            for name in names if name != PLAIN_SSL
        }
    table = [item.series for item in plans]
    print(render(table, memory))
    if args.json:
        payload = {
            "duration": duration, "rounds": rounds, "megabytes": megabytes, "backends": names,
            "series": [{**asdict(s), "median": s.median, "spread": s.spread, "ratio_to_stdlib": ratio(s, table)}
                       for s in table],
            "within_backend": within_backend(table),
            "stdlib_overhead": stdlib_overhead(table),
            "memory": {name: asdict(figures) for name, figures in memory.items()},
        }
        args.json.write_text(json.dumps(payload, indent=2))
    failed = [s for s in table if s.note.startswith("failed")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
