"""The interop matrix: every backend as client against every backend as server (and the openssl binary),
per TLS version and key-exchange group both declare."""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from tlsapi_conformance.harness import (
    VERSION_NAME,
    BIOPair,
    ThreadedServer,
    client_context,
    group_test_leaf,
    negotiated_group,
    not_declared,
    server_context,
    set_groups,
)
from tlsapi_conformance.interop import OPENSSL_PEER, Cell, openssl_client, openssl_server
from tlsapi_conformance.pki import PKI

MESSAGE = b"hello from tlsapi\n"


def _restrict(ctx: Any, group: str | None) -> bool:
    return group is None or set_groups(ctx, [group])


def test_interop(interop_cell: Cell, pki: PKI) -> None:
    cell = interop_cell
    leaf = group_test_leaf(*cell.backends) if cell.group else "ecdsa-p256"
    if cell.server == OPENSSL_PEER:
        client = client_context(cell.client_backend, pki, version=cell.version)
        _restrict(client, cell.group)  # openssl restricts the group in any case
        with openssl_server(pki, leaf, version=cell.version, group=cell.group) as port:
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            with client.wrap_socket(raw, server_hostname="localhost") as tls:
                assert tls.version() == VERSION_NAME[cell.version]
                tls.sendall(MESSAGE)
                answer = b""
                while not answer.endswith(b"\n"):
                    piece = tls.recv(100)
                    assert piece, f"connection closed after {answer!r}"
                    answer += piece
                assert answer == MESSAGE[:-1][::-1] + b"\n"
                assert negotiated_group(tls) in (None, cell.group) or cell.group is None
        return
    if cell.client == OPENSSL_PEER:
        server = server_context(cell.server_backend, pki, leaf=leaf, version=cell.version)
        _restrict(server, cell.group)

        def serve(tls: Any) -> str:
            line = b""
            while not line.endswith(b"\n"):
                piece = tls.recv(100)
                if not piece:
                    break
                line += piece
            tls.sendall(line[:-1][::-1] + b"\n")
            version: str = tls.version()
            with contextlib.suppress(OSError, ValueError):
                tls.unwrap()
            return version

        with ThreadedServer(serve, server) as threaded:
            process = openssl_client(pki, threaded.port, data=MESSAGE, version=cell.version, group=cell.group)
            version = threaded.result()
        assert process.returncode == 0, process.stderr.decode(errors="replace")[-2000:]
        assert MESSAGE[:-1][::-1] in process.stdout, process.stdout
        assert version == VERSION_NAME[cell.version]
        return
    client = client_context(cell.client_backend, pki, version=cell.version)
    server = server_context(cell.server_backend, pki, leaf=leaf)
    restricted = [_restrict(ctx, cell.group) for ctx in (client, server)]
    if cell.group is not None and not any(restricted):
        not_declared("neither side has set_groups() to force the group")
    pair = BIOPair(client, server).connect()
    assert pair.client.version() == pair.server.version() == VERSION_NAME[cell.version]
    assert pair.send(MESSAGE) == MESSAGE and pair.send(MESSAGE, from_client=False) == MESSAGE
    for conn in (pair.client, pair.server):
        assert cell.group is None or negotiated_group(conn) in (None, cell.group)

