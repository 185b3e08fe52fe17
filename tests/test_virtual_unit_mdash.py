"""``esp-cabundle virtual-unit --mdash``: mDash units behind mDash's REST API, which a
user starts to rehearse ``push --mdash`` on, end to end: started as a child process,
pushed to with the options its first line prints (the API key read from the file it
names, never shown), stopped by a signal; each unit's CA file changed, its file system
mounted and checked file by file. A wrong key is refused 401, as mDash refuses it. Bad
inputs: a clear error, exit 2, nothing written."""

from __future__ import annotations

import json
import shlex
import signal
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.doc_commands import UnitProcess
from support.fleet import ca_bytes, write_ca
from support.fleet_links import MdashStandIn

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.commands._virtual_mdash import _parse_url
from esp_cabundle.fs import open_image
from esp_cabundle.push.ledger import Ledger
from esp_cabundle.virtual.boards import board_fs_image
from esp_cabundle.virtual.mdash_cloud import MdashCloud
from tests.support import dumps

Start = Callable[..., UnitProcess]  # the start_unit fixture
OLD_CA = dumps.pem("isrgrootx1.pem")  # the units' CA file before the push


def push(tmp_path: Path, line: str, *extra: str, ledger: str = "c.db") -> tuple[int, str]:
    ca = write_ca(tmp_path)
    args = ["push", *shlex.split(line), "--board", "mdash-arduino", "--bundle", str(ca)]
    args += ["--allow", "unjudged", "--ledger", str(tmp_path / ledger), *extra]
    r = CliRunner().invoke(cli, args, env={"MDASH_API_KEY": None})
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout + r.stderr


def key_file(line: str) -> Path:
    argv = shlex.split(line)
    assert argv[0] == "--mdash" and argv[2] == "--api-key-file", line
    return Path(argv[3])


def files(image: bytes) -> dict[str, bytes]:
    img = open_image(image)
    return {f.path: img.read(f.path) for f in img.files()}


def call(url: str, *, key: str | None, body: bytes | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    req = urllib.request.Request(url, body, headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_the_tests_stand_in_is_the_packages() -> None:
    """One implementation of mDash's API: the one virtual-unit --mdash serves."""
    assert MdashStandIn is MdashCloud


def test_push_reaches_two_units_through_the_api(start_unit: Start, tmp_path: Path) -> None:
    """Two ids behind one API; push reaches both with the line printed (the key read
    from the 0600 file it names); SIGINT stops it (exit 0), each unit's stop line says its
    CA file changed, the key file is gone, and the key was never printed."""
    unit = start_unit("--mdash", "http://127.0.0.1:0", "--id", "m-1", "--id", "m-2", cwd=tmp_path)
    url = shlex.split(unit.line)[1]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/api/v2"), unit.line
    path = key_file(unit.line)
    assert path.is_absolute() and path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700  # a private folder of its own
    key = path.read_text().strip()
    assert len(key) >= 24
    code, text = push(tmp_path, unit.line, "--dry-run")
    assert code == 0 and "m-1   would-write" in text and "m-2   would-write" in text, text
    code, pushed = push(tmp_path, unit.line)
    assert code == 0 and "2 verified" in pushed, pushed
    with Ledger(tmp_path / "c.db") as led:
        assert {r.id: r.state for r in led.rows()} == {"m-1": "verified", "m-2": "verified"}
    code, err = unit.stop(signal.SIGINT)
    assert code == 0, err
    stopped = {ln.split(":")[0]: ln for ln in err.splitlines() if ln.startswith("stopped ")}
    assert set(stopped) == {"stopped m-1", "stopped m-2"}, err
    digest = pushed.split("SHA-256 ", 1)[1][:16]  # the CA pushed, as push printed it
    assert all(f"/ca.pem changed: 6,054 bytes, SHA-256 {digest}" in ln for ln in stopped.values())
    assert "0 refused without the API key" in err, err
    assert not path.exists() and not path.parent.exists()
    for said in (unit.line, err, text, pushed):
        assert key not in said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.db", "ca.pem"]


def test_the_file_system_saved_holds_the_new_ca_and_every_other_file(
    start_unit: Start, tmp_path: Path
) -> None:
    """One unit started with the user's CA file and a key file they name; after the
    push and SIGTERM, --save-fs holds the new CA, every other file (mdash.cfg) as the
    board's factory one, and the key file is removed."""
    (tmp_path / "old-ca.pem").write_bytes(OLD_CA)
    args = ("--mdash", "http://127.0.0.1:0/api/v2", "--id", "dev-1", "--ca-file", "old-ca.pem")
    unit = start_unit(*args, "--save-fs", "dev-1.bin", "--api-key-file", "k.key", cwd=tmp_path)
    assert key_file(unit.line) == Path("k.key")
    assert (tmp_path / "k.key").stat().st_mode & 0o777 == 0o600
    key = (tmp_path / "k.key").read_text().strip()
    code, text = push(tmp_path, unit.line.replace("k.key", str(tmp_path / "k.key")))
    assert code == 0 and "1 verified" in text, text
    code, err = unit.stop(signal.SIGTERM)
    assert code == 0 and "stopped dev-1: " in err and "/ca.pem changed" in err, err
    assert key not in err and key not in text
    out = tmp_path / "dev-1.bin"
    assert out.stat().st_mode & 0o777 == 0o600
    after = files(out.read_bytes())
    before = files(board_fs_image(load_board("mdash-arduino"), ca=OLD_CA))
    assert before.pop("/ca.pem") == OLD_CA
    assert after.pop("/ca.pem") == ca_bytes()
    assert after == before and "/mdash.cfg" in after
    assert not (tmp_path / "k.key").exists()
    assert (tmp_path / "old-ca.pem").read_bytes() == OLD_CA  # its input, untouched


def test_the_push_line_it_prints_runs_as_printed(
    start_unit: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The line "push to it: esp-cabundle push ..." runs when copied beside a ca.pem
    (here as a dry run): no --allow unjudged needed, the board's server judges the CA."""
    write_ca(tmp_path)
    unit = start_unit("--mdash", "http://127.0.0.1:0", "--id", "m-1", cwd=tmp_path)
    assert unit.proc.stderr is not None
    said = unit.proc.stderr.readline() + unit.proc.stderr.readline()
    line = said.split("): esp-cabundle ", 1)[1].strip()
    assert line.startswith(f"push {unit.line} ") and "unjudged" not in line, said
    monkeypatch.chdir(tmp_path)  # where the line is typed: beside its ca.pem
    monkeypatch.delenv("MDASH_API_KEY", raising=False)
    r = CliRunner().invoke(cli, [*shlex.split(line), "--dry-run"])
    assert r.exit_code == 0 and "m-1   would-write" in r.stdout, r.output
    code, err = unit.stop(signal.SIGTERM)
    assert code == 0, err


def test_a_wrong_key_is_refused_401_as_mdash_refuses_it(start_unit: Start, tmp_path: Path) -> None:
    """No key, a wrong one, the right one in the wrong place: 401 with mDash's error
    object, the units never reached; push with a wrong key file stops at the device list
    (exit 2, "refused the API key (HTTP 401)"); the stop lines count the refusals and say
    every CA file is unchanged."""
    unit = start_unit("--mdash", "http://127.0.0.1:0", "--id", "m-1", cwd=tmp_path)
    base = shlex.split(unit.line)[1]
    key = key_file(unit.line).read_text().strip()
    rpc = f"{base}/devices/m-1/rpc/FS.List"
    for url, given, body in [
        (f"{base}/devices", None, None),
        (f"{base}/devices", "not-the-key", None),
        (f"{base}/devices", key[:-1], None),
        (rpc, "not-the-key", b"{}"),
        (f"{base}/devices?access_token=wrong", None, None),
    ]:
        status, answer = call(url, key=given, body=body)
        assert status == 401, (url, given)
        assert json.loads(answer)["error"]["code"] == 401
    status, answer = call(f"{base}/devices", key=key)
    assert status == 200 and [d["id"] for d in json.loads(answer)] == ["m-1"]
    status, answer = call(f"{base}/devices?access_token={key}", key=None)
    assert status == 200
    (tmp_path / "wrong.key").write_text("not-the-key\n")
    (tmp_path / "wrong.key").chmod(0o600)
    line = f"--mdash {base} --api-key-file {tmp_path / 'wrong.key'}"
    code, text = push(tmp_path, line)
    assert code == 2 and "refused the API key (HTTP 401)" in text, text
    code, err = unit.stop(signal.SIGTERM)
    assert code == 0, err
    assert "stopped m-1: 0 RPC calls; /ca.pem unchanged" in err, err
    assert "6 refused without the API key" in err, err
    assert key not in err and key not in text and key not in unit.line


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_a_port_in_use_is_refused_and_no_key_file_is_left(busy_port: int, in_tmp: Path) -> None:
    args = ["--mdash", f"http://127.0.0.1:{busy_port}", "--api-key-file", "k.key"]
    r = CliRunner().invoke(cli, ["virtual-unit", *args])
    assert r.exit_code == 2, r.output
    assert f"cannot listen on 127.0.0.1:{busy_port}" in r.stderr, r.stderr
    assert list(in_tmp.iterdir()) == []


M = ["--mdash", "http://127.0.0.1:0"]
BAD = [
    (["--mdash", "https://127.0.0.1:0"], "serves http://, not https://"),
    (["--mdash", "ws://127.0.0.1:0"], "serves http://, not ws://"),
    (["--mdash", "http://127.0.0.1:0/rpc"], "give no path: the API is served at /api/v2"),
    (["--mdash", "http://127.0.0.1:0/api/v2?access_token=x"], "give no path"),
    (["--mdash", "http://key@127.0.0.1:0"], "give no user or key in the URL"),
    (["--mdash", "http://127.0.0.1:99999"], "the port is not a number"),
    (["--mdash", "http://0.0.0.0:0"], "listens only on this machine, not on 0.0.0.0"),
    (["--mdash", "http://[::]:0"], "its API key would cross the network in clear"),
    (["--mdash", "http://192.168.1.5:8090"], "not on 192.168.1.5"),
    (["--mdash", "http://mdash.example:0"], "not on mdash.example"),
    ([*M, "--board", "mongoose-os-esp32"], "board mongoose-os-esp32 runs mongoose-os"),
    ([*M, "--rpc", "http://127.0.0.1:0"], "give --rpc URL (a Mongoose OS unit) or --mdash URL"),
    ([*M, "--listen", "5555"], "--listen is for a unit in download mode; with --mdash"),
    ([*M, "--id", "a", "--id", "a"], "given twice"),
    ([*M, "--id", "a", "--id", "b", "--save-fs", "o.bin"], "one --id with it"),
    ([*M, "--ca-file", "notes.txt"], "no certificate found"),
    ([*M, "--fs-image", "notes.txt"], "notes.txt: neither"),
    ([*M, "--api-key-file", "notes.txt"], "--api-key-file: the file exists"),
    ([*M, "--api-key-file", "nodir/k.key"], "no such directory to write the API key to"),
    ([*M, "--api-key-file", "o.bin", "--save-fs", "o.bin"], "would replace the --save-fs"),
    (["--rpc", "http://127.0.0.1:0", "--api-key-file", "k.key"], "--api-key-file is for --mdash"),
    (["--board", "mdash-arduino", "--api-key-file", "k.key"], "give --rpc URL or --mdash URL"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_inputs_are_refused_and_nothing_is_written(
    args: list[str], message: str, in_tmp: Path
) -> None:
    (in_tmp / "notes.txt").write_text("not a certificate\n")
    listing = sorted(p.name for p in in_tmp.iterdir())
    r = CliRunner().invoke(cli, ["virtual-unit", *args])
    assert r.exit_code == 2, r.output
    assert message in r.stderr, r.stderr
    assert "Traceback" not in r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == listing
    assert (in_tmp / "notes.txt").read_text() == "not a certificate\n"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.1.2.3", "[::1]", "LOCALHOST"])
def test_loopback_hosts_are_taken(host: str) -> None:
    """Only loopback: the bearer key never crosses a network in clear (unlike --rpc,
    whose units hold no secret and may be served to a LAN)."""
    assert _parse_url(f"http://{host}:0").host == host.strip("[]").lower()


def test_a_lan_host_is_refused_with_a_loopback_hint(in_tmp: Path) -> None:
    r = CliRunner().invoke(cli, ["virtual-unit", "--mdash", "http://0.0.0.0:8090"])
    assert r.exit_code == 2 and "--mdash http://127.0.0.1:8090" in r.stderr, r.stderr
    assert list(in_tmp.iterdir()) == []


def test_an_mdash_board_over_rpc_is_pointed_at_mdash(in_tmp: Path) -> None:
    """--rpc with an mDash board: the error names the option that serves its units."""
    r = CliRunner().invoke(cli, ["virtual-unit", "--rpc", "http://127.0.0.1:0", "--board", "mdash"])
    assert r.exit_code == 2, r.output
    assert "board mdash runs mdash" in r.stderr
    assert "--mdash http://127.0.0.1:0" in r.stderr, r.stderr
    assert list(in_tmp.iterdir()) == []


def test_a_failed_request_is_recorded_not_printed(capsys: pytest.CaptureFixture[str]) -> None:
    """A request whose handling fails (here a unit that raises; in use, a client gone
    before its answer) was a traceback on the serving terminal: now recorded in
    ``errors``, the connection closed, the API still serving."""
    from support.fleet import mdash_unit

    unit = mdash_unit("m-1")
    cloud = MdashCloud([unit], "k3y")
    try:

        def boom(frame: bytes) -> bytes:
            raise RuntimeError("boom")

        unit.handle = boom  # type: ignore[method-assign]
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            call(f"{cloud.url}/devices/m-1/rpc/FS.List", key="k3y", body=b"{}")
        assert call(f"{cloud.url}/devices", key="k3y")[0] == 200  # still serving
    finally:
        cloud.close()
    assert cloud.errors == ["RuntimeError: boom"] and cloud.error_count == 1
    assert "Traceback" not in capsys.readouterr().err


def test_a_test_that_leaves_a_virtual_mdash_running_leaves_no_key_behind(in_tmp: Path) -> None:
    """The suite's UnitProcess.close() stops a virtual mDash as a user does (SIGTERM),
    so its private key folder in the temporary directory goes with it: killed (SIGKILL),
    it cannot remove it, and every test run left one behind."""
    unit = UnitProcess("--mdash", "http://127.0.0.1:0", "--id", "d-1", cwd=in_tmp)
    try:
        key = Path(shlex.split(unit.line)[-1])
        assert key.name == "mdash-api-key" and key.parent.name.startswith("esp-cabundle-mdash-")
        assert key.is_file()
    finally:
        unit.close()
    assert unit.proc.returncode == 0
    assert not key.parent.exists()
