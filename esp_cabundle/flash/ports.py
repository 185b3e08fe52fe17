"""Opening a unit's port, and saying in plain words why that failed.

Any pyserial port or URL works (``/dev/ttyUSB0``, ``COM3``, ``socket://host:port``,
``rfc2217://host:port``); the two network handlers are adjusted where pyserial's stock
ones make esptool slow. The error translations turn pyserial's and esptool's texts into
what to do next (the dialout group, download mode, a busy port).
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import socket
import sys
from typing import Any
from urllib.parse import urlsplit

from .._patterns import host_port
from ..errors import DeviceError, EspCabundleError, InputError

__all__ = [
    "bridge_hint",
    "connect_error",
    "is_link_failure",
    "mistyped_url",
    "open_rfc2217_port",
    "open_socket_port",
    "port_error",
    "url_error",
    "url_scheme",
]

# esptool FatalError texts that mean the link went quiet, not that the unit refused.
_SILENT_LINK = re.compile(
    r"No serial data received|Serial data stream stopped|Packet content transfer stopped|"
    r"No more data to read from the serial port",
)


def open_socket_port(url: str) -> Any:
    """A ``socket://`` port whose ``in_waiting`` tells the truth.

    pyserial's socket handler reports at most one waiting byte, so esptool (which reads
    ``in_waiting`` bytes at a time) reads a TCP link one byte per call: about 40 KB/s.
    FIONREAD gives the real count (POSIX); elsewhere the stock behaviour is kept.
    """
    from serial.urlhandler.protocol_socket import Serial as SocketSerial

    class CountingSocketSerial(SocketSerial):  # type: ignore[misc]
        @property
        def in_waiting(self) -> int:
            try:
                # deferred: POSIX only (FIONREAD); elsewhere the stock count is kept
                import fcntl
                import termios  # deferred: POSIX only, as fcntl

                sock: Any = getattr(self, "_socket", None)
                raw = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
                return int.from_bytes(raw, sys.byteorder)
            except (ImportError, OSError, AttributeError, ValueError):
                waiting: int = super().in_waiting
                return waiting

        def close(self) -> None:
            port: Any = self
            if port.is_open:
                _close_socket(port)
                port._socket = None
            port.is_open = False

    return _opened(CountingSocketSerial(), url)


def open_rfc2217_port(url: str) -> Any:
    """An ``rfc2217://`` port that does not renegotiate the line for a read timeout.

    esptool changes the port's read timeout around most commands; pyserial's RFC 2217
    client then resends every line setting and sleeps 50 ms waiting for the answers,
    although the timeout only matters on this side. Here it is just stored.
    """
    from serial.rfc2217 import Serial as Rfc2217Serial

    class LocalTimeoutRfc2217Serial(Rfc2217Serial):  # type: ignore[misc]
        @property
        def timeout(self) -> float | None:
            value: float | None = getattr(self, "_timeout", None)
            return value

        @timeout.setter
        def timeout(self, value: float | None) -> None:
            if value is not None and value < 0:
                raise ValueError(f"Not a valid timeout: {value!r}")
            port: Any = self
            port._timeout = value

        def close(self) -> None:
            port: Any = self
            port.is_open = False
            _close_socket(port)
            if port._thread is not None:
                port._thread.join(7)
                port._thread = None
            port._socket = None  # after the reader thread ended: it reads from it

    return _opened(LocalTimeoutRfc2217Serial(), url)


def _close_socket(port: Any) -> None:
    """Close a network port's socket at once: pyserial sleeps 0.3 s after closing "in
    case of quick reconnects", and a unit session ends here."""
    if port._socket is not None:
        with contextlib.suppress(OSError):
            port._socket.shutdown(socket.SHUT_RDWR)
        port._socket.close()


def url_scheme(port: str) -> str | None:
    """``port``'s URL scheme, lower-cased; None for a device path. Schemes are
    case-insensitive (RFC 3986 section 3.1) and pyserial's ``serial_for_url`` lower-cases
    them (3.5, serial/__init__.py), so ``SOCKET://`` is a socket:// port: told apart
    case-sensitively, it got pyserial's one-byte reads and esptool's reset attempts."""
    if "://" not in port:
        return None
    return port.split("://", 1)[0].lower()


def _opened(port: Any, url: str) -> Any:
    # esptool tells the port's kind by its name, case-sensitively (esptool 5.x loader.py:
    # a name starting "socket:" gets no reset, one not starting "rfc2217:" the Unix reset
    # through fileno()), so RFC2217:// failed "link lost while connecting (fileno)" and
    # SOCKET:// got reset attempts. The name is given with its scheme lower-cased.
    scheme = url_scheme(url)
    port.port = url if scheme is None else scheme + url[len(scheme) :]
    port.open()
    return port


_NETWORK_HINT = (
    "a unit over the network is named socket://HOST:PORT (a raw socket: ser2net, "
    "esp-cabundle virtual-unit) or rfc2217://HOST:PORT (esp_rfc2217_server)"
)


# getaddrinfo's failures as socket.gaierror words them (glibc, macOS, Windows): said
# "check the cable and power", which no cable fixes.
_NO_SUCH_HOST = (
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "getaddrinfo failed",
    "no address associated with hostname",
)


def url_error(port: str) -> InputError | None:
    """Why pyserial cannot open the URL ``port``, or reach a unit through it, whatever the
    unit does; None for a device path or a URL it takes. pyserial's own words for these
    were a Python error (``'<=' not supported ...`` for ``socket://HOST`` with no port,
    ``'debug|info|warning|error'`` for port 99999: its message's braces fed to
    ``format``) or, for a scheme it has no handler for, a ValueError that reached the
    user as a traceback. ``loop://``, pyserial's loopback, holds no unit: it failed
    "link lost while connecting (fileno)", exit 3, as if a unit had been lost."""
    scheme = url_scheme(port)
    if scheme is None:
        return None
    # serial_for_url imports serial.urlhandler.protocol_SCHEME (pyserial 3.5, __init__.py)
    try:
        known = (
            bool(scheme)
            and importlib.util.find_spec(f"serial.urlhandler.protocol_{scheme}") is not None
        )
    except (ImportError, ValueError):
        known = False
    if not known:
        return InputError(
            f"{port}: pyserial knows no {scheme}:// port; nothing was touched",
            hint=_NETWORK_HINT,
        )
    if scheme == "loop":  # a unit could answer through every other handler pyserial has
        return InputError(
            f"{port}: pyserial's loopback (what is sent comes back): no unit can answer "
            "there; nothing was touched",
            hint=_NETWORK_HINT,
        )
    if scheme not in ("socket", "rfc2217"):
        return None
    try:
        parts = urlsplit(port)
        number = parts.port
    except ValueError:  # a port that is no number, or past 65535
        number = -1
    if not parts.hostname or number is None or not 0 < number < 65536:
        said = "no port" if number is None else "no host" if not parts.hostname else "a bad port"
        return InputError(
            f"{port}: {said} in the URL (a TCP port is 1 to 65535); nothing was touched",
            hint=_NETWORK_HINT,
        )
    return None


# A scheme-like word, then slashes (and maybe a colon) that do not make "://": the rest
# must not start with a slash (an absolute path is no mistyped URL).
_MISTYPED = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)(:?/+)([^/].*)", re.DOTALL)


def mistyped_url(port: str) -> str | None:
    """The URL ``port`` was likely meant to be (``socket//host:4000``: the colon left out;
    ``rfc2217:/host:4000``: a slash), None when it does not look like one. pyserial
    opens it as a device path, and the user read "no such serial port" with a cable
    hint. Any scheme-like word before "//" is taken as one; a colon and one slash or
    three only before socket or rfc2217, as a path may hold them too."""
    if "://" in port:
        return None
    m = _MISTYPED.fullmatch(port)
    if m is None:
        return None
    scheme, sep, rest = m.group(1).lower(), m.group(2), m.group(3)
    if sep != "//" and scheme not in ("socket", "rfc2217"):
        return None
    return f"{scheme}://{rest}"


def port_error(port: str, detail: str) -> EspCabundleError:
    """What opening ``port`` failed on, in words; a path that is no serial port at all
    (a file, /dev/null) is the user's input (exit 2), the rest the device's (exit 3)."""
    low = detail.lower()
    if any(s in low for s in _NO_SUCH_HOST):
        return DeviceError(
            f"{port}: its host name does not resolve ({detail.strip()})",
            hint="check the host name in the URL, or give the host's IP address",
        )
    if "connection refused" in low or "errno 111" in low or "errno 61" in low:
        return DeviceError(
            f"{port}: nothing is listening there (connection refused)",
            hint="start the serial bridge (esp_rfc2217_server, ser2net) or check host and port",
        )
    if "permission denied" in low or "errno 13" in low or "access is denied" in low:
        return DeviceError(
            f"{port}: permission denied",
            hint="add your user to the 'dialout' group (Arch: 'uucp') and log in again",
        )
    if any(s in low for s in ("no such file", "errno 2]", "filenotfounderror", "cannot find")):
        fixed = mistyped_url(port)
        if fixed is not None:  # opened as a device path: the colon or a slash left out
            return DeviceError(
                f"{port}: no such serial port",
                hint=f"did you mean {fixed}? {_NETWORK_HINT}",
            )
        if host_port(port):  # a network unit's address, its scheme left out
            return DeviceError(
                f"{port}: no such serial port",
                hint=f"a unit over the network is named by a URL: socket://{port} (a raw "
                f"socket: ser2net, esp-cabundle virtual-unit), or rfc2217://{port} "
                "(esp_rfc2217_server)",
            )
        return DeviceError(
            f"{port}: no such serial port",
            hint="check the cable and the port name (Linux /dev/ttyUSB0 or /dev/ttyACM0, "
            "macOS /dev/cu.*, Windows COM3); list ports: python -m serial.tools.list_ports",
        )
    if any(s in low for s in ("busy", "errno 16", "errno 11", "could not exclusively lock")):
        return DeviceError(
            f"{port}: the port is in use by another program",
            hint="close serial monitors (idf.py monitor, screen, the Arduino IDE) and retry",
        )
    if "inappropriate ioctl" in low or "errno 25" in low:
        return InputError(
            f"{port}: not a serial port",
            hint="name the unit's port (Linux /dev/ttyUSB0 or /dev/ttyACM0, macOS /dev/cu.*, "
            "Windows COM3) or a socket:// or rfc2217:// URL; list ports: "
            "python -m serial.tools.list_ports",
        )
    return DeviceError(f"{port}: cannot open the port ({detail.strip()})")


def connect_error(port: str, e: Exception) -> EspCabundleError:
    text = str(e)
    if "Could not open" in text:
        # "Could not open PORT, the port is busy or doesn't exist.\n(pyserial's text)\n"
        inner = re.search(r"\n\((.*)\)\n", text, re.DOTALL)
        return port_error(port, inner.group(1) if inner else text)
    if "Failed to connect" in text:
        if "Invalid head of packet" in text or "Wrong boot mode" in text:
            why = "it sends other data: it is running its firmware, not in download mode"
        elif "No serial data received" in text:
            why = "nothing answered"
        else:
            why = text.split("\n")[0].split(": ", 1)[-1]
        return DeviceError(
            f"{port}: no answer from an ESP bootloader ({why})",
            hint="put the unit in download mode (hold BOOT/GPIO0 low while pressing "
            "RESET/EN), check TX/RX wiring, and that no other program uses the port",
        )
    if "autodetect" in text:
        return DeviceError(f"{port}: unsupported chip ({text.splitlines()[0]})")
    return DeviceError(f"{port}: cannot connect ({text.splitlines()[0]})", hint=bridge_hint(port))


def bridge_hint(port: str) -> str | None:
    """What a network port's connect failing in the middle of the handshake (answers out
    of step, or the link closed) usually means, None for a local port: a bridge serves
    one client at a time (esp_rfc2217_server accepts the next only once the first has
    gone: srv.listen(1), then one accept() per client), so a second station on the same
    URL fails so, not the cable."""
    if url_scheme(port) not in ("socket", "rfc2217"):
        return None
    return (
        "is another station or a serial monitor connected to this bridge? It serves one "
        "client at a time: wait for that one to finish; else check the bridge and the "
        "unit, then run the same command again"
    )


def is_link_failure(e: BaseException) -> bool:
    import serial

    if isinstance(e, (serial.SerialException, OSError)):
        return True
    return bool(_SILENT_LINK.search(str(e)))
