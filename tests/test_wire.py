"""What the peer of a ``TLSSocket`` sees on the wire is what the peer of an ``ssl.SSLSocket`` sees, on every backend.

Real loopback sockets against independent peers (the stdlib's ``ssl``, the ``openssl`` command, and hand-driven
``ssl.SSLObject`` pumps that control exactly which bytes go out in which ``send``): fatal alerts reach the
peer, records are taken from the kernel one at a time (``select()`` sees the next one), non-blocking writes are
never doubled and reads never fail for a full send buffer, bytes after close_notify survive ``unwrap()``, and
plaintext sent before a reset is refused.
"""

from __future__ import annotations

import array
import errno
import hashlib
import os
import select
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

import pytest
from conftest import backends_declaring, backends_keeping_trailing_bytes

import tlsapi
from tlsapi_conformance.pki import PKI
from tlsapi_conformance.wire import HandPump, exchange_non_blocking, reset

T = TypeVar("T")
OPENSSL = shutil.which("openssl")
VERSIONS = {"TLSv1.3": ssl.TLSVersion.TLSv1_3, "TLSv1.2": ssl.TLSVersion.TLSv1_2}
TIMEOUT = 20.0


# -- peers ------------------------------------------------------------------------------------------------------


class Peer:
    """A thread running ``handler`` on one accepted (or connected) plain socket; ``result()`` re-raises."""

    def __init__(self, handler: Callable[[socket.socket], Any]) -> None:
        self._handler = handler
        self._outcome: list[Any] = []
        self._error: list[BaseException] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port: int = self.listener.getsockname()[1]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            raw, _ = self.listener.accept()
            raw.settimeout(TIMEOUT)
            with raw:
                self._outcome.append(self._handler(raw))
        except BaseException as exc:  # handed to the test's thread by result()
            self._error.append(exc)
        finally:
            self.listener.close()

    def result(self) -> Any:
        self._thread.join(TIMEOUT)
        assert not self._thread.is_alive(), "the peer did not finish"
        if self._error:
            raise self._error[0]
        return self._outcome[0]


@contextmanager
def serving(handler: Callable[[socket.socket], Any]) -> Iterator[Peer]:
    peer = Peer(handler)
    try:
        yield peer
    finally:
        peer.listener.close()


def contexts(backend: tlsapi.Backend, pki: PKI, version: str) -> tuple[tlsapi.Context, tlsapi.Context]:
    """The backend's client and server contexts, pinned to ``version``."""
    server = tlsapi.Context(tlsapi.PROTOCOL_TLS_SERVER, backend=backend)
    server.load_cert_chain(pki.leaf().certfile)
    client = tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT, backend=backend)
    client.load_verify_locations(pki.ca_file)
    for context in (client, server):
        context.minimum_version = context.maximum_version = VERSIONS[version]
    return client, server


def stdlib_contexts(pki: PKI, version: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """The reference peer's contexts (plain ``ssl``), pinned to ``version``."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki.leaf().certfile)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(pki.ca_file)
    for context in (client, server):
        context.minimum_version = context.maximum_version = VERSIONS[version]
    return client, server


# -- 1. fatal alerts reach the peer -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("backend", backends_declaring(tlsapi.Capability.CLIENT_AUTH), indirect=True)
def test_server_alert_reaches_stdlib_client(backend: tlsapi.Backend, pki: PKI, version: str) -> None:
    """A server that requires a client certificate aborts the handshake; the stdlib client receives the alert."""
    client_ctx, _ = stdlib_contexts(pki, version)
    _, server_ctx = contexts(backend, pki, version)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(pki.ca_file)
    received_it = threading.Event()

    def serve(raw: socket.socket) -> None:
        with server_ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False) as tls:
            with pytest.raises(ssl.SSLError):
                tls.do_handshake()
            received_it.wait(TIMEOUT)  # closing with unread bytes would reset the connection

    with serving(serve) as peer, socket.create_connection(("127.0.0.1", peer.port), timeout=TIMEOUT) as raw:
        with client_ctx.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False) as tls:
            with pytest.raises(ssl.SSLError) as received:
                tls.do_handshake()
                tls.recv(1)  # TLS 1.3: the alert comes after the client's Finished
            received_it.set()
        peer.result()
    expected = "CERTIFICATE_REQUIRED" if version == "TLSv1.3" else "HANDSHAKE_FAILURE"
    assert expected in received.value.reason


@pytest.mark.parametrize("version", VERSIONS)
def test_client_alert_reaches_stdlib_server(backend: tlsapi.Backend, pki: PKI, version: str) -> None:
    """A client that cannot verify the server's chain sends unknown_ca; the stdlib server receives it."""
    client_ctx, _ = contexts(backend, pki, version)
    _, server_ctx = stdlib_contexts(pki, version)
    server_ctx.load_cert_chain(pki["untrusted-root"].certfile)

    def serve(raw: socket.socket) -> BaseException:
        with pytest.raises(ssl.SSLError) as failure:
            server_ctx.wrap_socket(raw, server_side=True)
        return failure.value

    with serving(serve) as peer, socket.create_connection(("127.0.0.1", peer.port), timeout=TIMEOUT) as raw:
        with client_ctx.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False) as tls:
            with pytest.raises(ssl.SSLCertVerificationError):
                tls.do_handshake()
            reason = peer.result().reason  # before closing: unread bytes would make the close a reset
    assert reason == "TLSV1_ALERT_UNKNOWN_CA"


@pytest.mark.parametrize("version", VERSIONS)
def test_read_alert_reaches_peer(backend: tlsapi.Backend, pki: PKI, version: str) -> None:
    """A corrupted record after the handshake: ``recv`` fails with bad_record_mac and the peer receives it."""
    client_ctx, _ = stdlib_contexts(pki, version)
    _, server_ctx = contexts(backend, pki, version)

    def serve(raw: socket.socket) -> BaseException:
        with server_ctx.wrap_socket(raw, server_side=True) as tls:
            with pytest.raises(ssl.SSLError) as failure:
                tls.recv(100)
            return failure.value

    with serving(serve) as peer, socket.create_connection(("127.0.0.1", peer.port), timeout=TIMEOUT) as raw:
        pump = HandPump(raw, client_ctx, server_side=False)
        pump.run(pump.tls.do_handshake)
        pump.tls.write(b"tampered with")
        record = bytearray(pump.outgoing.read())
        record[-1] ^= 1  # the last byte of the AEAD tag
        raw.sendall(record)
        with pytest.raises(ssl.SSLError) as received:
            pump.run(lambda: pump.tls.read(100))
        assert isinstance(peer.result(), ssl.SSLError)
    assert "BAD_RECORD_MAC" in received.value.reason  # the alert the TLSSocket sent


@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command")
@pytest.mark.parametrize(
    ("version", "arguments"),
    [("TLSv1.3", ["-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_8_SHA256"]),
     ("TLSv1.2", ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"])],
)
def test_server_alert_reaches_openssl_s_client(
    backend: tlsapi.Backend, pki: PKI, version: str, arguments: list[str]
) -> None:
    """``openssl s_client`` offering only a suite the server refuses reads "alert handshake failure"."""
    _, server_ctx = contexts(backend, pki, version)

    def serve(raw: socket.socket) -> None:
        with server_ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False) as tls:
            with pytest.raises(ssl.SSLError):
                tls.do_handshake()
            raw_client_done.wait(TIMEOUT)

    raw_client_done = threading.Event()
    with serving(serve) as peer:
        assert OPENSSL is not None
        done = subprocess.run(
            [OPENSSL, "s_client", "-connect", f"127.0.0.1:{peer.port}", *arguments],
            input=b"", capture_output=True, timeout=TIMEOUT, check=False,
        )
        raw_client_done.set()
        peer.result()
    assert b"alert handshake failure" in done.stdout + done.stderr


@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command")
@pytest.mark.parametrize("version", VERSIONS)
def test_client_alert_reaches_openssl_s_server(backend: tlsapi.Backend, pki: PKI, version: str) -> None:
    """``openssl s_server`` with a chain the client does not trust reads "alert unknown ca"."""
    client_ctx, _ = contexts(backend, pki, version)
    credential = pki["untrusted-root"]
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    assert OPENSSL is not None
    server = subprocess.Popen(
        [OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}", "-naccept", "1", "-cert", str(credential.leaf_file),
         "-key", str(credential.keyfile), "-cert_chain", str(credential.chain_file),
         "-tls1_3" if version == "TLSv1.3" else "-tls1_2"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        raw = _connect_when_listening(port)
        with client_ctx.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False) as tls:
            with pytest.raises(ssl.SSLCertVerificationError):
                tls.do_handshake()
            output, _ = server.communicate(timeout=TIMEOUT)
    finally:
        server.kill()
        server.wait()
    assert b"alert unknown ca" in output


def _connect_when_listening(port: int) -> socket.socket:
    """A connection to a server that is starting up (the openssl command), retried until it listens."""
    for _ in range(200):
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        except ConnectionRefusedError:
            threading.Event().wait(0.05)
    raise AssertionError("the server never listened")


# -- 2. no read-ahead --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_select_sees_the_record_behind_the_one_read(backend: tlsapi.Backend, pki: PKI, version: str) -> None:
    """Two records in one burst: after the first is read, ``select()`` still reports the second, as with ``ssl``."""
    client_ctx, _ = contexts(backend, pki, version)
    _, server_ctx = stdlib_contexts(pki, version)
    go_on = threading.Event()

    def serve(raw: socket.socket) -> None:
        pump = HandPump(raw, server_ctx, server_side=True)
        pump.run(pump.tls.do_handshake)
        assert pump.run(lambda: pump.tls.read(100)) == b"ready"
        pump.tls.write(b"first")
        pump.tls.write(b"second record")
        pump.flush()
        go_on.wait()  # open until the client has looked: an EOF would make the socket readable too

    with serving(serve) as peer, socket.create_connection(("127.0.0.1", peer.port), timeout=TIMEOUT) as raw:
        with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"ready")
            try:
                assert tls.recv(100) == b"first"
                assert tls.pending() == 0
                readable, _, _ = select.select([tls], [], [], TIMEOUT)
            finally:
                go_on.set()
            assert readable == [tls]
            assert tls.recv(6) == b"second"
            assert tls.pending() == len(b" record")
            assert tls.recv(100) == b" record"
        peer.result()


def test_request_coalesced_with_finished_is_seen_by_select(backend: tlsapi.Backend, pki: PKI) -> None:
    """TLS 1.3: the client's Finished and its request in one segment; the server's ``select()`` sees the request."""
    client_ctx, _ = stdlib_contexts(pki, "TLSv1.3")
    _, server_ctx = contexts(backend, pki, "TLSv1.3")

    def serve(raw: socket.socket) -> bytes:
        with server_ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False) as tls:
            tls.do_handshake()
            readable, _, _ = select.select([tls], [], [], TIMEOUT)
            assert readable == [tls]
            data: bytes = tls.recv(100)
            tls.sendall(b"answer")
            return data

    with serving(serve) as peer, socket.create_connection(("127.0.0.1", peer.port), timeout=TIMEOUT) as raw:
        pump = HandPump(raw, client_ctx, server_side=False)
        pump.run(pump.tls.do_handshake, send=False)  # the Finished stays in the BIO ...
        pump.tls.write(b"GET / HTTP/1.1\r\n\r\n")
        pump.flush()  # ... and goes out with the request
        assert pump.run(lambda: pump.tls.read(100)) == b"answer"
        assert peer.result() == b"GET / HTTP/1.1\r\n\r\n"


# -- 3. and 4. non-blocking: no byte doubled, no want-write from a read ---------------------------------------------

BULK = 16 * 1024 * 1024


@pytest.mark.parametrize("version", VERSIONS)
def test_non_blocking_16_mib_both_ways_byte_exact(backend: tlsapi.Backend, pki: PKI, version: str) -> None:
    """Both ends write 16 MiB before reading (the late reader); every byte arrives once, in order."""
    client_ctx, _ = contexts(backend, pki, version)
    _, server_ctx = stdlib_contexts(pki, version)
    ours = os.urandom(BULK)
    theirs = os.urandom(BULK)

    def serve(raw: socket.socket) -> str:
        with server_ctx.wrap_socket(raw, server_side=True) as tls:
            return hashlib.sha256(exchange_non_blocking(tls, theirs)).hexdigest()

    with serving(serve) as peer, socket.create_connection(("127.0.0.1", peer.port), timeout=TIMEOUT) as raw:
        with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            received = exchange_non_blocking(tls, ours)
        assert peer.result() == hashlib.sha256(ours).hexdigest()
    assert len(received) == BULK and received == theirs


def test_read_returns_data_while_a_write_is_pending(backend: tlsapi.Backend, pki: PKI) -> None:
    """``recv`` after a send's want-write returns what is readable instead of raising ``SSLWantWriteError``."""
    client_ctx, _ = contexts(backend, pki, "TLSv1.3")
    _, server_ctx = stdlib_contexts(pki, "TLSv1.3")
    blocked = threading.Event()

    def serve(raw: socket.socket) -> int:
        with server_ctx.wrap_socket(raw, server_side=True) as tls:
            tls.sendall(b"hello")
            blocked.wait(TIMEOUT)
            total = 0
            while total < BULK:
                total += len(tls.recv(65536))
            return total

    with serving(serve) as peer, socket.create_connection(("127.0.0.1", peer.port), timeout=TIMEOUT) as raw:
        with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.setblocking(False)
            payload = memoryview(bytes(BULK))
            sent = 0
            while True:  # fill every buffer until a send is refused
                try:
                    sent += tls.send(payload[sent:])
                except ssl.SSLWantWriteError:
                    break
            while True:  # the session tickets may come first: a want-read, never a want-write
                select.select([tls], [], [], TIMEOUT)
                try:
                    assert tls.recv(100) == b"hello"
                    break
                except ssl.SSLWantReadError:
                    pass
            blocked.set()
            while sent < BULK:
                try:
                    sent += tls.send(payload[sent:])
                except ssl.SSLWantWriteError:
                    select.select([], [tls], [], TIMEOUT)
        assert peer.result() == BULK


# -- 5. bytes after close_notify ----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_unwrap_leaves_trailing_plaintext_readable(backend: tlsapi.Backend, pki: PKI, version: str) -> None:
    """A STARTTLS-style downgrade: the server's close_notify and its first plaintext arrive in one segment."""
    client_ctx, _ = contexts(backend, pki, version)
    _, server_ctx = stdlib_contexts(pki, version)

    def serve(raw: socket.socket) -> bytes:
        pump = HandPump(raw, server_ctx, server_side=True)
        pump.run(pump.tls.do_handshake)
        assert pump.run(lambda: pump.tls.read(100)) == b"STOPTLS"
        pump.receive_close_notify()
        pump.tls.unwrap()  # the close_notify is already here: ours is written, and sent with the plaintext
        pump.flush(b"plain after TLS")
        return raw.recv(100)

    with serving(serve) as peer, socket.create_connection(("127.0.0.1", peer.port), timeout=TIMEOUT) as raw:
        tls = client_ctx.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(b"STOPTLS")
        plain = tls.unwrap()
        assert plain.recv(100) == b"plain after TLS"
        plain.sendall(b"plain reply")
        assert peer.result() == b"plain reply"
        plain.close()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("backend", backends_keeping_trailing_bytes(), indirect=True)
def test_connection_leaves_bytes_after_close_notify_in_the_bio(backend: tlsapi.Backend, pki: PKI, version: str) -> None:
    """Over memory BIOs: the Connection consumes the incoming BIO only up to the end of the close_notify record."""
    client_ctx, _ = contexts(backend, pki, version)
    _, server_ctx = stdlib_contexts(pki, version)
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(client_in, client_out, server_hostname="localhost")
    server = server_ctx.wrap_bio(server_in, server_out, server_side=True)
    for _ in range(10):
        for operation in (client.do_handshake, server.do_handshake):
            with suppress(ssl.SSLWantReadError):
                operation()
        server_in.write(client_out.read())
        client_in.write(server_out.read())
    with pytest.raises(ssl.SSLWantReadError):
        client.unwrap()
    server_in.write(client_out.read())
    server.unwrap()
    client_in.write(server_out.read() + b"trailing plaintext")
    client.unwrap()
    assert client_in.read() == b"trailing plaintext"


# -- 6. plaintext before the handshake, then a reset ---------------------------------------------------------------


def _assert_pre_handshake_refusal(error: BaseException) -> None:
    assert isinstance(error, ssl.SSLError)
    assert "before TLS handshake with data" in error.args[1]
    assert "before TLS handshake with data" in error.reason
    assert error.args[0] != 0
    assert error.library is None


def test_plaintext_then_reset_before_server_handshake_is_refused(backend: tlsapi.Backend, pki: PKI) -> None:
    """CPython's ``test_preauth_data_to_tls_server`` (CVE-2023-40217): the request is never read as TLS data."""
    _, server_ctx = contexts(backend, pki, "TLSv1.3")
    accepted = threading.Event()
    client_gone = threading.Event()

    def serve(raw: socket.socket) -> BaseException:
        accepted.set()
        client_gone.wait(TIMEOUT)
        with pytest.raises(OSError) as failure:
            tls = server_ctx.wrap_socket(raw, server_side=True)
            tls.recv(400)
        return failure.value

    with serving(serve) as peer:
        client = socket.create_connection(("127.0.0.1", peer.port), timeout=TIMEOUT)
        accepted.wait(TIMEOUT)
        client.sendall(b"DELETE /data HTTP/1.0\r\n\r\n")
        reset(client)
        client_gone.set()
        _assert_pre_handshake_refusal(peer.result())


def test_plaintext_then_reset_before_client_handshake_is_refused(backend: tlsapi.Backend, pki: PKI) -> None:
    """CPython's ``test_preauth_data_to_tls_client``: a plaintext redirect then a reset is refused, not returned."""
    client_ctx, _ = contexts(backend, pki, "TLSv1.3")
    connected = threading.Event()

    def serve(raw: socket.socket) -> None:
        connected.wait(TIMEOUT)
        raw.sendall(b"HTTP/1.0 307 Temporary Redirect\r\nLocation: https://example.com/\r\n\r\n")
        reset(raw)

    with serving(serve) as peer, socket.create_connection(("127.0.0.1", peer.port), timeout=TIMEOUT) as raw:
        connected.set()
        peer.result()
        with pytest.raises(OSError) as failure:
            tls = client_ctx.wrap_socket(raw, server_hostname="localhost")
            tls.recv(400)
        _assert_pre_handshake_refusal(failure.value)


# -- 7. the rest of the socket contract ---------------------------------------------------------------------------


def test_non_blocking_connect_ex_then_do_handshake(backend: tlsapi.Backend, pki: PKI) -> None:
    """As CPython's ``test_non_blocking_connect_ex``: ``connect_ex`` (EINPROGRESS), then ``do_handshake`` retried."""
    client_ctx, server_ctx = contexts(backend, pki, "TLSv1.3")

    def serve(raw: socket.socket) -> bytes:
        with server_ctx.wrap_socket(raw, server_side=True) as tls:
            data: bytes = tls.recv(100)
            tls.sendall(data)
            return data

    with serving(serve) as peer:
        plain = socket.socket(socket.AF_INET)
        plain.setblocking(False)
        with client_ctx.wrap_socket(plain, server_hostname="localhost", do_handshake_on_connect=False) as tls:
            assert tls.get_channel_binding() is None  # unconnected: None, as ssl
            result = tls.connect_ex(("127.0.0.1", peer.port))
            assert result in (0, errno.EINPROGRESS)
            select.select([], [tls], [], TIMEOUT)
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    select.select([tls], [], [], TIMEOUT)
                except ssl.SSLWantWriteError:
                    select.select([], [tls], [], TIMEOUT)
            tls.setblocking(True)
            tls.sendall(b"ping")
            buffer = array.array("I", [0] * 4)
            assert tls.recv_into(buffer) == 4  # bytes, not items
            assert buffer.tobytes()[:4] == b"ping"
        assert peer.result() == b"ping"


def test_datagram_socket_refused_before_hostname_checks(backend: tlsapi.Backend) -> None:
    """A ``SOCK_DGRAM`` socket is ``NotImplementedError`` even when the hostname is missing, as in ``ssl``."""
    context = tlsapi.create_default_context(backend=backend)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as datagram, pytest.raises(NotImplementedError):
        context.wrap_socket(datagram)


def test_custom_socket_and_object_classes_are_honoured(backend: tlsapi.Backend, pki: PKI) -> None:
    """As CPython's ``test_context_custom_class``: stdlib-style subclasses set on a context are instantiated,
    and they still speak TLS through the backend (an override of theirs applies)."""
    received: list[bytes] = []

    class MySSLSocket(ssl.SSLSocket):
        def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
            data = super().recv(buflen, flags)
            received.append(data)
            return data

    class MySSLObject(ssl.SSLObject):
        pass

    client_ctx, server_ctx = contexts(backend, pki, "TLSv1.3")
    client_ctx.sslsocket_class = MySSLSocket
    client_ctx.sslobject_class = MySSLObject  # type: ignore[assignment]  # accepted, as ssl.SSLContext does

    def serve(raw: socket.socket) -> None:
        with server_ctx.wrap_socket(raw, server_side=True) as tls:
            tls.sendall(b"over tls")

    with serving(serve) as peer, socket.create_connection(("127.0.0.1", peer.port), timeout=TIMEOUT) as raw:
        with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            assert isinstance(tls, MySSLSocket) and isinstance(tls, tlsapi.TLSSocket)
            assert tls.recv(100) == b"over tls"
        peer.result()
    assert received == [b"over tls"]
    connection = client_ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="localhost")
    assert isinstance(connection, MySSLObject) and isinstance(connection, tlsapi.Connection)
    with pytest.raises(ssl.SSLWantReadError):
        connection.do_handshake()


@pytest.mark.parametrize("hostname", ["a\x00b", b"a\x00b"], ids=["str", "bytes"])
def test_nul_in_server_hostname_is_the_stdlib_type(backend: tlsapi.Backend, hostname: str | bytes) -> None:
    """A NUL in ``server_hostname`` is ``TypeError`` with the stdlib's words, as ``ssl`` raises it."""
    reference = ssl.create_default_context()
    with pytest.raises(TypeError) as expected:
        reference.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname=hostname)
    context = tlsapi.create_default_context(backend=backend)
    with pytest.raises(TypeError) as raised:
        context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname=hostname)
    assert str(raised.value) == str(expected.value)


def outcome(operation: Callable[[], Any]) -> Any:
    """What ``operation`` returned, or the ``ssl``/builtin class and errno of what it raised (tlsapi's errors
    subclass ``ssl``'s: compared by the class they stand for)."""
    try:
        return operation()
    except OSError as error:
        standing_for = next(cls for cls in type(error).__mro__ if cls.__module__ in ("ssl", "builtins"))
        return standing_for.__name__, error.errno


def _after_reset(
    pki: PKI, client_ctx: ssl.SSLContext, operations: Callable[[ssl.SSLSocket], list[Any]]
) -> list[Any]:
    """``operations``' outcomes on a TLS 1.3 client socket whose (plain ``ssl``) server sent ``b"data"`` and then
    reset the connection, once the reset has arrived (the client read the data first, so none is lost)."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(pki.leaf().certfile)
    read_it = threading.Event()

    def serve(raw: socket.socket) -> None:
        with server_ctx.wrap_socket(raw, server_side=True) as tls:
            tls.sendall(b"data")
            read_it.wait(TIMEOUT)
            reset(tls)

    with serving(serve) as peer, socket.create_connection(("127.0.0.1", peer.port), timeout=TIMEOUT) as raw:
        with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            first = tls.recv(100)
            read_it.set()
            peer.result()
            return [first, *operations(tls)]



def test_reset_after_handshake_reads_as_ssl_reads_it(backend: tlsapi.Backend, pki: PKI) -> None:
    """A reset (no close_notify) after some data: ``recv`` returns the data, then what the running interpreter's
    ``ssl`` gives (``b""`` up to 3.12, where ``_ssl`` reads a socket error as an EOF; ``ConnectionResetError``
    then ``b""`` from 3.13); a reset before the handshake stays ``ConnectionResetError``, as in ``ssl``."""
    def reads(tls: ssl.SSLSocket) -> list[Any]:
        return [outcome(lambda: tls.recv(100)), outcome(lambda: tls.recv(100))]

    def before_handshake(client_ctx: ssl.SSLContext) -> type[BaseException]:
        connected = threading.Event()

        def reset_once_connected(raw: socket.socket) -> None:  # a reset racing connect() would fail connect()
            connected.wait(TIMEOUT)
            reset(raw)

        with serving(reset_once_connected) as peer, \
                socket.create_connection(("127.0.0.1", peer.port), timeout=TIMEOUT) as raw:
            connected.set()
            peer.result()
            with pytest.raises(OSError) as failure:
                client_ctx.wrap_socket(raw, server_hostname="localhost")
            return type(failure.value)

    reference = ssl.create_default_context(cafile=str(pki.ca_file))
    ours = tlsapi.create_default_context(cafile=str(pki.ca_file), backend=backend)
    expected = _after_reset(pki, reference, reads)
    assert expected[0] == b"data" and expected[-1] == b""
    assert _after_reset(pki, ours, reads) == expected
    assert before_handshake(ours) is before_handshake(reference) is ConnectionResetError


def test_write_after_reset_fails_as_ssl_fails(backend: tlsapi.Backend, pki: PKI) -> None:
    """Writing to a connection the peer reset raises what the running interpreter's ``ssl`` raises: up to 3.12
    ``SSLEOFError`` (``_ssl`` reads ``SSL_write_ex``'s 0 as an EOF), from 3.13 ``ConnectionResetError`` then
    ``BrokenPipeError``; a read then returns ``b""``. (CPython's ``test_wrong_cert_tls13`` on 3.11 and 3.12
    expects the ``SSLError``.)"""
    def writes_then_read(tls: ssl.SSLSocket) -> list[Any]:
        return [outcome(lambda: tls.write(b"x")), outcome(lambda: tls.sendall(b"x")), outcome(lambda: tls.recv(10))]

    reference = ssl.create_default_context(cafile=str(pki.ca_file))
    ours = tlsapi.create_default_context(cafile=str(pki.ca_file), backend=backend)
    expected = _after_reset(pki, reference, writes_then_read)
    assert expected[0] == b"data" and isinstance(expected[1], tuple)
    assert _after_reset(pki, ours, writes_then_read) == expected


def test_server_read_after_client_reset_as_ssl(backend: tlsapi.Backend, pki: PKI) -> None:
    """CPython's background-server tests (``test_connect``, ``test_get_server_certificate``, ...): a client
    closes right after its handshake with the server's session tickets unread, which resets the connection.
    The server's reads then give what ``ssl``'s give on this interpreter: ``b""`` up to 3.12 (where
    ``test_ssl``'s server stops listening on any ``OSError`` from a read, failing the test's next connection
    with a reset or a refusal), ``ConnectionResetError`` then ``b""`` from 3.13."""

    def server_reads(server_ctx: ssl.SSLContext) -> list[Any]:
        handshaken, reset_done = threading.Event(), threading.Event()

        def serve(raw: socket.socket) -> list[Any]:
            with server_ctx.wrap_socket(raw, server_side=True) as tls:
                handshaken.set()
                reset_done.wait(TIMEOUT)
                return [outcome(lambda: tls.recv(100)), outcome(lambda: tls.recv(100))]

        client_ctx = ssl.create_default_context(cafile=str(pki.ca_file))
        with serving(serve) as peer, socket.create_connection(("127.0.0.1", peer.port), timeout=TIMEOUT) as raw:
            tls = client_ctx.wrap_socket(raw, server_hostname="localhost")
            handshaken.wait(TIMEOUT)  # the server's handshake, and its tickets, are done
            reset(tls)
            reset_done.set()
            result: list[Any] = peer.result()
            return result

    reference = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ours = tlsapi.Context(tlsapi.PROTOCOL_TLS_SERVER, backend=backend)
    for context in (reference, ours):
        context.load_cert_chain(pki.leaf().certfile)
    expected = server_reads(reference)
    assert expected[-1] == b""
    assert server_reads(ours) == expected
