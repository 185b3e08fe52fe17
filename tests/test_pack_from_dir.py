"""What ``pack --from-dir`` (and an image output's ``from_dir:``) does with every kind of
entry: regular files packed; FIFOs, sockets and symlinks leading nowhere left out with a
note each (never opened: a FIFO would hang the read); a symlink leading outside the
directory refused, nothing written, unless links are followed explicitly; a file holding
a private key packed with a warning naming it (never its bytes) and the image 0600."""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli, run
from esp_cabundle.errors import InputError
from esp_cabundle.fileio import read_input
from esp_cabundle.fs import open_image
from esp_cabundle.fs.dirfiles import collect_dir_files
from tests.support.gate_cases import c_string_lines
from tests.support.key_vectors import key_vectors

DATA = Path(__file__).parent / "data"
CA = DATA / "letsencrypt" / "isrgrootx1.pem"
# The scan finds a key by its header; the body is base64 of a sentence, not a key.
KEY = (
    b"-----BEGIN PRIVATE KEY-----\n"
    + base64.b64encode(b"a stand-in for a device's key, made for this test")
    + b"\n-----END PRIVATE KEY-----\n"
)
KEY_BODY = KEY.splitlines()[1].decode()
PACK = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "256K"]


def pack(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(cli, [*PACK, "--bundle", "ca.pem", *args])
    return r.exit_code, r.stdout, r.stderr


def image_files(path: Path) -> list[str]:
    return sorted(f.path for f in open_image(path.read_bytes()).files())


@pytest.fixture
def tree(in_tmp: Path) -> Path:
    """The tester's directory, without the link outside: a file in a subdirectory, a
    FIFO, a dangling symlink, a symlink loop, a socket, and a link to a file inside."""
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    d = in_tmp / "fd2"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "a.txt").write_text("hi\n")
    os.mkfifo(d / "ff")
    (d / "dangling").symlink_to("nowhere")
    (d / "loopa").symlink_to("loopb")
    (d / "loopb").symlink_to("loopa")
    (d / "a-link.txt").symlink_to("sub/a.txt")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(d / "sock"))
    sock.close()
    return d


EXPECTED_NOTES = [
    "fd2/dangling: a symbolic link to 'nowhere', which does not exist; left out",
    "fd2/ff: a FIFO (named pipe), not a regular file; left out",
    "fd2/loopa: a symbolic link that loops (Too many levels of symbolic links); left out",
    "fd2/loopb: a symbolic link that loops (Too many levels of symbolic links); left out",
    "fd2/sock: a socket, not a regular file; left out",
]


@pytest.mark.timeout(60)
def test_entries_left_out_are_noted_in_text_and_json(tree: Path, runner: CliRunner) -> None:
    code, out, err = pack(runner, "--from-dir", "fd2", "-o", "fd2.bin")
    assert code == 0, err
    assert [ln[len("note: ") :] for ln in err.splitlines() if ln.startswith("note: ")] == (
        EXPECTED_NOTES
    )
    assert image_files(tree.parent / "fd2.bin") == ["/a-link.txt", "/ca.pem", "/sub/a.txt"]
    code, out, err = pack(runner, "--from-dir", "fd2", "-o", "fd2.bin", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["notes"] == EXPECTED_NOTES and doc["warnings"] == []
    assert "note:" not in err


@pytest.mark.parametrize("target", ["../key.pem", "../outside"])
def test_a_symlink_leading_outside_is_refused_and_nothing_written(
    tree: Path, runner: CliRunner, target: str
) -> None:
    (tree.parent / "key.pem").write_bytes(KEY)
    (tree.parent / "outside").mkdir()
    (tree.parent / "outside" / "secret.txt").write_text("s\n")
    (tree / "sub" / "link").symlink_to(f"../{target}")
    real = os.path.realpath(tree / "sub" / "link")
    old = b"an earlier image"
    (tree.parent / "fd2.bin").write_bytes(old)
    for extra in ([], ["--json"]):
        code, out, err = pack(runner, "--from-dir", "fd2", "-o", "fd2.bin", *extra)
        assert code == 2, err
        text = json.loads(out)["error"] if extra else err
        assert (
            f"fd2/sub/link: a symbolic link that leads outside the directory fd2, to {real}; "
            "nothing written"
        ) in text
        assert "--follow-symlinks" in (out + err)
        assert (tree.parent / "fd2.bin").read_bytes() == old
        assert KEY_BODY not in out + err


def test_followed_explicitly_a_key_is_packed_with_a_warning_and_the_image_private(
    tree: Path, runner: CliRunner
) -> None:
    (tree.parent / "key.pem").write_bytes(KEY)
    (tree / "link.pem").symlink_to("../key.pem")
    code, out, err = pack(runner, "--from-dir", "fd2", "-o", "fd2.bin", "--follow-symlinks")
    assert code == 0, err
    warning = (
        "fd2/link.pem holds a private key, PEM private-key header at line 1 (byte offset "
        "0): packed as /link.pem, it goes to every unit flashed with this image; the "
        "image is written 0600"
    )
    assert f"warning: {warning}" in err
    assert KEY_BODY not in out + err
    image = tree.parent / "fd2.bin"
    assert stat.S_IMODE(image.stat().st_mode) == 0o600
    assert open_image(image.read_bytes()).read("/link.pem") == KEY
    code, out, err = pack(
        runner, "--from-dir", "fd2", "-o", "fd2.bin", "--follow-symlinks", "--json"
    )
    doc = json.loads(out)
    assert code == 0 and doc["warnings"] == [warning] and doc["notes"] == EXPECTED_NOTES
    assert KEY_BODY not in out + err


def test_a_key_file_inside_the_directory_is_warned_about(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    (in_tmp / "data").mkdir()
    (in_tmp / "data" / "client.key").write_bytes(b"\n" * 3 + KEY)
    (in_tmp / "data" / "client.key").chmod(0o644)
    code, out, err = pack(runner, "--from-dir", "data", "-o", "fs.bin")
    assert code == 0, err
    assert "warning: data/client.key holds a private key, PEM private-key header at line 4" in err
    assert stat.S_IMODE((in_tmp / "fs.bin").stat().st_mode) == 0o600
    # -q hides notes, never a warning
    code, out, err = pack(runner, "--from-dir", "data", "-o", "fs.bin", "-q")
    assert code == 0 and out == "" and "warning: data/client.key holds a private key" in err


def test_a_key_in_c_string_literals_is_warned_about(in_tmp: Path, runner: CliRunner) -> None:
    """A secrets.h laid out as firmware writes one: a key generated now, in string
    literals of "\\x.." escapes a line each (no readable key is stored in the repository)."""
    key = key_vectors()["test-only-ec-sec1.der"]
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    (in_tmp / "data").mkdir()
    (in_tmp / "data" / "secrets.h").write_bytes(b"#pragma once\n" + c_string_lines(key))
    code, out, err = pack(runner, "--from-dir", "data", "-o", "fs.bin")
    assert code == 0, err
    assert (
        "warning: data/secrets.h holds a private key, DER SEC1 EC spelt as C hex bytes at "
        "line 3" in err
    )
    assert stat.S_IMODE((in_tmp / "fs.bin").stat().st_mode) == 0o600
    assert key[8:24].hex() not in out + err


def test_a_link_to_a_directory_it_is_in_is_left_out(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    (in_tmp / "data" / "www").mkdir(parents=True)
    (in_tmp / "data" / "www" / "index.html").write_text("<p>hi</p>\n")
    (in_tmp / "data" / "www" / "up").symlink_to("..")
    (in_tmp / "data" / "site").symlink_to("www")  # inside, not a loop: packed as a copy
    for follow in ([], ["--follow-symlinks"]):
        code, _, err = pack(runner, "--from-dir", "data", "-o", "fs.bin", *follow)
        assert code == 0, err
        real = os.path.realpath(in_tmp / "data")
        assert f"note: data/www/up: a symbolic link to {real}, a directory it is in" in err
        assert f"note: data/site/up: a symbolic link to {real}, a directory it is in" in err
        assert image_files(in_tmp / "fs.bin") == [
            "/ca.pem",
            "/site/index.html",
            "/www/index.html",
        ]


@pytest.mark.timeout(60)
def test_a_link_to_a_fifo_is_never_opened(in_tmp: Path) -> None:
    d = in_tmp / "data"
    d.mkdir()
    os.mkfifo(in_tmp / "data" / "pipe")
    (d / "to-pipe").symlink_to("pipe")
    files = collect_dir_files(d)
    assert files.files == ()
    assert files.notes == (
        f"{d}/pipe: a FIFO (named pipe), not a regular file; left out",
        f"{d}/to-pipe: a FIFO (named pipe) (where its symbolic link leads), not a regular "
        "file; left out",
    )
    with pytest.raises(InputError, match=r"pipe: is a FIFO \(named pipe\), not a regular"):
        read_input(d / "pipe", regular_only=True)


def test_follow_symlinks_needs_from_dir(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    code, _, err = pack(runner, "--follow-symlinks", "-o", "fs.bin")
    assert code == 2 and "--follow-symlinks applies to --from-dir" in err
    assert not (in_tmp / "fs.bin").exists()


CONFIG = (
    "preset: letsencrypt\n"
    "outputs:\n"
    "  - {format: littlefs, path: fs.bin, profile: esp-idf, size: 256K, from_dir: data%s}\n"
)


def test_build_from_dir_refuses_a_link_outside_unless_followed(
    in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "key.pem").write_bytes(KEY)
    (in_tmp / "data").mkdir()
    os.mkfifo(in_tmp / "data" / "ff")
    (in_tmp / "data" / "client.pem").symlink_to("../key.pem")
    (in_tmp / "cabundle.yaml").write_text(CONFIG % "")
    r = runner.invoke(cli, ["build", "--no-lock"])
    assert r.exit_code == 2, r.output
    assert "data/client.pem: a symbolic link that leads outside the directory" in r.stderr
    assert not (in_tmp / "fs.bin").exists()
    (in_tmp / "cabundle.yaml").write_text(CONFIG % ", follow_symlinks: true")
    r = runner.invoke(cli, ["build", "--no-lock"])
    assert r.exit_code == 0, r.output
    # the config's directory is named as the config's paths are: absolute
    assert f"note: {in_tmp}/data/ff: a FIFO (named pipe), not a regular file; left out" in (
        r.stderr
    )
    assert f"warning: {in_tmp}/data/client.pem holds a private key" in r.stderr
    assert stat.S_IMODE((in_tmp / "fs.bin").stat().st_mode) == 0o600
    r = runner.invoke(cli, ["build", "--no-lock", "--json"])
    doc = json.loads(r.stdout)
    assert f"{in_tmp}/data/ff: a FIFO (named pipe), not a regular file; left out" in doc["notes"]
    assert doc["warnings"][0].startswith(f"{in_tmp}/data/client.pem holds a private key")
    assert KEY_BODY not in r.output


def test_build_follow_symlinks_must_be_a_boolean(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "data").mkdir()
    (in_tmp / "cabundle.yaml").write_text(CONFIG % ", follow_symlinks: yes please")
    r = runner.invoke(cli, ["build", "--no-lock"])
    assert r.exit_code == 2 and "follow_symlinks: expected true or false" in r.stderr
    assert not (in_tmp / "fs.bin").exists()


def test_the_walk_is_bounded(
    in_tmp: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Links to sibling directories repeat trees (each a copy in the image): the walk
    stops at a cap on entries, far above any partition's file count, nothing written."""
    import esp_cabundle.fs.dirfiles as dirfiles

    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    d = in_tmp / "data"
    (d / "a").mkdir(parents=True)
    (d / "a" / "f.txt").write_text("x\n")
    for name in "bcdefg":  # each level links to the one before twice: 2**6 copies
        (d / name).mkdir()
        (d / name / "x").symlink_to(f"../{chr(ord(name) - 1)}")
        (d / name / "y").symlink_to(f"../{chr(ord(name) - 1)}")
    monkeypatch.setattr(dirfiles, "MAX_DIR_ENTRIES", 100)
    code, _, err = pack(runner, "--from-dir", "data", "-o", "fs.bin")
    assert code == 2 and "data: more than 100 entries to walk; nothing written" in err, err
    assert not (in_tmp / "fs.bin").exists()


def test_more_files_than_pack_takes_are_refused_up_front(in_tmp: Path, runner: CliRunner) -> None:
    """Tryout: 30,000 empty files took nine minutes to pack (littlefs scans a whole
    directory for each file it creates), saying nothing meanwhile. One more than the
    cap is refused after the walk, before any image is made, naming both counts."""
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    d = in_tmp / "data"
    d.mkdir()
    for i in range(4097):
        (d / f"f{i}").touch()
    code, _, err = pack(runner, "--from-dir", "data", "-o", "fs.bin")
    assert code == 2, err
    assert "data: 4,097 files to pack; pack takes at most 4,096 (littlefs takes" in err, err
    assert "hint: no ESP32 firmware ships that many files" in err, err
    assert not (in_tmp / "fs.bin").exists()


def test_vcs_and_finder_files_are_left_out_as_mklittlefs_does(
    in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    d = in_tmp / "data"
    (d / ".git" / "objects").mkdir(parents=True)
    (d / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    for name in (".gitignore", ".gitmodules", ".DS_Store", "index.html"):
        (d / name).write_text("x\n")
    code, _, err = pack(runner, "--from-dir", "data", "-o", "fs.bin")
    assert code == 0, err
    assert image_files(in_tmp / "fs.bin") == ["/ca.pem", "/index.html"]


def test_a_ca_file_given_to_from_dir_is_refused_naming_the_option(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--from-dir ca.pem`` said "ca.pem: not a directory", naming no option and giving no
    hint (tryout): the refusal names --from-dir, and without another CA source the hint
    is the line typed with --bundle instead, which runs; nothing is written before."""
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    typed = [*PACK, "--from-dir", "ca.pem", "--follow-symlinks", "-o", "fs.bin"]
    assert run(typed) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: --from-dir ca.pem: a regular file, not a directory"), err
    mended = [*PACK, "-o", "fs.bin", "--bundle", "ca.pem"]
    hint = f"  hint: e.g. esp-cabundle {' '.join(mended)} (a single CA file goes in with --bundle"
    assert hint in err, err
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]
    assert run([*mended, "-q"]) == 0 and image_files(in_tmp / "fs.bin") == ["/ca.pem"]
    # a CA source typed already: no second one in the hint, a directory's example instead
    assert run([*PACK, "--bundle", "ca.pem", "--from-dir", "ca.pem", "-o", "b.bin", "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"].startswith("--from-dir ca.pem: a regular file, not a directory"), doc
    assert doc["hint"].startswith("no directories here; name another, or pack the CA alone"), doc
    assert not (in_tmp / "b.bin").exists()


@pytest.mark.parametrize("target", ["/proc/self/environ", "/proc/self", "/sys/kernel"])
def test_a_followed_link_into_the_kernels_state_is_refused(in_tmp: Path, target: str) -> None:
    """``follow_symlinks: true`` in a cloned repository's config and a link to
    /proc/self/environ packed the build's environment (a CI job's tokens) into every
    unit's image; /proc and /sys hold the kernel's view, never a file to ship."""
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    d = in_tmp / "fd"
    d.mkdir()
    (d / "conf.json").write_text("{}\n")
    (d / "env").symlink_to(target)
    runner = CliRunner()
    code, out, err = pack(runner, "--from-dir", "fd", "-o", "fd.bin", "--follow-symlinks")
    assert code == 2, out + err
    assert f"a symbolic link to {os.path.realpath(target)}, the kernel's view" in err, err
    assert "nothing written" in err and not (in_tmp / "fd.bin").exists()
    # a link to an ordinary file outside is still packed when followed
    (d / "env").unlink()
    (in_tmp / "outside.txt").write_text("shared\n")
    (d / "env").symlink_to(in_tmp / "outside.txt")
    code, out, err = pack(runner, "--from-dir", "fd", "-o", "fd.bin", "--follow-symlinks")
    assert code == 0, out + err
    assert image_files(in_tmp / "fd.bin") == ["/ca.pem", "/conf.json", "/env"]
