"""The servers a fleet connects to, as ``cabundle.yaml`` names them (``targets:``), and
the default device profile (``device:``); :mod:`.check` judges them (and re-exports
every name here)::

    device: mbedtls-noclock          # default device profile for every target
    targets:
      - mdash.net                    # HOST[:PORT]; chain saved at chains/mdash.net.pem
      - name: broker
        host: mqtt.example.com
        port: 8883
        chain: chains/broker.pem     # optional saved chain (else chains/<name>.pem)
        device: mbedtls-clock        # optional, overrides the default
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .chains import DEFAULT_PORT, ServerChain, host_port, is_ip_address, parse_host_port
from .errors import ArgumentTypeError, DeviceError, InputError
from .file_inputs import expand_user
from .file_kinds import base_dir_of
from .fileio import is_named
from .spelling import Spelling, shell_join
from .text import shown_path, typed_path
from .verify import DeviceProfile, parse_device_profile

if TYPE_CHECKING:
    from .yamlnodes import Node, Origin

__all__ = [
    "CHAINS_DIR",
    "ChainNotCaptured",
    "Target",
    "chain_file_hint",
    "chain_file_name",
    "looks_like_a_path",
    "looks_like_hostname",
    "name_from_file_stem",
    "parse_device",
    "parse_server",
    "parse_target",
    "parse_targets",
    "saving_hint",
    "target_label",
]

CHAINS_DIR = "chains"


@dataclass(frozen=True, slots=True)
class Target:
    """A server the fleet connects to, and optionally its saved chain and device."""

    name: str
    host: str | None = None
    port: int = DEFAULT_PORT
    chain: Path | None = None
    device: DeviceProfile | None = None
    server_name: str | None = None
    hostname: str | None = None
    # Where a config wrote ``chain:``, for an error reading that file.
    chain_origin: Origin | None = None

    def __post_init__(self) -> None:
        """A script's ``Target("mdash.net:8443")`` (a name, no host) was taken, and
        failed only when judged, "neither a host nor a saved chain", with no hint."""
        if not isinstance(self.name, str):
            raise ArgumentTypeError(
                f"Target's name takes a str, not {type(self.name).__name__}",
                hint="parse_target('example.com:8883') makes one from a host or a file",
            )
        if self.host is None and self.chain is None:
            raise ArgumentTypeError(
                f"Target({self.name!r}) has neither a host nor a saved chain",
                hint=f"parse_target({self.name!r}) reads a host[:port] or a chain file; "
                "or give host= (and port=) or chain=",
            )

    @property
    def address(self) -> str | None:
        return host_port(self.host, self.port) if self.host else None

    def verify_name(self, chain: ServerChain | None = None) -> str | None:
        """The name the unit checks the server's certificate against: ``hostname:``,
        else the SNI name, the host, the server its saved ``chain`` records, or a
        target named like a server (see :func:`name_from_file_stem`)."""
        for name in (self.hostname, self.server_name, self.host):
            if name:
                return name
        recorded = _recorded_name(chain) if chain is not None else None
        return recorded or name_from_file_stem(self.name)

    @property
    def sni_name(self) -> str | None:
        """The server name a capture sends: ``server_name:``, else the ``hostname:`` the
        unit checks (a unit that sets a hostname sends it as SNI too, so a server that
        picks its certificate by name answers the unit with that one), else None (the
        host, unless it is an IP address)."""
        return self.server_name if self.server_name is not None else self.hostname

    def chain_path(self, base_dir: Path) -> Path:
        """Where this target's saved chain lives: the configured path, else
        ``chains/<name>.pem`` beside the config. A target named by its host is one server
        however its name is spelled (host names are case-insensitive, ``localhost.`` is
        ``localhost``): ``LOCALHOST:8443`` reads ``localhost_8443.pem``, not dialling
        past it; a file saved under the spelling as typed is still read when it alone
        is there."""
        if self.chain is not None:
            return self.chain
        typed = base_dir / CHAINS_DIR / f"{_safe_name(self.name)}.pem"
        if self.host is None or self.name != target_label(self.host, self.port):
            return typed  # a target's own name: a file name, spelled as given
        host = self.host.lower().rstrip(".") or self.host
        same = base_dir / CHAINS_DIR / f"{_safe_name(target_label(host, self.port))}.pem"
        if same != typed and not os.path.lexists(same) and os.path.lexists(typed):
            return typed
        return same


def target_label(host: str, port: int) -> str:
    """A target's name as typed: ``mdash.net``, ``mdash.net:8443``, ``[::1]:8443`` (an
    IPv6 address in brackets when a port follows, else the port reads as its last group)."""
    return host if port == DEFAULT_PORT else host_port(host, port)


# A target named by an IPv6 address: "[::1]:8443", "[::1]" or "::1".
_IPV6_NAME = re.compile(r"\[([0-9A-Fa-f:.]+)\](?::([0-9]{1,5}))?|([0-9A-Fa-f.]*:[0-9A-Fa-f:.]*)")


def _safe_name(name: str) -> str:
    """A file stem for the target ``name``: ``HOST`` or ``HOST_PORT`` (as
    :func:`name_from_file_stem` reads it back); an IPv6 address has its colons as dashes
    (``[::1]:8443`` is ``0--1_8443``, not ``1_8443``, a host named "1")."""
    m = _IPV6_NAME.fullmatch(name)
    if m and is_ip_address(m.group(1) or m.group(3)):
        host = m.group(1) or m.group(3)
        # "::1" is "0::1": a stem never opens with "-", which commands take for an option
        stem = ("0" + host if host.startswith(":") else host).replace(":", "-")
        return f"{stem}_{m.group(2)}" if m.group(2) else stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "target"


def _ipv6_from_stem(stem: str) -> str | None:
    """The IPv6 address a stem of :func:`_safe_name` spells with dashes, or None."""
    if "--" not in stem and stem.count("-") != 7:
        return None  # no "::" and not eight groups: a name with dashes, not an address
    host = stem.replace("-", ":")
    if ":" not in host or not is_ip_address(host):
        return None
    return ipaddress.ip_address(host).compressed  # "0::1" as written, "::1" as it is


_TARGET_KEYS = ("name", "host", "port", "chain", "device", "server_name", "hostname")


def looks_like_hostname(text: str) -> bool:
    """``mdash.net``, ``*.example.com`` is not: a dotted DNS name or an IP address."""
    if is_ip_address(text):
        return True
    return bool(re.fullmatch(r"(?=.{1,253}$)([A-Za-z0-9-]{1,63}\.)+[A-Za-z0-9-]{1,63}", text))


_DNS_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_HOST_PORT_STEM = re.compile(r"(.+)_([0-9]{1,5})")


def _plausible_dns_name(text: str) -> bool:
    """Dotted, the last label alphabetic, no label all digits or dashes: ``mdash.net``
    is a server's name, ``chain.2024-06`` and ``ca.v2`` are not."""
    labels = text.split(".")
    return (
        len(text) <= 253
        and len(labels) >= 2
        and re.fullmatch(r"[A-Za-z]{2,63}", labels[-1]) is not None
        and all(_DNS_LABEL.fullmatch(x) and not x.replace("-", "").isdigit() for x in labels)
    )


def name_from_file_stem(stem: str) -> str | None:
    """The server a chain file's name says it holds, or None (the name is then not
    judged): ``mdash.net``, an IP address, or ``HOST_PORT`` as ``chains pull`` names a
    target with a port (``localhost_8443``). A file name is a guess, so only a stem that
    reads as a server's name counts: not ``chain.2024-06`` or ``server``."""
    m = _HOST_PORT_STEM.fullmatch(stem)
    if m and int(m.group(2)) <= 65535:
        host = m.group(1)
        if host == "localhost" or is_ip_address(host) or _plausible_dns_name(host):
            return host
        if (v6 := _ipv6_from_stem(host)) is not None:
            return v6
    if (v6 := _ipv6_from_stem(stem)) is not None:
        return v6
    return stem if is_ip_address(stem) or _plausible_dns_name(stem) else None


def _recorded_name(chain: ServerChain) -> str | None:
    """The server a saved chain's header records (``# server name:``, else the host of
    ``# server:``), as ``chains pull`` and ``chains show -o`` write it."""
    for name in (chain.server_name, chain.host):
        if name and (name == "localhost" or looks_like_hostname(name)):
            return name
    return None


def chain_file_name(path: Path, chain: ServerChain) -> str | None:
    """The name a unit checks, for a chain file given alone (``check --chain``): what the
    file records, else what its name says (:func:`name_from_file_stem`), else None."""
    return _recorded_name(chain) or name_from_file_stem(path.stem)


# A ``--target`` is a chain file when something is at that path, when it reads as a path
# (a '/' or '\\' that is not in a URL, or a leading '.' or '~'), or when it ends in a
# certificate file's suffix: no top-level domain is pem, crt, cer, der, p7b or p7c, so
# ``nosuch.pem`` is a missing file, never a host to dial. Anything else must be a host
# name or IP address (``HOST[:PORT]``, or a URL): refused here otherwise, before any DNS.
CHAIN_FILE_SUFFIXES = (".pem", ".crt", ".cer", ".der", ".p7b", ".p7c")
_URL = re.compile(r"[a-z][a-z0-9+.-]*://", re.I)
_HOST_NAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9_][A-Za-z0-9_-]{0,62}(?:\.[A-Za-z0-9_-]{1,63})*\.?"
)
_CHAIN_HINT = "save one with 'esp-cabundle chains pull' or export it leaf first as PEM"


def chain_file_hint(path: Path, *, pull: bool) -> str:
    """How to make the missing chain file ``path``: ``chains pull`` saves a config's
    targets (``pull``: there is a config); without one, ``chains show --host`` saves the
    server the file's name says (``chains/mdash.net.pem``: mdash.net, ``HOST_PORT`` with
    its port) where it is read, as :func:`saving_hint` does for a host."""
    if pull:
        return _CHAIN_HINT
    m = _HOST_PORT_STEM.fullmatch(path.stem)
    host = name_from_file_stem(path.stem)
    port = int(m.group(2)) if m and host is not None and host != path.stem else DEFAULT_PORT
    address = target_label(host, port) if host is not None else "HOST"
    save = shell_join(["esp-cabundle", "chains", "show", "--host", address, "-o", str(path)])
    return f"save one with: {save}; or export it leaf first as PEM"


def _names_chain_file(text: str) -> bool:
    if is_named(text, directory=False):  # a link leading nowhere too: reading it says so
        return True
    return looks_like_a_path(text)


def looks_like_a_path(text: str) -> bool:
    """A path's shape (a '/', a leading '.' or '~', a certificate file's suffix: no
    top-level domain is '.pem'), which a host name never has, whether or not it exists."""
    if _URL.match(text):
        return False
    return (
        "/" in text
        or "\\" in text
        or text.startswith((".", "~"))
        or text.lower().endswith(CHAIN_FILE_SUFFIXES)
    )


def parse_target(text: str, *, config: bool = True) -> Target:
    """A ``--target``: a saved chain file, or ``HOST[:PORT]`` (its chain saved under
    ``chains/`` beside the config, else captured live). A missing chain file or a value
    that is no host name is refused here, so nothing is dialled for a typo; the hint for
    a missing file names ``chains pull`` only when there is a ``config`` to pull from; a
    directory is refused (``chains`` was dialled as a host name)."""
    text = _target_text(text)  # None or bytes failed deep inside (lstat, re)
    if _names_chain_file(text) or os.path.isdir(text):
        p = expand_user(text)
        if os.path.isdir(p):  # 'chains' was dialled as a host name, 'chains/' read as a file
            # a folder named like a host (example.com): that server is given with its port
            host = (
                f", or that server with its port ({text}:443)" if _HOST_NAME.fullmatch(text) else ""
            )
            raise InputError(
                "is a directory, not a chain file; nothing was read from it",
                path=text,
                hint=f"give a chain file in it ({_file_in(p)}){host}",
            )
        if not is_named(p):
            # The words 'check --chain' uses for the same file (load_chain_file).
            hint = chain_file_hint(Path(text), pull=config)
            raise InputError("no such chain file", path=text, hint=hint)
        return Target(name=p.stem, chain=p)
    try:
        host, port = _host_and_port(text)
    except InputError as e:
        if e.message.startswith("bad port"):  # a host, with a port out of range: say that
            raise
        raise InputError(
            f"bad target '{text}': not a host name or IP address, and no chain file is there",
            hint="give HOST[:PORT] (e.g. mdash.net:443) or a chain file's path "
            "(e.g. chains/server.pem)",
        ) from e
    return Target(name=target_label(host, port), host=host, port=port)


def _target_text(value: object) -> str:
    """parse_target's argument as str: a chain file's Path is its path."""
    shown = os.fspath(value) if isinstance(value, os.PathLike) else value
    if isinstance(shown, str):
        return shown
    if isinstance(shown, bytes | bytearray):
        hint = f"give it as str: parse_target({bytes(shown).decode(errors='replace')!r})"
    elif isinstance(value, Target):
        hint = "it is a Target already: give it as it is (targets=[target])"
    else:
        hint = "parse_target('example.com:8883'), or a chain file: parse_target('chains/x.pem')"
    raise ArgumentTypeError(
        f"parse_target takes a host[:port] or a chain file's path (str or Path), "
        f"not {type(value).__name__}",
        hint=hint,
    )


def _file_in(folder: Path) -> str:
    """A chain file in ``folder`` to name in a hint: its first ``.pem``, else a pattern."""
    try:
        pems = sorted(f.name for f in folder.iterdir() if f.suffix == ".pem" and os.path.isfile(f))
    except OSError:
        pems = []
    return str(folder / (pems[0] if pems else "NAME.pem"))


def _host_and_port(text: str) -> tuple[str, int]:
    """``HOST[:PORT]`` whose host is a host name or an IP address: a name with a space or
    a path's ``/`` in it would be sent to DNS (and a typo dialled) if not refused here."""
    bad = InputError(f"'{text}' is not a host name or IP address")
    if not text.strip() or any(c.isspace() or ord(c) < 32 for c in text.strip()):
        raise bad
    host, port = parse_host_port(text)  # its 'bad port ...' stands as it is
    if not (is_ip_address(host) or _HOST_NAME.fullmatch(host)):
        raise bad
    return host, port


_HOST_HINT = "give a host name or an IP address, e.g. mdash.net or mdash.net:8443"


def parse_server(
    text: str, option: str = "--server", file_option: str = "--target"
) -> tuple[str, int]:
    """A server typed as ``HOST[:PORT]`` (push's ``--server``, check's ``--host``):
    ``chains/x.pem`` was dialled as the host ``chains`` (the path cut at its ``/``), a
    name with a space sent to DNS. Refused before anything is dialled; a URL gives its
    host. ``file_option``: where a saved chain file goes instead."""
    if "/" in text and "://" not in text:
        why = f"{option} HOST reads chains/HOST.pem; " if option == "--server" else ""
        raise InputError(
            f"{option} {text}: a server is HOST[:PORT], not a file's path",
            hint=f"{why}a saved chain file is given with {file_option} FILE",
        )
    try:
        return _host_and_port(text)
    except InputError as e:
        if e.message.startswith("bad port"):
            raise
        raise InputError(
            f"{option} {text!r}: not a host name or IP address", hint=_HOST_HINT
        ) from e


def parse_targets(node: Node) -> tuple[Target, ...]:
    """The ``targets:`` section: a list of ``HOST[:PORT]`` strings or mappings."""
    base = base_dir_of(Path(node.where))
    out: list[Target] = []
    seen: dict[str, int] = {}
    for n in node.as_list():
        if isinstance(n.value, str):
            text = n.as_str()
            if looks_like_a_path(text):
                raise n.error(
                    f"'{text}' looks like a chain file: a target written as text is HOST[:PORT]",
                    hint=f"a saved chain is a mapping: '- chain: {text}'",
                )
            try:
                bare_host, port = _host_and_port(text)
            except InputError as e:
                raise n.error(e.message, hint=e.hint or _HOST_HINT) from e
            target = Target(name=target_label(bare_host, port), host=bare_host, port=port)
        else:
            m = n.as_mapping(_TARGET_KEYS)
            host = m["host"].as_str().strip() if "host" in m else None
            if host is not None and ("/" in host or (":" in host and not is_ip_address(host))):
                raise m["host"].error(
                    f"'{host}' is not a host name", hint="give the port with 'port:'"
                )
            if host is not None:
                try:
                    _host_and_port(host)
                except InputError as e:
                    raise m["host"].error(e.message, hint=e.hint or _HOST_HINT) from e
            port = m["port"].as_int(minimum=1) if "port" in m else DEFAULT_PORT
            if port > 65535:
                raise m["port"].error(f"port {port} is out of range 1-65535")
            chain = base / m["chain"].as_file_name() if "chain" in m else None
            if host is None and chain is None:
                raise n.error("a target needs a 'host' or a saved 'chain'")
            device = None
            if "device" in m:
                try:
                    device = parse_device_profile(m["device"].as_str())
                except InputError as e:
                    raise m["device"].error(e.message, hint=e.hint) from e
            name = m["name"].as_str() if "name" in m else None
            if name is None:
                name = target_label(host, port) if host else chain.stem if chain else ""
            server_name = m["server_name"].as_str() if "server_name" in m else None
            hostname = m["hostname"].as_str() if "hostname" in m else None
            origin = m["chain"].origin() if "chain" in m else None
            target = Target(str(name), host, port, chain, device, server_name, hostname, origin)
        if target.name in seen:
            raise n.error(
                f"duplicate target '{target.name}' (also item {seen[target.name] + 1})",
                hint="give each target its own 'name'",
            )
        seen[target.name] = len(out)
        out.append(target)
    return tuple(out)


def parse_device(node: Node) -> DeviceProfile:
    """The ``device:`` default profile (a registry name or ``RULES:CLOCK``)."""
    text = node.as_str()
    try:
        return parse_device_profile(text)
    except InputError as e:
        raise node.error(e.message, hint=e.hint) from e


class ChainNotCaptured(DeviceError):
    """A target left unjudged: no saved chain, and capturing it live failed (exit 3).

    ``target``: its name; ``saved_as``: where ``chains pull`` saves its chain when the
    hint says only that (None otherwise), so a caller naming many such targets can say
    their folder once instead of a sentence per target."""

    def __init__(
        self, message: str, *, target: str, hint: str | None = None, saved_as: Path | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.target = target
        self.saved_as = saved_as


def _server_of_file(stem: str) -> str:
    """The server a chain file target's name says it holds (``mdash.net``,
    ``localhost_8443`` as ``localhost:8443``), else ``HOST``: a hint named the file's stem
    as the host (``chains show --host short``), a capture that dials no server of it."""
    host = name_from_file_stem(stem)
    if host is None:
        return "HOST"
    m = _HOST_PORT_STEM.fullmatch(stem)
    return host_port(host, int(m.group(2))) if m and m.group(1) == host else host


def saving_hint(
    t: Target,
    path: Path,
    skip_hint: str | None,
    pulled: Container[str] | None,
    spelling: Spelling,
) -> str:
    """How to save ``t``'s chain as ``path``: ``chains pull`` reads a config's targets,
    ``chains show --host`` one without a config (``build --target``); a script (``spelling``
    not the CLI's) writes what ``capture_chain`` returns, as here."""
    if not spelling.cli:
        host, port = t.host, t.port
        if host is None:  # a chain file: the server its name says (HOST_PORT: that port)
            host, port = parse_host_port(_server_of_file(t.name))
        args = [repr(host)] + [str(port)] * (port != DEFAULT_PORT)
        args += [f"server_name={t.sni_name!r}"] * bool(t.sni_name)
        call = f"capture_chain({', '.join(args)}).to_pem()"
        save = f"save it as {path} with: Path({str(path)!r}).write_bytes({call})"
    elif pulled is None or t.name in pulled:  # the CLI's: as typed from here (shown_path)
        save = f"{spelling.pulled} as {shown_path(path)}"
    else:
        words = ["esp-cabundle", "chains", "show", "--host", t.address or _server_of_file(t.name)]
        if t.sni_name:
            words += ["--server-name", t.sni_name]
        shown = shown_path(path)
        save = f"save it as {shown} with: {shell_join([*words, '-o', typed_path(path)])}"
    hint = f"online, {save}; offline, put the server's chain there (PEM, leaf first)"
    return f"{hint}; {skip_hint}" if skip_hint else hint
