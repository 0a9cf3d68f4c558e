"""``python -m bench.sockets``: what ``TLSSocket`` costs over the minimal BIO pump, measured on its own.

In ``python -m bench`` the two socket bulk series run for 1 s per round next to thirty others; on a shared
2-core VM their ratio moved between 0.8x and 1.2x from run to run. This tool runs only that pair, with the
same client code (``cases.socket_sender`` and ``cases.pump_sender``), each against its own server process
(started with ``exec``: none of its work is in this process, and valgrind does not follow it):

* by default both clients alternate unit by unit (``--megabytes`` each) for ``--rounds`` rounds; per round
  the client's CPU time (``time.process_time``: user + system) per MB of each, and the result is the median of
  the per-round ratios TLSSocket / pump. On this VM even that moves by ±10-30 % (CPU time includes time the
  hypervisor takes away), so the figure that decides is the instruction count:
* ``--direction receive`` measures the other way: the server process sends, and the clients receive with
  ``TLSSocket.recv_into`` (one record at a time from the kernel, as ``ssl``) or with the pump (64 KiB
  ``recv`` calls, read-ahead).
* ``--only socket|pump --units N`` sends N units with one client after a fixed warm-up, for
  ``python -m bench.instructions`` (callgrind). Nothing random happens in that client: the PKI is read from
  ``--pki``, generated there on first use.
* ``--only connect|request --units N``: small HTTP-like exchanges with a request server process that answers
  each request ``ANSWER_DELAY`` after it arrived, so the client's ``recv`` always blocks (the path a blocking
  client takes on every response, and the same system calls in every run). A ``connect`` unit is a new TCP
  connection, its handshake, one request and response, and ``close``; a ``request`` unit is
  ``REQUESTS_PER_UNIT`` requests on one connection opened before the warm-up.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import tlsapi
from tlsapi_conformance import pki as pki_module

from . import cases

LEAF = "ecdsa-p256"
ROOT = Path(__file__).resolve().parents[1]  # where ``-m bench.sockets`` is found


def pki_files(directory: Path) -> tuple[Path, Path]:
    """The CA file and the server's certfile (chain and key) in ``directory``, generated if missing."""
    ca_file, certfile = directory / "root.crt", directory / f"{LEAF}.pem"
    if not (ca_file.exists() and certfile.exists()):
        directory.mkdir(parents=True, exist_ok=True)
        pki = pki_module.get(directory)
        ca_file, certfile = pki.ca_file, pki.leaf(LEAF).certfile
    return ca_file, certfile


def contexts(backend: str, directory: Path) -> tuple[tlsapi.Context, tlsapi.Context]:
    """A verifying client and a server context of ``backend`` (or of plain ``ssl``: ``cases.PLAIN_SSL``)."""
    ca_file, certfile = pki_files(directory)
    client = cases.new_context(tlsapi.PROTOCOL_TLS_CLIENT, backend)
    client.load_verify_locations(ca_file)
    server = cases.new_context(tlsapi.PROTOCOL_TLS_SERVER, backend)
    server.load_cert_chain(certfile)
    return client, server  # type: ignore[return-value]  # plain ssl contexts answer the same calls


def _serve(backend: str, directory: Path, total: int, direction: str) -> None:
    """The server process: accept one connection on an ephemeral port (printed first) and serve it."""
    server = contexts(backend, directory)[1]
    with socket.create_server(("127.0.0.1", 0)) as listener:
        print(listener.getsockname()[1], flush=True)
        raw, _ = listener.accept()
    if direction == "receive":
        cases.serve_bulk_download(server, raw, total)
    else:
        cases.serve_bulk(server, raw, total)


REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
ANSWER_DELAY = 0.005  # seconds the request server waits before answering: the client's recv blocks
REQUESTS_PER_UNIT = 20


def _serve_requests(backend: str, directory: Path) -> None:
    """The request server process: accept connections one after another (the port is printed first) and
    answer each request with ``RESPONSE``, ``ANSWER_DELAY`` after it arrived, until the client closes."""
    server = contexts(backend, directory)[1]
    with socket.create_server(("127.0.0.1", 0)) as listener:
        print(listener.getsockname()[1], flush=True)
        while True:
            raw, _ = listener.accept()
            try:
                with server.wrap_socket(raw, server_side=True) as tls:
                    while tls.recv(4096):
                        time.sleep(ANSWER_DELAY)
                        tls.sendall(RESPONSE)
            except OSError:  # the client went away mid-exchange (ssl.SSLError included): serve the next one
                raw.close()


def _exchange(tls: socket.socket) -> None:
    """One request and its response (the client's ``recv`` waits for it)."""
    tls.sendall(REQUEST)
    if tls.recv(4096) != RESPONSE:
        raise RuntimeError("the request server answered something else")


def request_client(kind: str, client: tlsapi.Context, port: int) -> cases.Work:
    """The client of the request server on ``port``: a ``connect`` or ``request`` unit (module docstring)."""
    if kind == "connect":

        def connect() -> int:
            with client.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost") as tls:
                _exchange(tls)
            return 1

        return connect
    tls = client.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")

    def requests() -> int:
        for _ in range(REQUESTS_PER_UNIT):
            _exchange(tls)
        return REQUESTS_PER_UNIT

    return requests


def _start_server(args: argparse.Namespace, servers: list[subprocess.Popen[str]], *extra: str) -> int:
    """Start a server process of this module (added to ``servers``) and return its port."""
    command = [sys.executable, "-m", "bench.sockets", "--backend", args.backend, "--pki", str(args.pki), *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    servers.append(process)
    assert process.stdout is not None
    return int(process.stdout.readline())


def _connect(args: argparse.Namespace, total: int, servers: list[subprocess.Popen[str]]) -> socket.socket:
    """A socket connected to a new bulk server process (added to ``servers``)."""
    port = _start_server(args, servers, "--serve", "--megabytes", str(args.megabytes), "--direction", args.direction)
    return socket.create_connection(("127.0.0.1", port))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sockets", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="native")
    parser.add_argument("--pki", type=Path, default=Path("/tmp/tlsapi-bench-pki"), help="PKI directory (reused)")
    parser.add_argument("--megabytes", type=int, default=64, help="MiB per unit (default 64)")
    parser.add_argument("--rounds", type=int, default=31, help="rounds, at least 2 (default 31)")
    parser.add_argument("--only", choices=("socket", "pump", "connect", "request"),
                        help="one client only, for callgrind")
    parser.add_argument("--units", type=int, default=0, help="with --only: units after the warm-up")
    parser.add_argument("--direction", choices=("send", "receive"), default="send",
                        help="the client sends (default) or receives the bulk data")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-requests", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    total = args.megabytes * 1024 * 1024
    if args.serve:
        _serve(args.backend, args.pki, total, args.direction)
        return 0
    if args.serve_requests:
        _serve_requests(args.backend, args.pki)
        return 0
    servers: list[subprocess.Popen[str]] = []
    opened: list[socket.socket] = []
    try:
        _measure(args, total, servers, opened)
    finally:
        for sock in opened:
            sock.close()
        for process in servers:
            process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
    return 0


def _measure(args: argparse.Namespace, total: int, servers: list[subprocess.Popen[str]],
             opened: list[socket.socket]) -> None:
    client = contexts(args.backend, args.pki)[0]
    if args.only in ("connect", "request"):
        work: Callable[[], int] = request_client(args.only, client, _start_server(args, servers, "--serve-requests"))
        for _ in range(2 + args.units):  # two units of warm-up
            work()
        return

    def sender(name: str) -> cases.Work:
        raw = _connect(args, total, servers)
        opened.append(raw)
        receiving = args.direction == "receive"
        if name == "pump":
            return (cases.pump_receiver if receiving else cases.pump_sender)(client, raw, total)
        tls = client.wrap_socket(raw, server_hostname="localhost")
        opened.append(tls)
        return (cases.socket_receiver if receiving else cases.socket_sender)(tls, total)

    if args.only:
        work = sender(args.only)
        for _ in range(2 + args.units):  # two units of warm-up
            work()
        return
    works = {name: sender(name) for name in ("socket", "pump")}
    for work in works.values():
        work()  # warm-up
    rates: dict[str, list[float]] = {name: [] for name in works}
    for index in range(args.rounds):
        for name in sorted(works, reverse=bool(index % 2)):  # alternate which goes first
            start = time.process_time()
            works[name]()
            rates[name].append(args.megabytes * 1.048576 / (time.process_time() - start))
    ratios = [a / b for a, b in zip(rates["socket"], rates["pump"], strict=True)]
    for name, series in rates.items():
        print(f"{name:<7} {statistics.median(series):8.1f} MB per client CPU second  "
              f"(min {min(series):.1f}, max {max(series):.1f})")
    quartiles = statistics.quantiles(ratios, n=4)
    print(f"TLSSocket / pump: median of {len(ratios)} per-round ratios {statistics.median(ratios):.3f} "
          f"(quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f}); ratio of medians "
          f"{statistics.median(rates['socket']) / statistics.median(rates['pump']):.3f}")


if __name__ == "__main__":
    sys.exit(main())
