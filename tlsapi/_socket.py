"""``TLSSocket``: a real socket speaking TLS through any backend's :class:`~tlsapi.Connection`.

Written once for every backend: the socket owns two memory BIOs and a Connection, and one pump
(:meth:`TLSSocket._call`) runs every TLS operation: call it; on want-read send what is pending and
receive; on want-write send; repeat. Blocking sockets wait (honouring the timeout, which raises
``TimeoutError``); non-blocking sockets raise ``SSLWantReadError`` / ``SSLWantWriteError`` instead, with
ciphertext that could not be sent kept for the next call, so nothing is lost.

``TLSSocket`` subclasses :class:`ssl.SSLSocket` (hence ``socket.socket``): httpcore negotiates HTTP/2 and
TLS-in-TLS only for an ``ssl.SSLSocket``, and reads its ``_sslobj`` as the ``ssl_object``; ours is the
backend's Connection, which has the ``SSLObject`` methods. Every I/O member of ``ssl.SSLSocket`` is
overridden here; none reaches OpenSSL.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ._bio import MemoryBIO
from ._errors import SSLError, closed_eof, want_read, want_write

if TYPE_CHECKING:
    from ._connection import Connection
    from ._context import Context
    from ._enums import ECHStatus

T = TypeVar("T")

RECORD_HEADER = 5  # a TLS record's header: content type, version, length (2 bytes)
CHANGE_CIPHER_SPEC, APPLICATION_DATA = 20, 23  # the range of record content types
MAX_RECORD = 16384 + 2048  # the longest record body TLS allows (TLS 1.2's ciphertext limit)
WRITE_CHUNK = 262144  # plaintext encrypted per call in sendall, and per non-blocking send: bounds the buffer
ALERT_FLUSH_TIMEOUT = 1.0  # seconds a blocking socket may wait to put a fatal alert on the wire
PRE_HANDSHAKE_DATA = "Closed before TLS handshake with data in recv buffer."
_send = socket.socket.send  # the plain socket's send and recv, bound once (the pump calls them per record)
_recv = socket.socket.recv
_DONT_WAIT = getattr(socket, "MSG_DONTWAIT", 0)
_WAIT_ALL = getattr(socket, "MSG_WAITALL", 0)


_COMBINED_SOCKET_CLASSES: dict[type[ssl.SSLSocket], type[TLSSocket]] = {}


def socket_class_for(chosen: type[ssl.SSLSocket]) -> type[TLSSocket]:
    """The class ``wrap_socket`` instantiates for a context's ``sslsocket_class``.

    A ``TLSSocket`` subclass is used as it is; an ``ssl.SSLSocket`` subclass written for the stdlib is honoured
    with a class deriving from it and ``TLSSocket`` (in that order): the sockets are instances of it and its
    overrides apply, over tlsapi's I/O.
    """
    if issubclass(chosen, TLSSocket):
        return chosen
    combined = _COMBINED_SOCKET_CLASSES.get(chosen)
    if combined is None:
        combined = type(chosen.__name__, (chosen, TLSSocket), {"__module__": chosen.__module__})
        _COMBINED_SOCKET_CLASSES[chosen] = combined
    return combined


@functools.cache
def ssl_reports_socket_errors_as_eof() -> bool:
    """Whether the running interpreter's ``ssl`` turns a socket error in ``read``/``write`` into ``SSLEOFError``.

    ``_ssl`` calls ``SSL_read_ex``/``SSL_write_ex``, which return 0 on failure; until gh-115627 (CPython 3.13;
    3.11.7 and 3.12.1 are before it) it took that 0 for an EOF, so a connection reset or a broken pipe while
    reading or writing data is ``SSLEOFError`` ("EOF occurred in violation of protocol", no reason; ``b""``
    from a read with ``suppress_ragged_eofs``). After it, it is the ``OSError`` itself (``ConnectionResetError``,
    ``BrokenPipeError``). The handshake and ``unwrap`` report the ``OSError`` on every version. Measured once,
    on OpenSSL's own ``_ssl`` (``ssl.SSLContext`` may be redirected to tlsapi): a read from a socket pair whose
    peer closed with unread bytes, which fails with ``ECONNRESET`` without raising ``SIGPIPE``.
    """
    import _ssl

    context = _ssl._SSLContext(_ssl.PROTOCOL_TLS_SERVER)
    ours, peer = socket.socketpair()
    with ours:
        ours.send(b"\0")
        peer.close()  # with an unread byte: the pair is reset
        probe = context._wrap_socket(ours, True, None)  # type: ignore[attr-defined]
        try:
            probe.read(1)
        except ssl.SSLEOFError:
            return True
        except OSError:
            return False
    return False


def data_error(error: OSError) -> OSError:
    """What a socket error while writing data surfaces as, as the running interpreter's ``ssl`` reports it: the
    reasonless ``SSLEOFError`` where ``ssl_reports_socket_errors_as_eof``, else ``error`` itself. SSL errors
    (want-write included) and timeouts are returned unchanged."""
    if isinstance(error, (ssl.SSLError, TimeoutError)) or not ssl_reports_socket_errors_as_eof():
        return error
    return closed_eof("socket")


def require_stream_socket(sock: socket.socket) -> None:
    """``NotImplementedError`` unless ``sock`` is a stream socket: ``wrap_socket``'s first check, as in ``ssl``."""
    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) != socket.SOCK_STREAM:
        raise NotImplementedError("only stream sockets are supported")


class TLSSocket(ssl.SSLSocket):
    """A ``socket.socket`` that speaks TLS with ``ssl.SSLSocket`` semantics over any backend."""

    _context: Context
    _sslobj: Connection | None
    _session: Any
    _closed: bool
    _connected: bool
    _incoming: ssl.MemoryBIO
    _outgoing: ssl.MemoryBIO
    _unsent: bytes  # ciphertext taken from the outgoing BIO that the kernel did not take yet
    _taken: int  # plaintext count of the write whose ciphertext is in ``_unsent``: its retry returns it
    _record_header: bytes  # the part of the next record's header received so far
    _record_left: int  # bytes of the current record's body still in the kernel
    do_handshake_on_connect: bool
    suppress_ragged_eofs: bool

    @classmethod
    def _create(
        cls,
        sock: socket.socket,
        context: Context,
        *,
        server_side: bool,
        server_hostname: str | None,
        do_handshake_on_connect: bool,
        suppress_ragged_eofs: bool,
        session: Any,
    ) -> TLSSocket:
        kwargs = {"family": sock.family, "type": sock.type, "proto": sock.proto, "fileno": sock.fileno()}
        self = cls.__new__(cls, **kwargs)
        socket.socket.__init__(self, **kwargs)
        timeout = sock.gettimeout()
        sock.detach()
        self._context = context
        self._session = session
        self._closed = False
        self._sslobj = None
        self.server_side = server_side
        self.server_hostname = server_hostname
        self.do_handshake_on_connect = do_handshake_on_connect
        self.suppress_ragged_eofs = suppress_ragged_eofs
        self._incoming = MemoryBIO()
        self._outgoing = MemoryBIO()
        self._unsent = b""
        self._taken = 0
        self._record_header = b""
        self._record_left = 0
        try:
            self.getpeername()
        except OSError as exc:
            if exc.errno != errno.ENOTCONN:
                raise
            connected = False
            self._refuse_data_before_handshake(exc.errno)
        else:
            connected = True
        self.settimeout(timeout)
        self._connected = connected
        if connected:
            try:
                self._attach()
                if do_handshake_on_connect:
                    if timeout == 0.0:
                        raise ValueError("do_handshake_on_connect should not be specified for non-blocking sockets")
                    self.do_handshake()
            except (OSError, ValueError):
                self.close()
                raise
        return self

    def _refuse_data_before_handshake(self, code: int) -> None:
        """An unconnected socket holding received bytes was reset before TLS began: refuse it, as ``ssl`` does.

        Without this, the plaintext a peer sent before resetting (CVE-2023-40217) would be read from the
        plain socket as if it had come through TLS.
        """
        self.setblocking(False)
        try:
            early = _recv(self, 1)
        except OSError as exc:
            if exc.errno not in (errno.ENOTCONN, errno.EINVAL):  # EINVAL: an unconnected Unix socket
                raise
            early = b""
        if early:
            error = SSLError(code, PRE_HANDSHAKE_DATA)
            error.reason = PRE_HANDSHAKE_DATA
            error.library = None  # type: ignore[assignment]  # as ssl.py sets it
            with contextlib.suppress(OSError):
                self.close()
            raise error

    def _attach(self) -> None:
        self._sslobj = self._context._create_connection(
            self._incoming, self._outgoing, self.server_side, self.server_hostname, self._session
        )

    # -- the pump --------------------------------------------------------------------------------------

    def _flush(self) -> None:
        """Send all pending ciphertext.

        What the kernel does not take is kept and sent first by the next call: on a non-blocking socket
        this raises ``SSLWantWriteError``, on a timeout ``TimeoutError``.
        """
        unsent, outgoing = self._unsent, self._outgoing
        if unsent:
            data = unsent + outgoing.read() if outgoing.pending else unsent
        elif outgoing.pending:
            data = outgoing.read()
        else:
            return
        try:
            sent = _send(self, data)
        except BlockingIOError:
            self._unsent = data
            raise want_write("socket") from None
        except OSError:
            self._unsent = data
            raise
        if sent == len(data):  # the usual case: all of it at once
            if unsent:
                self._unsent = b""
            return
        view = memoryview(data)[sent:]
        try:
            while view:
                sent = _send(self, view)
                view = view[sent:]
        except BlockingIOError:
            self._unsent = bytes(view)
            raise want_write("socket") from None
        except OSError:
            self._unsent = bytes(view)
            raise
        finally:
            view.release()
        self._unsent = b""

    def _flush_what_fits(self) -> None:
        """Send pending ciphertext as far as the kernel takes it now: a read never fails for a full send buffer,
        nor for a send the peer's reset refused (``ssl``'s read does not send earlier writes' records: what
        the read receives tells the connection's state, and the next write reports the send error)."""
        with contextlib.suppress(OSError):  # SSLWantWriteError included
            self._flush()

    def _send_fatal_alert(self) -> None:
        """Put on the wire, best effort, what the Connection wrote before failing: its fatal alert.

        Socket errors are ignored; a non-blocking socket does not wait, a blocking one waits at most
        ``ALERT_FLUSH_TIMEOUT`` (or its own timeout, if shorter) for room in the send buffer.
        """
        data = self._unsent + self._outgoing.read()
        self._unsent = b""
        if not data or self.fileno() == -1:
            return
        timeout = self.gettimeout()
        try:
            if timeout is None or timeout > ALERT_FLUSH_TIMEOUT:
                self.settimeout(ALERT_FLUSH_TIMEOUT)
            socket.socket.sendall(self, data)
        except OSError:
            pass
        finally:
            self.settimeout(timeout)

    def _receive(self, size: int, flags: int, reset_is_eof: bool) -> bytes | None:
        """Up to ``size`` bytes from the kernel into the incoming BIO (an EOF becomes ``write_eof``), or
        ``None`` if nothing has arrived (a non-blocking receive).

        With ``reset_is_eof`` (reading data), a socket error (a connection reset) is an EOF where the running
        interpreter's ``ssl`` reports it so (``ssl_reports_socket_errors_as_eof``): the Connection then raises
        ``SSLEOFError`` (``b""`` with ``suppress_ragged_eofs``). A timeout stays ``TimeoutError``.
        """
        try:
            data = _recv(self, size, flags)
        except BlockingIOError:
            return None
        except OSError as error:
            if not reset_is_eof or isinstance(error, TimeoutError) or not ssl_reports_socket_errors_as_eof():
                raise
            data = b""
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()
        return data

    def _fill(self, flags: int = 0, reset_is_eof: bool = False) -> bool:
        """Receive the next part of the current record: its 5-byte header, then its body; False if nothing
        had arrived (a non-blocking receive).

        No read-ahead, as OpenSSL by default: the kernel keeps the records behind this one, so ``select()``
        sees them. After a header that is a TLS record's, its body is received at once: a blocking socket
        waits for all of it (``MSG_WAITALL``), as OpenSSL does, others take what has arrived. Anything else
        (plaintext, garbage) is left for the Connection to reject on its header. ``flags`` apply to the
        first receive; ``reset_is_eof`` as in ``_receive``.
        """
        left = self._record_left
        if left:
            data = self._receive(left, flags, reset_is_eof)
            if data is None:
                return False
            self._record_left = left - len(data)
            return True
        partial = self._record_header
        data = self._receive(RECORD_HEADER - len(partial), flags, reset_is_eof)
        if data is None:
            return False
        header = partial + data
        if len(header) < RECORD_HEADER:
            self._record_header = header
            return True
        self._record_header = b""
        left = self._record_left = (header[3] << 8) | header[4]
        if left and CHANGE_CIPHER_SPEC <= header[0] <= APPLICATION_DATA and header[1] == 3 and left <= MAX_RECORD:
            body = self._receive(left, _WAIT_ALL if self.gettimeout() is None else 0, reset_is_eof)
            if body is not None:
                self._record_left = left - len(body)
        return True

    def _no_wait_flags(self) -> int | None:
        """The ``recv`` flags that take what has arrived without waiting, or ``None`` if there are none.

        Non-blocking sockets need none; blocking ones ``MSG_DONTWAIT`` (where it exists); a socket with a
        timeout has none, as its ``recv`` first waits for data.
        """
        timeout = self.gettimeout()
        if timeout == 0.0:
            return 0
        if timeout is None and _DONT_WAIT:
            return _DONT_WAIT
        return None

    def _call(self, operation: Callable[..., T], *args: Any, reading: bool = False) -> T:
        """Run a Connection operation to completion (or to a want-error on a non-blocking socket).

        On want-read the pending ciphertext is sent and the next part of a record received; on want-write,
        sent. When ``reading``, ciphertext the kernel cannot take yet does not stop the read (only want-read
        is raised). A fatal ``SSLError`` is raised once what the Connection wrote (its alert) was sent, best
        effort. What a successful operation wrote is left for the caller to send.
        """
        try:
            while True:
                try:
                    return operation(*args)
                except ssl.SSLWantReadError:
                    if reading:
                        self._flush_what_fits()
                    else:
                        self._flush()
                    if self._incoming.eof:
                        raise
                    if not self._fill(reset_is_eof=reading):
                        raise want_read("socket") from None
                except ssl.SSLWantWriteError:
                    self._flush()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise
        except ssl.SSLError:
            self._send_fatal_alert()
            raise

    def _connection(self) -> Connection:
        if self._sslobj is None:
            raise ValueError("Read on closed or unwrapped SSL socket.")
        return self._sslobj

    # -- connecting and handshaking -------------------------------------------------------------------

    def _check_connected(self) -> None:
        if not self._connected:
            self.getpeername()  # OSError(ENOTCONN), as ssl.SSLSocket raises

    def _real_connect(self, addr: Any, connect_ex: bool) -> int:
        if self.server_side:
            raise ValueError("can't connect in server-side mode")
        if self._connected or self._sslobj is not None:
            raise ValueError("attempt to connect already-connected SSLSocket!")
        # The Connection exists before the connection does, as in ``ssl``: a non-blocking ``connect_ex``
        # (EINPROGRESS) is followed by ``do_handshake`` once the socket is writable.
        self._attach()
        try:
            if connect_ex:
                result = socket.socket.connect_ex(self, addr)
            else:
                result = 0
                socket.socket.connect(self, addr)
            if not result:
                self._connected = True
                if self.do_handshake_on_connect:
                    self.do_handshake()
            return result
        except (OSError, ValueError):
            self._sslobj = None
            raise

    def connect(self, addr: Any) -> None:
        self._real_connect(addr, False)

    def connect_ex(self, addr: Any) -> int:
        return self._real_connect(addr, True)

    def accept(self) -> tuple[TLSSocket, Any]:
        sock, addr = socket.socket.accept(self)
        tls = self._context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=self.do_handshake_on_connect,
            suppress_ragged_eofs=self.suppress_ragged_eofs,
        )
        return tls, addr

    def do_handshake(self, block: bool = False) -> None:
        self._check_connected()
        connection = self._connection()
        timeout = self.gettimeout()
        try:
            if timeout == 0.0 and block:
                self.settimeout(None)
            self._handshake(connection)
        finally:
            self.settimeout(timeout)

    def _handshake(self, connection: Connection) -> None:
        """Run the handshake through the pump and send its last flight (a subclass whose Connection does its
        own socket I/O runs ``connection.do_handshake()`` alone)."""
        self._call(connection.do_handshake)
        self._flush()

    # -- data -------------------------------------------------------------------------------------------

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        """Up to ``len`` bytes of plaintext (into ``buffer`` if given), receiving records as needed.

        Ciphertext still unsent from earlier writes goes out as far as the kernel takes it, but never
        turns a read into ``SSLWantWriteError``.
        """
        connection = self._connection()
        if not self._incoming.pending and not connection.pending():
            # Nothing to read without a record: take the one that has arrived first, without waiting, which
            # spares the Connection a want-read per record. (Harmless if the Connection holds records itself.)
            no_wait = self._no_wait_flags()
            if no_wait is not None:
                self._fill(no_wait, reset_is_eof=True)
        try:
            if buffer is not None:
                result = self._call(connection.read, len, buffer, reading=True)
            else:
                result = self._call(connection.read, len, reading=True)
        except ssl.SSLError as exc:
            if exc.errno == ssl.SSL_ERROR_EOF and self.suppress_ragged_eofs:
                return 0 if buffer is not None else b""
            raise
        if self._outgoing.pending:
            self._flush_what_fits()
        return result

    def write(self, data: Any) -> int:
        """Encrypt all of ``data``, send it and return its length.

        If the kernel does not take all of the ciphertext (``SSLWantWriteError`` on a non-blocking socket,
        ``TimeoutError``), the rest is kept; the retry that the ``ssl`` docs ask for, with the same data,
        sends it and returns the length without encrypting the data again, so nothing is sent twice. A
        want-write raised before anything of a call was taken (earlier ciphertext still queued) is retried
        the same way. A socket error (the peer reset the connection) surfaces as ``data_error`` says.
        """
        connection = self._connection()
        taken = self._taken
        try:
            if taken:
                self._flush()
                self._taken = 0
                return taken
            if self._unsent:
                self._flush()
            count = self._call(connection.write, data)
            self._send_written(count)
        except OSError as error:
            raise data_error(error)  # noqa: B904  # the socket error stays as its context
        return count

    def _send_written(self, count: int) -> None:
        """Send the ciphertext of a write of ``count`` plaintext bytes; what the kernel does not take is kept
        and the retry of that write returns ``count`` (see ``write``)."""
        try:
            self._flush()
        except OSError:
            self._taken = count
            raise

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        if self._sslobj is None:
            return socket.socket.recv(self, buflen, flags)
        if flags != 0:
            raise ValueError(f"non-zero flags not allowed in calls to recv() on {type(self)}")
        data: bytes = self.read(buflen)
        return data

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        if nbytes is None:
            if buffer is not None:
                with memoryview(buffer) as view:
                    nbytes = view.nbytes or 1024  # bytes, not items: an array('I') holds 4 per item
            else:
                nbytes = 1024
        if self._sslobj is None:
            return socket.socket.recv_into(self, buffer, nbytes, flags)
        if flags != 0:
            raise ValueError(f"non-zero flags not allowed in calls to recv_into() on {type(self)}")
        count: int = self.read(nbytes, buffer)
        return count

    def send(self, data: Any, flags: int = 0) -> int:
        if self._sslobj is None:
            return socket.socket.send(self, data, flags)
        if flags != 0:
            raise ValueError(f"non-zero flags not allowed in calls to send() on {type(self)}")
        if self.gettimeout() == 0.0 and not self._taken:  # non-blocking: take at most WRITE_CHUNK per call
            with memoryview(data) as view, view.cast("B") as payload:
                if payload.nbytes > WRITE_CHUNK:
                    return self.write(payload[:WRITE_CHUNK])
        return self.write(data)

    def sendall(self, data: Any, flags: int = 0) -> None:
        if self._sslobj is None:
            socket.socket.sendall(self, data, flags)
            return
        if flags != 0:
            raise ValueError(f"non-zero flags not allowed in calls to sendall() on {type(self)}")
        if type(data) is bytes and len(data) <= WRITE_CHUNK:  # the common case, without a memoryview
            if not data:
                return
            if self._taken or self._unsent:
                self.write(data)
                return
            try:  # write's first step inline: one call when nothing needs waiting for
                self._sslobj.write(data)
            except ssl.SSLError:  # nothing was written (want-read: the handshake; or failed): write's pump
                self.write(data)
                return
            try:
                self._send_written(len(data))
            except OSError as error:
                raise data_error(error)  # noqa: B904  # the socket error stays as its context
            return
        with memoryview(data) as view, view.cast("B") as payload:
            for start in range(0, len(payload), WRITE_CHUNK):
                self.write(payload[start : start + WRITE_CHUNK])

    def recvfrom(self, buflen: int = 1024, flags: int = 0) -> Any:
        if self._sslobj is not None:
            raise ValueError(f"recvfrom not allowed on instances of {type(self)}")
        return socket.socket.recvfrom(self, buflen, flags)

    def recvfrom_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> Any:
        if self._sslobj is not None:
            raise ValueError(f"recvfrom_into not allowed on instances of {type(self)}")
        return socket.socket.recvfrom_into(self, buffer, nbytes or 0, flags)

    def sendto(self, data: Any, flags_or_addr: Any, addr: Any = None) -> int:
        if self._sslobj is not None:
            raise ValueError(f"sendto not allowed on instances of {type(self)}")
        if addr is None:
            return socket.socket.sendto(self, data, flags_or_addr)
        return socket.socket.sendto(self, data, flags_or_addr, addr)

    def pending(self) -> int:
        return self._sslobj.pending() if self._sslobj is not None else 0

    # -- closing ----------------------------------------------------------------------------------------

    def unwrap(self) -> TLSSocket:
        """Exchange close_notify with the peer; the socket then carries plaintext."""
        connection = self._connection()
        self._call(connection.unwrap)
        self._flush()
        self._sslobj = None
        return self

    def shutdown(self, how: int) -> None:
        self._sslobj = None
        socket.socket.shutdown(self, how)

    def _real_close(self) -> None:
        self._sslobj = None
        socket.socket._real_close(self)  # type: ignore[attr-defined]

    # -- inspection (the Connection's, once connected) --------------------------------------------------

    @property  # type: ignore[override]
    def context(self) -> Context:
        return self._context

    @context.setter
    def context(self, context: Context) -> None:
        self._context = context
        if self._sslobj is not None:
            self._sslobj.context = context

    @property
    def session(self) -> Any:
        return self._sslobj.session if self._sslobj is not None else None

    @session.setter
    def session(self, session: Any) -> None:
        self._session = session
        if self._sslobj is not None:
            self._sslobj.session = session

    @property
    def session_reused(self) -> bool | None:
        return self._sslobj.session_reused if self._sslobj is not None else None

    def getpeercert(self, binary_form: bool = False) -> Any:
        self._check_connected()
        return self._connection().getpeercert(binary_form)

    def get_verified_chain(self) -> list[bytes]:
        return self._connection().get_verified_chain()

    def get_unverified_chain(self) -> list[bytes]:
        return self._connection().get_unverified_chain()

    def selected_alpn_protocol(self) -> str | None:
        return self._sslobj.selected_alpn_protocol() if self._sslobj is not None else None

    def selected_npn_protocol(self) -> str | None:
        return None

    def cipher(self) -> tuple[str, str, int] | None:
        return self._sslobj.cipher() if self._sslobj is not None else None

    def shared_ciphers(self) -> list[tuple[str, str, int]] | None:
        return self._sslobj.shared_ciphers() if self._sslobj is not None else None

    def compression(self) -> str | None:
        return None

    def version(self) -> str | None:
        return self._sslobj.version() if self._sslobj is not None else None

    def get_channel_binding(self, cb_type: str = "tls-unique") -> bytes | None:
        if self._sslobj is not None:
            return self._sslobj.get_channel_binding(cb_type)
        if cb_type not in ssl.CHANNEL_BINDING_TYPES:
            raise ValueError(f"{cb_type} channel binding type not implemented")
        return None

    def verify_client_post_handshake(self) -> None:
        connection = self._connection()
        connection.verify_client_post_handshake()
        if self._outgoing.pending:
            self._flush()

    def group(self) -> str | None:
        """The negotiated key-exchange group (tlsapi extension)."""
        return self._connection().group()

    def ech_status(self) -> ECHStatus:
        """What became of Encrypted Client Hello (tlsapi extension)."""
        return self._connection().ech_status()

    def key_update(self, request_peer: bool = True) -> None:
        """TLS 1.3 KeyUpdate (tlsapi extension); the message is sent at once."""
        self._connection().key_update(request_peer)
        self._flush()

    def export_keying_material(self, label: bytes, context: bytes | None, length: int) -> bytes:
        """RFC 5705 / RFC 8446 keying material exporter (tlsapi extension)."""
        return self._connection().export_keying_material(label, context, length)
