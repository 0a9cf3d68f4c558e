"""Helpers the cases share: contexts from the PKI, a BIO pair, a threaded socket server, error checks."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import tlsapi

from .pki import DEFAULT_LEAF, PKI

#: Seconds any single blocking socket operation may take before the test fails.
TIMEOUT = 10.0

VERSION_NAME = {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}


def _new_context(protocol: ssl._SSLMethod, backend: tlsapi.Backend | None) -> Any:
    """A context of ``backend``, or of the stdlib ``ssl`` module (the reference peer) when it is ``None``."""
    return ssl.SSLContext(protocol) if backend is None else tlsapi.Context(protocol, backend=backend)


def client_context(
    backend: tlsapi.Backend | None,
    pki: PKI | None = None,
    *,
    version: ssl.TLSVersion | None = None,
    cert: str | None = None,
) -> Any:
    """A client context of ``backend`` (``None``: the stdlib ``ssl``) trusting the suite's root
    (``CERT_REQUIRED``, hostname checks)."""
    ctx = _new_context(ssl.PROTOCOL_TLS_CLIENT, backend)
    if pki is not None:
        ctx.load_verify_locations(cafile=pki.ca_file)
        if cert is not None:
            ctx.load_cert_chain(pki[cert].certfile)
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


def server_context(
    backend: tlsapi.Backend | None,
    pki: PKI,
    *,
    leaf: str = DEFAULT_LEAF,
    version: ssl.TLSVersion | None = None,
    verify_mode: ssl.VerifyMode | None = None,
) -> Any:
    """A server context of ``backend`` (``None``: the stdlib ``ssl``) serving ``leaf`` (and trusting the
    root, for client certificates)."""
    ctx = _new_context(ssl.PROTOCOL_TLS_SERVER, backend)
    ctx.load_cert_chain(pki[leaf].certfile)
    if verify_mode is not None:
        ctx.load_verify_locations(cafile=pki.ca_file)
        ctx.verify_mode = verify_mode
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


def reference_client_context(
    pki: PKI, *, cert: str | None = None, version: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    """A client context of the stdlib ``ssl`` module (the reference peer, whatever the backend under test)."""
    return client_context(None, pki, cert=cert, version=version)  # type: ignore[no-any-return]


def reference_server_context(
    pki: PKI, *, leaf: str = DEFAULT_LEAF, version: ssl.TLSVersion | None = None,
    verify_mode: ssl.VerifyMode | None = None,
) -> ssl.SSLContext:
    """A server context of the stdlib ``ssl`` module (the reference peer)."""
    return server_context(None, pki, leaf=leaf, version=version, verify_mode=verify_mode)  # type: ignore[no-any-return]


class Stalled(AssertionError):
    """Neither side could make progress and neither raised: a deadlock in the engine."""


@dataclass
class HandshakeResult:
    client_error: BaseException | None
    server_error: BaseException | None

    @property
    def ok(self) -> bool:
        return self.client_error is None and self.server_error is None

    def check(self) -> None:
        """Re-raise the first side's error (client first)."""
        for error in (self.client_error, self.server_error):
            if error is not None:
                raise error


class BIOPair:
    """A client and a server connection wired back to back through four memory BIOs."""

    def __init__(
        self,
        client_ctx: Any,
        server_ctx: Any,
        server_hostname: str | None = "localhost",
        session: Any = None,
    ) -> None:
        self.c_in, self.c_out, self.s_in, self.s_out = (tlsapi.MemoryBIO() for _ in range(4))
        #: Every byte the server has sent (the wire as the client receives it).
        self.server_sent = bytearray()
        self.client = client_ctx.wrap_bio(self.c_in, self.c_out, server_hostname=server_hostname,
                                          session=session)
        self.server = server_ctx.wrap_bio(self.s_in, self.s_out, server_side=True)

    def pump(self) -> bool:
        """Move pending bytes both ways; whether anything moved."""
        moved = False
        for src, dst in ((self.c_out, self.s_in), (self.s_out, self.c_in)):
            data = src.read()
            if data:
                dst.write(data)
                moved = True
                if src is self.s_out:
                    self.server_sent += data
        return moved

    def handshake(self, max_rounds: int = 100) -> HandshakeResult:
        """Drive both handshakes to completion or failure; never raises the engines' errors."""
        done = {"client": False, "server": False}
        errors: dict[str, BaseException] = {}
        conns = {"client": self.client, "server": self.server}
        for _ in range(max_rounds):
            progressed = False
            for side, conn in conns.items():
                if done[side] or side in errors:
                    continue
                try:
                    conn.do_handshake()
                except ssl.SSLWantReadError:
                    continue
                except Exception as exc:
                    errors[side] = exc
                    progressed = True
                else:
                    done[side] = True
                    progressed = True
            moved = self.pump()
            if all(done[s] or s in errors for s in conns) and not moved:
                break
            if not moved and not progressed:
                if errors:
                    break
                raise Stalled(f"handshake stalled: done={done}")
        else:
            raise Stalled(f"handshake did not finish in {max_rounds} rounds: done={done}, errors={errors}")
        return HandshakeResult(errors.get("client"), errors.get("server"))

    def connect(self) -> BIOPair:
        """Handshake and raise if either side failed."""
        self.handshake().check()
        return self

    def send(self, data: bytes, from_client: bool = True, chunk: int = 65536) -> bytes:
        """Write ``data`` on one side and return what the other side reads."""
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        src.write(data)
        self.pump()
        received = bytearray()
        while len(received) < len(data):
            try:
                piece = dst.read(chunk)
            except ssl.SSLWantReadError:
                if not self.pump():
                    break
                continue
            if not piece:
                break
            received += piece
            self.pump()  # TLS 1.3 tickets, post-handshake messages
        return bytes(received)

    def exchange(self) -> None:
        """One small message each way (delivers TLS 1.3 session tickets to the client)."""
        assert self.send(b"ping", from_client=True) == b"ping"
        assert self.send(b"pong", from_client=False) == b"pong"


def check_error(exc: BaseException | None, name: str) -> Any:
    """Assert ``exc`` is ``tlsapi.<name>`` and ``ssl.<name>`` (the interface's contract) and return it."""
    assert exc is not None, f"expected {name}, but no error was raised"
    expected_tlsapi = getattr(tlsapi, name)
    expected_ssl = getattr(ssl, name)
    assert isinstance(exc, expected_ssl), f"expected ssl.{name}, got {type(exc).__module__}.{exc!r}"
    assert isinstance(exc, expected_tlsapi), (
        f"{type(exc).__module__}.{type(exc).__name__} is an ssl.{name} but not a tlsapi.{name}"
    )
    return exc


def check_reference_error(exc: BaseException | None, name: str) -> Any:
    """Assert the reference peer (the stdlib ``ssl``) raised ``ssl.<name>`` and return it."""
    assert exc is not None, f"expected the reference peer to raise ssl.{name}, but it did not"
    assert isinstance(exc, getattr(ssl, name)), f"the reference peer raised {exc!r}, not ssl.{name}"
    return exc


# -- sockets -------------------------------------------------------------------------------------------


class ThreadedServer:
    """Accept one TCP connection on 127.0.0.1 (or ::1) in a thread and hand it to ``handler``.

    With ``server_ctx`` the accepted socket is wrapped (``server_side=True``, handshake on connect) first.
    ``result()`` joins the thread and returns the handler's value, or raises its exception.
    """

    def __init__(
        self,
        handler: Callable[[Any], Any],
        server_ctx: Any = None,
        *,
        family: socket.AddressFamily = socket.AF_INET,
        wrap_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.handler = handler
        self.server_ctx = server_ctx
        self.wrap_kwargs = wrap_kwargs or {}
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(TIMEOUT)
        self.address = self.listener.getsockname()[:2]
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="tlsapi-conformance-server")
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.address[1])

    def _run(self) -> None:
        raw: socket.socket | None = None
        try:
            raw, _ = self.listener.accept()
            raw.settimeout(TIMEOUT)
            conn: Any = raw
            if self.server_ctx is not None:
                conn = self.server_ctx.wrap_socket(raw, server_side=True, **self.wrap_kwargs)
            with conn:
                self._value = self.handler(conn)
        except BaseException as exc:
            self._error = exc
        finally:
            if raw is not None:
                raw.close()
            self.listener.close()

    def connect(self) -> socket.socket:
        """A plain TCP socket connected to the server (with the suite's timeout)."""
        return socket.create_connection(self.address, timeout=TIMEOUT)

    def result(self) -> Any:
        self._thread.join(TIMEOUT * 2)
        if self._thread.is_alive():
            raise TimeoutError("the server thread did not finish")
        if self._error is not None:
            raise self._error
        return self._value

    def error(self) -> BaseException | None:
        """Join and return the handler's exception (``None`` if it succeeded)."""
        try:
            self.result()
        except BaseException as exc:
            return exc
        return None

    def __enter__(self) -> ThreadedServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.listener.close()
        self._thread.join(TIMEOUT * 2)


@contextlib.contextmanager
def tls_client(
    server: ThreadedServer, client_ctx: Any, server_hostname: str | None = "localhost", **kwargs: Any
) -> Iterator[Any]:
    """Connect to ``server`` and wrap the socket with ``client_ctx`` (handshake on connect)."""
    raw = server.connect()
    try:
        tls = client_ctx.wrap_socket(raw, server_hostname=server_hostname, **kwargs)
    except BaseException:
        raw.close()
        raise
    with tls:
        yield tls


def recv_exactly(sock: Any, size: int) -> bytes:
    """Read ``size`` bytes of plaintext from a (blocking) TLS socket."""
    data = bytearray()
    while len(data) < size:
        piece = sock.recv(min(size - len(data), 1 << 16))
        if not piece:
            break
        data += piece
    return bytes(data)


def set_groups(ctx: Any, groups: list[str]) -> bool:
    """Restrict ``ctx`` to ``groups`` with the ``set_groups`` extension; ``False`` if it has none or it
    raises ``UnsupportedFeatureError`` for these groups."""
    method = getattr(ctx, "set_groups", None)
    if not callable(method):
        return False
    try:
        method(groups)
    except NotImplementedError:  # UnsupportedFeatureError: it cannot restrict to these groups
        return False
    return True


def can_force_group(backend: tlsapi.Backend, group: str) -> bool:
    """Whether ``backend``'s ``set_groups`` can restrict a context to ``group`` alone."""
    return set_groups(tlsapi.Context(ssl.PROTOCOL_TLS_SERVER, backend=backend), [group])


def negotiated_group(conn: Any) -> str | None:
    """``conn.group()``, or ``None`` when the backend cannot report it."""
    try:
        return conn.group()  # type: ignore[no-any-return]
    except (NotImplementedError, AttributeError):
        return None


def _version_params() -> list[Any]:
    import pytest

    return [
        pytest.param(ssl.TLSVersion.TLSv1_2, marks=pytest.mark.capability(tlsapi.Capability.TLSv1_2), id="TLSv1.2"),
        pytest.param(ssl.TLSVersion.TLSv1_3, marks=pytest.mark.capability(tlsapi.Capability.TLSv1_3), id="TLSv1.3"),
    ]


#: ``@pytest.mark.parametrize("version", VERSIONS)``: one case per TLS version, tagged with its capability.
VERSIONS = _version_params()

KEY_CAPABILITY = {
    "ecdsa-p256": tlsapi.Capability.KEY_ECDSA,
    "ecdsa-p384": tlsapi.Capability.KEY_ECDSA,
    "rsa-2048": tlsapi.Capability.KEY_RSA,
    "rsa-pss": tlsapi.Capability.KEY_RSA_PSS,
    "ed25519": tlsapi.Capability.KEY_ED25519,
}


def _key_params() -> list[Any]:
    import pytest

    return [pytest.param(name, marks=pytest.mark.capability(cap), id=name) for name, cap in KEY_CAPABILITY.items()]


#: ``@pytest.mark.parametrize("key_type", KEY_TYPES)``: one case per leaf key type, tagged.
KEY_TYPES = _key_params()


def not_declared(why: str) -> None:
    """End the case as "not declared" (the backend lacks an optional API the case needs)."""
    import pytest

    from .plugin import NOT_DECLARED

    pytest.skip(NOT_DECLARED + why)


def group_test_leaf(*backends: Any) -> str:
    """A server leaf whose key is not an EC curve: in TLS 1.2 ``supported_groups`` also restricts the
    curve of an ECDSA certificate, so forcing x25519 with a P-256 leaf would fail for the wrong reason."""
    for capability, leaf in ((tlsapi.Capability.KEY_RSA, "rsa-2048"), (tlsapi.Capability.KEY_ED25519, "ed25519")):
        if all(b is None or capability in b.capabilities() for b in backends):
            return leaf
    return DEFAULT_LEAF
