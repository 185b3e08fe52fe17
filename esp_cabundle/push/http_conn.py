"""HTTP connections whose every step (connect, TLS handshake, request, answer) ends by
one deadline, for :class:`~esp_cabundle.push.http.HttpPool`.

A socket's timeout bounds one read: a peer that answers a byte at a time is never
silent that long, and would stretch a call with a 1 s timeout for as long as it pleased.
"""

from __future__ import annotations

import http.client
import io
import select
import socket
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

__all__ = ["Connection", "DeadlineSocket", "TlsConnection"]


def _left(deadline: float) -> float:
    """The seconds left until ``deadline``; TimeoutError when none are."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the call's deadline passed")
    return left


class Connection(http.client.HTTPConnection):
    """An HTTP connection whose socket's every step ends by :attr:`deadline`."""

    deadline = 0.0

    def __init__(self, host: str, port: int, ctx: ssl.SSLContext | None) -> None:
        super().__init__(host, port)
        self._tls = ctx

    def connect(self) -> None:
        # Not http.client's: its TLS handshake has a timeout of its own after the
        # TCP connect's.
        sock = socket.create_connection((self.host, self.port), timeout=_left(self.deadline))
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as http.client
            if self._tls is not None:
                sock.settimeout(_left(self.deadline))
                sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self.sock = DeadlineSocket(sock, self.deadline)


class TlsConnection(Connection):
    default_port = http.client.HTTPS_PORT  # the Host header names no port 443


class DeadlineSocket:
    """A connected socket whose every send and receive ends by :attr:`deadline`
    (``time.monotonic()``), as http.client uses one (sendall, makefile, close).

    Like a socket, it stays open while a reader from :meth:`makefile` does: http.client
    closes a connection the server closes while its response still reads the body."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline = sock, deadline
        self.sent = 0  # bytes the kernel took since the caller last set it
        self._readers = 0
        self._closed = False

    def dropped(self) -> bool:
        """Whether the peer closed this connection (or sent something unasked) while
        it sat idle between requests: anything to read then, the end of the stream
        included, means it is not to be reused (urllib3 ``util/connection.py``
        ``is_connection_dropped``: ``wait_for_read(sock, timeout=0.0)``)."""
        pending = getattr(self.sock, "pending", None)  # TLS: bytes decrypted, unread
        if pending is not None and pending():
            return True
        try:
            if hasattr(select, "poll"):  # select() fails on descriptors past 1023
                poller = select.poll()
                poller.register(self.sock, select.POLLIN)
                return bool(poller.poll(0))
            return bool(select.select([self.sock], [], [], 0)[0])
        except (OSError, ValueError):  # closed meanwhile
            return True

    def _arm(self) -> None:
        self.sock.settimeout(_left(self.deadline))

    def recv_into(self, buf: Any) -> int:
        self._arm()
        return self.sock.recv_into(buf)

    def sendall(self, data: Any) -> None:
        view = memoryview(data).cast("B")
        while view:
            self._arm()
            n = self.sock.send(view)  # a failed send took nothing
            self.sent += n
            view = view[n:]

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        if mode != "rb":
            raise ValueError(f"a reader only, not {mode!r}")
        self._readers += 1
        return io.BufferedReader(_DeadlineReader(self))

    def release(self) -> None:
        """One reader closed."""
        self._readers -= 1
        if self._closed and not self._readers:
            self.sock.close()

    def close(self) -> None:
        self._closed = True
        if not self._readers:
            self.sock.close()


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: DeadlineSocket) -> None:
        super().__init__()
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        return self._sock.recv_into(buf)

    def close(self) -> None:
        if not self.closed:
            self._sock.release()
        super().close()
