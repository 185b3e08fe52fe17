"""One HTTP/1.1 request off a raw socket, for loopback peers that must misbehave in ways
``http.server`` will not (drop a kept-alive connection, answer a byte at a time)."""

from __future__ import annotations

import socket


def read_request(conn: socket.socket) -> tuple[bytes, bytes] | None:
    """The next request's head and its Content-Length body; None when the client closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head, body
