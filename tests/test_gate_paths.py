"""Every write path through the same gate (issue 11 §1): each CA file that was seen going
onto devices, through ``build``, ``pack``, ``update-dump``, ``fs put`` on the CA path and
``flash`` (a virtual unit): the same verdict and exit code everywhere, and nothing
changed on a refusal (no output file, image and dump bytes as they were, the unit's
flash neither erased nor programmed). Accepted inputs arrive on the device as the PEM
the gate renders, after its one-line summary."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.layouts import load_arduino

from esp_cabundle.cli import cli
from esp_cabundle.fs import open_image
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.gate_cases import DST_PEM, X1_PEM, cases
from tests.support.gated import canonical

Start = Callable[..., VirtualESP32]
REPO = Path(__file__).resolve().parent.parent
CHAIN_2024 = REPO / "examples" / "chains" / "letsencrypt-2024-short.pem"
LFS_IMAGE = dumps.DATA / "littlefs" / "mongoose-lfs20-256k.bin"
SPIFFS_AT = 0x290000, 0x3F0000


@dataclass
class Target:
    """One write path set up in ``tmp``: how to run it with a CA file, what it may
    change, and the CA file it wrote."""

    args: Callable[[Path], list[str]]
    state: Callable[[], bytes]
    ca: Callable[[], bytes]


def _build(tmp: Path, _: Start) -> Target:
    out = tmp / "out.pem"
    return Target(
        lambda src: ["build", "--root", str(src), "--no-lock", "-o", str(out)],
        lambda: out.read_bytes() if out.exists() else b"(absent)",
        out.read_bytes,
    )


def _pack(tmp: Path, _: Start) -> Target:
    out = tmp / "fs.bin"
    out.write_bytes(b"the previous image")
    base = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "64K"]
    return Target(
        lambda src: [*base, "--bundle", str(src), "-o", str(out)],
        out.read_bytes,
        lambda: open_image(out.read_bytes()).read("/ca.pem"),
    )


def _update_dump(tmp: Path, _: Start) -> Target:
    dump, out = tmp / "dump.bin", tmp / "new.bin"
    dump.write_bytes(dumps.arduino_dump())
    out.write_bytes(b"the previous output")
    return Target(
        lambda src: [
            *("update-dump", str(dump), "--board", "mdash-arduino"),
            *("--bundle", str(src), "-o", str(out)),
        ],
        lambda: dump.read_bytes() + out.read_bytes(),
        lambda: open_image(out.read_bytes()[SPIFFS_AT[0] : SPIFFS_AT[1]]).read("/ca.pem"),
    )


def _fs_put(tmp: Path, _: Start) -> Target:
    image = tmp / "fs.bin"
    shutil.copy(LFS_IMAGE, image)
    return Target(
        lambda src: ["fs", "put", str(image), str(src), "/ca.pem"],
        image.read_bytes,
        lambda: open_image(image.read_bytes()).read("/ca.pem"),
    )


def _flash(tmp: Path, start: Start) -> Target:
    unit = start("esp32")
    load_arduino(unit)

    def state() -> bytes:
        stats = f"{unit.stats.sectors_erased},{unit.stats.sectors_programmed}".encode()
        return stats + unit.read(0, len(unit.flash))

    return Target(
        lambda src: [
            *("flash", "--port", unit.url, "--board", "mdash-arduino"),
            *("--bundle", str(src), "--journal-dir", str(tmp / "journal")),
        ],
        state,
        lambda: open_image(unit.read(SPIFFS_AT[0], SPIFFS_AT[1] - SPIFFS_AT[0])).read("/ca.pem"),
    )


PATHS = {
    "build": _build,
    "pack": _pack,
    "update-dump": _update_dump,
    "fs put": _fs_put,
    "flash": _flash,
}
# The paths that write onto an mdash-arduino unit, whose firmware reads the CA file
# for mdash.net: the gate judges that connection too.
ON_MDASH_ARDUINO = ("update-dump", "flash")


@pytest.fixture(autouse=True)
def _scratch_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESP_CABUNDLE_JOURNAL", str(tmp_path / "default-journal"))


def _run(runner: CliRunner, args: list[str]) -> Result:
    result = runner.invoke(cli, args)
    assert "Traceback" not in result.output, result.output
    return result


def _given(path: str, data: bytes, tmp: Path, start: Start, name: str) -> tuple[Target, Path]:
    """The write path set up in ``tmp``, and ``data`` in a file ``name`` to hand it."""
    target = PATHS[path](tmp, start)
    src = tmp / name
    src.write_bytes(data)
    return target, src


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", [n for n, c in cases().items() if c.code])
def test_refused_with_a_clear_error_and_nothing_changed(
    path: str, name: str, in_tmp: Path, runner: CliRunner, virtual_esp32: Start
) -> None:
    case = cases()[name]
    target, src = _given(path, case.data, in_tmp, virtual_esp32, "input.pem")
    before = target.state()
    r = _run(runner, target.args(src))
    assert r.exit_code == case.code, r.output
    if not (path == "build" and name == "idf-bundle"):  # build reads roots, not bundles
        assert case.message in r.output, r.output
    assert str(src) in r.output  # says which file
    if case.secret:
        assert case.secret.decode() not in r.output  # never echoes the key
    assert target.state() == before
    assert sorted(p.name for p in in_tmp.iterdir() if "esp-cabundle-tmp" in p.name) == []


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", [n for n, c in cases().items() if not c.code])
def test_converted_to_the_pem_the_device_reads(
    path: str, name: str, in_tmp: Path, runner: CliRunner, virtual_esp32: Start
) -> None:
    case = cases()[name]
    target, src = _given(path, case.data, in_tmp, virtual_esp32, "input.bin")
    r = _run(runner, target.args(src))
    assert r.exit_code == 0, r.output
    written = target.ca()
    assert written == canonical(X1_PEM)  # both inputs hold ISRG Root X1 alone
    assert written.startswith(b"# ISRG Root X1 (isrg-root-x1)\n")
    assert written != case.data
    if path != "build":  # build names the root it was given, whatever its shape
        judged = (  # an mdash-arduino unit reads the file for mdash.net
            ", accepted by mdash.net under mdash-arduino rules (the device does not check dates)"
            if path in ON_MDASH_ARDUINO
            else "; no targets to judge"
        )
        assert f"CA: 1 root (converted from {case.converted}){judged}" in r.output


@pytest.mark.parametrize("path", PATHS)
def test_allow_expired_lets_the_dst_only_file_through(
    path: str, in_tmp: Path, runner: CliRunner, virtual_esp32: Start
) -> None:
    target, src = _given(path, DST_PEM, in_tmp, virtual_esp32, "old-ca.pem")
    if path in ON_MDASH_ARDUINO:  # unless the board's firmware reads it for mdash.net
        before = target.state()
        r = _run(runner, [*target.args(src), "--allow", "expired"])
        assert r.exit_code == 1, r.output
        assert "would cut mdash-arduino@1.2.13 units off mdash.net" in r.output
        assert target.state() == before
        r = _run(runner, [*target.args(src), "--allow", "expired", "--no-check"])
    else:
        r = _run(runner, [*target.args(src), "--allow", "expired"])
    assert r.exit_code == 0, r.output
    assert "allowed: DST Root CA X3 expired on 2021-09-30" in r.output
    assert target.ca() == canonical(DST_PEM, allow_expired=True)


# ---------------------------------------------------------------------------------------
# The summary line, and targets gating a write


@pytest.fixture
def fleet(in_tmp: Path) -> Path:
    """A project whose one target (mdash.net) sends the 2024 chain: R11 alone, so the
    device must trust ISRG Root X1 itself."""
    (in_tmp / "cabundle.yaml").write_text("device: mbedtls-noclock\ntargets:\n  - mdash.net\n")
    (in_tmp / "chains").mkdir()
    shutil.copy(CHAIN_2024, in_tmp / "chains" / "mdash.net.pem")
    return in_tmp


@pytest.mark.parametrize("path", PATHS)
def test_a_ca_the_boards_saved_chain_needs_is_missing_so_nothing_is_written(
    path: str, fleet: Path, runner: CliRunner, virtual_esp32: Start
) -> None:
    target, src = _given(path, DST_PEM, fleet, virtual_esp32, "old-ca.pem")
    before = target.state()
    r = _run(runner, [*target.args(src), "--allow", "expired"])
    assert r.exit_code == 1, r.output
    assert "break 1 target; nothing written" in r.output
    assert "mdash.net: -0x2700" in r.output and "--no-check" in r.output
    # the verdict line names the code once, its date in a sentence, not nested parentheses
    lines = [line for line in r.output.splitlines() if line.startswith("  - mdash.net: ")]
    assert lines and all(line.count("-0x2700") == 1 for line in lines), r.output
    assert "since 2024-06-06 (" not in r.output, r.output
    assert target.state() == before

    r = _run(runner, [*target.args(src), "--allow", "expired", "--no-check"])
    assert r.exit_code == 0, r.output
    assert "CA: 1 root; targets not checked (--no-check)" in r.output


@pytest.mark.parametrize("path", PATHS)
def test_the_summary_says_what_goes_on_and_who_accepts_it(
    path: str, fleet: Path, runner: CliRunner, virtual_esp32: Start
) -> None:
    target, src = _given(
        path, X1_PEM + dumps.pem("isrg-root-x2.pem"), fleet, virtual_esp32, "ca.pem"
    )
    r = _run(runner, target.args(src))
    assert r.exit_code == 0, r.output
    rules = "mdash-arduino" if path in ("flash", "update-dump") else "mbedtls-noclock"
    line = f"CA: 2 roots, accepted by mdash.net under {rules} rules (the device does not check"
    assert line in r.output
    done = {"flash": "OK  socket://", "fs put": "put /ca.pem"}.get(path, "Wrote")
    assert r.output.index(line) < r.output.index(done)  # said before anything was written


def test_a_target_given_on_the_command_line_gates_too(
    in_tmp: Path, runner: CliRunner, virtual_esp32: Start
) -> None:
    target = _pack(in_tmp, virtual_esp32)
    src = in_tmp / "x2-only.pem"
    src.write_bytes(dumps.pem("isrg-root-x2.pem"))
    before = target.state()
    r = _run(runner, [*target.args(src), "--target", str(CHAIN_2024)])
    assert r.exit_code == 1 and "would break 1 target" in r.output, r.output
    assert target.state() == before
    src.write_bytes(X1_PEM)
    r = _run(runner, [*target.args(src), "--target", str(CHAIN_2024)])
    assert r.exit_code == 0, r.output
    # Until R11 expires: the chain has no capture date, check fails it then.
    assert "accepted by letsencrypt-2024-short until 2027-03-12 under mbedtls-clock" in r.output
    dated = in_tmp / "letsencrypt-2024-short.pem"
    dated.write_bytes(b"# captured: 2026-01-01\n" + CHAIN_2024.read_bytes())
    r = _run(runner, [*target.args(src), "--target", str(dated)])
    assert r.exit_code == 0, r.output
    # Captured, R11 is the server's to renew: until X1 expires.
    assert "accepted by letsencrypt-2024-short until 2035-06-04 under mbedtls-clock" in r.output


@pytest.mark.parametrize(
    "args",
    [
        ["flash", "--port", "socket://127.0.0.1:9", "--board", "mdash-arduino"],
        ["update-dump", "dump.bin", "--board", "mdash-arduino", "-o", "new.bin"],
        ["pack", "--fs", "spiffs", "--profile", "esp-idf", "--size", "64K", "-o", "fs.bin"],
    ],
)
def test_no_silent_default_preset(in_tmp: Path, runner: CliRunner, args: list[str]) -> None:
    (in_tmp / "dump.bin").write_bytes(dumps.arduino_dump())
    r = _run(runner, args)
    assert r.exit_code == 2, r.output
    assert "no CA given" in r.output and "--preset default" in r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["dump.bin"]


def test_json_reports_carry_the_gate(in_tmp: Path, runner: CliRunner) -> None:
    pack = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "64K"]
    r = _run(runner, [*pack, "--preset", "letsencrypt", "-o", "fs.bin", "--json"])
    assert r.exit_code == 0, r.output
    gate = json.loads(r.stdout)["gate"]
    assert gate["summary"].startswith(f"{gate['roots']} roots; no targets to judge")
    assert gate["source"] == "preset 'letsencrypt'" and gate["checked"] is True
    ca = open_image((in_tmp / "fs.bin").read_bytes()).read("/ca.pem")
    assert gate["bytes"] == len(ca) and gate["sha256"] == hashlib.sha256(ca).hexdigest()
