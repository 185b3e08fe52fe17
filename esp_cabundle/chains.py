"""Server chains exactly as servers send them: saved PEM files and live capture.

Capture speaks just enough TLS 1.2 to receive the server's Certificate message — the
protocol and ciphers an ESP32 with mbedTLS 2.x offers — and stops there. Nothing is
verified, no certificate is dropped, added or reordered: the point is to replay the chain
against a device's rules later (:mod:`esp_cabundle.verify`), offline and in CI. In TLS
1.2 the Certificate message travels in the clear, so this works on every Python >= 3.10
without a TLS library. A server that refuses TLS 1.2 is reported as such (a unit with
mbedTLS 2.x could not connect at all); on Python >= 3.13 its TLS 1.3 chain is still
captured through ``ssl``'s ``get_unverified_chain()`` for inspection.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .arguments import require_path
from .certs import Certificate, load_certificates
from .chain_headers import read_header
from .dates import as_utc
from .dates import now as _now
from .errors import CertificateError, DeviceError, InputError
from .fileio import read_input
from .host_ports import DEFAULT_PORT, host_port, is_ip_address, parse_host_port
from .limits import MAX_CERT_INPUT, MAX_CHAIN_CERTS, check_chain_length
from .sniff import decode_text, sniff_kind
from .spelling import PYTHON, Spelling, bare
from .text import comment_text

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_TIMEOUT",
    "ServerChain",
    "capture_chain",
    "host_port",
    "is_ip_address",
    "load_chain_file",
    "parse_host_port",
]

DEFAULT_TIMEOUT = 10.0
# A Certificate message larger than this is not a chain any device could take.
_MAX_HANDSHAKE_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class ServerChain:
    """The certificates a server sends, leaf first, and where they came from."""

    certificates: tuple[Certificate, ...]
    source: str
    host: str | None = None
    port: int | None = None
    captured_at: datetime | None = None
    protocol: str | None = None
    notes: tuple[str, ...] = ()
    # The SNI name sent, when not the host (a capture from an address for a named server).
    server_name: str | None = None

    def __post_init__(self) -> None:
        if not self.certificates:
            raise CertificateError(
                "a server chain needs at least one certificate", path=self.source
            )
        check_chain_length(len(self.certificates), path=self.source, error=CertificateError)
        if self.captured_at is not None:
            # Naive is UTC, as a zone-less '# captured:' line and check_items' dates: kept
            # in UTC here, once, it compares with certificates' dates and to_pem's 'Z' is
            # true (a naive one was a TypeError at the check, another zone written as Z).
            object.__setattr__(self, "captured_at", as_utc(self.captured_at))

    @property
    def leaf(self) -> Certificate:
        return self.certificates[0]

    def to_pem(self) -> bytes:
        """PEM, leaf first, after short ``#`` comment lines saying where and when it was
        captured (lines stay under 128 characters for Mongoose OS-style readers)."""
        # Names come from the server's certificates: escaped, so none can end its comment
        # line or read as PEM armour (see comment_text).
        lines = [f"# esp-cabundle server chain: {comment_text(self.source)}"]
        if self.host is not None:
            lines.append(f"# server: {host_port(self.host, self.port or DEFAULT_PORT)}")
        if self.server_name is not None:
            lines.append(f"# server name: {comment_text(self.server_name)}")
        if self.captured_at is not None:
            when = self.captured_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            lines.append(
                f"# captured: {when}" + (f" over {self.protocol}" if self.protocol else "")
            )
        for note in self.notes:
            lines.append(f"# note: {comment_text(note)}"[:120])
        for i, c in enumerate(self.certificates, start=1):  # numbered as chains show lists them
            lines.append(
                f"# #{i}: {comment_text(c.label)[:40]} <- {comment_text(c.issuer_label)[:40]}, "
                f"until {c.not_after.date().isoformat()}"
            )
        text = "\n".join(lines) + "\n" + "".join(c.pem() for c in self.certificates)
        return text.encode("utf-8")


def load_chain_file(
    path: str | Path, *, spelling: Spelling = PYTHON, hint: str | None = None
) -> ServerChain:
    """A chain from a PEM (or DER) file, leaf first, as a server would send it;
    ``spelling``: how the hints name the options (see :mod:`~esp_cabundle.spelling`);
    ``hint``: how to make the file when it cannot be read (default: ``chains pull``,
    which needs a config: :func:`.targets.chain_file_hint` says what to do without)."""
    require_path(path, "load_chain_file", data_call="load_certificates")
    p = Path(path)
    save = (  # as targets.saving_hint: a script writes its own
        "'esp-cabundle chains pull'"
        if spelling.cli
        else f"Path({str(p)!r}).write_bytes(capture_chain(HOST).to_pem())"
    )
    data = read_input(
        p,
        what="chain file",
        hint=hint or f"save one with {save} or export it leaf first as PEM",
        max_bytes=MAX_CERT_INPUT,
        certificates=True,
    )
    certs = load_certificates(data, source=str(p))
    # before ServerChain checks it in the library's words
    check_chain_length(len(certs), path=str(p), error=CertificateError, spelling=spelling)
    _check_order(certs, str(p), spelling)
    utf8, _ = decode_text(data, source=str(p))  # a UTF-16 file's comments too
    text = "" if sniff_kind(utf8) == "der" else utf8.decode("utf-8", "replace")
    header = read_header(text, str(p))
    return ServerChain(
        tuple(certs),
        str(p),
        header.host,
        header.port,
        header.captured_at,
        server_name=header.server_name,
    )


def _check_order(certs: Sequence[Certificate], source: str, spelling: Spelling) -> None:
    """Refuse what is clearly not a chain as a server sends it: a CA bundle (self-signed
    roots of several CAs: a trust set, not a chain), or a chain given root first (a CA at
    the top with a leaf further down, or the first certificate issuing a later one).

    A server sends its leaf first; mbedTLS takes the first certificate as the server's
    own and looks for each one's issuer among those after it, so neither would replay
    what a device sees.
    """
    roots = list({c.subject_der: c for c in certs if c.self_signed}.values())
    if len(roots) > 1:  # roots of different CAs (two copies of one root may be sent)
        raise InputError(
            f"this is a CA bundle, not a server's chain: it holds {len(roots)} self-signed "
            f"roots ({', '.join(c.label for c in roots[:3])}{', ...' if len(roots) > 3 else ''})",
            path=source,
            hint=f"give it as the trust set with {bare(spelling.bundle)}, and the server's "
            f"chain with {spelling.chain} (leaf first, as {spelling.pulled}) or {spelling.host}",
        )
    for i, c in enumerate(certs[1:], start=1):
        if certs[0].subject_der == c.issuer_der and c.subject_der != certs[0].subject_der:
            raise InputError(
                f"the chain is given root first: certificate #1 ({certs[0].label}) issued "
                f"certificate #{i + 1} ({c.label})",
                path=source,
                hint="reverse the order: a server sends its leaf first, then each issuer",
            )
    if certs and certs[0].is_ca:
        for i, c in enumerate(certs[1:], start=1):
            if not c.is_ca:
                raise InputError(
                    f"the chain is not leaf first: certificate #{i + 1} ({c.label}) is the "
                    f"leaf, but certificate #1 ({certs[0].label}) is a CA",
                    path=source,
                    hint="list the certificates in the order the server sends them, leaf first",
                )


# ---------------------------------------------------------------------------------------
# Live capture


class _TLSAlert(Exception):
    def __init__(self, level: int, description: int) -> None:
        super().__init__(description)
        self.level = level
        self.description = description


_ALERTS = {
    0: "close_notify",
    10: "unexpected_message",
    40: "handshake_failure",
    47: "illegal_parameter",
    50: "decode_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    112: "unrecognized_name",
}

# What an ESP32's mbedTLS 2.x client typically offers, plus common server choices, so any
# server a unit can talk to answers.
_CIPHER_SUITES = (
    0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC023, 0xC027, 0xC024, 0xC028,
    0xC009, 0xC013, 0xC00A, 0xC014, 0x009C, 0x009D, 0x003C, 0x003D, 0x002F, 0x0035,
    0x009E, 0x009F, 0x0033, 0x0039, 0x00FF,
)  # fmt: skip
_GROUPS = (0x001D, 0x0017, 0x0018, 0x0019, 0x0100)
_SIG_ALGS = (
    0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201,
)  # fmt: skip


def _ext(kind: int, body: bytes) -> bytes:
    return struct.pack(">HH", kind, len(body)) + body


def _client_hello(server_name: str | None) -> bytes:
    """A TLS 1.2 ClientHello record (RFC 5246 §7.4.1.2 with the usual extensions)."""
    exts = b""
    if server_name:
        name = server_name.encode("idna")
        entry = b"\x00" + struct.pack(">H", len(name)) + name
        exts += _ext(0x0000, struct.pack(">H", len(entry)) + entry)
    groups = b"".join(struct.pack(">H", g) for g in _GROUPS)
    exts += _ext(0x000A, struct.pack(">H", len(groups)) + groups)
    exts += _ext(0x000B, b"\x01\x00")
    sigs = b"".join(struct.pack(">H", s) for s in _SIG_ALGS)
    exts += _ext(0x000D, struct.pack(">H", len(sigs)) + sigs)
    exts += _ext(0x0017, b"")  # extended_master_secret
    exts += _ext(0xFF01, b"\x00")  # renegotiation_info
    suites = b"".join(struct.pack(">H", s) for s in _CIPHER_SUITES)
    body = (
        b"\x03\x03"
        + os.urandom(32)
        + b"\x00"
        + struct.pack(">H", len(suites))
        + suites
        + b"\x01\x00"
        + struct.pack(">H", len(exts))
        + exts
    )
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack(">H", len(handshake)) + handshake


class _Reader:
    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buf = b""
        self.first = True

    def read(self, n: int) -> bytes:
        while len(self.buf) < n:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def _read_certificate_message(reader: _Reader) -> tuple[list[bytes], str]:
    """Read records until the server's Certificate message; returns (DER list, version)."""
    hs = b""
    version = "TLS"
    while True:
        header = reader.read(5)
        ctype, major, length = header[0], header[1], (header[3] << 8) | header[4]
        if ctype not in (0x14, 0x15, 0x16, 0x17) or major != 3 or length > 18432:
            raise ValueError(header + reader.buf[:40])
        reader.first = False  # a TLS record header: what follows is a TLS server's
        payload = reader.read(length)
        if ctype == 0x15:
            if len(payload) >= 2:
                raise _TLSAlert(payload[0], payload[1])
            raise ValueError(header + payload)
        if ctype != 0x16:
            raise ValueError(header + payload[:40])
        hs += payload
        if len(hs) > _MAX_HANDSHAKE_BYTES:
            raise ValueError(b"handshake too large")
        while len(hs) >= 4:
            mtype = hs[0]
            mlen = int.from_bytes(hs[1:4], "big")
            if len(hs) < 4 + mlen:
                break
            body, hs = hs[4 : 4 + mlen], hs[4 + mlen :]
            if mtype == 2:  # ServerHello
                if len(body) >= 2:
                    version = {1: "TLS 1.0", 2: "TLS 1.1", 3: "TLS 1.2"}.get(body[1], "TLS")
            elif mtype == 11:  # Certificate
                return _parse_certificate_list(body), version
            elif mtype in (12, 13, 14):
                raise _NoCertificate
            elif mtype != 2:
                raise ValueError(bytes([mtype]))


class _NoCertificate(Exception):
    pass


def _parse_certificate_list(body: bytes) -> list[bytes]:
    if len(body) < 3:
        raise ValueError(b"short Certificate message")
    total = int.from_bytes(body[:3], "big")
    pos, end = 3, 3 + total
    if end > len(body):
        raise ValueError(b"truncated Certificate message")
    out = []
    while pos < end:
        n = int.from_bytes(body[pos : pos + 3], "big")
        out.append(body[pos + 3 : pos + 3 + n])
        pos += 3 + n
    return out


def _printable(data: bytes) -> str:
    text = data[:40].decode("latin-1")
    return "".join(ch if 32 <= ord(ch) < 127 else "." for ch in text)


def capture_chain(
    host: str,
    port: int = DEFAULT_PORT,
    *,
    server_name: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ServerChain:
    """Connect to ``host:port``, send a TLS 1.2 ClientHello (with SNI unless ``host`` is
    an IP address or ``server_name`` is empty) and return the certificates the server
    sends, unverified and in its order.

    Raises :class:`DeviceError` (exit 3) when the server cannot be reached, does not
    answer in ``timeout`` seconds, is not a TLS server or refuses the handshake.
    """
    where = host_port(host, port)
    sni = server_name if server_name is not None else (None if is_ip_address(host) else host)
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror as e:
        raise DeviceError(
            f"{where}: cannot resolve host ({e.strerror or e})",
            hint="check the name, and that this machine is online",
        ) from e
    except ConnectionRefusedError as e:
        raise DeviceError(
            f"{where}: connection refused (nothing listens on port {port})",
            hint="check the port: 443 for HTTPS, 8883 for MQTT over TLS",
        ) from e
    except TimeoutError as e:
        raise DeviceError(
            f"{where}: no connection within {timeout:g} s",
            hint="check the address and port, and that no firewall drops the connection; "
            "--timeout SECONDS waits longer",
        ) from e
    except OSError as e:  # no route to the host or its network, a local firewall ...
        raise DeviceError(
            f"{where}: cannot connect ({e.strerror or e})",
            hint="check the address, and that this machine can reach that network (its "
            "route, a VPN, a firewall); a saved chain file checks offline",
        ) from e
    except UnicodeError as e:  # the name's IDNA encoding: parse_host_port refuses it first
        raise InputError(f"bad host '{host}': not a valid host name") from e
    captured_at = _now().replace(microsecond=0)
    reader = _Reader(sock, deadline)
    try:
        with sock:
            sock.sendall(_client_hello(sni))
            ders, version = _read_certificate_message(reader)
    except _TLSAlert as e:
        name = _ALERTS.get(e.description, f"alert {e.description}")
        if e.description in (40, 70, 71) and _can_capture_tls13():
            return _capture_tls13(host, port, sni, timeout, name)
        raise DeviceError(
            f"{where}: the server refused a TLS 1.2 handshake ({name})",
            hint="a unit with mbedTLS 2.x speaks TLS 1.2 and could not connect either"
            if e.description in (40, 70, 71)
            else None,
        ) from e
    except _NoCertificate as e:
        raise DeviceError(f"{where}: the server sent no certificate") from e
    except TimeoutError as e:
        raise DeviceError(
            f"{where}: no TLS answer within {timeout:g} s",
            hint="is this a TLS port? a plain-text service waits for the client to speak",
        ) from e
    except (EOFError, ConnectionResetError, BrokenPipeError) as e:
        raise DeviceError(
            f"{where}: the server closed the connection during the TLS handshake",
            hint="not a TLS port, or the server wants a different server name (SNI)",
        ) from e
    except ValueError as e:
        raw = e.args[0] if e.args and isinstance(e.args[0], bytes) else b""
        if not reader.first:  # it spoke TLS, then sent what no TLS 1.2 handshake holds
            raise DeviceError(
                f"{where}: the server's TLS handshake is malformed (at "
                f"{_printable(raw)!r}); no certificate could be read from it",
                hint="a proxy or load balancer in the way may cut or mangle it; try "
                "again, or capture the chain from another network",
            ) from e
        raise DeviceError(
            f"{where}: not a TLS server (it answered {_printable(raw)!r})",
            hint="check the port: plain HTTP or MQTT ports do not speak TLS",
        ) from e
    except OSError as e:
        raise DeviceError(f"{where}: connection failed ({e.strerror or e})") from e
    return _to_chain(ders, where, host, port, captured_at, version, (), sni)


def _to_chain(
    ders: Sequence[bytes],
    where: str,
    host: str,
    port: int,
    captured_at: datetime,
    version: str,
    notes: tuple[str, ...],
    sni: str | None,
) -> ServerChain:
    if not ders:
        raise DeviceError(f"{where}: the server sent an empty certificate list")
    if len(ders) > MAX_CHAIN_CERTS:
        # said of the server, before parsing them: ServerChain's own check names the
        # library's loaders in its hint, which a capture's caller never called
        raise DeviceError(
            f"{where}: the server sent {len(ders):,} certificates, over the "
            f"{MAX_CHAIN_CERTS} a chain may hold here; no device would take that chain",
            hint="check that this is the server the devices reach",
        )
    certs = []
    for i, der in enumerate(ders):
        try:
            certs.append(Certificate.from_der(der))
        except CertificateError as e:
            raise DeviceError(
                f"{where}: certificate #{i + 1} sent by the server: {e.message}"
            ) from e
    server_name = sni if sni and sni != host else None
    return ServerChain(tuple(certs), where, host, port, captured_at, version, notes, server_name)


def _can_capture_tls13() -> bool:
    import ssl

    return hasattr(ssl.SSLSocket, "get_unverified_chain")


def _capture_tls13(
    host: str, port: int, sni: str | None, timeout: float, alert: str
) -> ServerChain:  # pragma: no cover - needs a TLS 1.3-only server and Python >= 3.13
    import ssl

    where = host_port(host, port)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=sni) as tls,
        ):
            chain = tls.get_unverified_chain() or []  # type: ignore[attr-defined]
            version = tls.version() or "TLS"
    except (OSError, ssl.SSLError) as e:
        raise DeviceError(f"{where}: TLS handshake failed ({e})") from e
    # 3.13 returns DER bytes; early builds returned certificate objects.
    der_encoding = getattr(getattr(ssl, "_ssl", None), "ENCODING_DER", 2)
    ders = [c if isinstance(c, bytes) else c.public_bytes(der_encoding) for c in chain]
    note = f"server refused TLS 1.2 ({alert}): an mbedTLS 2.x unit cannot connect"
    when = _now().replace(microsecond=0)
    return _to_chain(ders, where, host, port, when, version, (note,), sni)
