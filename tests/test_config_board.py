"""The config's ``board:`` is the board of every command that judges or writes a CA:
``build`` and ``pack`` take it as ``check`` does (one resolver, commands/options.py)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from tests.support import dumps

AT = "2026-11-27"
DST_ONLY = "board: mdash-arduino\nroots: [dst-root-ca-x3]\nallow: [expired]\n"


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(cli, [*args, "--at", AT])
    return r.exit_code, r.stdout, r.stderr


def test_build_pack_and_check_refuse_what_the_config_board_refuses(
    runner: CliRunner, in_tmp: Path
) -> None:
    (in_tmp / "cabundle.yaml").write_text(DST_ONLY)
    code, _, err = run(runner, "check")
    assert code == 1, err
    code, _, err = run(runner, "build", "--no-lock")
    assert code == 1 and "mdash-arduino" in err and "mdash.net" in err, err
    assert not (in_tmp / "ca.pem").exists()
    code, _, err = run(runner, "pack", "-o", "img.bin")
    assert code == 1 and "mdash.net" in err, err
    # The same verdict as naming the board.
    code, _, named = run(runner, "pack", "--board", "mdash-arduino", "-o", "img.bin")
    assert code == 1 and named.splitlines()[0] == err.splitlines()[0]
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]


def test_pack_takes_the_image_from_the_config_board(runner: CliRunner, in_tmp: Path) -> None:
    (in_tmp / "cabundle.yaml").write_text("board: mdash-arduino\npreset: default\n")
    code, out, err = run(runner, "pack", "-o", "img.bin", "--json")
    assert code == 0, err
    assert '"board": "mdash-arduino' in out and '"fs": "spiffs"' in out
    code, _, err = run(runner, "build", "--no-lock")
    assert code == 0 and "under mdash-arduino rules" in err, err
    # --fs describes the image itself: the config's board gives no parameter then.
    code, out, err = run(
        runner,
        "pack",
        "--fs",
        "littlefs",
        "--profile",
        "esp-idf",
        "--size",
        "64K",
        "-o",
        "lfs.bin",
        "--json",
    )
    assert code == 0 and '"fs": "littlefs"' in out and '"board": null' in out, err


def test_fs_put_gates_the_ca_for_the_config_board(runner: CliRunner, in_tmp: Path) -> None:
    import shutil

    spiffs = Path(__file__).parent / "data" / "spiffs" / "idf-64k.bin"  # an mDash unit's
    shutil.copy(spiffs, in_tmp / "fs.bin")
    (in_tmp / "cabundle.yaml").write_text(DST_ONLY)
    code, _, _ = run(runner, "build", "--no-lock", "--no-check")
    assert code == 0
    before = (in_tmp / "fs.bin").read_bytes()
    code, _, err = run(runner, "fs", "put", "fs.bin", "ca.pem", "/ca.pem")
    assert code == 1 and "mdash-arduino" in err and "mdash.net" in err, err
    assert (in_tmp / "fs.bin").read_bytes() == before


def test_push_takes_the_config_board_flash_and_update_dump_want_it_named(
    runner: CliRunner, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README (Start a project): push takes the config's board: as build does (the CA is
    refused under mdash-arduino's rules before any unit is reached); flash and
    update-dump want --board named, whatever the config says."""
    (in_tmp / "cabundle.yaml").write_text(DST_ONLY)
    monkeypatch.setenv("MDASH_API_KEY", "key")
    code, _, err = run(runner, "push", "--mdash", "http://127.0.0.1:9")  # never reached
    assert code == 1 and "mdash.net" in err and "nothing written" in err, err
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]  # no ledger
    (in_tmp / "dump.bin").write_bytes(b"\xff" * 0x10000)
    for argv in (["update-dump", "dump.bin", "-o", "new.bin"], ["flash", "-p", "/dev/null"]):
        code, _, err = run(runner, *argv)
        assert code == 2 and "--board is required: it says where the CA file lives" in err
        assert f", and {argv[0]} does not read the board: key of cabundle.yaml" in err, err
    assert not (in_tmp / "new.bin").exists()


# --- commands that write a CA for a board say why they need one --------------------------

NO_BOARD = (
    "--board is required: it says where the CA file lives,"
    " and {} does not read the board: key of cabundle.yaml\n"
)


@pytest.mark.parametrize(
    "args",
    [
        ["update-dump", "dump.bin", "--bundle", "ca.pem", "-o", "n.bin"],
        ["flash", "--port", "socket://127.0.0.1:9", "--bundle", "ca.pem"],
    ],
)
def test_board_required_says_why(in_tmp: Path, runner: CliRunner, args: list[str]) -> None:
    (in_tmp / "dump.bin").write_bytes(dumps.arduino_dump())
    r = runner.invoke(cli, ["build", "--preset", "mdash", "-o", "ca.pem", "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert NO_BOARD.format(args[0]) in r.stderr and "Missing option" not in r.stderr
    assert not (in_tmp / "n.bin").exists()


# --- the library reads board: as build -c does ---------------------------------------------

AMAZON_ONLY = (
    "roots: [amazon-root-ca-1]\nboard: mdash-arduino\noutputs: [{format: pem, path: y.pem}]\n"
)


def test_the_library_refuses_what_build_c_refuses(runner: CliRunner, in_tmp: Path) -> None:
    """README: ``config.spec`` and ``config.outputs`` are what ``build -c`` builds; its
    ``board:`` was dropped, so a script wrote the CA that build refuses (the units cut
    off mdash.net)."""
    import esp_cabundle as ecb

    (in_tmp / "c3.yaml").write_text(AMAZON_ONLY)
    code, _, err = run(runner, "build", "-c", "c3.yaml")
    assert code == 1 and "cut mdash-arduino@1.2.13 units off mdash.net" in err, err
    cfg = ecb.load_config(in_tmp / "c3.yaml")
    at = datetime.fromisoformat(AT).replace(tzinfo=timezone.utc)
    with pytest.raises(ecb.CheckFailed) as e:
        ecb.build_bundle(cfg.spec, cfg.outputs, config=cfg, at=at)
    assert e.value.exit_code == 1 and e.value.message == err.splitlines()[0].removeprefix("Error: ")
    with pytest.raises(ecb.CheckFailed, match=r"cut mdash-arduino@1\.2\.13 units off mdash\.net"):
        ecb.gate_ca(ecb.CaSource.build(cfg.spec, config=cfg), at=at)
    assert sorted(p.name for p in in_tmp.iterdir()) == ["c3.yaml"]
    # board=None says no board, whatever the config names (pack --profile's gate).
    unjudged = ecb.gate_ca(ecb.CaSource.build(cfg.spec, config=cfg), board=None, at=at)
    assert unjudged.board is None and unjudged.summary == "1 root; no targets to judge"


def test_a_config_board_that_passes_builds_the_bytes_build_c_writes(
    runner: CliRunner, in_tmp: Path
) -> None:
    import esp_cabundle as ecb

    outputs = "outputs: [{format: pem, path: y.pem}, {format: c, path: y.h}]\n"
    (in_tmp / "cabundle.yaml").write_text("board: mdash-arduino\npreset: default\n" + outputs)
    code, _, err = run(runner, "build", "--no-lock")
    assert code == 0 and "under mdash-arduino rules" in err, err
    cli_bytes = {n: (in_tmp / n).read_bytes() for n in ("y.pem", "y.h")}
    for n in cli_bytes:
        (in_tmp / n).unlink()
    cfg = ecb.load_config(in_tmp / "cabundle.yaml")
    at = datetime.fromisoformat(AT).replace(tzinfo=timezone.utc)
    result = ecb.build_bundle(cfg.spec, cfg.outputs, config=cfg, at=at)
    assert result.ca.board is not None and result.ca.board.name == "mdash-arduino"
    assert result.ca.summary in err
    ecb.write_build(result)
    assert {n: (in_tmp / n).read_bytes() for n in cli_bytes} == cli_bytes
