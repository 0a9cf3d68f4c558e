"""The pyOpenSSL backend: interop with the stdlib backend, and the same error values for the same events."""

from __future__ import annotations

import gc
import http.client
import http.server
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tlsapi
from tlsapi_conformance import pki as pki_module
from tlsapi_conformance.pki import BAD_CASES, PKI

pytest.importorskip("OpenSSL")
pytest.importorskip("service_identity")

from tlsapi_pyopenssl import _backend
from tlsapi_pyopenssl._backend import PyOpenSSLContext

BACKENDS = ("pyopenssl", "stdlib")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return pki_module.get(Path(tmp_path_factory.mktemp("pki")))


def server_context(pki: PKI, backend: str = "pyopenssl", leaf: str = "ecdsa-p256") -> tlsapi.Context:
    ctx = tlsapi.Context(tlsapi.PROTOCOL_TLS_SERVER, backend=backend)
    ctx.load_cert_chain(pki[leaf].certfile)
    return ctx


def client_context(pki: PKI, backend: str = "pyopenssl") -> tlsapi.Context:
    ctx = tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT, backend=backend)
    ctx.load_verify_locations(pki.ca_file)
    return ctx


class Pair:
    """A client and a server Connection joined by memory BIOs."""

    def __init__(self, client: tlsapi.Context, server: tlsapi.Context, hostname: str = "localhost",
                 session: Any = None) -> None:
        self.c_in, self.c_out, self.s_in, self.s_out = (tlsapi.MemoryBIO() for _ in range(4))
        self.client = client.wrap_bio(self.c_in, self.c_out, server_hostname=hostname, session=session)
        self.server = server.wrap_bio(self.s_in, self.s_out, server_side=True)

    def transfer(self) -> None:
        self.s_in.write(self.c_out.read())
        self.c_in.write(self.s_out.read())

    def handshake(self) -> dict[str, ssl.SSLError | None]:
        """Run both handshakes to the end; each side's error, or ``None``."""
        outcome: dict[str, ssl.SSLError | None] = {}
        for _ in range(10):
            for name, conn in (("client", self.client), ("server", self.server)):
                if name in outcome:
                    continue
                try:
                    conn.do_handshake()
                    outcome[name] = None
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLError as exc:
                    outcome[name] = exc
                self.transfer()
            if len(outcome) == 2:
                break
        return outcome

    def connect(self) -> Pair:
        outcome = self.handshake()
        assert outcome == {"client": None, "server": None}, outcome
        return self

    def exchange(self, data: bytes = b"ping") -> None:
        """Client to server and back: also delivers the TLS 1.3 tickets to the client."""
        self.client.write(data)
        self.transfer()
        assert read_all(self.server, len(data)) == data
        self.server.write(data[::-1])
        self.transfer()
        assert read_all(self.client, len(data)) == data[::-1]


def read_all(conn: tlsapi.Connection, size: int) -> bytes:
    """``size`` bytes, already in the incoming BIO (``read`` returns one record at a time)."""
    data = b""
    while len(data) < size:
        data += conn.read(size - len(data))
    return data


def values(exc: BaseException | None) -> tuple[Any, ...] | None:
    """What consumers see of an error, without the origin suffix (``(_ssl.c:1006)`` / ``(pyopenssl)``)."""
    if exc is None:
        return None
    assert isinstance(exc, ssl.SSLError)
    text = re.sub(r" \([^()]*\)$", "", exc.strerror or "")
    return (type(exc).__name__, exc.errno, exc.library, exc.reason, text,
            getattr(exc, "verify_code", None), getattr(exc, "verify_message", None))


def test_registered_and_declared() -> None:
    backend = tlsapi.get_backend("pyopenssl")
    caps = backend.capabilities()
    assert {tlsapi.Capability.TLSv1_3, tlsapi.Capability.ALPN, tlsapi.Capability.EXPORTER} <= caps
    assert tlsapi.Capability.POST_HANDSHAKE_AUTH not in caps
    assert (tlsapi.Capability.SNI_CALLBACK in caps) == _backend.SNI_ALERTS
    ctx = tlsapi.Context(tlsapi.PROTOCOL_TLS_SERVER, backend="pyopenssl")
    assert ctx.backend is backend
    with pytest.raises(tlsapi.UnsupportedFeatureError):
        ctx.post_handshake_auth = True


@pytest.mark.parametrize(("client_backend", "server_backend"),
                         [("pyopenssl", "stdlib"), ("stdlib", "pyopenssl"), ("pyopenssl", "pyopenssl")])
def test_handshake_over_bios(pki: PKI, client_backend: str, server_backend: str) -> None:
    pair = Pair(client_context(pki, client_backend), server_context(pki, server_backend)).connect()
    pair.exchange(b"x" * 40000)
    for conn in (pair.client, pair.server):
        assert conn.version() == "TLSv1.3"
        assert conn.cipher() == pair.client.cipher()
    reference = Pair(client_context(pki, "stdlib"), server_context(pki, "stdlib")).connect()
    assert pair.client.getpeercert() == reference.client.getpeercert()
    assert pair.client.getpeercert(True) == pki["ecdsa-p256"].der
    assert pair.client.get_unverified_chain() == pki["ecdsa-p256"].chain_der
    assert pair.client.get_verified_chain()[-1] == pki.root_der
    assert pair.server.getpeercert() is None
    assert pair.client.get_channel_binding() == pair.server.get_channel_binding()
    assert pair.server.shared_ciphers() == reference.server.shared_ciphers()


def test_sni_callback_needs_the_bindings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a servername callback that can send its alert, the SNI callback is not declared (nor settable)."""
    backend = tlsapi.get_backend("pyopenssl")
    # Computed once per process: forget the real answer (restored afterwards), then ask without the bindings.
    monkeypatch.delattr(backend, "_capability_set")
    monkeypatch.setattr(_backend, "SNI_ALERTS", False)
    assert tlsapi.Capability.SNI_CALLBACK not in backend.capabilities()
    with pytest.raises(tlsapi.UnsupportedFeatureError):
        tlsapi.Context(tlsapi.PROTOCOL_TLS_SERVER, backend="pyopenssl").sni_callback = lambda *args: None


def test_inspection_before_handshake(pki: PKI) -> None:
    pair = Pair(client_context(pki), server_context(pki))
    assert (pair.client.version(), pair.client.cipher(), pair.client.session_reused) == (None, None, False)
    assert pair.client.get_channel_binding() is None
    with pytest.raises(ValueError, match="handshake not done yet"):
        pair.client.getpeercert()


def test_tls12_and_exporter(pki: PKI) -> None:
    client = client_context(pki)
    client.maximum_version = tlsapi.TLSVersion.TLSv1_2
    pair = Pair(client, server_context(pki)).connect()
    assert pair.client.version() == pair.server.version() == "TLSv1.2"
    secret = pair.client.export_keying_material(b"EXPORTER-test", None, 32)
    assert secret == pair.server.export_keying_material(b"EXPORTER-test", None, 32)
    assert len(pair.client.get_channel_binding() or b"") == 12


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_verification_errors_equal_stdlib(pki: PKI, case: str) -> None:
    bad = BAD_CASES[case]
    outcomes = {}
    for backend in BACKENDS:
        pair = Pair(client_context(pki, backend), server_context(pki, "stdlib", bad.credential),
                    bad.server_hostname)
        outcomes[backend] = values(pair.handshake()["client"])
    assert outcomes["pyopenssl"] == outcomes["stdlib"]
    assert outcomes["pyopenssl"][5:] == (bad.verify_code, bad.verify_message)  # type: ignore[index]


@pytest.mark.parametrize("case", ["expired", "untrusted-root", "wrong-eku", "self-signed", "wrong-host",
                                  "wrong-ip"])
def test_server_sees_the_stdlib_alert(pki: PKI, case: str) -> None:
    """The pyOpenSSL client sends the alert the stdlib's OpenSSL sends (seen by a stdlib server)."""
    if case.startswith("wrong-") and not _backend.OPENSSL_HOST_CHECK:
        pytest.skip("without X509_VERIFY_PARAM_set1_host the alert is internal_error")
    bad = BAD_CASES[case]
    outcomes = {}
    for backend in BACKENDS:
        pair = Pair(client_context(pki, backend), server_context(pki, "stdlib", bad.credential), bad.server_hostname)
        outcomes[backend] = values(pair.handshake()["server"])
    assert outcomes["pyopenssl"] == outcomes["stdlib"]


@pytest.mark.parametrize("case", ["wrong-host", "wrong-ip", "wrong-ipv6"])
def test_service_identity_fallback(pki: PKI, case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without OpenSSL's host check, service_identity's reports the same verify code and message."""
    monkeypatch.setattr(_backend, "OPENSSL_HOST_CHECK", False)
    bad = BAD_CASES[case]
    pair = Pair(client_context(pki), server_context(pki, "stdlib", bad.credential), bad.server_hostname)
    outcome = pair.handshake()
    assert values(outcome["client"])[5:] == (bad.verify_code, bad.verify_message)  # type: ignore[index]
    assert values(outcome["server"])[3] == "TLSV1_ALERT_INTERNAL_ERROR"  # type: ignore[index]
    assert Pair(client_context(pki), server_context(pki, "stdlib")).handshake() == {"client": None, "server": None}


def _io_events(pki: PKI, backend: str) -> list[Any]:
    """close_notify then ragged EOF, recorded as the values each call gives."""
    events: list[Any] = []

    def record(call: Callable[[], Any]) -> None:
        try:
            events.append(call())
        except ssl.SSLError as exc:
            events.append(values(exc))

    pair = Pair(client_context(pki, backend), server_context(pki, backend)).connect()
    pair.exchange()
    record(pair.server.read)  # nothing yet: want-read
    record(pair.client.unwrap)  # close_notify sent, peer's awaited
    pair.transfer()
    record(pair.server.read)
    record(pair.server.read)
    record(pair.server.unwrap)
    pair.transfer()
    record(pair.client.unwrap)
    ragged = Pair(client_context(pki, backend), server_context(pki, backend)).connect()
    ragged.s_in.write_eof()
    record(ragged.server.read)
    record(ragged.server.read)
    record(lambda: ragged.server.write(b"x"))
    early = Pair(client_context(pki, backend), server_context(pki, backend))
    record(early.client.do_handshake)
    early.c_in.write_eof()
    record(early.client.do_handshake)
    garbage = Pair(client_context(pki, backend), server_context(pki, backend))
    garbage.s_in.write(b"GET / HTTP/1.1\r\n\r\n")
    record(garbage.server.do_handshake)
    return events


def test_close_notify_and_eof_equal_stdlib(pki: PKI) -> None:
    events = _io_events(pki, "pyopenssl")
    assert events == _io_events(pki, "stdlib")
    assert events[2] == b""  # read after close_notify: b"" on the 3.11 SSLObject
    assert events[6][3] == "UNEXPECTED_EOF_WHILE_READING"


@pytest.mark.parametrize(("client_alpn", "server_alpn", "expected"), [
    (["http/1.1", "h2"], ["h2", "http/1.1"], "h2"),
    (["http/1.1"], ["h2"], None),
    ([], ["h2"], None),
])
@pytest.mark.parametrize("server_backend", BACKENDS)
def test_alpn(pki: PKI, server_backend: str, client_alpn: list[str], server_alpn: list[str],
              expected: str | None) -> None:
    client, server = client_context(pki), server_context(pki, server_backend)
    client.set_alpn_protocols(client_alpn)
    server.set_alpn_protocols(server_alpn)
    pair = Pair(client, server).connect()
    assert pair.client.selected_alpn_protocol() == pair.server.selected_alpn_protocol() == expected


def test_sni_callback_switches_context(pki: PKI) -> None:
    server, alternate = server_context(pki), server_context(pki, leaf="alternate")
    seen: list[Any] = []

    def choose(conn: Any, name: str | None, ctx: tlsapi.Context) -> None:
        seen.append((name, ctx))
        conn.context = alternate

    server.sni_callback = choose
    pair = Pair(client_context(pki, "stdlib"), server).connect()
    assert seen == [("localhost", server)]
    assert pair.server.context is alternate
    assert pair.client.getpeercert(True) == pki["alternate"].der


def test_sni_callback_gets_the_a_label(pki: PKI) -> None:
    seen: dict[str, list[str | None]] = {backend: [] for backend in BACKENDS}
    for backend in BACKENDS:
        server = server_context(pki, backend)
        server.sni_callback = lambda conn, name, ctx, names=seen[backend]: names.append(name)
        Pair(client_context(pki, "stdlib"), server, "bücher.example").handshake()
    assert seen["pyopenssl"] == seen["stdlib"] == ["xn--bcher-kva.example"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # both report it so
@pytest.mark.parametrize(("outcome", "client_reason"), [
    (RuntimeError("no such host"), "SSLV3_ALERT_HANDSHAKE_FAILURE"),
    (ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE, "SSLV3_ALERT_HANDSHAKE_FAILURE"),
    (ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME, "TLSV1_UNRECOGNIZED_NAME"),
    (ssl.ALERT_DESCRIPTION_ACCESS_DENIED, "TLSV1_ALERT_ACCESS_DENIED"),
    ("not an alert", "TLSV1_ALERT_INTERNAL_ERROR"),
], ids=["raise", "handshake-failure", "unrecognized-name", "access-denied", "not-an-int"])
def test_sni_callback_failure_equals_stdlib(pki: PKI, outcome: Any, client_reason: str) -> None:
    """The alert returned (handshake_failure for an exception) is the alert sent; the server: CALLBACK_FAILED."""
    def callback(conn: Any, name: str | None, ctx: tlsapi.Context) -> Any:
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    results = {}
    unraisable: dict[str, list[Any]] = {}
    for backend in BACKENDS:
        server = server_context(pki, backend)
        server.sni_callback = callback
        with pytest.MonkeyPatch.context() as patch:
            unraisable[backend] = []
            patch.setattr("sys.unraisablehook", unraisable[backend].append)
            results[backend] = {side: values(exc) for side, exc in
                                Pair(client_context(pki, "stdlib"), server).handshake().items()}
    assert results["pyopenssl"] == results["stdlib"]
    assert results["pyopenssl"]["server"][3] == "CALLBACK_FAILED"  # type: ignore[index]
    assert results["pyopenssl"]["client"][3] == client_reason  # type: ignore[index]
    reported = {backend: [type(hook.exc_value) for hook in hooks] for backend, hooks in unraisable.items()}
    assert reported["pyopenssl"] == reported["stdlib"]


@pytest.mark.parametrize("server_backend", BACKENDS)
@pytest.mark.parametrize("version", [tlsapi.TLSVersion.TLSv1_2, tlsapi.TLSVersion.TLSv1_3])
def test_session_resumption(pki: PKI, server_backend: str, version: tlsapi.TLSVersion) -> None:
    client, server = client_context(pki), server_context(pki, server_backend)
    client.maximum_version = version
    first = Pair(client, server).connect()
    first.exchange()
    assert not first.client.session_reused
    second = Pair(client, server, session=first.client.session).connect()
    assert second.client.session_reused and second.server.session_reused
    second.exchange()
    with pytest.raises(ValueError, match="different SSLContext"):
        client_context(pki).wrap_bio(tlsapi.MemoryBIO(), tlsapi.MemoryBIO(), server_hostname="localhost",
                                     session=first.client.session)


def test_session_survives_its_connection(pki: PKI) -> None:
    """A chain of resumptions, each with the newest ticket, as the bench runs it: every one resumes.

    OpenSSL's ``SSL_free`` marks the session of a connection that was not shut down not resumable; the
    session handed out must not be that object (regression: the bench's chain stopped resuming after
    2268 handshakes, when the garbage collector freed the connection the session came from). The
    connections are dropped unshut, and a full collection every 100 resumptions frees them before the
    next ClientHello; 2400 resumptions cross the old failure point.
    """
    client, server = client_context(pki), server_context(pki)
    pair = Pair(client, server).connect()
    pair.exchange()
    session = pair.client.session
    for count in range(2400):
        del pair
        if count % 100 == 0:
            gc.collect()
        pair = Pair(client, server, session=session).connect()
        assert pair.client.session_reused, f"not resumed after {count} resumptions"
        pair.exchange(b"?")
        session = pair.client.session


@pytest.mark.parametrize("server_backend", BACKENDS)
@pytest.mark.parametrize("version", [tlsapi.TLSVersion.TLSv1_2, tlsapi.TLSVersion.TLSv1_3])
def test_session_survives_the_connections_it_resumed(pki: PKI, server_backend: str,
                                                      version: tlsapi.TLSVersion) -> None:
    """A session offered again and again still resumes after the connections it resumed are freed unshut."""
    client, server = client_context(pki), server_context(pki, server_backend)
    client.maximum_version = version
    first = Pair(client, server).connect()
    first.exchange()
    session = first.client.session
    del first
    gc.collect()
    for _ in range(3):
        resumed = Pair(client, server, session=session).connect()
        assert resumed.client.session_reused and resumed.server.session_reused
        del resumed
        gc.collect()


def test_sni_rejection_also_refuses_resumption(pki: PKI) -> None:
    client, server = client_context(pki), server_context(pki)
    first = Pair(client, server).connect()
    first.exchange()
    server.sni_callback = lambda conn, name, ctx: ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
    outcome = Pair(client, server, session=first.client.session).handshake()
    assert values(outcome["server"])[3] == "CALLBACK_FAILED"  # type: ignore[index]


def test_post_quantum_group(pki: PKI) -> None:
    backend = tlsapi.get_backend("pyopenssl")
    if tlsapi.Capability.GROUP_X25519MLKEM768 not in backend.capabilities():
        pytest.skip(f"OpenSSL {backend.version} predates X25519MLKEM768")
    pair = Pair(client_context(pki), server_context(pki)).connect()
    assert pair.client.group() == pair.server.group() == "X25519MLKEM768"
    with_stdlib = Pair(client_context(pki), server_context(pki, "stdlib")).connect()
    assert with_stdlib.client.group() == "x25519"


def test_set_groups(pki: PKI) -> None:
    client, server = client_context(pki), server_context(pki)
    assert isinstance(client, PyOpenSSLContext)
    client.set_groups(["secp384r1"])
    pair = Pair(client, server).connect()
    assert pair.client.group() == pair.server.group() == "secp384r1"
    with pytest.raises(tlsapi.UnsupportedFeatureError):
        client.set_groups(["x25519", "secp256r1"])


def test_ciphers(pki: PKI) -> None:
    client = client_context(pki)
    assert client.get_ciphers() == client_context(pki, "stdlib").get_ciphers()
    client.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    client.maximum_version = tlsapi.TLSVersion.TLSv1_2
    pair = Pair(client, server_context(pki)).connect()
    assert pair.client.cipher() == ("ECDHE-ECDSA-AES128-GCM-SHA256", "TLSv1.2", 128)
    with pytest.raises(tlsapi.SSLError, match="No cipher can be selected"):
        client.set_ciphers("NOPE")


def test_keylog(pki: PKI, tmp_path: Path) -> None:
    client = client_context(pki)
    client.keylog_filename = str(tmp_path / "keys.log")
    Pair(client, server_context(pki)).connect()
    lines = (tmp_path / "keys.log").read_text().splitlines()
    assert lines[0].startswith("# TLS secrets log file")
    assert any(line.startswith("CLIENT_HANDSHAKE_TRAFFIC_SECRET ") for line in lines)


# -- real sockets ----------------------------------------------------------------------------------------------


@pytest.fixture
def tls_server(pki: PKI) -> Iterator[Callable[[tlsapi.Context], int]]:
    """Start a one-connection echo server with the given context; returns its port."""
    threads: list[threading.Thread] = []
    listeners: list[socket.socket] = []

    def start(ctx: tlsapi.Context) -> int:
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(10)
        listeners.append(listener)

        def serve() -> None:
            raw, _ = listener.accept()
            try:
                with ctx.wrap_socket(raw, server_side=True) as tls:
                    peer = tls.getpeercert()
                    tls.sendall(repr(peer["subject"][-1] if peer else None).encode() + b"\n")
                    while data := tls.recv(65536):
                        tls.sendall(data)
                    tls.unwrap()  # answer the client's close_notify
            except ssl.SSLError:
                pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        threads.append(thread)
        return int(listener.getsockname()[1])

    yield start
    for thread in threads:
        thread.join(10)
    for listener in listeners:
        listener.close()


@pytest.mark.parametrize(("client_backend", "server_backend"), [("pyopenssl", "stdlib"), ("stdlib", "pyopenssl")])
def test_mutual_tls_over_sockets(pki: PKI, tls_server: Callable[[tlsapi.Context], int], client_backend: str,
                                 server_backend: str) -> None:
    server = server_context(pki, server_backend)
    server.verify_mode = tlsapi.CERT_REQUIRED
    server.load_verify_locations(pki.ca_file)
    client = client_context(pki, client_backend)
    client.load_cert_chain(pki.client.certfile)
    port = tls_server(server)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            client.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        reader = tls.makefile("rb")
        assert reader.readline() == repr((("commonName", "tlsapi conformance client"),)).encode() + b"\n"
        payload = bytes(range(256)) * 400
        tls.sendall(payload)
        received = b""
        while len(received) < len(payload):
            received += reader.read1(65536)
        assert received == payload
        reader.close()
        tls.unwrap()


def test_ragged_eof_over_socket_is_suppressed(pki: PKI) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    server = server_context(pki)

    def serve() -> None:
        raw, _ = listener.accept()
        with server.wrap_socket(raw, server_side=True) as tls:
            tls.sendall(b"bye")
            socket.socket.shutdown(tls, socket.SHUT_RDWR)  # TCP close without close_notify

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with socket.create_connection(listener.getsockname(), timeout=10) as raw, \
            client_context(pki).wrap_socket(raw, server_hostname="localhost") as tls:
        assert tls.recv(10) == b"bye"
        assert tls.recv(10) == b""
    thread.join(10)
    listener.close()


def test_http_client(pki: PKI) -> None:
    """``http.client.HTTPSConnection`` with a pyopenssl context, against a pyopenssl HTTPS server."""
    server_ctx = server_context(pki)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"{self.path} over {self.request.version()}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPSConnection("localhost", httpd.server_address[1], context=client_context(pki),
                                           timeout=10)
        conn.request("GET", "/hello")
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"/hello over TLSv1.3")
        conn.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)
