"""LittleFS images whose metadata lies while every CRC checks out: refused in bounded
time and memory, exit 2, the image unchanged."""

from __future__ import annotations

import resource
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from support import dumps
from support.lfs_meta import (
    commits,
    count_mounts,
    metadata_blocks,
    newer_superblock_unnamed,
    recrc,
    with_dirs_at,
    with_file_sizes,
    with_tails_at,
)

from esp_cabundle.errors import ImageError
from esp_cabundle.fs import open_image
from esp_cabundle.fs.edit import pack_image
from esp_cabundle.fs.lfs_device import MAX_DEPTH
from esp_cabundle.fs.lfs_superblock import find_superblock

DATA = Path(__file__).parent / "data"
CA = (DATA / "letsencrypt" / "isrgrootx1.pem").read_bytes()
SIZE = 64 * 1024


def _huge_file_image(size: int = 0x7FFFFFFF) -> bytes:
    """/ca.pem stored as ``size`` bytes (default littlefs' file_max: it still mounts)."""
    image = pack_image("littlefs", "esp-idf", SIZE, [("/ca.pem", CA)]).data
    return with_file_sizes(image, size)


def _limited() -> None:
    """The child may use 1 GiB: a read of the stored 2 GiB size fails instead of
    taking the machine's memory (it took 8 GB and 34 s)."""
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def _run_child(
    args: list[str], cwd: Path, timeout: float
) -> tuple[subprocess.CompletedProcess[str], float]:
    """The CLI run in a child (limited by :func:`_limited`), and the CPU seconds it
    used: a bound on CPU holds on a loaded CI machine, where wall time is what other
    jobs leave (the loop test's 5 s of wall time failed at 5.4 s on a busy core). A hang
    is caught by ``timeout``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(
        [sys.executable, "-m", "esp_cabundle", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        preexec_fn=_limited,
        timeout=timeout,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return r, cpu


def test_a_stored_size_over_the_file_system_is_refused_unread() -> None:
    image = open_image(_huge_file_image(4 << 20))  # 4 MiB: a failure here stays cheap
    assert [(f.path, f.size) for f in image.files()] == [("/ca.pem", 4 << 20)]
    with pytest.raises(ImageError, match="more than the whole file system"):
        image.read("/ca.pem")


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "args",
    [["fs", "cat", "fs.bin", "/ca.pem"], ["fs", "put", "fs.bin", "ca.pem", "/ca.pem"]],
    ids=["cat", "put"],
)
def test_a_stored_size_over_the_file_system_via_the_cli(tmp_path: Path, args: list[str]) -> None:
    data = _huge_file_image()
    (tmp_path / "fs.bin").write_bytes(data)
    (tmp_path / "ca.pem").write_bytes(CA)
    r, cpu = _run_child(args, tmp_path, timeout=50)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert "/ca.pem: its stored size (2,147,483,647 bytes) is more than the whole" in r.stderr
    assert cpu < 10, cpu
    assert (tmp_path / "fs.bin").read_bytes() == data


def _looping_image(size: int = SIZE) -> bytes:
    """/d, a directory whose entry points at the root pair: /d/d/d/... never ends, and
    every level is a new path."""
    files = [("/ca.pem", CA), ("/d/x.pem", b"x")]
    return with_dirs_at(pack_image("littlefs", "esp-idf", size, files).data, (0, 1))


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "args",
    [
        ["fs", "ls", "fs.bin"],
        ["inspect", "fs.bin"],
        ["fs", "put", "fs.bin", "ca.pem", "/new.pem"],
        ["fs", "rm", "fs.bin", "/ca.pem"],
    ],
    ids=["ls", "inspect", "put", "rm"],
)
def test_a_directory_loop_via_the_cli_in_bounded_time(tmp_path: Path, args: list[str]) -> None:
    """4 MiB: 512 directories could exist; the loop is stopped long before (it hung,
    in littlefs' C code: a child process, so a regression fails instead of hanging)."""
    data = _looping_image(4 << 20)
    (tmp_path / "fs.bin").write_bytes(data)
    (tmp_path / "ca.pem").write_bytes(CA)
    r, cpu = _run_child(args, tmp_path, timeout=20)
    assert r.returncode == 2, r.stderr
    assert "LittleFS directories loop (nested more than 256 deep" in r.stderr
    assert "Traceback" not in r.stderr
    assert cpu < 5, cpu
    assert (tmp_path / "fs.bin").read_bytes() == data


def _tail_loop(to_root: bool) -> bytes:
    """The threaded list of metadata pairs made a loop: the root's tail pointing at the
    root itself, or each directory's pair pointing back at the root."""
    files = [("/ca.pem", CA), ("/d/x.pem", b"x"), ("/e/y.pem", b"y")]
    image = pack_image("littlefs", "esp-idf", 1 << 20, files).data
    dirs = [b for b in metadata_blocks(image) if b > 1]
    return with_tails_at(image, (0, 1), dirs if to_root else [0, 1])


@pytest.mark.timeout(60)
@pytest.mark.parametrize("to_root", [False, True], ids=["root-to-itself", "dirs-to-root"])
def test_a_metadata_tail_loop_is_refused_in_bounded_time(tmp_path: Path, to_root: bool) -> None:
    """littlefs' mount follows the tails with its cycle check (lfs_mount's tortoise): a
    clean exit 2 from ls and put, the image unchanged; a regression hangs a child."""
    data = _tail_loop(to_root)
    (tmp_path / "fs.bin").write_bytes(data)
    (tmp_path / "ca.pem").write_bytes(CA)
    for args in (["fs", "ls", "fs.bin"], ["fs", "put", "fs.bin", "ca.pem", "/new.pem"]):
        r, cpu = _run_child(args, tmp_path, timeout=20)
        assert r.returncode == 2, r.stderr
        assert "LittleFS image does not mount" in r.stderr and "Traceback" not in r.stderr
        assert cpu < 5, cpu
        assert (tmp_path / "fs.bin").read_bytes() == data


def test_directories_as_deep_as_the_walk_goes_and_no_deeper() -> None:
    """What an image may hold here, it lists: 256 levels are put and read back, 257
    are refused when put."""
    deep = "/a" * MAX_DEPTH + "/f"
    image = open_image(pack_image("littlefs", "esp-idf", 4 << 20, [(deep, b"x")]).data)
    assert [f.path for f in image.files()] == [deep]
    with pytest.raises(ImageError, match="directories nested 257 deep; images are kept to 256"):
        image.write("/a" * (MAX_DEPTH + 1) + "/f", b"x")


def _dump_with_unnamed_superblock() -> bytes:
    """A Mongoose OS flash whose fs_0 has its newer superblock block unnamed."""
    flash = bytearray(dumps.mongoose_dump(fs_1=False))
    flash[0x190000:0x1D0000] = newer_superblock_unnamed(bytes(flash[0x190000:0x1D0000]))
    return bytes(flash)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fs", "ls", "fs.bin"], "fs.bin: LittleFS image does not mount: block 1, the newer"),
        (["inspect", "fs.bin"], "LittleFS image does not mount: block 1, the newer"),
        (["fs", "put", "fs.bin", "ca.pem", "/new.pem"], "LittleFS image does not mount"),
        (
            ["update-dump", "d.bin", "--board", "mongoose-os-esp32", "--bundle", "ca.pem"],
            "LittleFS image does not mount: block 1, the newer",
        ),
    ],
    ids=["ls", "inspect", "put", "update-dump"],
)
def test_a_newer_superblock_block_without_its_name_is_refused(
    tmp_path: Path, args: list[str], message: str
) -> None:
    """littlefs reads the newer block of the pair, finds no superblock there (it never
    falls back to the older one while a commit checks out) and, told no block count,
    divided by zero: the process died of SIGFPE (exit 136, no message). A child
    process, so a regression fails the test instead of killing pytest."""
    image = newer_superblock_unnamed(
        pack_image("littlefs", "esp-idf", SIZE, [("/ca.pem", CA)]).data
    )
    (tmp_path / "fs.bin").write_bytes(image)
    (tmp_path / "d.bin").write_bytes(_dump_with_unnamed_superblock())
    (tmp_path / "ca.pem").write_bytes(CA)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    out = ["-o", "o.bin"] if args[0] == "update-dump" else []
    r, _cpu = _run_child([*args, *out], tmp_path, timeout=50)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_the_superblock_littlefs_reads_is_the_one_found() -> None:
    """Equal revisions: littlefs reads block 0 (``lfs_scmp`` > 0 picks block 1 only
    when it is newer), so block 0's superblock is the one found and checked."""
    image = bytearray(pack_image("littlefs", "esp-idf", SIZE, [("/ca.pem", CA)]).data)
    first = bytearray(image[:4096])
    found = commits(first)
    struct.pack_into("<I", first, 0, struct.unpack_from("<I", image, 4096)[0])
    recrc(first, found)
    image[:4096] = first
    sb = find_superblock(bytes(image), block_size=4096)
    assert sb is not None and sb.block == 0


def test_littlefs_is_given_the_block_count_checked() -> None:
    """Below the superblock check, littlefs itself is never told "take the block count
    from the superblock" (0): mounting a pair with no superblock then fails cleanly
    instead of dividing by zero. A child process: a regression dies of SIGFPE."""
    code = (
        "import sys; sys.path.insert(0, 'tests')\n"
        "from support.lfs_meta import newer_superblock_unnamed\n"
        "from esp_cabundle.errors import ImageError\n"
        "from esp_cabundle.fs.edit import pack_image\n"
        "from esp_cabundle.fs.lfs_device import probe_lfs\n"
        "from esp_cabundle.fs.lfs_profiles import LITTLEFS_PROFILES\n"
        "image = pack_image('littlefs', 'esp-idf', 65536, [('/ca.pem', b'x' * 5000)]).data\n"
        "try:\n"
        "    probe_lfs(newer_superblock_unnamed(image), LITTLEFS_PROFILES['esp-idf'])\n"
        "except ImageError as e:\n"
        "    print(e.message)\n"
    )
    root = Path(__file__).parent.parent
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=50
    )
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert "LittleFS image does not mount (littlefs error -84" in r.stdout


def test_identifying_an_image_unmounts_what_it_mounted(monkeypatch: pytest.MonkeyPatch) -> None:
    """littlefs mallocs its caches at mount and frees them at unmount only: the probe
    that identifies an image's platform mounted and never unmounted, ~1.2 KB of native
    memory kept a probe (a local fuzz campaign's resident memory grew without end)."""
    from esp_cabundle.fs.lfs_device import probe_lfs
    from esp_cabundle.fs.lfs_profiles import resolve_profile

    files = [("/d/x", b"y"), ("/ca.pem", b"x")]  # the probe stops at the first file
    data = pack_image("littlefs", "esp-idf", 64 * 1024, files).data
    balance = count_mounts(monkeypatch)
    probe_lfs(data, resolve_profile("esp-idf"))
    assert balance == [1, -1]
