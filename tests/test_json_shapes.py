"""Every command's ``--json`` success document is one object with ``"ok": true`` and
its own keys (tester's report, item 9: pack, check and push said ``ok``; fs, update-dump,
flash and read did not; inspect printed a bare list, now under ``reports``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from support.fleet import mdash_unit, write_ca
from support.fleet_links import MdashStandIn
from support.verify_pki import mint, tls_server

from esp_cabundle.cli import cli
from esp_cabundle.virtual import VirtualESP32

# Every command taking --json, and the keys its success document must keep.
SHAPES: dict[str, set[str]] = {
    "boards": {"boards"},
    "boards show": {"name", "verify"},
    "build": {"roots", "outputs", "written"},
    "chains pull": {"chains"},
    "chains show": {"certificates", "source"},
    "check": {"results"},
    "flash": {"units", "exit_code", "gate"},
    "fs ls": {"files", "fs"},
    "fs put": {"changed_blocks", "fs"},
    "fs rm": {"changed_blocks", "fs"},
    "init": {"path"},
    "inspect": {"reports"},
    "journal list": {"entries"},
    "journal prune": {"removed"},
    "pack": {"fs", "bytes"},
    "push": {"counts", "units"},
    "push --dry-run": {"would_finish", "units"},
    "push status": {"counts", "units"},
    "read": {"md5", "size"},
    "restore": {"units", "exit_code"},
    "roots": {"roots"},
    "roots --presets": {"presets"},
    "update-dump": {"gate"},
}


def success(r: Result, command: str) -> dict[str, Any]:
    """The document ``command`` printed: an object, ``ok`` true, its keys kept."""
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert isinstance(doc, dict), command
    assert doc["ok"] is True, command
    assert SHAPES[command] <= set(doc), (command, sorted(doc))
    return doc


def run(command: str, *args: str) -> dict[str, Any]:
    words = [w for w in command.split() if not w.startswith("--")]
    flags = [w for w in command.split() if w.startswith("--")]
    return success(CliRunner().invoke(cli, [*words, *flags, *args, "--json"]), command)


def _json_commands() -> set[str]:
    ctx = click.Context(cli)
    found = set()

    def walk(cmd: click.Command, path: list[str]) -> None:
        # a hidden --json only refuses (fs cat: its output is the file's bytes)
        opts = [p for p in cmd.params if isinstance(p, click.Option) and not p.hidden]
        if any("--json" in p.opts for p in opts):
            found.add(" ".join(path))
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                walk(sub, [*path, name])

    walk(cli, [])
    return found


# Another mode of a command above, with a document of its own.
VARIANTS = {"boards show", "push --dry-run", "roots --presets"}


def test_every_json_command_has_its_shape_tested() -> None:
    assert _json_commands() == set(SHAPES) - VARIANTS


def test_catalog_and_config_commands(in_tmp: Path) -> None:
    assert run("roots", "isrg")["roots"]
    assert "default" in run("roots --presets")["presets"]
    boards = run("boards")["boards"]
    assert "mdash-arduino" in {b["name"] for b in boards}
    assert run("boards show", "mdash-arduino")["name"] == "mdash-arduino"
    run("init", "--yes", "-o", "c.yaml")
    assert run("build", "--preset", "letsencrypt", "--no-lock")["written"] == ["ca.pem"]
    (report,) = run("inspect", "ca.pem")["reports"]
    assert report["kind"] == "pem"
    chain = str(Path(__file__).resolve().parent.parent / "examples/chains/"
                "letsencrypt-2024-short.pem")  # fmt: skip
    run("check", "--bundle", "ca.pem", "--chain", chain, "--device", "mbedtls-noclock")
    run("chains show", chain)


def test_chains_pull(in_tmp: Path) -> None:
    root = mint("Shape Root")
    inter = mint("Shape CA", root)
    leaf = mint("localhost", inter, ca=False)
    with tls_server([leaf, inter]) as port:
        (in_tmp / "cabundle.yaml").write_text(
            f"targets:\n  - {{name: local, host: 127.0.0.1, port: {port}}}\n"
        )
        (saved,) = run("chains pull")["chains"]
    assert saved["target"] == "local" and saved["chain"] == ["localhost", "Shape CA"]


def test_image_commands(in_tmp: Path) -> None:
    write_ca(in_tmp)
    pack = ["--fs", "littlefs", "--profile", "mongoose-os", "--size", "64K"]
    run("pack", *pack, "--bundle", "ca.pem", "-o", "fs.bin")
    (in_tmp / "note.txt").write_text("hello\n")
    run("fs put", "fs.bin", "note.txt")
    assert "/note.txt" in {f["path"] for f in run("fs ls", "fs.bin")["files"]}
    run("fs rm", "fs.bin", "/note.txt")


def test_unit_commands(mongoose_unit: VirtualESP32, in_tmp: Path) -> None:
    write_ca(in_tmp)
    port, journal = mongoose_unit.url, str(in_tmp / "journal")
    run("read", "-p", port, "--all", "-o", "dump.bin")
    run("update-dump", "dump.bin", "--board", "mongoose-os-esp32", "--bundle", "ca.pem",
        "-o", "new.bin")  # fmt: skip
    flash = run("flash", "-p", port, "--board", "mongoose-os-esp32", "--bundle", "ca.pem",
                "--journal-dir", journal)  # fmt: skip
    assert flash["exit_code"] == 0
    assert len(run("journal list", "--journal-dir", journal)["entries"]) == 1
    restored = run("restore", "-p", port, "--journal-dir", journal)
    assert [u["sectors_written"] > 0 for u in restored["units"]] == [True]
    # no --board: the board of the update undone, as the unit says it (it was null)
    assert restored["board"] == restored["units"][0]["board"] == "mongoose-os-esp32"
    run("journal prune", "--journal-dir", journal, "--older-than", "0min")


KEY = "k3y-for-json-shapes"


def test_push_commands(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MDASH_API_KEY", KEY)
    write_ca(in_tmp)
    s = MdashStandIn([mdash_unit("dev1")], KEY)
    try:
        args = ["--mdash", s.url, "--board", "mdash-arduino", "--bundle", "ca.pem"]
        dry = run("push --dry-run", *args)
        assert dry["would_finish"] is True and dry["exit_code"] == 0
        ran = run("push", *args)
        assert ran["counts"]["verified"] == 1 and ran["exit_code"] == 0
    finally:
        s.close()
    assert run("push status")["counts"]["verified"] == 1


def test_a_negative_verdict_says_ok_false(in_tmp: Path) -> None:
    """Documents whose command can end non-zero say ``ok`` themselves: a dry run that
    would not finish (exit 3) is not ``ok: true``."""
    write_ca(in_tmp)
    s = MdashStandIn([mdash_unit("dev1", silent=True)], KEY)
    try:
        r = CliRunner().invoke(
            cli,
            ["push", "--mdash", s.url, "--board", "mdash-arduino", "--bundle", "ca.pem",
             "--dry-run", "--json", "--timeout", "0.5"],
            env={"MDASH_API_KEY": KEY},
        )  # fmt: skip
    finally:
        s.close()
    assert r.exit_code == 3, r.output
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["would_finish"] is False
    assert doc["exit_code"] == 3  # as every document of a failed run says it


def test_a_dry_run_to_a_unit_that_refuses_says_its_exit_code(in_tmp: Path) -> None:
    """The tryout's ``push --rpc http://127.0.0.1:1/rpc ... --dry-run --json``: exit 3,
    and the document says 3 (it said only ``"ok": false``)."""
    write_ca(in_tmp)
    r = CliRunner().invoke(
        cli,
        ["push", "--rpc", "http://127.0.0.1:1/rpc", "--board", "mongoose-os-esp32",
         "--bundle", "ca.pem", "--allow", "unjudged", "--dry-run", "--json", "--timeout", "2"],
    )  # fmt: skip
    assert r.exit_code == 3, r.output
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 3, doc
    assert doc["units"][0]["state"] == "offline", doc
