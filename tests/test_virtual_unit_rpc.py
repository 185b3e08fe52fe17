"""``esp-cabundle virtual-unit --rpc``: a Mongoose OS unit in the field that a user starts
to rehearse ``push`` on, end to end: started as a child process, pushed to over MQTT
through a real mosquitto on 127.0.0.1, over HTTP and over WebSocket, stopped by a
signal; its file system mounted and checked file by file afterwards. Bad inputs: a
clear error, exit 2 (or 3 for a broker that is not there), nothing written."""

from __future__ import annotations

import shlex
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.doc_commands import UnitProcess
from support.fleet import LFS_IMAGE, ca_bytes, write_ca
from support.fleet_links import free_port, refusing_ports

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.commands._virtual_rpc import _parse_url
from esp_cabundle.fs import open_image
from esp_cabundle.push.ledger import Ledger
from esp_cabundle.virtual.boards import board_fs_image
from tests.support import dumps

Start = Callable[..., UnitProcess]  # the start_unit fixture
OLD_CA = dumps.pem("isrgrootx1.pem")  # the unit's CA file before the push


def push(tmp_path: Path, line: str, *extra: str, ledger: str = "c.db") -> tuple[int, str]:
    ca = write_ca(tmp_path)
    args = ["push", *shlex.split(line), "--board", "mongoose-os-esp32", "--bundle", str(ca)]
    args += ["--allow", "unjudged"]  # a rehearsal: no server judges the CA
    r = CliRunner().invoke(cli, [*args, "--ledger", str(tmp_path / ledger), *extra])
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout + r.stderr


def files(image: bytes) -> dict[str, bytes]:
    img = open_image(image)
    return {f.path: img.read(f.path) for f in img.files()}


def test_push_over_mqtt_through_mosquitto(
    mosquitto: Any, start_unit: Start, tmp_path: Path
) -> None:
    """The user's broker, a unit holding the CA file they give; push reaches it with the
    line it printed, the file changes, Ctrl-C stops it (exit 0) and --save-fs writes its
    file system: the new CA, every other file as the board's factory one."""
    (tmp_path / "old-ca.pem").write_bytes(OLD_CA)
    out = tmp_path / "dev-1.bin"
    unit = start_unit(
        *("--rpc", mosquitto.url, "--id", "dev-1", "--ca-file", "old-ca.pem"),
        *("--save-fs", str(out)),
        cwd=tmp_path,
    )
    assert unit.line == f"--mqtt {mosquitto.url} --device dev-1"
    code, text = push(tmp_path, unit.line, "--dry-run")
    assert code == 0 and "dev-1  would-write" in text and "ISRG Root X1 only" in text, text
    assert not out.exists()
    code, text = push(tmp_path, unit.line)
    assert code == 0, text
    with Ledger(tmp_path / "c.db") as led:
        assert {r.id: r.state for r in led.rows()} == {"dev-1": "verified"}
    code, err = unit.stop(signal.SIGINT)
    assert code == 0, err
    assert "stopped dev-1: " in err and "/ca.pem changed" in err, err
    after = files(out.read_bytes())
    before = files(board_fs_image(load_board("mongoose-os-esp32"), ca=OLD_CA))
    assert before.pop("/ca.pem") == OLD_CA
    assert after.pop("/ca.pem") == ca_bytes()
    assert after == before and "/conf9.json" in after
    assert out.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "old-ca.pem").read_bytes() == OLD_CA  # its input, untouched


def test_the_push_line_it_prints_runs_as_printed(
    start_unit: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The line "push to it: esp-cabundle push ... --bundle ca.pem" was refused once push refused
    a CA no server judged: the line printed runs when copied (here as a dry run)."""
    write_ca(tmp_path)
    unit = start_unit("--rpc", "http://127.0.0.1:0", cwd=tmp_path)
    assert unit.proc.stderr is not None
    said = unit.proc.stderr.readline() + unit.proc.stderr.readline()
    line = said.split("): esp-cabundle ", 1)[1].strip()
    assert line.startswith(f"push {unit.line} "), said
    monkeypatch.chdir(tmp_path)  # where the line is typed: beside its ca.pem
    r = CliRunner().invoke(cli, [*shlex.split(line), "--dry-run"])
    assert r.exit_code == 0 and "would-write" in r.stdout, r.output
    code, err = unit.stop(signal.SIGTERM)
    assert code == 0, err


def test_push_over_http_from_an_image(start_unit: Start, tmp_path: Path) -> None:
    """A unit started from a real Mongoose OS LittleFS image, reached over HTTP; SIGTERM
    stops it; the image given is left as it was, the one saved holds the new CA and
    every other file of the original."""
    image = tmp_path / "fs.bin"
    image.write_bytes(LFS_IMAGE.read_bytes())
    out = tmp_path / "after.bin"
    args = ("--rpc", "http://127.0.0.1:0", "--fs-image", "fs.bin", "--save-fs", "after.bin")
    unit = start_unit(*args, cwd=tmp_path)
    assert unit.line.startswith("--rpc http://127.0.0.1:") and unit.line.endswith("/rpc")
    code, text = push(tmp_path, unit.line)
    assert code == 0, text
    code, err = unit.stop(signal.SIGTERM)
    assert code == 0 and "stopped esp32-virtual: " in err, err
    assert image.read_bytes() == LFS_IMAGE.read_bytes()
    before, after = files(LFS_IMAGE.read_bytes()), files(out.read_bytes())
    assert before.pop("/ca.pem") != ca_bytes()
    assert after.pop("/ca.pem") == ca_bytes()
    assert after == before


def test_several_units_over_websocket_write_nothing(start_unit: Start, tmp_path: Path) -> None:
    """Two ids over WebSocket, one port each; both are updated (push's ledger knows them by
    the ids their Sys.GetInfo reports); without --save-fs nothing but push's own files
    appears."""
    unit = start_unit("--rpc", "ws://127.0.0.1:0", "--id", "a", "--id", "b", cwd=tmp_path)
    urls = shlex.split(unit.line)[1::2]
    assert len(urls) == 2 and all(u.startswith("ws://127.0.0.1:") for u in urls), unit.line
    code, text = push(tmp_path, unit.line)
    assert code == 0, text
    code, text = push(tmp_path, unit.line, ledger="again.db")  # a new campaign: nothing to do
    assert code == 0 and "2 up-to-date" in text, text
    with Ledger(tmp_path / "again.db") as led:
        assert {r.id: r.state for r in led.rows()} == {"a": "up-to-date", "b": "up-to-date"}
    code, err = unit.stop(signal.SIGINT)
    assert code == 0, err
    assert err.count("/ca.pem changed") == 2, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.db", "c.db", "ca.pem"]


def two_free_ports() -> int:
    """A port that is free, and the next one too (then released: a race other processes
    could win, as rarely as free_port's)."""
    for _ in range(50):
        with socket.socket() as a, socket.socket() as b:
            a.bind(("127.0.0.1", 0))
            port = int(a.getsockname()[1])
            try:
                b.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise AssertionError("no two consecutive free ports")


def test_http_ports_count_up_from_the_port_given(start_unit: Start, tmp_path: Path) -> None:
    port = two_free_ports()
    args = ("--rpc", f"http://127.0.0.1:{port}", "--id", "x", "--id", "y")
    unit = start_unit(*args, cwd=tmp_path)
    urls = [f"http://127.0.0.1:{port + n}/rpc" for n in range(2)]
    assert unit.line == " ".join(f"--rpc {u}" for u in urls)
    code, text = push(tmp_path, unit.line)
    assert code == 0 and "2 verified" in text, text
    assert unit.stop(signal.SIGINT)[0] == 0


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def a_test_only_key_pem() -> bytes:
    """A private key made now (the repository holds none): what --ca-file must refuse."""
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    return key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())


BAD = [
    (["--rpc", "ftp://127.0.0.1:21"], 2, "serves mqtt://, http:// or ws://, not ftp://"),
    (["--rpc", "mqtts://127.0.0.1"], 2, "not mqtts://"),
    (["--rpc", "http://127.0.0.1:99999"], 2, "the port is not a number"),
    (["--rpc", "http://[::1"], 2, "the host is not understood"),
    (["--rpc", "http://127.0.0.1:0/api"], 2, "give no path"),
    (["--rpc", "mqtt://user:pw@127.0.0.1"], 2, "asks for a user and password"),
    (["--rpc", "mqtt://127.0.0.1:0"], 2, "port 0 names no broker"),
    (["--rpc", "http://127.0.0.1:0", "--id", "a/b"], 2, "not a device id"),
    (["--rpc", "http://127.0.0.1:0", "--id", "a", "--id", "a"], 2, "given twice"),
    (["--rpc", "http://127.0.0.1:0", "--board", "mdash-arduino"], 2, "runs mdash"),
    (["--rpc", "http://127.0.0.1:0", "--listen", "5555"], 2, "--listen is for a unit in"),
    (["--rpc", "http://127.0.0.1:0", "--dump", "x.bin"], 2, "--dump is for a unit in"),
    (["--board", "mongoose-os-esp32", "--save-fs", "o.bin"], 2, "--save-fs is for a unit in"),
    (["--rpc", "http://127.0.0.1:0", "--ca-file", "missing.pem"], 2, "no such CA file"),
    (["--rpc", "http://127.0.0.1:0", "--ca-file", "notes.txt"], 2, "no certificate found"),
    (["--rpc", "http://127.0.0.1:0", "--ca-file", "key.pem"], 2, "private key"),
    (["--rpc", "http://127.0.0.1:0", "--fs-image", "notes.txt"], 2, "notes.txt: neither"),
    # said as fs ls says it (tryout, item 8), not "neither LittleFS ... nor SPIFFS"
    (["--rpc", "http://127.0.0.1:0", "--fs-image", "ca.pem"], 2, "ca.pem: PEM text (certif"),
    # a CA file there is meant for --ca-file: the hint says so, with the file given
    (["--rpc", "http://127.0.0.1:0", "--fs-image", "ca.pem"], 2, "goes with --ca-file ca.pem"),
    (["--rpc", "http://127.0.0.1:0", "--fs-image", "zero.bin"], 2, "zero.bin: empty file"),
    (["--rpc", "http://127.0.0.1:0", "--fs-image", "empty-fs.bin"], 2, "holds no /ca.pem"),
    # An image the board's firmware would not mount (Mongoose OS would format it).
    (
        ["--rpc", "http://127.0.0.1:0", "--fs-image", "idf-fs.bin"],
        2,
        "board mongoose-os-esp32's firmware mounts littlefs (mongoose-os profile)",
    ),
    (
        [
            "--rpc",
            "http://127.0.0.1:0",
            "--board",
            "mongoose-os-esp32-spiffs",
            "--fs-image",
            "idf-fs.bin",
        ],
        2,
        "this is a SPIFFS image of profile esp-idf, not mongoose-os",
    ),
    (["--rpc", "http://127.0.0.1:0", "--id", "a", "--id", "b"], 2, "one --id with it"),
    (["--rpc", "http://127.0.0.1:0", "--save-fs", "nodir/o.bin"], 2, "no such directory"),
    (["--rpc", "ws://127.0.0.1:0", "--fs-image", "fs.bin"], 2, "would replace the --fs-image"),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD, ids=[" ".join(a) for a, *_ in BAD])
def test_bad_inputs_are_refused_and_nothing_is_written(
    args: list[str], code: int, message: str, in_tmp: Path
) -> None:
    (in_tmp / "notes.txt").write_text("not a certificate\n")
    write_ca(in_tmp)
    (in_tmp / "zero.bin").write_bytes(b"")
    (in_tmp / "key.pem").write_bytes(a_test_only_key_pem())
    empty = open_image(board_fs_image(load_board("mongoose-os-esp32")))
    empty.remove("/ca.pem")
    (in_tmp / "empty-fs.bin").write_bytes(empty.to_bytes())
    (in_tmp / "fs.bin").write_bytes(LFS_IMAGE.read_bytes())
    (in_tmp / "idf-fs.bin").write_bytes(board_fs_image(load_board("esp-idf-spiffs"), 0x40000))
    if "--save-fs" not in args and "--board" not in args:
        args = [*args, "--save-fs", "fs.bin" if "--fs-image" in args else "o.bin"]
    listing = sorted(p.name for p in in_tmp.iterdir())
    r = CliRunner().invoke(cli, ["virtual-unit", *args])
    assert r.exit_code == code, r.output
    assert message in r.stderr, r.stderr
    assert "Traceback" not in r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == listing
    assert (in_tmp / "fs.bin").read_bytes() == LFS_IMAGE.read_bytes()


@pytest.mark.parametrize("scheme", ["http", "ws"])
def test_a_port_in_use_is_refused(scheme: str, busy_port: int, in_tmp: Path) -> None:
    args = ["--rpc", f"{scheme}://127.0.0.1:{busy_port}", "--save-fs", "o.bin"]
    r = CliRunner().invoke(cli, ["virtual-unit", *args])
    assert r.exit_code == 2, r.output
    assert f"cannot listen on 127.0.0.1:{busy_port}" in r.stderr, r.stderr
    assert list(in_tmp.iterdir()) == []


def test_a_missing_broker_is_a_device_error(in_tmp: Path) -> None:
    with refusing_ports() as refusing:
        port = refusing()
        r = CliRunner().invoke(
            cli, ["virtual-unit", "--rpc", f"mqtt://127.0.0.1:{port}", "--save-fs", "o.bin"]
        )
    assert r.exit_code == 3, r.output
    assert f"no MQTT broker answers at 127.0.0.1:{port}" in r.stderr, r.stderr
    assert "mosquitto -p 1883" in r.stderr
    assert list(in_tmp.iterdir()) == []


def test_the_stop_line_says_the_call_log_was_bounded(
    monkeypatch: pytest.MonkeyPatch, in_tmp: Path
) -> None:
    """A unit that answered more calls than its log keeps says so when it stops (every
    call counted, the log's bound named), and how many invalid frames it refused."""
    import functools
    import urllib.error
    import urllib.request

    import esp_cabundle.commands._virtual_rpc as virtual_rpc
    import esp_cabundle.commands.virtual_unit as virtual_unit
    from esp_cabundle.virtual.rpc import MongooseUnit

    port = free_port()
    url = f"http://127.0.0.1:{port}/rpc"

    def call(body: bytes) -> int:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, body), timeout=10) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return e.code

    def wait() -> None:  # instead of Ctrl-C: a few requests, then stop
        assert [call(b'{"id": %d, "method": "FS.List"}' % n) for n in range(5)] == [200] * 5
        assert call(b"not a frame") == 400

    monkeypatch.setattr(virtual_rpc, "MongooseUnit", functools.partial(MongooseUnit, max_calls=3))
    monkeypatch.setattr(virtual_unit, "wait_for_signal", wait)
    r = CliRunner().invoke(cli, ["virtual-unit", "--rpc", f"http://127.0.0.1:{port}"])
    assert r.exit_code == 0, r.output
    assert (
        "stopped esp32-virtual: 5 RPC calls (its call log kept the last 3), "
        "1 invalid frame refused; /ca.pem unchanged"
    ) in r.stderr, r.stderr
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        (["--rpc", "ftp://127.0.0.1:0", "--id", "u1"], "--rpc http://127.0.0.1:0/rpc --id u1"),
        (["--id", "u1", "--rpc=wss://127.0.0.1:0"],
         "--id u1 --rpc=http://127.0.0.1:0/rpc (no TLS: it listens on this machine)"),
        (["--rpc", "mqtts://127.0.0.1:1883"], "--rpc mqtt://127.0.0.1:1883 (no TLS"),
        (["--rpc", "http:///rpc"], "--rpc http://127.0.0.1:8080/rpc"),
    ],
)  # fmt: skip
def test_a_bad_rpc_url_is_mended_in_the_line_typed(
    typed: list[str], hint: str, runner: CliRunner
) -> None:
    """A scheme the unit does not serve, or no host: the hint was the fragment "e.g.
    --rpc mqtt://... or http://..."; now the line as typed with the URL mended, as push
    mends its --rpc, and the mended line's URL is one the unit takes."""
    r = runner.invoke(cli, ["virtual-unit", *typed])
    assert r.exit_code == 2, r.output
    said = r.output.partition("  hint: e.g. esp-cabundle virtual-unit ")[2]
    assert said.startswith(hint), r.output
    url = next(w.removeprefix("--rpc=") for w in shlex.split(said.partition(" (")[0])
               if "://" in w)  # fmt: skip
    assert _parse_url(url).host == "127.0.0.1"


@pytest.mark.parametrize(
    "args",
    [
        ["--board", "mongoose-os-esp32"],
        ["--rpc", "http://127.0.0.1:0"],
        ["--mdash", "http://127.0.0.1:0"],
    ],
)
def test_the_stop_signals_are_handled_when_the_first_line_is_printed(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script reads the first line and may stop the unit at once: the handlers were
    installed after that line, so a SIGTERM then killed it without its report (a flaky
    test under load). At the first line, each stop signal is the unit's own."""
    import click

    seen: list[object] = []
    echo = click.echo

    def first_line(message: Any = None, *a: Any, **kw: Any) -> None:
        if not seen:
            seen.extend(signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP))
            defaults = (signal.SIG_DFL, signal.default_int_handler, signal.SIG_IGN)
            if not any(h in defaults for h in seen):
                signal.raise_signal(signal.SIGTERM)  # handled: the unit stops and reports
        echo(message, *a, **kw)

    monkeypatch.setattr(click, "echo", first_line)  # the first echo is the first line
    r = CliRunner().invoke(cli, ["virtual-unit", *args])
    assert seen, r.output
    defaults = (signal.SIG_DFL, signal.default_int_handler, signal.SIG_IGN)
    assert not any(h in defaults for h in seen), seen
    assert r.exit_code == 0, r.output
    assert "stopped" in r.stderr, r.stderr
