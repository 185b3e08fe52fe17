"""Where outputs go when their directory is missing: an output (``build -o
build/ca.pem``, a config's ``path: data/ca.pem``, ``pack -o``) gets its missing
parents made, as README says and the PlatformIO example relies on, and a run that
fails removes the directories it made. Records that grow run after run (``flash --log``,
``push --ledger``) are never given a new directory: a typo would hide them (exit 2)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle.bundle import BundleSpec, resolve_bundle
from esp_cabundle.catalog import Catalog
from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError, OutputError
from esp_cabundle.fileio import refuse_missing_folder, write_all_atomic

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CA = (Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem").read_bytes()


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_build_makes_the_missing_parents_of_its_outputs(in_tmp: Path, runner: CliRunner) -> None:
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "-o", "nodir/sub/ca.pem"])
    assert r.exit_code == 0, r.output
    assert (in_tmp / "nodir" / "sub" / "ca.pem").is_file()
    (in_tmp / "proj").mkdir()
    (in_tmp / "proj" / "cabundle.yaml").write_text(
        "preset: letsencrypt\n"
        "outputs:\n"
        "  - {format: pem, path: data/ca.pem}\n"
        "  - {format: c, path: include/ca_pem.h, name: ca_pem, style: array}\n"
        "  - {format: littlefs, path: build/fs.bin, profile: esp-idf, size: 64K}\n"
    )
    r = runner.invoke(cli, ["build", "-c", "proj/cabundle.yaml"])
    assert r.exit_code == 0, r.output
    for name in ("data/ca.pem", "include/ca_pem.h", "build/fs.bin", "cabundle.lock"):
        assert (in_tmp / "proj" / name).is_file(), name


def test_pack_makes_the_missing_parents_of_its_image(in_tmp: Path, runner: CliRunner) -> None:
    r = runner.invoke(
        cli,
        ["pack", "--fs", "spiffs", "--profile", "esp-idf", "--size", "64K",
         "--preset", "letsencrypt", "-o", "out/images/fs.bin"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (in_tmp / "out" / "images" / "fs.bin").is_file()


def test_every_command_writing_with_o_makes_the_missing_parents(
    in_tmp: Path, runner: CliRunner, mongoose_unit: Any
) -> None:
    """README: as for build, the parents of every file a command writes with -o
    (update-dump, read, fs cat, chains show) and of check --report are made."""
    from support.dumps import mongoose_dump

    chain = EXAMPLES / "chains" / "letsencrypt-2024-short.pem"
    (in_tmp / "dump.bin").write_bytes(mongoose_dump())
    runs = [
        ["build", "--preset", "letsencrypt", "--no-lock", "-o", "ca.pem"],
        ["update-dump", "dump.bin", "--board", "mongoose-os-esp32", "--bundle", "ca.pem",
         "-o", "u/1/new.bin"],
        ["read", "--port", mongoose_unit.url, "--partition", "fs_0", "-o", "r/1/fs_0.bin"],
        ["fs", "cat", "r/1/fs_0.bin", "/conf9.json", "-o", "c/1/conf9.json"],
        ["chains", "show", str(chain), "-o", "s/1/chain.pem"],
        ["check", "--bundle", "ca.pem", "--chain", str(chain), "--report", "k/1/r.html"],
    ]  # fmt: skip
    for argv in runs:
        r = runner.invoke(cli, argv)
        assert r.exit_code == 0, (argv, r.output)
    for made in ("u/1/new.bin", "r/1/fs_0.bin", "c/1/conf9.json", "s/1/chain.pem", "k/1/r.html"):
        assert (in_tmp / made).is_file() and (in_tmp / made).stat().st_size, made


def test_a_failed_build_removes_the_directories_it_made(in_tmp: Path, runner: CliRunner) -> None:
    """The second output cannot be written (no file can be made in /proc): the first is
    not left behind, nor the directories made for it."""
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\n"
        "outputs:\n"
        "  - {format: pem, path: data/new/ca.pem}\n"
        "  - {format: c, path: /proc/ca_pem.h}\n"
    )
    before = _tree(in_tmp)
    r = runner.invoke(cli, ["build", "--allow-outside"])
    assert r.exit_code == 3, r.output
    assert "/proc/ca_pem.h: cannot write" in r.stderr and "Traceback" not in r.output
    assert _tree(in_tmp) == before


def test_a_failed_set_keeps_a_directory_someone_else_filled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made, kept = tmp_path / "a" / "b", tmp_path / "a"
    real_replace = os.replace

    def replace(src: str, dst: str | Path) -> None:
        (kept / "theirs.txt").write_text("not ours")  # lands while the run is under way
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError, match="cannot write"):
        write_all_atomic([(made / "ca.pem", b"ca")])
    monkeypatch.setattr(os, "replace", real_replace)
    assert not made.exists() and _tree(tmp_path) == ["a", "a/theirs.txt"]


def test_a_record_folder_is_never_made(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"the ledger's directory .* does not exist"):
        refuse_missing_folder(tmp_path / "no" / "c.db", what="ledger", hint="h")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="its directory is a file"):
        refuse_missing_folder(tmp_path / "file" / "c.db", what="ledger", hint="h")
    refuse_missing_folder(tmp_path / "c.db", what="ledger", hint="h")
    assert _tree(tmp_path) == ["file"]


PACK = ["pack", "--fs", "spiffs", "--profile", "esp-idf", "--size", "64K"]


@pytest.mark.parametrize(
    "args",
    [
        ["build", "--preset", "letsencrypt", "--no-lock", "-o", "out"],
        ["build", "--preset", "letsencrypt", "--no-lock", "-o", "ca.pem", "--depfile", "out"],
        [*PACK, "--preset", "letsencrypt", "-o", "out"],
        ["check", "--roadmap", "letsencrypt", "--report", "out"],
        ["flash", "-p", "socket://127.0.0.1:1", "--board", "mdash-arduino", "--log", "out"],
        ["update-dump", "dump.bin", "--board", "mdash-arduino", "-o", "out"],
        ["read", "--port", "socket://127.0.0.1:1", "--all", "-o", "out"],
        ["fs", "cat", "fs.bin", "/ca.pem", "-o", "out"],
        ["chains", "show", "chain.pem", "-o", "out"],
        ["init", "--board", "mdash-arduino", "--yes", "-o", "out"],
    ],
)
def test_an_existing_directory_is_no_output_file(
    in_tmp: Path, runner: CliRunner, args: list[str]
) -> None:
    """``-o out`` where out is a directory: the tool's refusal, as for ``-o out/``
    (click said "File 'out' is a directory."), exit 2, nothing written there."""
    (in_tmp / "out").mkdir()
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    said = "Error: out: names a directory, not a file; nothing was read or written\n"
    assert said in r.stderr and "  hint: name a file with " in r.stderr, r.output
    assert "is a directory." not in r.stderr and "Usage:" not in r.stderr
    assert [p.name for p in in_tmp.iterdir()] == ["out"]
    assert list((in_tmp / "out").iterdir()) == []


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (
            ["check", "--bundle", "in", "--roadmap", "x"],
            "name a file with --bundle, e.g. --bundle in/FILE",
        ),
        (["build", "-c", "in"], "name a file with -c, e.g. -c in/FILE"),
        (["fs", "ls", "in"], "name the IMAGE file itself, e.g. in/FILE"),
        (["fs", "put", "fs.bin", "in/"], "name the SOURCE file itself, e.g. in/FILE"),
        (["update-dump", "in", "-o", "new.bin"], "name the DUMP file itself, e.g. in/FILE"),
        (["virtual-unit", "--dump", "in"], "name a file with --dump, e.g. --dump in/FILE"),
        (["inspect", "in"], "name the file itself, e.g. in/FILE"),
        (["inspect", "in/"], "name the file itself, e.g. in/FILE"),
        # a root named as a directory said "is a directory, expected a certificate
        # file", the path made absolute, with no hint (tryout)
        (["build", "--root", "in"], "name a file with --root, e.g. --root in/FILE"),
        (["pack", "--preset", "letsencrypt", "--exclude", "in/", "--fs", "littlefs",
          "--size", "64K", "-o", "x.bin"], "name a file with --exclude, e.g. --exclude in/FILE"),
    ],
)  # fmt: skip
def test_an_existing_directory_is_no_input_file(
    in_tmp: Path, runner: CliRunner, args: list[str], hint: str
) -> None:
    """A file to read given a directory: said as outputs say it (one check), in the
    tool's words with a hint naming a file in it, exit 2, nothing written."""
    (in_tmp / "in").mkdir()
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert "names a directory, not a file; nothing was read or written\n" in r.stderr
    assert f"  hint: {hint}\n" in r.stderr and "Usage:" not in r.stderr, r.output
    assert _tree(in_tmp) == ["in"]


def test_a_root_directory_in_a_config_or_spec_is_refused_naming_a_file_in_it(
    in_tmp: Path, runner: CliRunner
) -> None:
    """The library refuses a root directory itself (a config's roots:, a BundleSpec),
    with a hint in the caller's words, before reading anything."""
    (in_tmp / "certs").mkdir()
    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\nroots:\n  - certs\n")
    r = runner.invoke(cli, ["build"])
    assert r.exit_code == 2, r.output
    assert "cabundle.yaml:3: roots[0]: names a directory, not a file" in r.stderr, r.stderr
    assert "  hint: name the file itself: a file path in roots:, e.g. '- certs/FILE'" in r.stderr
    assert _tree(in_tmp) == ["cabundle.yaml", "certs"]
    with pytest.raises(InputError, match="names a directory, not a file") as e:
        resolve_bundle(BundleSpec(excludes=("certs",), base_dir=in_tmp), Catalog.load())
    assert e.value.hint == "name the file itself, e.g. certs/FILE"
    with pytest.raises(InputError) as e:
        resolve_bundle(BundleSpec(roots=("certs",), base_dir=in_tmp), Catalog.load())
    assert e.value.hint == "name the file itself: BundleSpec(roots=['certs/FILE'])"


@pytest.mark.parametrize(
    "args",
    [
        [*PACK, "--bundle", "ca.pem", "-o", "ca.pem/x.bin"],
        ["build", "--preset", "letsencrypt", "-o", "ca.pem/x.pem"],
        ["build", "--preset", "letsencrypt", "-o", "ca.pem/sub/x.pem"],
        ["check", "--bundle", "ca.pem", "--report", "ca.pem/r.html"],
        ["fs", "cat", "fs.bin", "/ca.pem", "-o", "ca.pem/out.pem"],
        ["update-dump", "dump.bin", "--bundle", "ca.pem", "-o", "ca.pem/new.bin"],
        ["read", "--port", "/dev/null", "--all", "-o", "ca.pem/dump.bin"],
    ],
    ids=["pack", "build", "build-sub", "check-report", "fs-cat", "update-dump", "read"],
)
def test_an_output_under_a_regular_file_is_refused_before_the_work(
    in_tmp: Path, runner: CliRunner, args: list[str]
) -> None:
    """``pack ... -o ca.pem/x.bin`` (ca.pem a file) did the work, then exited 3 (I/O
    failure) at the write, while ``-o somedir`` exits 2 before: a path through a file is
    the user's slip too, refused by the shared output-path check (exit 2), naming the
    file in the way; nothing is written, and ca.pem is left as it was."""
    (in_tmp / "ca.pem").write_bytes(CA)
    before = _tree(in_tmp)
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert "ca.pem is a regular file, not a directory; nothing was read or written" in r.output
    assert "hint: move ca.pem away, or write somewhere else" in r.output, r.output
    assert _tree(in_tmp) == before and (in_tmp / "ca.pem").read_bytes() == CA


def test_a_config_output_under_a_regular_file_is_refused_before_the_build(
    in_tmp: Path, runner: CliRunner
) -> None:
    """A cabundle.yaml's ``path: ca.pem/x.pem`` (no -o to parse) gets the same exit 2
    before the build, and no lock file is written."""
    (in_tmp / "ca.pem").write_bytes(CA)
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\noutputs:\n  - {format: pem, path: ca.pem/x.pem}\n"
    )
    r = runner.invoke(cli, ["build"])
    assert r.exit_code == 2, r.output
    said = f"x.pem: cannot write into {in_tmp / 'ca.pem'}: {in_tmp / 'ca.pem'} is a regular file"
    assert said in r.output, r.output
    assert _tree(in_tmp) == ["ca.pem", "cabundle.yaml"]


def test_the_output_check_leaves_a_folder_it_cannot_search_to_the_write(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check runs on every output named: a folder it may not search (stat: EACCES,
    as for a user under another's 0700 directory; root is never refused, so stat is
    made to fail) is no file in the way, left to the write to say, not a traceback."""
    from esp_cabundle.fileio import refuse_output_under_a_file

    real_stat = os.stat
    locked = str(in_tmp / "locked")

    def stat(path: Any, *args: Any, **kwargs: Any) -> Any:
        if os.fspath(path).startswith(locked + os.sep):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_stat(path, *args, **kwargs)

    (in_tmp / "locked").mkdir()
    monkeypatch.setattr(os, "stat", stat)
    refuse_output_under_a_file(in_tmp / "locked" / "sub" / "ca.pem")
    (in_tmp / "file").write_text("x")
    with pytest.raises(InputError, match="is a regular file, not a directory"):
        refuse_output_under_a_file(in_tmp / "file" / "ca.pem")
