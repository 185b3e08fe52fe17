"""Server addresses as they are typed and written: ``HOST[:PORT]``, ``[::1]:8443``.

Apart from :mod:`.chains` so a saved chain's header (:mod:`.chain_headers`) reads its
``# server:`` line with the same rules as ``--host``, without importing capture.
"""

from __future__ import annotations

import ipaddress
import re

from .errors import InputError

__all__ = ["DEFAULT_PORT", "host_port", "is_ip_address", "parse_host_port"]

DEFAULT_PORT = 443


def host_port(host: str, port: int) -> str:
    """``host:port`` as it is typed and dialled: an IPv6 address in brackets
    (``[::1]:8443``; ``::1:8443`` reads as another address)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_host_port(text: str, *, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """``host``, ``host:8883``, ``[::1]:443`` or ``https://host/`` -> (host, port)."""
    t = text.strip()
    t = re.sub(r"^[a-z][a-z0-9+.-]*://", "", t, flags=re.I).split("/", 1)[0]
    if not t:
        raise InputError(f"bad host '{text}'", hint="give HOST or HOST:PORT, e.g. mdash.net:443")
    port_text = None
    if t.startswith("["):
        end = t.find("]")
        if end < 0:
            raise InputError(f"bad host '{text}': unclosed '['")
        host, rest = t[1:end], t[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise InputError(f"bad host '{text}'")
            port_text = rest[1:]
    elif t.count(":") == 1:
        host, port_text = t.split(":")
    else:
        host = t  # a bare IPv6 address or a plain host name
    port = default_port
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise InputError(f"bad port '{port_text}' in '{text}'", hint="a port is 1-65535")
        port = int(port_text)
    if not host:
        raise InputError(f"bad host '{text}'", hint="give HOST or HOST:PORT, e.g. mdash.net:443")
    if not is_ip_address(host):
        try:
            host.encode("idna")  # what connecting does first: refused here, not there
        except UnicodeError as e:
            raise InputError(
                f"bad host '{text}': not a valid host name",
                hint="each dot-separated part of a name is 1 to 63 letters, digits or '-'",
            ) from e
    return host, port


def is_ip_address(host: str) -> bool:
    """``192.0.2.1`` or ``::1``: an IP address, not a name (no SNI is sent for one)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
