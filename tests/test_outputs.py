"""Outputs that cannot hurt (issue 11 §5): device nodes, FIFOs and stdout written
through, never replaced; symlinks followed; a set of outputs committed all or none;
``-o ''`` refused everywhere; config outputs kept inside the project unless told; and
temporary files of a killed run never packed."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from esp_cabundle.cli import cli
from esp_cabundle.errors import OutputError
from esp_cabundle.fileio import TEMP_SUFFIX, is_temporary_name, write_all_atomic, write_atomic
from esp_cabundle.fs import open_image

DATA = Path(__file__).parent / "data"
LFS_IMAGE = DATA / "littlefs" / "mongoose-lfs20-256k.bin"


def _is_char_device(path: str) -> bool:
    return stat.S_ISCHR(os.lstat(path).st_mode)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if is_temporary_name(p.name))


# ---------------------------------------------------------------------------------------
# Device nodes, FIFOs, stdout, symlinks


def test_character_devices_are_written_through_not_replaced() -> None:
    write_atomic("/dev/null", b"bytes for nobody")
    assert _is_char_device("/dev/null")
    with pytest.raises(OutputError, match="/dev/full: cannot write"):
        write_atomic("/dev/full", b"x" * 8192)
    assert _is_char_device("/dev/full")


def test_fifo_is_written_through(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, b"through the pipe")
    reader.join(timeout=10)
    assert got == [b"through the pipe"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert _leftovers(tmp_path) == []


def test_symlink_is_followed_and_its_target_replaced(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "ca.pem"
    target.write_bytes(b"old")
    link = tmp_path / "ca.pem"
    link.symlink_to("real/ca.pem")
    write_atomic(link, b"new")
    assert link.is_symlink() and os.readlink(link) == "real/ca.pem"
    assert target.read_bytes() == b"new"
    assert _leftovers(tmp_path) == [] and _leftovers(tmp_path / "real") == []
    dangling = tmp_path / "later.pem"
    dangling.symlink_to("real/later.pem")
    write_atomic(dangling, b"made")
    assert dangling.is_symlink() and (tmp_path / "real" / "later.pem").read_bytes() == b"made"


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is a directory"):
        write_atomic(tmp_path, b"x")


def test_build_to_dev_null_and_stdout(in_tmp: Path, runner: CliRunner) -> None:
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "--no-lock", "-o", "/dev/null"])
    assert r.exit_code == 0, r.output
    assert _is_char_device("/dev/null")
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "--no-lock", "-o", "-"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("# ISRG Root X1") and "Wrote" not in r.stdout
    assert "Wrote standard output (" in r.stderr  # the report moves to stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == []


def test_fs_cat_to_dev_null(tmp_path: Path, runner: CliRunner) -> None:
    r = runner.invoke(cli, ["fs", "cat", str(LFS_IMAGE), "/ca.pem", "-o", "/dev/null"])
    assert r.exit_code == 0, r.output
    assert _is_char_device("/dev/null")


# ---------------------------------------------------------------------------------------
# All or none


def test_a_failing_second_rename_puts_the_first_file_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "ca.pem", tmp_path / "cabundle.lock"
    first.write_bytes(b"old ca")
    second.write_bytes(b"old lock")
    real_replace = os.replace

    def replace(src: str, dst: str | Path) -> None:
        if Path(dst) == second:
            raise PermissionError(13, "Permission denied")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError, match=r"cabundle\.lock: cannot write"):
        write_all_atomic([(first, b"new ca"), (second, b"new lock")])
    monkeypatch.undo()
    assert first.read_bytes() == b"old ca" and second.read_bytes() == b"old lock"
    assert _leftovers(tmp_path) == []


def test_a_new_first_file_is_removed_again(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        write_all_atomic([(tmp_path / "ca.pem", b"new"), (tmp_path / "out", b"x")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    with pytest.raises(OutputError, match="/dev/full: cannot write"):
        write_all_atomic([(tmp_path / "ca.pem", b"new"), (Path("/dev/full"), b"x" * 8192)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_multi_output_build_is_all_or_none(in_tmp: Path, runner: CliRunner) -> None:
    ok = runner.invoke(cli, ["build", "--preset", "letsencrypt"])
    assert ok.exit_code == 0, ok.output
    pem, lock = (in_tmp / "ca.pem").read_bytes(), (in_tmp / "cabundle.lock").read_bytes()
    config = "preset: default\noutputs:\n  - pem\n  - {format: c, path: %s}\n"
    # The second output cannot be written: a directory in the way, then a full device.
    (in_tmp / "ca_pem.h").mkdir()
    (in_tmp / "cabundle.yaml").write_text(config % "ca_pem.h")
    r = runner.invoke(cli, ["build"])
    assert r.exit_code == 3 and "ca_pem.h: is a directory" in r.output, r.output
    assert (in_tmp / "ca.pem").read_bytes() == pem
    assert (in_tmp / "cabundle.lock").read_bytes() == lock
    (in_tmp / "cabundle.yaml").write_text(config % "/dev/full")
    r = runner.invoke(cli, ["build", "--allow-outside"])
    assert r.exit_code == 3 and "/dev/full: cannot write" in r.output, r.output
    assert (in_tmp / "ca.pem").read_bytes() == pem
    assert (in_tmp / "cabundle.lock").read_bytes() == lock
    assert _leftovers(in_tmp) == []


# ---------------------------------------------------------------------------------------
# Paths users give


EMPTY_OUTPUT = [
    ["build", "-o", ""],
    ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "64K", "--preset",
     "default", "-o", ""],
    ["update-dump", "dump.bin", "--board", "mdash-arduino", "--preset", "default", "-o", ""],
    ["fs", "cat", str(LFS_IMAGE), "/ca.pem", "-o", ""],
    ["read", "--port", "socket://127.0.0.1:9", "--all", "-o", ""],
    ["chains", "show", "x.pem", "-o", ""],
    ["init", "--yes", "-o", ""],
    ["check", "--chain", "x.pem", "--report", ""],
    ["build", "-o", " "],
    ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "64K", "--preset",
     "default", "-o", "-"],
]  # fmt: skip


@pytest.mark.parametrize("args", EMPTY_OUTPUT, ids=lambda a: " ".join(a[:2]) + repr(a[-1]))
def test_an_empty_output_path_is_a_usage_error(
    args: list[str], in_tmp: Path, runner: CliRunner
) -> None:
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert "empty path names no file" in r.output or "not supported here" in r.output
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize("where", ["../outside.pem", "{abs}"])
def test_config_outputs_leaving_the_project_need_a_flag(
    where: str, tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    out = tmp_path / "outside.pem"
    path = where.format(abs=out)
    (project / "cabundle.yaml").write_text(
        f"preset: letsencrypt\noutputs:\n  - {{format: pem, path: {path}}}\n"
    )
    r = runner.invoke(cli, ["build"])
    assert r.exit_code == 2 and "outside the config's directory" in r.output, r.output
    assert "--allow-outside" in r.output
    assert not out.exists() and sorted(p.name for p in project.iterdir()) == ["cabundle.yaml"]
    r = runner.invoke(cli, ["build", "--allow-outside"])
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b"# ISRG Root X1")
    # an explicit -o is the user's own choice: no flag needed
    r = runner.invoke(cli, ["build", "--no-lock", "-o", str(tmp_path / "chosen.pem")])
    assert r.exit_code == 0 and (tmp_path / "chosen.pem").is_file(), r.output


def test_pack_from_dir_skips_what_a_killed_run_left(in_tmp: Path, runner: CliRunner) -> None:
    data = in_tmp / "data"
    data.mkdir()
    (data / "conf9.json").write_text("{}")
    (data / f".conf9.json.k3j4h5g6{TEMP_SUFFIX}").write_text('{"half": ')
    (data / f".conf9.json.k3j4h5g6{TEMP_SUFFIX}.old{TEMP_SUFFIX}").write_text("{}")
    (data / ".conf9.json.a1b2c3d4.tmp").write_text("{")  # the name earlier versions used
    r = runner.invoke(
        cli,
        ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "64K",
         "--preset", "letsencrypt", "--from-dir", "data", "-o", "fs.bin"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    files = [f.path for f in open_image((in_tmp / "fs.bin").read_bytes()).files()]
    assert files == ["/ca.pem", "/conf9.json"]


def test_staged_files_are_new_private_and_named_as_temporary(tmp_path: Path) -> None:
    """The staging file is made exclusively with mode 0600 whatever the umask (no other
    user can open it before its final chmod), under a name the tool knows as its own."""
    from esp_cabundle.fileio import _Item, _make_temp

    old = os.umask(0)
    made = []
    try:
        for _ in range(3):
            item = _Item(tmp_path / "ca.pem", tmp_path / "ca.pem", b"", through=False)
            made.append((_make_temp(item, tmp_path), str(item.tmp)))
    finally:
        os.umask(old)
    for fd, path in made:
        os.close(fd)
        assert Path(path).parent == tmp_path
        assert is_temporary_name(Path(path).name)
        assert Path(path).name.startswith(".ca.pem.")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len({p for _, p in made}) == 3


def _fresh(folder: Path) -> None:
    """No outputs yet: a build writes them (the same bytes again are left unchanged)."""
    for name in ("ca.pem", "cabundle.lock"):
        (folder / name).unlink(missing_ok=True)


def _wrote(r: Result) -> str:
    (line,) = [x for x in r.output.splitlines() if x.startswith("Wrote")]
    return str(line)


def test_written_paths_are_shown_as_typed_relative_to_the_working_directory(
    in_tmp: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tester's report, item 6: a config found in the working directory (or named by an
    absolute path) gives the same line as -c cabundle.yaml; one below is shown from here;
    one elsewhere whole; -o - is standard output, not '-'."""
    fleet = in_tmp / "fleet"
    fleet.mkdir()
    (fleet / "cabundle.yaml").write_text("preset: letsencrypt\noutputs: [pem]\n")
    monkeypatch.chdir(fleet)
    for args in ([], ["-c", "cabundle.yaml"], ["-c", str(fleet / "cabundle.yaml")]):
        _fresh(fleet)
        r = runner.invoke(cli, ["build", *args])
        assert r.exit_code == 0, r.output
        assert _wrote(r).startswith("Wrote ca.pem (") and _wrote(r).endswith("), cabundle.lock")
    r = runner.invoke(cli, ["build"])  # the same bytes again: named as typed, not rewritten
    (kept,) = [x for x in r.output.splitlines() if x.startswith("unchanged: ")]
    assert kept.startswith("unchanged: ca.pem (") and ", cabundle.lock (already" in kept, kept
    r = runner.invoke(cli, ["build", "-o", "-"])
    assert any(x.startswith("Wrote standard output (") for x in r.stderr.splitlines()), r.stderr
    r = runner.invoke(cli, ["init", "--yes", "-o", str(fleet / "new.yaml")])
    assert _wrote(r) == "Wrote new.yaml"
    monkeypatch.chdir(in_tmp)
    for config in ("fleet/cabundle.yaml", str(fleet / "cabundle.yaml")):
        _fresh(fleet)
        r = runner.invoke(cli, ["build", "-c", config])
        assert _wrote(r).startswith("Wrote fleet/ca.pem (")
        assert _wrote(r).endswith("), fleet/cabundle.lock")
    # elsewhere: not below the working directory, shown whole
    other = in_tmp.parent / f"{in_tmp.name}-elsewhere.pem"
    try:
        r = runner.invoke(cli, ["build", "--no-lock", "-o", str(other), "--preset", "mdash"])
        assert _wrote(r).startswith(f"Wrote {other} (")
    finally:
        other.unlink(missing_ok=True)
    r = runner.invoke(cli, ["pack", "--board", "mdash-arduino", "--preset", "letsencrypt",
                            "-o", str(in_tmp / "fs.bin")])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert _wrote(r).startswith("Wrote fs.bin (")


def test_build_json_with_the_bundle_on_stdout_puts_the_document_on_stderr(
    in_tmp: Path, runner: CliRunner
) -> None:
    """One place decides where the report goes (ui, told by stdout_carries_output): the
    --json document of a build that succeeded goes to stderr as its error's would."""
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "--no-lock", "-o", "-", "--json"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("# ISRG Root X1") and "{" not in r.stdout
    doc = json.loads(r.stderr)
    assert doc["ok"] is True and doc["outputs"][0]["path"] == "-"
