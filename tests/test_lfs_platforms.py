"""LittleFS on-disk version per platform version: what is written, what a littlefs before
2.6 mounts (real littlefs 2.4, support/old_littlefs.py), and edits that never change it."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.old_littlefs import mount_old

from esp_cabundle.cli import cli
from esp_cabundle.errors import ImageError
from esp_cabundle.fs.edit import FileEdit, ImageRegion, edit_image
from esp_cabundle.fs.lfs_platforms import (
    PLATFORM_ROWS,
    check_readable,
    resolve_platform,
    version_text,
)
from esp_cabundle.fs.littlefs import (
    DISK_VERSION_2_0,
    DISK_VERSION_2_1,
    LITTLEFS_PROFILES,
    LittleFsImage,
    build_littlefs_image,
)
from tests.support.gated import canonical

DATA = Path(__file__).parent / "data"
CA = (DATA / "letsencrypt" / "isrgrootx1.pem").read_bytes()
NEW_CA = canonical((DATA / "letsencrypt" / "isrg-root-x2.pem").read_bytes())  # as gated
VECTOR = (DATA / "littlefs" / "mongoose-lfs20-256k.bin").read_bytes()
FILES = [("/ca.pem", CA), ("/conf/app.json", b'{"wifi": "x"}\n' * 40)]

# (platform, disk version esp-cabundle writes); the sources are in fs/lfs_platforms.py.
WRITES = [
    (None, DISK_VERSION_2_0),
    ("esp_littlefs-1.3.2", DISK_VERSION_2_0),
    ("esp_littlefs-1.5.5", DISK_VERSION_2_0),
    ("esp_littlefs-1.6.0", DISK_VERSION_2_1),
    ("esp_littlefs-1.14.1", DISK_VERSION_2_1),
    ("esp_littlefs", DISK_VERSION_2_0),
    ("arduino-2.0.5", DISK_VERSION_2_0),
    ("arduino-2.0.16", DISK_VERSION_2_0),
    ("arduino-2.0.17", DISK_VERSION_2_1),
    ("arduino-3.1.0", DISK_VERSION_2_1),
    ("arduino", DISK_VERSION_2_0),
    ("platformio-6.8.0", DISK_VERSION_2_0),
    ("platformio", DISK_VERSION_2_0),
    ("mongoose-os-2.20.0", DISK_VERSION_2_0),
    ("mongoose-os", DISK_VERSION_2_0),
]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_table_covers_every_version_once() -> None:
    for family in ("esp_littlefs", "arduino", "platformio", "mongoose-os"):
        rows = [r for r in PLATFORM_ROWS if r.family == family]
        assert rows[0].low == (0,) and rows[-1].high is None
        for a, b in itertools.pairwise(rows):
            assert a.high == b.low  # no gap, no overlap


@pytest.mark.parametrize(("platform", "version"), WRITES)
def test_new_image_version_per_platform(platform: str | None, version: int) -> None:
    profile = "esp-idf" if platform is None else None
    raw = build_littlefs_image(FILES, size=128 * 1024, profile=profile, platform=platform)
    img = LittleFsImage.open(raw)
    assert img.disk_version == version
    assert img.read("/conf/app.json") == FILES[1][1]
    if platform is not None:
        assert resolve_platform(platform).writes == version


@pytest.mark.parametrize("name", sorted(LITTLEFS_PROFILES))
def test_default_images_mount_on_littlefs_before_2_6(name: str, tmp_path: Path) -> None:
    """Every profile's default image mounts, reads and takes writes on real littlefs 2.4,
    with its own read/prog size."""
    profile = LITTLEFS_PROFILES[name]
    raw = build_littlefs_image(FILES, size=128 * 1024, profile=name)
    got = mount_old(raw, tmp_path, rw=profile.prog_size, cache=profile.cache_size)
    assert got.littlefs < (2, 6)
    assert got.error is None
    assert got.files == {p: sha(d) for p, d in FILES}
    assert got.write_ok


@pytest.mark.parametrize(("platform", "version"), [w for w in WRITES if w[0] is not None])
def test_platform_images_on_littlefs_before_2_6(
    platform: str, version: int, tmp_path: Path
) -> None:
    """2.0 images mount on littlefs 2.4; 2.1 ones fail exactly as on old units (-84), so
    only platforms whose readers are all 2.6+ may get them."""
    raw = build_littlefs_image(FILES, size=64 * 1024, platform=platform)
    got = mount_old(raw, tmp_path)
    if version == DISK_VERSION_2_0:
        assert got.error is None and got.write_ok
    else:
        assert got.error == -84
        assert resolve_platform(platform).reads_2_1


def test_edit_keeps_2_0_and_old_littlefs_still_mounts(tmp_path: Path) -> None:
    """Editing the lived-in Mongoose OS image (made by littlefs 2.5) keeps 2.0, whatever
    platform is named; littlefs 2.4 still mounts the result."""
    for platform in (None, "mongoose-os", "arduino-3.1.0", "esp_littlefs-1.14.1"):
        result = edit_image(
            ImageRegion(VECTOR, 0, len(VECTOR)),
            [FileEdit("put", "/ca.pem", NEW_CA)],
            platform=platform,
        )
        assert LittleFsImage.open(result.container).disk_version == DISK_VERSION_2_0
    got = mount_old(result.container, tmp_path)
    assert got.error is None and got.write_ok
    assert got.files["/ca.pem"] == sha(NEW_CA)


def test_edit_keeps_2_1() -> None:
    raw = build_littlefs_image(FILES, size=64 * 1024, platform="arduino-3.1.0")
    out = edit_image(ImageRegion(raw, 0, len(raw)), [FileEdit("put", "/ca.pem", NEW_CA)])
    assert LittleFsImage.open(out.container).disk_version == DISK_VERSION_2_1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"disk_version": DISK_VERSION_2_1}, "does not upgrade it to 2.1"),
        ({"platform": "arduino-3.1.0", "disk_version": DISK_VERSION_2_1}, "does not upgrade"),
        ({"platform": "arduino-2.0.17", "profile": "esp-idf"}, "uses the arduino profile"),
    ],
)
def test_refused_edits_change_nothing(kwargs: dict[str, object], match: str) -> None:
    before = bytes(VECTOR)
    with pytest.raises(ImageError, match=match):
        edit_image(
            ImageRegion(VECTOR, 0, len(VECTOR)),
            [FileEdit("put", "/ca.pem", NEW_CA)],
            **kwargs,  # type: ignore[arg-type]
        )
    assert before == VECTOR


def test_the_refusal_names_the_platforms_the_table_says_cannot_mount_2_1() -> None:
    """Tester's report: it said 'Arduino-ESP32 2.0.x' while 2.0.17 mounts 2.1."""
    with pytest.raises(ImageError) as e:
        edit_image(
            ImageRegion(VECTOR, 0, len(VECTOR)),
            [FileEdit("put", "/ca.pem", NEW_CA)],
            disk_version=DISK_VERSION_2_1,
        )
    named = e.value.message.split("before 2.6 (")[1].split(")")[0]
    assert "Arduino-ESP32 < 2.0.17" in named and "2.0.x" not in named
    for platform in ("arduino-2.0.17", "arduino-3.1.0", "esp_littlefs-1.6.0"):
        assert resolve_platform(platform).reads_2_1, platform
    for platform in ("arduino-2.0.16", "esp_littlefs-1.5.5", "mongoose-os", "platformio"):
        assert not resolve_platform(platform).reads_2_1, platform
    assert named.count(",") == 3  # one entry per family that has such versions


def test_2_1_image_refused_for_a_platform_that_cannot_mount_it() -> None:
    raw = build_littlefs_image(FILES, size=64 * 1024, platform="arduino-3.1.0")
    for platform in ("arduino-2.0.5", "esp_littlefs-1.5.5", "platformio-6.8.0", "arduino"):
        with pytest.raises(ImageError, match="cannot mount it") as err:
            LittleFsImage.open(raw, platform=platform)
        assert "format" in str(err.value)
    with pytest.raises(ImageError, match=r"cannot convert it to 2\.0"):
        LittleFsImage.open(raw, disk_version=DISK_VERSION_2_0)
    check_readable(DISK_VERSION_2_1, resolve_platform("arduino-2.0.17"), "x")  # reads 2.1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"platform": "arduino-2.0.5", "disk_version": DISK_VERSION_2_1}, "cannot mount"),
        ({"profile": "mongoose-os", "disk_version": DISK_VERSION_2_1}, "mounts only"),
        ({"platform": "mongoose-os", "disk_version": DISK_VERSION_2_1}, "mounts only"),
        ({"platform": "esp-idf-5.1"}, "ESP-IDF does not ship LittleFS"),
        ({"platform": "zephyr-3.7"}, "unknown LittleFS platform"),
        ({"platform": "arduino-2.x"}, "unknown LittleFS platform"),
    ],
)
def test_refused_new_images(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ImageError, match=match):
        build_littlefs_image(FILES, size=64 * 1024, **kwargs)  # type: ignore[arg-type]


def run(runner: CliRunner, *args: str) -> tuple[int, str]:
    r = runner.invoke(cli, list(args))
    return r.exit_code, r.output


def test_cli_pack_platform_and_refusals(runner: CliRunner, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(CA)
    out = tmp_path / "lfs.bin"
    code, text = run(
        runner, "pack", "--fs", "littlefs", "--platform", "arduino-2.0.17", "--size", "64K",
        "--bundle", str(ca), "-o", str(out),
    )  # fmt: skip
    assert code == 0, text
    assert "profile arduino, disk 2.1" in text
    img = LittleFsImage.open(out.read_bytes())
    assert img.disk_version == DISK_VERSION_2_1
    # the same with an old core: 2.0
    code, text = run(
        runner, "pack", "--fs", "littlefs", "--platform", "arduino-2.0.5", "--size", "64K",
        "--bundle", str(ca), "-o", str(tmp_path / "old.bin"),
    )  # fmt: skip
    assert code == 0 and "disk 2.0" in text, text
    # refused: 2.1 for a platform that cannot mount it; nothing written
    bad = tmp_path / "bad.bin"
    code, text = run(
        runner, "pack", "--fs", "littlefs", "--platform", "arduino-2.0.5", "--disk-version",
        "2.1", "--size", "64K", "--bundle", str(ca), "-o", str(bad),
    )  # fmt: skip
    assert code == 2 and "cannot mount on-disk version 2.1" in text, text
    assert not bad.exists()
    code, text = run(
        runner, "pack", "--fs", "spiffs", "--profile", "esp-idf", "--platform", "arduino",
        "--size", "64K", "--bundle", str(ca), "-o", str(bad),
    )  # fmt: skip
    assert code == 2 and "applies to LittleFS" in text, text
    assert not bad.exists()


def test_cli_fs_put_refusals_change_nothing(runner: CliRunner, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    v20 = tmp_path / "v20.bin"
    v20.write_bytes(VECTOR)
    v21 = tmp_path / "v21.bin"
    v21.write_bytes(build_littlefs_image(FILES, size=64 * 1024, platform="arduino-3.1.0"))
    cases = [
        ([str(v20), str(ca), "/ca.pem", "--disk-version", "2.1"], "does not upgrade it"),
        ([str(v21), str(ca), "/ca.pem", "--platform", "arduino-2.0.5"], "cannot mount it"),
        ([str(v21), str(ca), "/ca.pem", "--disk-version", "2.0"], "cannot convert"),
    ]
    for args, message in cases:
        before = {p: p.read_bytes() for p in tmp_path.iterdir()}
        code, text = run(runner, "fs", "put", *args)
        assert code == 2, text
        assert message in text, text
        assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before
    code, text = run(runner, "fs", "put", str(v20), str(ca), "/ca.pem", "--platform", "arduino")
    assert code == 0, text
    assert LittleFsImage.open(v20.read_bytes()).disk_version == DISK_VERSION_2_0


def _arduino_lfs_dump(tmp_path: Path, platform: str) -> Path:
    from support import dumps

    flash = bytearray(dumps.arduino_dump())
    flash[0x290000 : 0x290000 + 0x160000] = build_littlefs_image(
        FILES, size=0x160000, platform=platform
    )
    p = tmp_path / "dump.bin"
    p.write_bytes(bytes(flash))
    (tmp_path / "new-ca.pem").write_bytes(NEW_CA)
    return p


def test_update_dump_platform(runner: CliRunner, tmp_path: Path) -> None:
    dump = _arduino_lfs_dump(tmp_path, "arduino-3.1.0")  # on-disk 2.1
    out = tmp_path / "new.bin"
    base = ["update-dump", str(dump), "--board", "arduino-esp32-littlefs"]
    base += ["--bundle", str(tmp_path / "new-ca.pem"), "-o", str(out)]
    code, text = run(runner, *base, "--platform", "arduino-2.0.5")
    assert code == 2 and "cannot mount it" in text, text
    assert not out.exists()
    code, text = run(runner, *base, "--platform", "esp_littlefs-1.5.5")
    assert code == 2 and "uses the esp-idf LittleFS profile" in text, text
    code, text = run(runner, *base, "--platform", "arduino-3.1.0")
    assert code == 0, text
    part = LittleFsImage.open(out.read_bytes()[0x290000 : 0x290000 + 0x160000])
    assert part.disk_version == DISK_VERSION_2_1 and part.read("/ca.pem") == NEW_CA


def test_board_platform_key(runner: CliRunner, tmp_path: Path) -> None:
    from esp_cabundle.boards import boards_dir, load_board
    from esp_cabundle.errors import ConfigError

    text = (boards_dir() / "arduino-esp32-littlefs.yaml").read_text()
    assert load_board("arduino-esp32-littlefs").filesystem.platform is None  # type: ignore[union-attr]
    board = tmp_path / "old-core.yaml"
    board.write_text(
        text.replace(
            "  profile: arduino\n", "  profile: arduino\n  platform: arduino-2.0.5\n"
        ).replace("name: arduino-esp32-littlefs", "name: old-core")  # a board is named by its file
    )
    loaded = load_board(board)
    assert loaded.filesystem is not None and loaded.filesystem.platform == "arduino-2.0.5"
    assert loaded.to_dict()["filesystem"]["platform"] == "arduino-2.0.5"
    dump = _arduino_lfs_dump(tmp_path, "arduino-3.1.0")
    out = tmp_path / "new.bin"
    code, text_out = run(
        runner, "update-dump", str(dump), "--board", str(board), "--bundle",
        str(tmp_path / "new-ca.pem"), "-o", str(out),
    )  # fmt: skip
    assert code == 2 and "arduino-2.0.5" in text_out and "cannot mount it" in text_out
    assert not out.exists()
    for bad, message in [
        ("arduino-2.x", "unknown LittleFS platform"),
        ("esp_littlefs-1.5.5", "uses the esp-idf profile"),
    ]:
        wrong = tmp_path / "wrong.yaml"
        wrong.write_text(
            text.replace(
                "  profile: arduino\n", f"  profile: arduino\n  platform: {bad}\n"
            ).replace("name: arduino-esp32-littlefs", "name: wrong")
        )
        with pytest.raises(ConfigError, match=message) as err:
            load_board(wrong)
        assert err.value.line is not None


def render_table() -> str:
    """The README table of on-disk versions, rendered from the platform table itself."""
    lines = [
        "| `--platform` | versions | littlefs in the firmware | mounts | firmware writes "
        "| esp-cabundle writes |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in PLATFORM_ROWS:
        reads = "2.0, 2.1" if r.reads_2_1 else "2.0 only"
        lines.append(
            f"| `{r.family}-X.Y.Z` | {r.versions} | {r.littlefs} | {reads} "
            f"| {r.firmware_writes} | {version_text(r.writes)} |"
        )
    return "\n".join(lines)


def test_readme_table_is_the_platform_table() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert render_table() in readme
