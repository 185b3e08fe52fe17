"""The config's ``board:`` is the board of every command that judges or writes a CA:
``build`` and ``pack`` take it as ``check`` does (one resolver, commands/options.py)."""

from __future__ import annotations

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
