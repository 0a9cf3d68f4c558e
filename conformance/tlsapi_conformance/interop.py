"""The real ``openssl s_server`` / ``s_client`` as a peer, and the interop matrix helpers.

Every process runs with a timeout and is killed on exit; ports are chosen by the kernel (``-accept 0``
for ``s_server``, an ephemeral listening socket for ``s_client``).
"""

from __future__ import annotations

import os
import re
import select
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from .pki import PKI, Credential

#: The name the matrix uses for the OpenSSL binary peer.
OPENSSL_PEER = "openssl"
#: tlsapi group names as the openssl command line spells them.
OPENSSL_GROUPS = {"x25519": "X25519", "secp256r1": "P-256", "secp384r1": "P-384",
                  "X25519MLKEM768": "X25519MLKEM768"}
PROCESS_TIMEOUT = 15.0


@cache
def openssl_binary() -> str | None:
    """The ``openssl`` executable (``TLSAPI_CONFORMANCE_OPENSSL`` overrides ``PATH``), or ``None``."""
    configured = os.environ.get("TLSAPI_CONFORMANCE_OPENSSL")
    if configured == "":
        return None
    return configured or shutil.which("openssl")


@cache
def openssl_version() -> tuple[int, int, int] | None:
    binary = openssl_binary()
    if binary is None:
        return None
    try:
        out = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=PROCESS_TIMEOUT).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"OpenSSL (\d+)\.(\d+)\.(\d+)", out)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def openssl_supports_group(group: str) -> bool:
    version = openssl_version()
    if version is None or group not in OPENSSL_GROUPS:
        return False
    if group == "X25519MLKEM768":
        return version >= (3, 5, 0)
    return True


def _version_flag(version: ssl.TLSVersion) -> str:
    return {ssl.TLSVersion.TLSv1_2: "-tls1_2", ssl.TLSVersion.TLSv1_3: "-tls1_3"}[version]


def _common_args(version: ssl.TLSVersion | None, group: str | None) -> list[str]:
    args = [_version_flag(version)] if version is not None else []
    if group is not None:
        args += ["-groups", OPENSSL_GROUPS[group]]
    return args


def _credential_args(credential: Credential) -> list[str]:
    args = ["-cert", str(credential.leaf_file), "-key", str(credential.keyfile)]
    if credential.chain:
        args += ["-cert_chain", str(credential.chain_file)]
    return args


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    for stream in (process.stdout, process.stderr, process.stdin):
        if stream is not None:
            stream.close()


@contextmanager
def openssl_server(
    pki: PKI,
    leaf: str = "ecdsa-p256",
    *,
    version: ssl.TLSVersion | None = None,
    group: str | None = None,
    extra: list[str] = (),  # type: ignore[assignment]
) -> Iterator[int]:
    """Run ``openssl s_server -rev`` (echoes each line reversed) for one connection; yields its port."""
    binary = openssl_binary()
    assert binary is not None, "no openssl binary"
    command = [binary, "s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-rev",
               *_credential_args(pki[leaf]), *_common_args(version, group), *extra]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + PROCESS_TIMEOUT
        output = b""
        port = None
        while port is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or process.poll() is not None:
                raise RuntimeError(f"openssl s_server did not start: {output.decode(errors='replace')}")
            ready, _, _ = select.select([process.stdout], [], [], remaining)
            if ready:
                chunk = os.read(process.stdout.fileno(), 4096)
                output += chunk
                match = re.search(rb"ACCEPT [^\s]*:(\d+)", output)
                if match:
                    port = int(match[1])
        yield port
    finally:
        _stop(process)


def openssl_client(
    pki: PKI,
    port: int,
    *,
    data: bytes = b"hello openssl\n",
    version: ssl.TLSVersion | None = None,
    group: str | None = None,
    servername: str = "localhost",
    extra: list[str] = (),  # type: ignore[assignment]
) -> subprocess.CompletedProcess[bytes]:
    """Run ``openssl s_client`` against 127.0.0.1:``port``, verifying the server against the root.

    It sends ``data``, then prints whatever the server sends until the server closes the connection.
    """
    binary = openssl_binary()
    assert binary is not None, "no openssl binary"
    command = [binary, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", servername,
               "-CAfile", str(pki.ca_file), "-verify_return_error", "-verify_hostname", servername,
               "-quiet", *_common_args(version, group), *extra]
    return subprocess.run(command, input=data, capture_output=True, timeout=PROCESS_TIMEOUT, check=False)


def available_peer() -> str | None:
    """Why the OpenSSL peer cannot run (``None`` when it can)."""
    if openssl_binary() is None:
        return "the openssl binary is not installed"
    if openssl_version() is None:
        return "cannot run openssl version"
    return None



@dataclass(frozen=True)
class Cell:
    """One interop case: ``client`` against ``server`` (backend names or ``openssl``), version, group."""

    client: str
    server: str
    version: ssl.TLSVersion
    group: str | None
    backends: tuple[Any, ...]  # the tlsapi.Backend objects of client and server (None for openssl)

    @property
    def client_backend(self) -> Any:
        return self.backends[0]

    @property
    def server_backend(self) -> Any:
        return self.backends[1]

    def meta(self, caps: tuple[Any, ...], needed: tuple[Any, ...], run: Any) -> Any:
        """The plugin's view: credited to a backend only against itself or openssl."""
        from .plugin import ItemMeta

        names = {self.client, self.server} - {OPENSSL_PEER}
        credited = next(iter(names)) if len(names) == 1 and run.is_subject(next(iter(names))) else None
        if credited is None and self.group is not None and len(names) == 2:
            credited = self._credited_for_group(run)
        missing = tuple(
            c for c in needed for b in self.backends if b is not None and c not in b.capabilities()
        )
        interop = {"client": self.client, "server": self.server, "version": self.version.name,
                   "group": self.group or "default"}
        return ItemMeta(credited, caps, tuple(dict.fromkeys(missing)), interop)

    def _credited_for_group(self, run: Any) -> str | None:
        """A group cell between two backends is credited to the side under test that cannot force the group
        itself (no ``set_groups`` for it) when the other side can: negotiating it with a peer that insists
        on it is how such a backend is certified for the group."""
        from .harness import can_force_group

        assert self.group is not None
        for mine, other in ((self.client_backend, self.server_backend), (self.server_backend, self.client_backend)):
            if (run.is_subject(mine.name) and not can_force_group(mine, self.group)
                    and can_force_group(other, self.group)):
                return str(mine.name)
        return None


def matrix_cells(peers: list[Any], subjects: list[Any]) -> list[Any]:
    """Every client x server pair involving a backend under test, per version and group both declare."""
    import pytest

    from tlsapi import Capability
    from tlsapi._enums import GROUP_CAPABILITIES, TLS13_ONLY_GROUPS

    version_caps = {ssl.TLSVersion.TLSv1_2: Capability.TLSv1_2, ssl.TLSVersion.TLSv1_3: Capability.TLSv1_3}
    subject_names = {b.name for b in subjects}
    openssl_ok = available_peer() is None
    participants: list[tuple[str, Any]] = [(b.name, b) for b in peers]
    if openssl_ok:
        participants.append((OPENSSL_PEER, None))

    def declares(backend: Any, cap: Any) -> bool:
        if backend is None:  # openssl
            group = GROUP_CAPABILITIES.get(cap)
            return group is None or openssl_supports_group(group)
        return cap in backend.capabilities()

    cells = []
    for client_name, client in participants:
        for server_name, server in participants:
            if client is None and server is None:
                continue
            if not ({client_name, server_name} & subject_names):
                continue
            for version, version_cap in version_caps.items():
                if not (declares(client, version_cap) and declares(server, version_cap)):
                    continue
                groups: list[tuple[str | None, Any]] = [(None, None)]
                groups += [(name, cap) for cap, name in GROUP_CAPABILITIES.items()
                           if declares(client, cap) and declares(server, cap)
                           and (name not in TLS13_ONLY_GROUPS or version == ssl.TLSVersion.TLSv1_3)]
                for group, group_cap in groups:
                    marks = [pytest.mark.capability(version_cap)]
                    if group_cap is not None:
                        marks.append(pytest.mark.capability(group_cap))
                    cell = Cell(client_name, server_name, version, group, (client, server))
                    cell_id = f"{client_name}->{server_name}-{version.name}-{group or 'default'}"
                    cells.append(pytest.param(cell, marks=marks, id=cell_id))
    return cells
