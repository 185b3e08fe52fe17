"""``push --tls-ca``: the CA that verifies the broker or server a link reaches over TLS,
read and loaded before any link opens, and refused when no link of the run uses TLS."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..chains import host_port, parse_host_port
from ..errors import InputError
from ..file_kinds import shell_word
from ..fileio import read_input
from ..push.http import tls_context
from .options import CLI_SPELLING

if TYPE_CHECKING:
    from ..push.mqtt import MqttUrl

__all__ = ["checked_tls_ca"]

_TLS_SCHEMES = ("https", "wss")


def checked_tls_ca(
    path: Path | None, broker: MqttUrl | None, mdash_url: str | None, rpc_urls: Sequence[str]
) -> str | None:
    """``--tls-ca``, checked before any link opens: refused when no link is TLS (a plain
    mqtt:// broker or http:// mDash never reads it: it was ignored unsaid, as a secret's
    file for a link not asked for was before it was refused); read as every input is
    (a missing file, a loop, a FIFO or an empty file named as such), then loaded as TLS
    will. A missing one is told what it is and where to get it, for the host typed."""
    if path is None:
        return None
    _refuse_without_tls(broker, mdash_url, rpc_urls)
    if not read_input(
        path,
        what="CA file",
        regular_only=True,
        hint=_tls_ca_hint(broker, rpc_urls),
        certificates=True,
    ):
        raise InputError("empty file, not a CA file", path=str(path))
    tls_context(str(path), spelling=CLI_SPELLING)
    return str(path)


def _refuse_without_tls(
    broker: MqttUrl | None, mdash_url: str | None, rpc_urls: Sequence[str]
) -> None:
    """Refuse --tls-ca when every link of the run is plain; the hint names the TLS
    scheme of each link given (urlsplit lowercases the scheme, as the links read it)."""
    rpc = [urlsplit(u).scheme for u in rpc_urls]
    if (
        (broker is not None and broker.tls)
        or (mdash_url is not None and urlsplit(mdash_url).scheme == "https")
        or any(s in _TLS_SCHEMES for s in rpc)
    ):
        return
    over = [
        *(["--mqtt mqtts://HOST (port 8883)"] if broker is not None else []),
        *(["--mdash https://..."] if mdash_url else []),
        *(["--rpc https://... or wss://..."] if rpc else []),
    ]
    raise InputError(
        "--tls-ca only applies to a link over TLS (mqtts://, https://, wss://): no link "
        "of this run would use it",
        hint=f"reach the units over TLS ({'; '.join(over)}), or leave --tls-ca out",
    )


def _tls_ca_hint(broker: MqttUrl | None, rpc_urls: Sequence[str]) -> str:
    """What --tls-ca is and how to get it: ``chains show -o`` saves the chain as the
    server sends it, which rarely holds the root, so the root is named by its issuer."""
    what, host, also = "broker", "BROKER:8883", " (mosquitto's cafile)"
    if broker is not None:
        host = host_port(broker.host, broker.port)
    else:
        tls = [u for u in map(urlsplit, rpc_urls) if u.scheme in _TLS_SCHEMES and u.hostname]
        if tls:
            what, also, host = (
                "server",
                "",
                host_port(*parse_host_port(tls[0].netloc.rpartition("@")[2])),
            )
    return (
        f"--tls-ca is the CA that signed the {what}'s certificate{also}: get "
        f"it from the {what}'s admin, or see what the {what} sends: esp-cabundle chains show "
        f"--host {shell_word(host)} -o {what}-chain.pem (the chain as sent, seldom with its root: "
        "--tls-ca wants the root its last certificate names as issuer)"
    )
