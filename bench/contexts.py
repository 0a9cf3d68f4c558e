"""``python -m bench.contexts``: what a client pays for a new default context, per backend vs plain ``ssl``.

Clients that build a context per connection pool (requests, httpx, aiohttp) call
``create_default_context()`` often, and each new context loads the system trust store. Two cases per
backend, each the median over ``--rounds`` interleaved rounds of ``--duration`` seconds:

* ``context``: ``create_default_context()`` alone;
* ``context + first handshake``: a new default context (system store plus the bench CA) and its first
  verified full handshake against a plain-``ssl`` server over memory BIOs, so that an engine that parses the
  trust store lazily pays for it here.

``ssl`` is plain ``ssl.create_default_context()``; every ratio is to it.
"""

from __future__ import annotations

import argparse
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import tlsapi
from tlsapi_conformance import pki as pki_module

from .cases import BIOLink

REFERENCE = "ssl"
LEAF = "ecdsa-p256"
CASES = ("context", "context + first handshake")


def _factory(name: str) -> Callable[[], ssl.SSLContext]:
    if name == REFERENCE:
        return ssl.create_default_context
    return lambda: tlsapi.create_default_context(backend=name)


def work(name: str, case: str, pki: pki_module.PKI, server: ssl.SSLContext) -> Callable[[], None]:
    """One unit of ``case`` for ``name``: a new default context, and for the second case its first handshake."""
    factory = _factory(name)

    def unit() -> None:
        client = factory()
        if case != "context":
            client.load_verify_locations(pki.ca_file)
            BIOLink(client, server).handshake()

    return unit


def rate(unit: Callable[[], None], duration: float) -> float:
    unit()  # warm-up
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < duration:
        unit()
        count += 1
    return count / elapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.contexts", description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", help="backends to measure (default: every available one)")
    parser.add_argument("--duration", type=float, default=1.0, help="seconds per measurement (default 1)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    args = parser.parse_args(argv)
    names = [REFERENCE, *(args.backends or [b.name for b in tlsapi.backends() if b.is_available()])]
    with tempfile.TemporaryDirectory(prefix="tlsapi-bench-") as directory:
        pki = pki_module.get(Path(directory))
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(pki.leaf(LEAF).certfile)
        rates: dict[tuple[str, str], list[float]] = {(n, c): [] for c in CASES for n in names}
        for index in range(args.rounds):
            order = names[index % len(names):] + names[:index % len(names)]
            for case in CASES:
                for name in order:
                    rates[name, case].append(rate(work(name, case, pki, server), args.duration))
    print(f"{'case':<28}{'backend':<12}{'per s':>10}{'ratio':>8}{'spread':>8}")
    for case in CASES:
        reference = statistics.median(rates[REFERENCE, case])
        for name in names:
            series = rates[name, case]
            median = statistics.median(series)
            spread = (max(series) - min(series)) / 2 / median
            print(f"{case:<28}{name:<12}{median:>10.1f}{median / reference:>7.2f}x{spread:>7.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
