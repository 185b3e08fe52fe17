"""An output that already holds exactly the bytes to write is left untouched: same inode,
same mtime, so ``make cabundle`` run twice does not rebuild the firmware that includes
``ca_pem.h``. A file that differs in any byte or in its mode is still replaced,
atomically, and the refusals (directories, special files) are unchanged."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import OutputError
from esp_cabundle.fileio import PRIVATE, is_temporary_name, write_all_atomic, write_atomic

OLD_NS = 1_000_000_000 * 10**9  # 2001: any rewrite moves the mtime off it


def _aged(path: Path, data: bytes, mode: int = 0o644) -> tuple[int, int]:
    """``path`` holding ``data``, with an old mtime; its (inode, mtime_ns)."""
    path.write_bytes(data)
    path.chmod(mode)
    os.utime(path, ns=(OLD_NS, OLD_NS))
    return _ident(path)


def _ident(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if is_temporary_name(p.name))


def test_identical_bytes_are_left_untouched(tmp_path: Path) -> None:
    same, other = tmp_path / "ca.pem", tmp_path / "cabundle.lock"
    before = _aged(same, b"the bundle")
    _aged(other, b"old lock")
    kept = write_all_atomic([(same, b"the bundle"), (other, b"new lock")])
    assert kept == (same,)
    assert _ident(same) == before and same.read_bytes() == b"the bundle"
    assert other.read_bytes() == b"new lock" and _ident(other)[1] != OLD_NS
    assert write_atomic(same, b"the bundle") is False
    assert _ident(same) == before
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "old",
    [b"the bundlE", b"the bundle\n", b"the bundl", b"", b"x" * (3 << 20)],
    ids=["one byte", "longer", "shorter", "empty", "large"],
)
def test_a_differing_file_is_replaced(tmp_path: Path, old: bytes) -> None:
    p = tmp_path / "ca.pem"
    before = _aged(p, old)
    assert write_atomic(p, b"the bundle") is True
    assert p.read_bytes() == b"the bundle"
    assert _ident(p) != before  # a new file renamed over it, as before
    assert _leftovers(tmp_path) == []


def test_same_bytes_but_a_wider_mode_is_rewritten_private(tmp_path: Path) -> None:
    """A unit's file (PRIVATE) over a 0644 copy of the same bytes: the mode must narrow."""
    p = tmp_path / "conf9.json"
    _aged(p, b"{}", 0o644)
    assert write_atomic(p, b"{}", mode=PRIVATE) is True
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    # ... and a 0600 file asked to be PUBLIC keeps 0600 (never widened): nothing to do
    before = _ident(p)
    assert write_atomic(p, b"{}") is False and _ident(p) == before


def test_a_symlink_to_identical_bytes_stays_a_symlink_to_the_same_file(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "ca.pem"
    before = _aged(target, b"ca")
    link = tmp_path / "ca.pem"
    link.symlink_to("real/ca.pem")
    assert write_all_atomic([(link, b"ca")]) == (link,)
    assert link.is_symlink() and _ident(target) == before


def test_a_fifo_is_still_written_through(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    assert write_all_atomic([(fifo, b"through")]) == ()
    reader.join(timeout=10)
    assert got == [b"through"] and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_failed_set_leaves_the_unchanged_file_and_puts_the_others_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    same, changed, bad = tmp_path / "ca.pem", tmp_path / "ca_pem.h", tmp_path / "lock"
    before = _aged(same, b"ca")
    _aged(changed, b"old header")
    _aged(bad, b"old lock")
    real_replace = os.replace

    def replace(src: str, dst: str | Path) -> None:
        if Path(dst) == bad:
            raise PermissionError(13, "Permission denied")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError, match="lock: cannot write"):
        write_all_atomic([(same, b"ca"), (changed, b"new header"), (bad, b"new lock")])
    monkeypatch.undo()
    assert _ident(same) == before
    assert changed.read_bytes() == b"old header" and bad.read_bytes() == b"old lock"
    assert _leftovers(tmp_path) == []


def test_a_directory_is_still_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is a directory"):
        write_atomic(tmp_path, b"x")


def test_build_twice_leaves_ca_pem_and_the_lock_alone(in_tmp: Path, runner: CliRunner) -> None:
    args = ["build", "--preset", "letsencrypt"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "Wrote ca.pem (" in r.output and "unchanged" not in r.output
    files = [in_tmp / "ca.pem", in_tmp / "cabundle.lock"]
    for f in files:
        os.utime(f, ns=(OLD_NS, OLD_NS))
    before = [_ident(f) for f in files]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "unchanged: ca.pem (6,054 bytes), cabundle.lock" in r.output
    assert "Wrote" not in r.output
    assert [_ident(f) for f in files] == before
    r = runner.invoke(cli, [*args, "--json"])
    doc = json.loads(r.output)
    assert doc["written"] == [] and doc["unchanged"] == ["ca.pem", "cabundle.lock"]
    assert [_ident(f) for f in files] == before
    # another selection: both differ and both are replaced
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "--root", "amazon-root-ca-1"])
    assert r.exit_code == 0, r.output
    assert "Wrote ca.pem (" in r.output and ", cabundle.lock" in r.output
    assert "unchanged" not in r.output
    assert all(_ident(f)[1] != OLD_NS for f in files)


def test_build_replaces_only_the_output_that_changed(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\n"
        "outputs:\n"
        "  - {format: pem, path: data/ca.pem}\n"
        "  - {format: c, path: include/ca_pem.h, name: ca_pem, style: array}\n"
    )
    r = runner.invoke(cli, ["build"])
    assert r.exit_code == 0, r.output
    pem, header = in_tmp / "data" / "ca.pem", in_tmp / "include" / "ca_pem.h"
    os.utime(pem, ns=(OLD_NS, OLD_NS))
    kept = _ident(pem)
    _aged(header, b"// edited by hand\n")
    r = runner.invoke(cli, ["build", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    names = {k: [os.path.relpath(p, in_tmp) for p in doc[k]] for k in ("written", "unchanged")}
    assert names == {"written": ["include/ca_pem.h"], "unchanged": ["data/ca.pem", "cabundle.lock"]}
    assert _ident(pem) == kept and b"const char ca_pem[]" in header.read_bytes()


def test_dry_run_says_which_outputs_would_be_left_unchanged(
    in_tmp: Path, runner: CliRunner
) -> None:
    """A dry run after a build said "Would write" every file, though a build would
    rewrite none of them: it says which would change, and --json lists them apart."""
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\n"
        "outputs:\n"
        "  - {format: pem, path: data/ca.pem}\n"
        "  - {format: c, path: include/ca_pem.h, name: ca_pem, style: array}\n"
    )
    assert runner.invoke(cli, ["build"]).exit_code == 0
    header = in_tmp / "include" / "ca_pem.h"
    stamps = _aged(header, b"// edited by hand\n")
    r = runner.invoke(cli, ["build", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "Would write include/ca_pem.h (" in r.output
    assert "unchanged: data/ca.pem (6,054 bytes), cabundle.lock (already" in r.output
    assert "Would write data/ca.pem" not in r.output and "lock, " not in r.output
    r = runner.invoke(cli, ["build", "--dry-run", "--json"])
    doc = json.loads(r.output)
    names = {
        k: [os.path.relpath(p, in_tmp) for p in doc[k]]
        for k in ("written", "would_write", "unchanged")
    }
    assert names == {
        "written": [],
        "would_write": ["include/ca_pem.h"],
        "unchanged": ["data/ca.pem", "cabundle.lock"],
    }
    assert header.read_bytes() == b"// edited by hand\n" and _ident(header) == stamps


def test_pack_twice_leaves_the_image_alone(in_tmp: Path, runner: CliRunner) -> None:
    args = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "64K",
            "--preset", "letsencrypt", "-o", "fs.bin"]  # fmt: skip
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    image = in_tmp / "fs.bin"
    os.utime(image, ns=(OLD_NS, OLD_NS))
    before = _ident(image)
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "unchanged: fs.bin (65,536 bytes, already these bytes" in r.output
    assert _ident(image) == before
    r = runner.invoke(cli, [*args, "--json"])
    assert json.loads(r.output)["unchanged"] is True and _ident(image) == before
    r = runner.invoke(cli, [*args[:-4], "--preset", "default", "-o", "fs.bin", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["unchanged"] is False and _ident(image) != before


def test_update_dump_again_leaves_its_output_alone(in_tmp: Path, runner: CliRunner) -> None:
    from tests.support import dumps

    (in_tmp / "dump.bin").write_bytes(dumps.arduino_dump())
    args = ["update-dump", "dump.bin", "--board", "mdash-arduino", "--preset", "letsencrypt",
            "-o", "new.bin"]  # fmt: skip
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "Wrote new.bin (changed:" in r.output
    out = in_tmp / "new.bin"
    os.utime(out, ns=(OLD_NS, OLD_NS))
    before = _ident(out)
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "unchanged: new.bin (already the updated dump; changed:" in r.output
    assert "Wrote" not in r.output and _ident(out) == before
    r = runner.invoke(cli, [*args, "--json"])
    assert json.loads(r.stdout)["unchanged"] is True and _ident(out) == before
