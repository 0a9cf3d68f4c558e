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
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ._bio import MemoryBIO
from ._errors import SSLError, want_read, want_write

if TYPE_CHECKING:
    from ._connection import Connection
    from ._context import Context

T = TypeVar("T")

RECEIVE_SIZE = 65536  # ciphertext read from the socket per call: a few records
WRITE_CHUNK = 262144  # plaintext encrypted per pump in sendall: bounds the outgoing buffer
_send = socket.socket.send  # the plain socket's send, bound once (the pump calls it per write)


class TLSSocket(ssl.SSLSocket):
    """A ``socket.socket`` that speaks TLS with ``ssl.SSLSocket`` semantics over any backend."""

    _context: Context
    _sslobj: Connection | None
    _session: Any
    _closed: bool
    _connected: bool
    _incoming: ssl.MemoryBIO
    _outgoing: ssl.MemoryBIO
    _unsent: bytes
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
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) != socket.SOCK_STREAM:
            raise NotImplementedError("only stream sockets are supported")
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
        self.settimeout(timeout)
        try:
            self.getpeername()
        except OSError as exc:
            if exc.errno != errno.ENOTCONN:
                raise
            connected = False
        else:
            connected = True
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

    def _attach(self) -> None:
        self._sslobj = self._context._create_connection(
            self._incoming, self._outgoing, self.server_side, self.server_hostname, self._session
        )

    # -- the pump --------------------------------------------------------------------------------------

    def _flush(self) -> None:
        """Send all pending ciphertext; on a non-blocking socket keep what did not fit and want-write."""
        unsent, outgoing = self._unsent, self._outgoing
        if unsent:
            data = unsent + outgoing.read()
        elif outgoing.pending:
            data = outgoing.read()
        else:
            return
        try:
            sent = _send(self, data)
        except BlockingIOError:
            self._unsent = data
            raise want_write("socket") from None
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
        finally:
            view.release()
        self._unsent = b""

    def _fill(self) -> None:
        """Receive ciphertext into the incoming BIO (EOF becomes ``write_eof``)."""
        try:
            data = socket.socket.recv(self, RECEIVE_SIZE)
        except BlockingIOError:
            raise want_read("socket") from None
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()

    def _call(self, operation: Callable[..., T], *args: Any) -> T:
        """Run a Connection operation to completion (or to a want-error on a non-blocking socket)."""
        if self._unsent:
            self._flush()
        while True:
            try:
                result = operation(*args)
            except ssl.SSLWantReadError:
                self._flush()
                if self._incoming.eof:
                    raise
                self._fill()
            except ssl.SSLWantWriteError:
                self._flush()
            except ssl.SSLError:
                if self._outgoing.pending:  # the fatal alert, as OpenSSL writes it before failing
                    with contextlib.suppress(OSError):
                        self._flush()
                raise
            else:
                if self._outgoing.pending:
                    self._flush()
                return result

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
        if connect_ex:
            result = socket.socket.connect_ex(self, addr)
            if result:
                return result
        else:
            socket.socket.connect(self, addr)
        self._connected = True
        self._attach()
        if self.do_handshake_on_connect:
            self.do_handshake()
        return 0

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
            self._call(connection.do_handshake)
        finally:
            self.settimeout(timeout)

    # -- data -------------------------------------------------------------------------------------------

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        connection = self._connection()
        try:
            if buffer is not None:
                return self._call(connection.read, len, buffer)
            return self._call(connection.read, len)
        except SSLError as exc:
            if exc.errno == ssl.SSL_ERROR_EOF and self.suppress_ragged_eofs:
                return 0 if buffer is not None else b""
            raise

    def write(self, data: Any) -> int:
        return self._call(self._connection().write, data)

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        if self._sslobj is None:
            return socket.socket.recv(self, buflen, flags)
        if flags != 0:
            raise ValueError(f"non-zero flags not allowed in calls to recv() on {type(self)}")
        data: bytes = self.read(buflen)
        return data

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        if nbytes is None:
            nbytes = len(buffer) if buffer is not None else 1024
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
        return self.write(data)

    def sendall(self, data: Any, flags: int = 0) -> None:
        connection = self._sslobj
        if connection is None:
            socket.socket.sendall(self, data, flags)
            return
        if flags != 0:
            raise ValueError(f"non-zero flags not allowed in calls to sendall() on {type(self)}")
        if type(data) is bytes and len(data) <= WRITE_CHUNK:  # the common case, without a memoryview
            if not data:
                return
            if self._unsent:  # earlier ciphertext goes first: the full pump
                self._call(connection.write, data)
                return
            try:  # the pump's first step inline: one call when nothing needs waiting for
                connection.write(data)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):  # nothing was written: the full pump
                self._call(connection.write, data)
                return
            self._flush()
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
        return self._connection().get_channel_binding(cb_type)

    def verify_client_post_handshake(self) -> None:
        connection = self._connection()
        connection.verify_client_post_handshake()
        if self._outgoing.pending:
            self._flush()

    def group(self) -> str | None:
        """The negotiated key-exchange group (tlsapi extension)."""
        return self._connection().group()

    def key_update(self, request_peer: bool = True) -> None:
        """TLS 1.3 KeyUpdate (tlsapi extension); the message is sent at once."""
        self._connection().key_update(request_peer)
        self._flush()

    def export_keying_material(self, label: bytes, context: bytes | None, length: int) -> bytes:
        """RFC 5705 / RFC 8446 keying material exporter (tlsapi extension)."""
        return self._connection().export_keying_material(label, context, length)
