"""How ``push`` reaches the units: transports from the options, secrets from the
environment or files (never the command line), and the servers the units connect to."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

import click
from click.core import ParameterSource

from ..chains import host_port, parse_host_port
from ..check import Target, check_items, device_trust_set, target_items
from ..config import find_config, load_config
from ..dates import clamped, now
from ..errors import AuthError, EspCabundleError, InputError
from ..file_kinds import shell_word
from ..fileio import read_input
from ..gate import board_links, link_items
from ..own_servers import is_own_server, own_server_evidence, unread_servers
from ..push.http import LanTransport, checked_rpc_urls
from ..push.ledger import check_ledger
from ..push.ledger_status import NONE_FOUND, NOTHING_JUDGED, UNKNOWN
from ..push.mdash import MdashTransport, check_mdash_url, key_in_clear
from ..push.mqtt import EXAMPLE_URL, MqttTransport, parse_mqtt_url
from ..push.urls import WrongScheme, bare_url, split_url
from ..redact import MASK, remember
from ..spelling import set_to
from ..targets import parse_server, target_label
from ..text import printable
from ..ui import warn
from ._push_tls import checked_tls_ca
from ._usage import (
    example_line,
    replaced_option,
    typed_words,
    url_in_line,
    usage_error,
    with_option,
)
from .options import CLI_SPELLING

if TYPE_CHECKING:
    from ..boards import Board
    from ..check import Target
    from ..config import Config
    from ..push.mqtt import MqttUrl
    from ..push.transport import Transport

__all__ = [
    "CaForecast",
    "LinkInputs",
    "checked_broker_url",
    "connection_targets",
    "deadline_for",
    "open_transports",
    "project_config",
    "server_targets",
]


class CaForecast:
    """When a unit's current CA file stops accepting the servers its connection goes to:
    the saved chains of ``servers`` and, for the board's firmware connections that read
    the file pushed, the chains their server sends over time (its roadmap: mdash.net's
    change of 2024-06-06). The first failure within 20 years; a date already past when
    the file fails now (since then). Each file is judged once."""

    def __init__(
        self, board: Board, servers: list[Target], base: Path, listed: Collection[str] = ()
    ) -> None:
        self.board, self.base = board, base
        self._device = board.device_profile()
        links = board_links(board)
        # As the gate judges (gate.gate_targets), ``listed`` the hosts of the config's
        # targets: a server the firmware verifies with something else (mDash 1.2.16's
        # built-in root) is not one the CA file decides, unless the config lists it; the
        # board's own server is judged once, as its connection (the roadmap and its saved
        # chains/HOST.pem, esp_cabundle.own_servers), unless listed.
        kept, _ = unread_servers(servers, links.unread, links.who, listed=listed)
        self.servers = [t for t in kept if t.host in listed or not is_own_server(t, links.judged)]
        conns = [(c, ca) for c, ca in links.judged if c.host not in listed]
        saved, _ = own_server_evidence(conns, base, self._device, at=now())
        self._own = link_items(board, links) + saved
        # per file: judged, its date, and check's roadmap date and kinds beside a past one
        self._judged: dict[bytes, tuple[bool, datetime | None, tuple[datetime, str] | None]] = {}

    @property
    def judged_against(self) -> str:
        """What the dates are judged against, as ``push status`` tells it: the servers'
        names and the board's own connections, or "nothing" (every date is unknown)."""
        names = [t.name for t in self.servers] + [item.name for item in self._own]
        return ", ".join(dict.fromkeys(names)) or NOTHING_JUDGED

    def judge(self, old: bytes) -> tuple[bool, datetime | None]:
        """(whether it could be judged, the date); not judged: no server to judge it
        against, or a file its mbedTLS would not load."""
        return self._judgement(old)[:2]

    def roadmap(self, old: bytes) -> tuple[datetime, str] | None:
        """For a file already failing, check's ``roadmap_since`` of the chain behind its
        date (:class:`~esp_cabundle.timeline.FailingSince`): since when the servers a
        shipped roadmap says send that chain fail, and which; None: no roadmap tells."""
        return self._judgement(old)[2]

    def _judgement(self, old: bytes) -> tuple[bool, datetime | None, tuple[datetime, str] | None]:
        key = sha256(old).digest()
        if key not in self._judged:
            self._judged[key] = self._judge(old)
        return self._judged[key]

    def _judge(self, old: bytes) -> tuple[bool, datetime | None, tuple[datetime, str] | None]:
        if not self.servers and not self._own:
            return False, None, None
        try:
            trust = device_trust_set(old, source="a unit's CA")  # as its mbedTLS loads it
        except EspCabundleError:
            return False, None, None
        try:
            items = target_items(self.servers, self.base, default_device=self._device, live=False)
        except EspCabundleError:
            items = []  # no saved chain: the roadmaps still tell
        start = now()
        report = check_items(
            trust, [*items, *self._own], at=start, until=clamped(start, timedelta(days=7305))
        )
        dates: list[datetime] = []
        roadmaps: dict[datetime, tuple[datetime, str]] = {}
        for r in report.results:
            tl, since = r.timeline, r.timeline.failing_since
            if not tl.start.ok:
                dates.append(since.date if since else start)
                if since is not None and since.roadmap_since is not None:
                    roadmaps.setdefault(since.date, (since.roadmap_since, since.roadmap_why))
            elif tl.first_failure_date is not None:
                dates.append(tl.first_failure_date)
        first = min(dates) if dates else None
        return True, first, roadmaps.get(first) if first is not None else None

    def deadline(self, old: bytes) -> datetime | None:
        """The date, or None: it never fails, or cannot be told (see :meth:`judge`)."""
        return self.judge(old)[1]

    def go_dark(self, old: bytes) -> str:
        """The date as ``push status`` keeps it: ISO, "none" (no failure within 20
        years) or "unknown" (not judged)."""
        judged, when = self.judge(old)
        if not judged:
            return UNKNOWN
        return NONE_FOUND if when is None else when.isoformat()


def deadline_for(
    board: Board, servers: list[Target], base: Path, listed: Collection[str] = ()
) -> Callable[[bytes], datetime | None]:
    """:meth:`CaForecast.deadline`: a date, a past one when the file fails now, None
    when it never fails or cannot be told."""
    return CaForecast(board, servers, base, listed).deadline


# An API key or password as an HTTP header or MQTT login carries it: visible ASCII
# (RFC 9110 field values; mDash keys are letters and digits), one line.
_MAX_SECRET = 4096


def _secret_from(env: str, file: Path | None, what: str, *, header: bool) -> str | None:
    """A secret from ``file`` (its one line) or the ``env`` variable, checked before any
    use: a file of several lines or with control characters is refused without ever
    showing what it holds. A ``header`` secret (sent as ``Authorization: Bearer``) is
    visible ASCII; a password may also hold spaces and other printable characters."""
    if file is not None:
        raw = read_input(file, what=f"{what} file").decode("utf-8", "replace")
        where = f"the {what} file"
        _warn_if_open(file, what)
    else:
        raw = os.environ.get(env, "")
        where = f"{env}"
    remember(raw)  # whatever happens next, it is never shown
    text = raw.removeprefix("\ufeff").strip()
    if not text:
        if file is not None:
            raise InputError(f"the {what} file is empty", path=str(file))
        return None
    remember(text)
    if "\n" in text or "\r" in text:
        raise InputError(
            f"{where} holds more than one line: the {what} is one line",
            path=str(file) if file is not None else None,
            hint=f"keep only the {what} in it (its content is not shown)",
        )
    allowed = (lambda c: "!" <= c <= "~") if header else str.isprintable
    if len(text) > _MAX_SECRET or not all(allowed(c) for c in text):
        rule = "visible ASCII, no spaces" if header else "printable characters"
        raise InputError(
            f"{where} holds characters the {what} cannot have (only {rule}, no control characters)",
            path=str(file) if file is not None else None,
            hint=f"check what was saved as the {what} (its content is not shown)",
        )
    return text


def _warn_if_open(file: Path, what: str) -> None:
    """Warn, as ssh does for a key, when a secret's file is readable by group or others;
    a pipe or device (``<(pass show ...)``) has no such mode to mend."""
    with contextlib.suppress(OSError):  # it was just read: a race at worst, no warning
        st = os.stat(file)
        if stat.S_ISREG(st.st_mode) and st.st_mode & 0o077:
            shown = printable(str(file))
            warn(
                f"the {what} file {shown} can be read by other users "
                f"(mode {stat.S_IMODE(st.st_mode):04o}); restrict it: chmod 600 {shown}"
            )


def _split_mdash(url: str) -> SplitResult:
    return split_url(url, "--mdash", example="https://mdash.net/api/v2")


# How the library's refusal of a broker URL's query begins its hint (push/mqtt.py).
_WITHOUT_PART = "give it without that part: "


def _broker_url(ctx: click.Context, text: str, *, from_env: bool) -> MqttUrl:
    """The broker URL; a bad one from the environment is named as such (it said
    "--mqtt: ..." to a user who never typed --mqtt), and the hint is the line as typed
    with --mqtt given the example's broker (it was "e.g. --mqtt URL" alone)."""
    try:
        url = parse_mqtt_url(text, CLI_SPELLING)
    except InputError as e:
        message, hint = e.message, _broker_line(ctx, e.hint, from_env=from_env)
        if from_env and message.startswith("--mqtt"):
            message = "ESP_CABUNDLE_MQTT" + message.removeprefix("--mqtt")
        if from_env and hint is not None and hint.startswith(_WITHOUT_PART):
            # "give it without that part: --mqtt mqtt://ops@HOST": typed, that URL left
            # the variable's password behind (the login refused) and typed --mqtt
            # overrode the variable; the variable is what to mend, its password kept.
            hint = (
                "take that part out of ESP_CABUNDLE_MQTT, keeping the rest as it is "
                "(its user and password: the URL is not shown, as it may hold one)"
            )
        raise InputError(message, hint=hint) from None
    return replace(url, given_in="ESP_CABUNDLE_MQTT") if from_env else url


def _broker_line(ctx: click.Context, hint: str | None, *, from_env: bool) -> str | None:
    """The library's ``e.g. --mqtt URL[; more]`` as the typed line with that URL (added
    when ESP_CABUNDLE_MQTT gave the bad one: a typed --mqtt overrides it), ``more``
    after it; another hint as it is."""
    example = f"e.g. {set_to(CLI_SPELLING.mqtt_url, EXAMPLE_URL)}"
    words = typed_words(ctx)
    if hint is None or not hint.startswith(example) or not words:
        return hint
    whys = [hint.removeprefix(example).removeprefix("; ")]
    if from_env:
        whys.insert(0, "or set ESP_CABUNDLE_MQTT to such a URL")
        words = with_option(words, "--mqtt", EXAMPLE_URL)
    else:
        words = replaced_option(words, ("--mqtt",), "--mqtt", EXAMPLE_URL)
    return example_line(words, why="; ".join(w for w in whys if w))


def checked_broker_url(ctx: click.Context, opts: dict[str, Any]) -> MqttUrl:
    """``--mqtt`` (or ESP_CABUNDLE_MQTT) parsed, its password kept out of every message,
    and refused where the process list shows it: ``push`` asks this before it judges the
    CA, so a refused URL is the run's first word, not a verdict followed by an error."""
    from_env = ctx.get_parameter_source("mqtt_url") == ParameterSource.ENVIRONMENT
    url = _broker_url(ctx, opts["mqtt_url"], from_env=from_env)
    if url.password is not None:
        remember(url.password)
        if not url.password.isprintable():
            raise InputError(
                "the MQTT password in the URL holds control characters",
                hint="check ESP_CABUNDLE_MQTT (its content is not shown)",
            )
    if url.password is not None and not from_env:
        raise InputError(
            "--mqtt: a password in the URL on the command line is visible in the process list",
            hint="give it in MQTT_PASSWORD or --mqtt-password-file, or the whole URL "
            "in ESP_CABUNDLE_MQTT",
        )
    return url


@dataclass(frozen=True, slots=True)
class LinkInputs:
    """What the links read from files and the environment, read once before the gate (a
    key file may be a pipe, which gives its content once): --tls-ca's path, checked,
    the mDash API key and the MQTT password (None: not given), and the warnings said
    already on stderr (the key sent in the clear), which a link's notes repeat: the
    text says them once, the JSON carries them."""

    ca_file: str | None
    mdash_key: str | None
    mqtt_password: str | None
    warned: tuple[str, ...] = ()


def refuse_before_gate(
    ctx: click.Context, opts: dict[str, Any], ids: list[str], broker: MqttUrl | None
) -> LinkInputs:
    """What a run refuses whatever its CA, said before the gate judges the CA: its line
    ("CA: 8 roots; ...") came first, then a usage error (a broker without ids, an --rpc
    or --mdash URL that is none), a ledger path that could not be (no such folder, a
    file that is no ledger), a --tls-ca that is no CA file or a missing mDash key; the
    secrets and --tls-ca read here are returned, for :func:`open_transports`."""
    if broker is not None and not ids:
        raise usage_error(
            "--mqtt needs the units' ids: --device ID or --devices FILE",
            with_option(typed_words(ctx), "--devices", "units.txt"),
            why="one device.id a line; or --device ID for each unit",
        )
    if ids and broker is None and not opts["mdash_url"]:
        raise InputError("--device/--devices name units behind --mdash or --mqtt")
    # A secret's file for a link not asked for was read by none, unsaid: a key meant for
    # --mdash with a run over --mqtt (as --poll without --watch, refused, not ignored).
    for given, link, needed in (("api_key_file", "--mdash", opts["mdash_url"]),
                                ("mqtt_password_file", "--mqtt", broker)):  # fmt: skip
        if opts[given] is not None and not needed:
            flag = "--" + given.replace("_", "-")
            raise InputError(
                f"{flag} only applies with {link}: no link of this run would send it",
                hint=f"reach the units with {link}, or leave {flag} out",
            )
    warned: list[str] = []
    if opts["mdash_url"]:
        check_mdash_url(opts["mdash_url"], "--mdash", CLI_SPELLING)
        if clear := key_in_clear(opts["mdash_url"], CLI_SPELLING):  # before the key is sent
            warn(clear)
            warned.append(clear)
    if opts["rpc_urls"]:
        _checked_rpc(ctx, opts["rpc_urls"])
    check_ledger(opts["ledger_path"])  # read only; whose campaign it is, once judged
    ca_file = checked_tls_ca(opts["tls_ca"], broker, opts["mdash_url"], opts["rpc_urls"] or ())
    key = None
    if opts["mdash_url"]:
        key = _secret_from("MDASH_API_KEY", opts["api_key_file"], "mDash API key", header=True)
        if key is None:
            raise InputError(
                "--mdash needs the API key: set MDASH_API_KEY or give --api-key-file",
                hint="never on the command line, where the process list shows it",
            )
    password = None
    if broker is not None:
        password = _secret_from(
            "MQTT_PASSWORD", opts["mqtt_password_file"], "MQTT password", header=False
        )
        if password is not None and broker.username is None:
            _refuse_password_without_user(ctx, opts, broker)
    return LinkInputs(ca_file, key, password, tuple(warned))


def _refuse_password_without_user(
    ctx: click.Context, opts: dict[str, Any], broker: MqttUrl
) -> None:
    """An MQTT password goes to the broker only with a user name (MQTT 3.1.1, 3.1.2.9:
    no password flag without the user name flag): one given while the URL named no
    user was dropped unsaid, and the broker's "not authorised" then sent the owner to
    check a password that was never sent."""
    where = (
        f"--mqtt-password-file {shell_word(str(opts['mqtt_password_file']))}"
        if opts["mqtt_password_file"] is not None
        else "MQTT_PASSWORD"
    )
    bare = replace(broker, username="USER", password=None)
    if broker.given_in == "ESP_CABUNDLE_MQTT":
        raise InputError(
            f"{where} gives an MQTT password, but ESP_CABUNDLE_MQTT names no user: a broker "
            "takes a password only with a user name, so it would not be sent",
            hint=f"put the user in ESP_CABUNDLE_MQTT ({bare}), or unset {where}",
        )
    raise usage_error(
        f"{where} gives an MQTT password, but --mqtt names no user: a broker takes a "
        "password only with a user name, so it would not be sent",
        replaced_option(typed_words(ctx), ("--mqtt",), "--mqtt", str(bare)),
        why="USER: the broker's user name for that password",
    )


def _key_source(file: Path | None) -> str:
    """The key's source for mDash's 401 hint ("MDASH_API_KEY or --api-key-file" sent an
    owner with both set to fix the variable, which the file overrides)."""
    if file is None:
        return CLI_SPELLING.api_key
    also = " (used instead of MDASH_API_KEY)" if os.environ.get("MDASH_API_KEY") else ""
    return f"the key in --api-key-file {shell_word(str(file))}{also}"


def _checked_rpc(ctx: click.Context, urls: tuple[str, ...]) -> None:
    """``--rpc`` URLs checked; one of another scheme (``ftp://1.2.3.4``, or none) is
    said with the line as typed, its URL given the typed host over http:// (the hint
    was the fragment "e.g. --rpc http://192.168.1.20/rpc or --rpc ws://...")."""
    try:
        checked_rpc_urls(urls, CLI_SPELLING)
    except WrongScheme as e:
        if e.url.partition("://")[0].lower() in ("mqtt", "mqtts"):  # a broker, not a unit
            words, masked = _rpc_masked(_as_broker(typed_words(ctx), e.url))
            e.hint = example_line(
                words,
                why="units behind a broker are reached through it by their device ids; "
                f"--rpc takes a unit's own http:// or ws:// URL{masked}",
            )
            raise
        words, rest = url_in_line(typed_words(ctx), "--rpc", e.url, "http", host="192.168.1.20")
        words, masked = _rpc_masked(words)
        e.hint = example_line(words, why=f"or ws://{bare_url(rest)} over a WebSocket{masked}")
        raise


def _rpc_masked(words: Sequence[str]) -> tuple[list[str], str]:
    """``words`` with each ``--rpc`` URL's query values masked, as every output shows
    them, and what to say when one was: the line runs once each is typed again."""
    out: list[str] = []
    for i, word in enumerate(words):
        if i and words[i - 1] == "--rpc":
            word = bare_url(word)
        elif word.startswith("--rpc="):
            word = f"--rpc={bare_url(word.removeprefix('--rpc='))}"
        out.append(word)
    said = f"; each {MASK} replaced by the query value first typed" if out != list(words) else ""
    return out, said


def _as_broker(words: Sequence[str], url: str) -> list[str]:
    """``words`` with ``--rpc mqtt://HOST...`` given as the broker it names: ``--mqtt
    mqtt://HOST --device ID`` (a query or path dropped: --mqtt refuses them, and a
    password: it is never shown, and --mqtt takes it from MQTT_PASSWORD)."""
    parts = urlsplit(url)
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    broker = f"{parts.scheme}://{user + '@' if user else ''}{host}"
    out: list[str] = []
    i = 0
    while i < len(words):
        if words[i] == "--rpc" and words[i + 1 : i + 2] == [url]:
            out += ["--mqtt", broker, "--device", "ID"]
            i += 2
            continue
        out += [f"--mqtt={broker}", "--device", "ID"] if words[i] == f"--rpc={url}" else [words[i]]
        i += 1
    return out


def open_transports(
    opts: dict[str, Any], ids: list[str], broker: MqttUrl | None, given: LinkInputs
) -> list[Transport]:
    """The links ``opts`` name, to the units ``ids`` (from :func:`device_ids`), the
    broker's as :func:`checked_broker_url` parsed ``--mqtt`` (None: no --mqtt). Ids
    without --mdash or --mqtt, and --mqtt without ids, were refused before (by
    :func:`refuse_before_gate`, before the CA was judged, which read ``given``)."""
    ca_file = given.ca_file
    out: list[Transport] = []
    try:
        if opts["mdash_url"] and given.mdash_key is not None:
            out.append(
                MdashTransport(
                    given.mdash_key,
                    base_url=opts["mdash_url"],
                    devices=ids,
                    timeout=opts["timeout"],
                    frame_size=opts["frame_size"],
                    ca_file=ca_file,
                    spelling=CLI_SPELLING._replace(api_key=_key_source(opts["api_key_file"])),
                )
            )
        if broker is not None:
            out.append(_mqtt_transport(opts, ids, broker, given))
        if opts["rpc_urls"]:
            out.append(
                LanTransport(
                    opts["rpc_urls"],
                    spelling=CLI_SPELLING,
                    timeout=opts["timeout"],
                    frame_size=opts["frame_size"],
                    ca_file=ca_file,
                    concurrency=opts["concurrency"],
                )
            )
    except BaseException:
        for t in out:
            t.close()
        raise
    return out


def _mqtt_transport(
    opts: dict[str, Any], ids: list[str], broker: MqttUrl, given: LinkInputs
) -> MqttTransport:
    """The broker's link; a refused login names where the password came from: one in
    ESP_CABUNDLE_MQTT's URL was said to come from "MQTT_PASSWORD or --mqtt-password-file",
    which the user never set."""
    url = broker
    if given.mqtt_password is not None:
        url = replace(url, password=given.mqtt_password)
    try:
        return MqttTransport(
            url, ids, ca_file=given.ca_file, frame_size=opts["frame_size"], spelling=CLI_SPELLING
        )
    except AuthError as e:
        if given.mqtt_password is None and broker.password is not None:
            e.hint = (
                f"check the user name and the password in {broker.given_in} "
                "(mqtt://USER:PASSWORD@HOST; its content is not shown), or give the "
                "password in MQTT_PASSWORD or --mqtt-password-file instead"
            )
        raise


def project_config(opts: dict[str, Any]) -> Config | None:
    """The config of this push: ``-c FILE``, else ./cabundle.yaml (None: neither)."""
    path = opts["ca"].config_path or find_config()
    return load_config(path) if path else None


def connection_targets(
    opts: dict[str, Any], broker: MqttUrl | None
) -> tuple[list[Target], Path, set[str]]:
    """The servers the units connect to, where their saved chains live, and the hosts
    the config lists: the link's own server (``--server``, else the mDash host or the
    ``mqtts://`` broker), ``--target``'s and the config's ``targets:`` (``-c`` or
    ./cabundle.yaml), chains beside the config: each one the gate judges the CA against
    (a --target left out here made every unit's go-dark date unknown)."""
    config = project_config(opts)
    base = config.base_dir if config is not None else Path.cwd()
    targets = server_targets(opts, broker)
    names = {t.name for t in targets}
    targets += [t for t in opts["ca"].extra_targets() if t.name not in names]
    names = {t.name for t in targets}
    listed: set[str] = set()
    if config is not None:
        section = list(config.section("targets", ()))
        targets += [t for t in section if t.name not in names]
        listed = {t.host for t in section}
    return targets, base, listed


def server_targets(opts: dict[str, Any], broker: MqttUrl | None) -> list[Target]:
    """The servers the units' connection goes through, from the link options and the
    parsed ``--mqtt`` (an ``MQTTS://`` broker is a TLS one too)."""
    specs = list(opts["servers"])
    typed = bool(specs)  # HOST[:PORT] as typed: a path or a space refused, not dialled
    if not specs:
        mdash = _split_mdash(opts["mdash_url"]) if opts["mdash_url"] else None
        if mdash is not None and mdash.scheme == "https":  # HTTPS:// too (urlsplit lowers it)
            host = mdash.hostname or ""  # and its port: HOST:8443 was judged as HOST:443
            specs.append(host_port(host, mdash.port) if mdash.port else host)
        if broker is not None and broker.tls:
            specs.append(host_port(broker.host, broker.port))
    out = []
    for spec in specs:
        host, port = parse_server(spec) if typed else parse_host_port(spec)
        out.append(Target(target_label(host, port), host, port))
    return out
