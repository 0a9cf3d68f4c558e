"""``python -m bench.records``: what one 16 KiB record of bulk transfer costs, native against stdlib, per suite.

Each series moves ``--megabytes`` in 16 KiB records from one connection end to the other over memory BIOs, in
one process, and is timed in CPU time (``time.process_time``: what other jobs on the machine take is not
counted); the series are interleaved round by round in rotating order, and each figure is the median over
the rounds (ratios: the median of the per-round ratios, with the quartiles). The series take the native
path apart, from the whole engine down to the AEAD alone:

* ``stdlib`` and ``native``: ``Connection.write`` on one end, the BIO pump, ``Connection.read`` into a
  buffer on the other (``cases.bulk_bio``). ``ssl`` cannot select a TLS 1.3 suite, so the stdlib runs
  AES-128-GCM and ChaCha20-Poly1305 over TLS 1.2; ``native (TLS 1.2)`` is native over the same version.
* ``native record layer``: the same records through ``RecordLayer.write`` and ``RecordLayer.read_record``
  with no ``Connection`` around them.
* ``native ops, no engine``: the AEAD, BIO and copy operations of the native record path written out
  inline (seal with the inner content type, two BIO writes, the pump, two BIO reads, open, copy out).
* ``AEAD alone``: ``encrypt`` and ``decrypt`` of each record and nothing else.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tlsapi_conformance import pki as pki_module

from . import cases
from .__main__ import SUITES, _bulk_pair
from .cases import CHUNK, Work


def _native_link(pki: pki_module.PKI, suite: str) -> cases.BIOLink:
    """An established native connection pair running ``suite`` over TLS 1.3."""
    found = _bulk_pair("native", suite, pki)
    if found is None:
        raise RuntimeError(f"native cannot run {suite}")
    pair, cipher, _ = found
    link = cases.BIOLink(*cases.contexts(pair, pki, suite=cipher))
    link.handshake()
    link.ping()
    return link


def record_layer(pki: pki_module.PKI, suite: str, records: int) -> Work:
    """``records`` records through the native record layers of a connection pair, without the Connection."""
    link = _native_link(pki, suite)
    writer = link.client._records  # type: ignore[attr-defined]
    reader = link.server._records  # type: ignore[attr-defined]
    outgoing, incoming = link.c_out, link.s_in
    payload, target = b"\x5a" * CHUNK, memoryview(bytearray(CHUNK))

    def work() -> int:
        for _ in range(records):
            writer.write(23, payload)
            incoming.write(outgoing.read())
            target[:] = reader.read_record()[1]
        return records * CHUNK

    return work


def inline_ops(pki: pki_module.PKI, suite: str, records: int) -> Work:
    """The native record path's operations with none of the engine around them (on a native pair's keys)."""
    link = _native_link(pki, suite)
    seal = link.client._records.write_protection.aead.encrypt  # type: ignore[attr-defined]
    unseal = link.server._records.read_protection.aead.decrypt  # type: ignore[attr-defined]
    outgoing, incoming = link.c_out, link.s_in
    payload, target = b"\x5a" * CHUNK, memoryview(bytearray(CHUNK))
    header = bytes((23, 3, 3, (CHUNK + 17) >> 8, (CHUNK + 17) & 255))

    def work() -> int:
        for seq in range(records):
            nonce = seq.to_bytes(12, "big")
            outgoing.write(header)
            outgoing.write(seal(nonce, b"".join((payload, b"\x17")), header))
            incoming.write(outgoing.read())
            received = incoming.read(5)
            target[:] = memoryview(unseal(nonce, incoming.read(CHUNK + 17), received))[:CHUNK]
        return records * CHUNK

    return work


def aead_alone(pki: pki_module.PKI, suite: str, records: int) -> Work:
    """Encrypt and decrypt of each record with the native pair's AEAD objects, nothing else."""
    link = _native_link(pki, suite)
    seal = link.client._records.write_protection.aead.encrypt  # type: ignore[attr-defined]
    unseal = link.server._records.read_protection.aead.decrypt  # type: ignore[attr-defined]
    inner = b"\x5a" * CHUNK + b"\x17"
    header = bytes((23, 3, 3, (CHUNK + 17) >> 8, (CHUNK + 17) & 255))

    def work() -> int:
        for seq in range(records):
            nonce = seq.to_bytes(12, "big")
            unseal(nonce, seal(nonce, inner, header), header)
        return records * CHUNK

    return work


def series(pki: pki_module.PKI, suite: str, megabytes: int) -> dict[str, Work]:
    """The series of one suite, the stdlib's first (the reference)."""
    records = megabytes * 1024 * 1024 // CHUNK
    works: dict[str, Work] = {}
    for name in ("stdlib", "native"):
        found = _bulk_pair(name, suite, pki)
        if found is not None:
            pair, cipher, note = found
            works[name + note] = cases.bulk_bio(pair, pki, cipher, megabytes)
    found = _bulk_pair("native", suite, pki, tls12_only=True)
    if found is not None:
        pair, cipher, _ = found
        works["native (TLS 1.2)"] = cases.bulk_bio(pair, pki, cipher, megabytes)
    works["native record layer"] = record_layer(pki, suite, records)
    works["native ops, no engine"] = inline_ops(pki, suite, records)
    works["AEAD alone"] = aead_alone(pki, suite, records)
    return works


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.records", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21, help="interleaved rounds, at least 2 (default 21)")
    parser.add_argument("--megabytes", type=int, default=1, help="MiB per series per round (default 1)")
    parser.add_argument("--suites", nargs="+", choices=list(SUITES), default=list(SUITES))
    parser.add_argument("--pki", type=Path, default=Path("/tmp/tlsapi-bench-pki"), help="PKI directory (reused)")
    args = parser.parse_args(argv)
    pki = pki_module.get(args.pki)
    for suite in args.suites:
        works = series(pki, suite, args.megabytes)
        records = args.megabytes * 1024 * 1024 // CHUNK
        for work in works.values():  # warm-up
            work()
        times: dict[str, list[float]] = {label: [] for label in works}
        labels = list(works)
        for index in range(args.rounds):
            for label in labels[index % len(labels):] + labels[:index % len(labels)]:
                started = time.process_time()
                works[label]()
                times[label].append(time.process_time() - started)
        reference = labels[0]
        print(f"\n{suite}, 16 KiB records over memory BIOs, CPU time")
        for label in labels:
            ratios = [base / own for own, base in zip(times[label], times[reference], strict=True)]
            low, median, high = statistics.quantiles(ratios, n=4)
            per_record = statistics.median(times[label]) / records * 1e6
            print(f"  {label:<24}{per_record:7.2f} us/record  {median:5.2f}x {reference} "
                  f"(quartiles {low:.2f}-{high:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
