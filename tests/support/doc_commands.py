"""Run the commands documentation shows, exactly as shown (README.md, examples/).

Commands are taken from the files themselves (```sh blocks, Makefile recipes, CMake
``COMMAND`` lines, workflow ``run:`` steps), so the tests cannot drift from the docs.

- A plain ``esp-cabundle ...`` line runs in-process through click's CliRunner; anything
  with shell syntax (``&&``, ``>``, ``$VAR``) or another program runs under ``bash -c``
  with the installed console scripts first on ``PATH``.
- The clock is pinned to :data:`TODAY` in both cases (:func:`freeze_clock` in-process,
  ``support/clock/sitecustomize.py`` in child processes), so verdicts do not depend on
  the day the tests run.
- A trailing ``# exit N`` comment states the expected exit code (default 0); a line
  marked ``# needs network`` is never run. Text after ``=>`` in the comment is what the
  command prints: pieces split at `` ... ``, each found in order in its output
  (:func:`unsaid`).
- Serial ports (``/dev/ttyUSB0``, ``COM3``) are replaced by the URL of a virtual ESP32
  (esp_cabundle.virtual) preloaded with the layout the command's board implies.
- ``esp-cabundle virtual-unit ... --listen PORT &`` starts that command as a child
  process listening on a free port (:class:`BackgroundUnits`); the URL it prints takes the
  place of the one the line names in later commands, and it is stopped at the end. So
  does ``virtual-unit --rpc http://127.0.0.1:PORT &`` (or ``ws://``); ``--rpc mqtt://...``
  answers through the broker the ``push`` lines reach (:class:`FleetStandIns`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import FunctionType
from typing import Any
from urllib.parse import urlsplit

import yaml
from click.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent.parent
EXAMPLES = REPO / "examples"
TODAY = "2026-12-01"
CLOCK_DIR = Path(__file__).resolve().parent / "clock"
BIN_DIR = Path(sys.executable).parent
NETWORK_MARK = "needs network"
_EXIT_RE = re.compile(r"#\s*exit (\d+)\b")
_SAYS_RE = re.compile(r"\s#\s[^#]*?=>\s*(?P<says>.+)$")
_PORT_RE = re.compile(r"(?<![\w/])(/dev/tty[A-Za-z]+\d*|COM\d+)\b")
_GLOB_RE = re.compile(r"(?:-p|--port)\s+(['\"]?)(?P<glob>/dev/tty[A-Za-z]+)\*\1")
_SHELL_TOKENS = {"|", "||", "&&", ";", ">", ">>", "<", "&", "2>", "(", ")"}
COMMAND_TIMEOUT = 120


@dataclass(frozen=True)
class Command:
    """One logical command line and what it should do."""

    text: str
    source: str  # file:line, for failure messages
    expect: int = 0
    network: bool = False
    says: tuple[str, ...] = ()  # what its ``# ... => TEXT`` comment says it prints

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.text, comments=True)


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str

    def describe(self, cmd: Command) -> str:
        return (
            f"{cmd.source}: `{cmd.text}` exited {self.code}, expected {cmd.expect}\n"
            f"--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"
        )


# ---------------------------------------------------------------------------------------
# Extraction


def copy_examples(dest: Path) -> Path:
    """A scratch copy of examples/ (whole: the examples refer to ../chains), leaving out
    build output, so commands write into the copy and never into the repository."""
    shutil.copytree(EXAMPLES, dest, ignore=shutil.ignore_patterns("build", "__pycache__"))
    return dest


def fenced_blocks(markdown: str, lang: str = "sh") -> list[tuple[int, str]]:
    """(line number of the first line, text) of every fenced block in ``lang``."""
    out = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == f"```{lang}":
            start = i + 1
            j = start
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            out.append((start + 1, "\n".join(lines[start:j])))
            i = j
        i += 1
    return out


def logical_lines(text: str, first_line: int = 1) -> list[tuple[int, str]]:
    """Lines with backslash continuations joined; blank and comment-only lines dropped."""
    out: list[tuple[int, str]] = []
    buf = ""
    start = first_line
    for n, line in enumerate(text.splitlines(), start=first_line):
        if not buf:
            start = n
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1].rstrip() + " "
            continue
        buf += line.strip()
        if buf and not buf.startswith("#"):
            out.append((start, buf))
        buf = ""
    return out


def command(text: str, source: str) -> Command:
    m = _EXIT_RE.search(text)
    said = _SAYS_RE.search(text)
    says = tuple(p.strip() for p in said.group("says").split(" ... ")) if said else ()
    return Command(text, source, int(m.group(1)) if m else 0, NETWORK_MARK in text, says)


def unsaid(cmd: Command, out: Outcome) -> str | None:
    """Why ``out`` is not what ``cmd``'s ``=>`` comment says it prints (None: it is):
    each piece must appear, in order, in its output, runs of white space as one space (a
    wrapped report line reads as one); standard error may come before or after standard
    output, as a terminal interleaves them."""
    pieces = [" ".join(p.split()) for p in cmd.says]
    both = [
        " ".join(f"{a}\n{b}".split())
        for a, b in ((out.stdout, out.stderr), (out.stderr, out.stdout))
    ]

    def first_missing(printed: str) -> str | None:
        at = 0
        for piece in pieces:
            found = printed.find(piece, at)
            if found < 0:
                return piece
            at = found + len(piece)
        return None

    missing = [first_missing(printed) for printed in both]
    if None in missing:
        return None
    piece = missing[0]
    assert piece is not None
    where = " after the text before it" if piece in both[0] else ""
    return (
        f"{cmd.source}: `{cmd.text}` does not print {piece!r}{where}\n"
        f"--- stdout\n{out.stdout[-3000:]}\n--- stderr\n{out.stderr[-3000:]}"
    )


def markdown_commands(path: Path, *, label: str | None = None) -> list[Command]:
    name = label or path.name
    cmds = []
    for first, block in fenced_blocks(path.read_text(encoding="utf-8")):
        for n, line in logical_lines(block, first):
            cmds.append(command(line, f"{name}:{n}"))
    return cmds


# ---------------------------------------------------------------------------------------
# Clock and environment


class _Frozen:
    """The frozen instant (None: live), set through the test's monkeypatch."""

    when: datetime | None = None


def _frozen_now() -> datetime:
    """:func:`freeze_clock`'s ``now``. A module imported under a freeze binds it where
    monkeypatch did not set it and so cannot undo it: it keeps no instant of its own."""
    if _Frozen.when is not None:
        return _Frozen.when
    import esp_cabundle.dates as dates

    return datetime.now(timezone.utc) if dates.now is _frozen_now else dates.now()


_frozen_now.frozen_clock = True  # type: ignore[attr-defined]


def freeze_clock(monkeypatch: Any, today: str = TODAY) -> datetime:
    """Make ``esp_cabundle.dates.now`` (and every module's imported copy) return
    ``today``, 00:00 UTC, until ``monkeypatch`` is undone. A copy marked
    ``frozen_clock`` is replaced too: this file is imported as ``support.doc_commands``
    and ``tests.support.doc_commands``, each with its own :class:`_Frozen`."""
    import esp_cabundle.dates as dates

    when = datetime.fromisoformat(today).replace(tzinfo=timezone.utc)
    original = dates.now
    monkeypatch.setattr(_Frozen, "when", when)
    for name, mod in list(sys.modules.items()):
        if name == "esp_cabundle" or name.startswith("esp_cabundle."):
            for attr, value in list(vars(mod).items()):
                marked = isinstance(value, FunctionType) and getattr(value, "frozen_clock", 0)
                if value is not _frozen_now and (value is original or marked is True):
                    monkeypatch.setattr(mod, attr, _frozen_now)
    return when


def child_env(today: str = TODAY, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for child processes: console scripts first on PATH, the clock
    pinned to ``today``."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    pp = env.get("PYTHONPATH")
    env["PYTHONPATH"] = f"{CLOCK_DIR}{os.pathsep}{pp}" if pp else str(CLOCK_DIR)
    env["ESP_CABUNDLE_TEST_TODAY"] = today
    env.pop("ESP_CABUNDLE", None)
    env.update(extra or {})
    return env


@contextlib.contextmanager
def working_dir(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


# ---------------------------------------------------------------------------------------
# Running


def is_plain_cli(text: str) -> bool:
    """A single esp-cabundle invocation without shell syntax."""
    if "$" in text or "`" in text:
        return False
    lex = shlex.shlex(text, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    lex.commenters = "#"
    tokens = list(lex)
    return bool(tokens) and tokens[0] == "esp-cabundle" and not (_SHELL_TOKENS & set(tokens))


def run_cli(argv: list[str], cwd: Path) -> Outcome:
    from esp_cabundle.cli import cli

    runner = CliRunner()
    with working_dir(cwd):
        r = runner.invoke(cli, argv, catch_exceptions=True)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(r.exception))
        return Outcome(99, r.stdout, r.stderr + "\n" + tb)
    return Outcome(r.exit_code, r.stdout, r.stderr)


def run_shell(text: str, cwd: Path, env: dict[str, str]) -> Outcome:
    p = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {text}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    return Outcome(p.returncode, p.stdout, p.stderr)


def run_command(
    cmd: Command,
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    ports: Callable[[str], str] | None = None,
) -> Outcome:
    """Run ``cmd`` in ``cwd`` (serial ports substituted by ``ports``); the clock must
    already be frozen in-process (:func:`freeze_clock`)."""
    text = ports(cmd.text) if ports is not None else cmd.text
    if is_plain_cli(text):
        return run_cli(shlex.split(text, comments=True)[1:], cwd)
    return run_shell(text, cwd, env or child_env())


def run_all(cmds: list[Command], cwd: Path, **kw: Any) -> None:
    """Run an example's commands in order, each offline and exiting as it says it will;
    none found means the file changed shape under the reader that took them."""
    assert cmds, "no command found: did the file change shape?"
    for cmd in cmds:
        assert not cmd.network, f"{cmd.source}: examples must run offline"
        out = run_command(cmd, cwd, **kw)
        assert out.code == cmd.expect, out.describe(cmd)


def workflow_commands(path: Path) -> list[Command]:
    """The esp-cabundle ``run:`` steps, in order; steps that need the network are
    skipped, and must say so in their name."""
    doc = yaml.safe_load(path.read_text())
    (job,) = doc["jobs"].values()
    cmds = []
    for i, step in enumerate(job["steps"], start=1):
        run = step.get("run", "")
        if not run.startswith("esp-cabundle"):
            continue
        if "chains pull" in run:
            assert "needs network" in step.get("name", "")
            assert step.get("if") == "github.event_name == 'schedule'"
            continue
        cmds.append(command(run.strip(), f"{path.name}: step {i}"))
    return cmds


class UnitPool:
    """Virtual ESP32 units standing in for the serial ports commands name.

    A port names one unit per layout: Mongoose OS when the command mentions a Mongoose OS
    board or its ``fs_0``/``fs_1`` partitions, the Arduino-ESP32 default table with the
    mDash SPIFFS image when it mentions another board; a command that implies neither
    (``restore --port X``) reaches the unit last used on that port, as on a bench. A
    port glob (``'/dev/ttyUSB*'``) becomes two ``--port`` options, two units. Each unit
    has its own MAC.
    """

    def __init__(self, start: Callable[..., Any]) -> None:
        self._start = start
        self._units: dict[tuple[str, str], Any] = {}
        self._last: dict[str, tuple[str, str]] = {}

    def _unit(self, port: str, hint: str | None) -> str:
        from support.layouts import load_arduino, load_mongoose

        key = (port, hint) if hint else self._last.get(port, (port, "arduino"))
        if key not in self._units:
            n = len(self._units) + 1
            unit = self._start("esp32", mac=f"24:0a:c4:00:00:{n:02x}")
            (load_mongoose if key[1] == "mongoose" else load_arduino)(unit)
            self._units[key] = unit
        self._last[port] = key
        return str(self._units[key].url)

    def __call__(self, text: str) -> str:
        if re.search(r"mongoose|\bfs_[01]\b", text):
            hint: str | None = "mongoose"
        elif "--board" in text or "--partition" in text:
            hint = "arduino"
        else:
            hint = None

        def glob(m: re.Match[str]) -> str:
            base = m.group("glob")
            urls = [self._unit(f"{base}{i}", hint) for i in range(2)]
            return " ".join(f"--port {u}" for u in urls)

        text = _GLOB_RE.sub(glob, text)
        return _PORT_RE.sub(lambda m: self._unit(m.group(1), hint), text)

    @property
    def used(self) -> int:
        return len(self._units)


_VIRTUAL_UNIT = re.compile(r"^esp-cabundle virtual-unit\b(?P<args>[^&]*)&\s*$")


class UnitProcess:
    """``esp-cabundle virtual-unit ARGS`` in a child process; ``line`` is the first line
    it prints (the URL --port takes; with --rpc, push's options to reach it)."""

    def __init__(self, *args: str, cwd: Path | None = None, stderr: int = subprocess.PIPE):
        self.proc = subprocess.Popen(
            [str(BIN_DIR / "esp-cabundle"), "virtual-unit", *args],
            cwd=cwd,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert self.proc.stdout is not None
        self.line = self.proc.stdout.readline().strip()

    @property
    def url(self) -> str:
        return self.line

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """Send ``sig``; its exit code and what it printed on stderr."""
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=COMMAND_TIMEOUT)
        return self.proc.returncode, err or ""

    def close(self) -> None:
        """Stopped as a user stops it (SIGTERM), so it removes what it made (a virtual
        mDash's private key folder in the temporary directory); killed only if it hangs."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.communicate(timeout=COMMAND_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=COMMAND_TIMEOUT)


class BackgroundUnits:
    """``esp-cabundle virtual-unit ... &`` lines, run as documented: in the background.

    Each is started as a child process, listening on a free port instead of the one its
    ``--listen`` (or ``--rpc http://HOST:PORT``, ``ws://``) names (tests on a shared
    machine must not collide); the URL it prints replaces the documented one in later
    commands. A ``--rpc mqtt://...`` unit is pointed at ``broker(url)`` instead, the broker
    the ``push`` lines are pointed at.
    """

    def __init__(self, broker: Callable[[str], str] | None = None) -> None:
        self._procs: list[subprocess.Popen[str]] = []
        self._urls: dict[str, str] = {}
        self._broker = broker

    def start(self, cmd: Command, cwd: Path) -> bool:
        """Start ``cmd`` if it is such a line (False: it is not)."""
        m = _VIRTUAL_UNIT.match(cmd.text.split("#", 1)[0].strip())
        if m is None:
            return False
        argv = shlex.split(m.group("args"))
        if "--rpc" in argv:
            self._start_rpc(cmd, argv, cwd)
            return True
        if "--mdash" in argv:
            self._start_mdash(cmd, argv, cwd)
            return True
        assert "--listen" in argv, f"{cmd.source}: name the port, so later lines can use it"
        at = argv.index("--listen") + 1
        host, _, port = argv[at].rpartition(":")
        scheme = "rfc2217" if "--rfc2217" in argv else "socket"
        named = f"{scheme}://{host or '127.0.0.1'}:{port}"
        argv[at] = "0"
        url = self._spawn(argv, cwd)
        assert url.startswith(f"{scheme}://"), f"{cmd.source}: printed {url!r}"
        self._urls[named] = url
        return True

    def _start_rpc(self, cmd: Command, argv: list[str], cwd: Path) -> None:
        at = argv.index("--rpc") + 1
        parts = urlsplit(argv[at])
        if parts.scheme == "mqtt":
            assert self._broker is not None, f"{cmd.source}: no broker to point the unit at"
            argv[at] = self._broker(argv[at])
            line = self._spawn(argv, cwd)
            assert line.startswith("--mqtt mqtt://"), f"{cmd.source}: printed {line!r}"
            return
        argv[at] = f"{parts.scheme}://{parts.hostname}:0"
        line = self._spawn(argv, cwd)
        urls = shlex.split(line)[1::2]
        assert urls and line.startswith(f"--rpc {parts.scheme}://"), f"{cmd.source}: {line!r}"
        for n, url in enumerate(urls):
            self._urls[f"{parts.scheme}://{parts.hostname}:{(parts.port or 80) + n}/rpc"] = url

    def _start_mdash(self, cmd: Command, argv: list[str], cwd: Path) -> None:
        """``--mdash http://HOST:PORT``: on a free port; the API's URL it prints (with
        ``/api/v2``) replaces the documented one. Its key file is written where named."""
        at = argv.index("--mdash") + 1
        parts = urlsplit(argv[at])
        argv[at] = f"http://{parts.hostname}:0"
        line = self._spawn(argv, cwd)
        printed = shlex.split(line)
        assert printed[:1] == ["--mdash"] and "--api-key-file" in printed, f"{cmd.source}: {line!r}"
        self._urls[f"http://{parts.hostname}:{parts.port or 80}/api/v2"] = printed[1]

    def _spawn(self, argv: list[str], cwd: Path) -> str:
        """Start ``virtual-unit ARGV``; the first line it prints."""
        unit = UnitProcess(*argv, cwd=cwd, stderr=subprocess.DEVNULL)
        self._procs.append(unit.proc)
        return unit.line

    def __call__(self, text: str) -> str:
        for named, url in self._urls.items():
            text = re.sub(re.escape(named) + r"\b", url, text)
        return text

    @property
    def started(self) -> int:
        return len(self._procs)

    def close(self) -> None:
        for proc in self._procs:
            proc.terminate()
            proc.wait(timeout=COMMAND_TIMEOUT)
            assert proc.returncode == 0, f"virtual-unit exited {proc.returncode}"


def uses_port(text: str) -> bool:
    return bool(_PORT_RE.search(text))


_MDASH_RE = re.compile(r"--mdash(?:\s+(?!-)\S+)?")
_MQTT_RE = re.compile(r"\bmqtts?://\S+")
_RPC_RE = re.compile(r"--rpc\s+(?P<url>(?:https?|wss?)://\S+)")
MDASH_KEY = "readme-mdash-key"
MQTT_UNITS = ("esp32-0001", "esp32-0002", "esp32-0003")
MDASH_UNITS = ("device1", "device2", "device3")


class FleetStandIns:
    """Stand-ins for the fleet links that ``push`` commands name, started on first use.

    - ``--mdash [URL]``, unless the URL is on 127.0.0.1 already (a background
      ``virtual-unit --mdash`` of the README serves it), reaches the mDash REST
      stand-in (support/fleet_links.py; mDash
      units ``device1``-``device3``, API key :data:`MDASH_KEY`, which the caller puts in
      ``MDASH_API_KEY``) and gets ``--server mdash.net`` unless it names a server, so the
      gate still checks the units' connection to mdash.net from ``chains/mdash.net.pem``;
    - ``mqtt://HOST[:PORT]`` becomes a mosquitto on 127.0.0.1 serving Mongoose OS units
      ``esp32-0001``-``esp32-0003`` (:meth:`unavailable` says when mosquitto is missing);
    - ``--rpc URL`` reaches one Mongoose OS unit on 127.0.0.1 over HTTP or WebSocket,
      unless the URL is on 127.0.0.1 already: a background ``virtual-unit --rpc`` of the
      README serves it.
    """

    def __init__(self) -> None:
        self._mdash: Any = None
        self._broker: Any = None
        self._host: Any = None
        self._lan: Any = None

    def unavailable(self, text: str) -> bool:
        from support.fleet_links import mosquitto_binary

        return bool(_MQTT_RE.search(text)) and mosquitto_binary() is None

    def __call__(self, text: str) -> str:
        m = _MDASH_RE.search(text)
        if m and urlsplit([*m.group(0).split(), ""][1]).hostname != "127.0.0.1":
            url = self._mdash_url()
            extra = "" if "--server" in text else " --server mdash.net"
            text = _MDASH_RE.sub(lambda m: f"--mdash {url}{extra}", text, count=1)
        if _MQTT_RE.search(text):
            text = _MQTT_RE.sub(self._mqtt_url(), text)
        m = _RPC_RE.search(text)
        if m and urlsplit(m.group("url")).hostname != "127.0.0.1":
            lan = self._lan_server()
            url = lan.ws_url if m.group("url").startswith("ws") else lan.http_url
            text = text[: m.start("url")] + url + text[m.end("url") :]
        return text

    def broker(self, url: str) -> str:
        """The broker ``push`` lines naming ``url`` reach instead."""
        return _MQTT_RE.sub(self._mqtt_url(), url)

    def _mdash_url(self) -> str:
        if self._mdash is None:
            from support.fleet import mdash_unit
            from support.fleet_links import MdashStandIn

            self._mdash = MdashStandIn([mdash_unit(u) for u in MDASH_UNITS], MDASH_KEY)
        return str(self._mdash.url)

    def _mqtt_url(self) -> str:
        if self._broker is None:
            from esp_cabundle.virtual.rpc_links import MqttUnitHost
            from support.fleet import mongoose_unit
            from support.fleet_links import Mosquitto

            self._broker = Mosquitto().__enter__()
            units = [mongoose_unit(u) for u in MQTT_UNITS]
            self._host = MqttUnitHost(self._broker.port, units)
        return str(self._broker.url)

    def _lan_server(self) -> Any:
        if self._lan is None:
            from esp_cabundle.virtual.rpc_links import LanUnitServer
            from support.fleet import mongoose_unit

            self._lan = LanUnitServer(mongoose_unit("lan-unit"))
        return self._lan

    @property
    def used(self) -> set[str]:
        return {n for n, v in (("mdash", self._mdash), ("mqtt", self._host), ("rpc", self._lan))
                if v is not None}  # fmt: skip

    def close(self) -> None:
        for part in (self._mdash, self._host, self._lan):
            if part is not None:
                part.close()
        if self._broker is not None:
            self._broker.__exit__(None, None, None)
