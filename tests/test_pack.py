"""``esp-cabundle pack``: new LittleFS/SPIFFS images holding the bundle; every error leaves
no output file."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.fs import open_image
from esp_cabundle.fs.littlefs import DISK_VERSION_2_0, LittleFsImage
from esp_cabundle.sizes import parse_size
from tests.support.fresh_python import run_command_without
from tests.support.gated import canonical

LE = Path(__file__).parent / "data" / "letsencrypt"
X1 = LE / "isrgrootx1.pem"
X1_PEM = canonical(X1.read_bytes())  # what the image holds: the gate writes PEM as build does
AT = "2026-01-01"


@pytest.fixture
def data_dir_files(tmp_path: Path) -> Path:
    d = tmp_path / "fsdir"
    (d / "certs").mkdir(parents=True)
    (d / "conf9.json").write_text('{"wifi": {"sta": {"ssid": "x"}}}')
    (d / "certs" / "extra.pem").write_bytes((LE / "isrg-root-x2.pem").read_bytes())
    (d / ".gitignore").write_text("*\n")  # skipped, as mklittlefs does
    return d


def pack(runner: CliRunner, *args: str) -> tuple[int, str]:
    r = runner.invoke(cli, ["pack", *args])
    return r.exit_code, r.output


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("256K", 262144),
        ("0x40000", 262144),
        ("1408K", 1441792),
        ("262144", 262144),
        ("4M", 4 << 20),
    ],
)
def test_parse_size(text: str, value: int) -> None:
    assert parse_size(text) == value


def test_pack_littlefs_mongoose_with_dir(
    runner: CliRunner, tmp_path: Path, data_dir_files: Path
) -> None:
    out = tmp_path / "fs.bin"
    code, text = pack(
        runner,
        "--fs", "littlefs", "--profile", "mongoose-os", "--size", "256K",
        "--bundle", str(X1), "--from-dir", str(data_dir_files), "-o", str(out),
    )  # fmt: skip
    assert code == 0, text
    assert "profile mongoose-os" in text and "/certs/extra.pem" in text
    img = LittleFsImage.open(out.read_bytes())
    assert img.profile.name == "mongoose-os"
    assert img.disk_version == DISK_VERSION_2_0 and img.block_count == 64
    assert [f.path for f in img.files()] == ["/ca.pem", "/certs/extra.pem", "/conf9.json"]
    assert img.read("/ca.pem") == X1_PEM
    assert img.read("/certs/extra.pem") == (LE / "isrg-root-x2.pem").read_bytes()


def test_pack_builds_the_bundle_like_build(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "fs.bin"
    code, text = pack(
        runner, "--fs", "littlefs", "--profile", "esp-idf", "--size", "0x40000",
        "--preset", "letsencrypt", "--at", AT, "-o", str(out),
    )  # fmt: skip
    assert code == 0, text
    pem = tmp_path / "ca.pem"
    r = runner.invoke(
        cli,
        ["build", "--preset", "letsencrypt", "--at", AT, "--no-lock", "-f", "pem", "-o", str(pem)],
    )
    assert r.exit_code == 0, r.output
    assert open_image(out.read_bytes()).read("/ca.pem") == pem.read_bytes()
    assert not (tmp_path / "cabundle.lock").exists()


def test_pack_spiffs_and_sizes_agree(runner: CliRunner, tmp_path: Path) -> None:
    outs = []
    for i, size in enumerate(("64K", "0x10000", "65536")):
        out = tmp_path / f"s{i}.bin"
        code, text = pack(
            runner, "--fs", "spiffs", "--profile", "esp-idf", "--size", size,
            "--bundle", str(X1), "-o", str(out),
        )  # fmt: skip
        assert code == 0, text
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]  # and reproducible
    img = open_image(outs[0])
    assert img.fs_type == "spiffs" and img.profile.name == "esp-idf"
    assert img.read("/ca.pem") == X1_PEM


def test_pack_json_and_ca_path(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "fs.bin"
    code, text = pack(
        runner, "--fs", "littlefs", "--profile", "arduino", "--size", "128K",
        "--bundle", str(X1), "--ca-path", "certs/roots.pem", "--json", "-o", str(out),
    )  # fmt: skip
    assert code == 0, text
    doc = json.loads(text)
    assert doc["files"] == [{"path": "/certs/roots.pem", "size": len(X1_PEM)}]
    assert doc["profile"] == "arduino" and doc["bytes"] == 128 * 1024
    assert open_image(out.read_bytes()).read("/certs/roots.pem") == X1_PEM


def test_pack_mtime(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "fs.bin"
    code, text = pack(
        runner, "--fs", "littlefs", "--profile", "platformio", "--size", "64K",
        "--bundle", str(X1), "--mtime", "1700000000", "-o", str(out),
    )  # fmt: skip
    assert code == 0, text
    img = LittleFsImage.open(out.read_bytes())
    assert img.getattr("/ca.pem", "t") == struct.pack("<I", 1700000000)


def _key_file(tmp_path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    p = tmp_path / "key.pem"
    p.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return p


ERRORS = [
    (["--profile", "nope"], "unknown littlefs profile 'nope'"),
    (["--size", "abc"], "is not a size"),
    (["--size", "1000"], "not a positive multiple"),
    (["--size", "4K"], "at least 2 blocks"),
    (["--fs", "spiffs", "--size", "1000"], "SPIFFS image size 1,000 bytes is not"),
    (["--fs", "spiffs", "--size", "8K"], "SPIFFS needs at least 3 blocks"),
    (["--profile", "mongoose-os", "--disk-version", "2.1"], "mounts only 2.0"),
    (["--size", "16K", "--from-dir", "{big}"], "no space"),
    (["--from-dir", "{missing}"], "no such directory; nothing was written"),
    (["--from-dir", "{with_ca}"], "would replace the bundle"),
    (["--bundle", "{missing}"], "no such CA file"),
    (["--bundle", "{key}"], "private key"),
    (["--bundle", "{x1}", "--preset", "letsencrypt"], "cannot be combined"),
    (["--profile", "mongoose-os", "--mtime", "5"], "keeps no time attributes"),
    (["--root", "{dst}", "--at", AT], "polic"),
]


def test_a_new_image_too_small_is_not_told_to_remove_files(
    runner: CliRunner, tmp_path: Path
) -> None:
    """A new image has no files to remove: the hint says a larger partition (--size) or
    fewer files, from the library and from the command."""
    from esp_cabundle.errors import ImageError
    from esp_cabundle.fs.edit import pack_image

    with pytest.raises(ImageError) as info:
        pack_image("littlefs", "esp-idf", 8192, [("/ca.pem", bytes(6000))])
    assert info.value.hint and "pack fewer files" in info.value.hint
    assert "removing files" not in info.value.hint
    out = tmp_path / "x.bin"
    args = ["--fs", "littlefs", "--profile", "esp-idf", "--size", "8K"]
    code, text = pack(runner, *args, "--preset", "letsencrypt", "-o", str(out))
    assert code == 2 and "no space left" in text, text
    assert re.search(
        r"larger partition \(--size \S+ or more holds these files and leaves room", text
    )
    assert "removing files" not in text and not out.exists()


@pytest.mark.parametrize(("args", "message"), ERRORS)
def test_pack_errors_leave_no_output(
    runner: CliRunner, tmp_path: Path, args: list[str], message: str
) -> None:
    big = tmp_path / "big"
    big.mkdir()
    (big / "blob.bin").write_bytes(bytes(range(256)) * 200)
    with_ca = tmp_path / "with_ca"
    with_ca.mkdir()
    (with_ca / "ca.pem").write_bytes(b"x")
    subst = {
        "big": str(big),
        "missing": str(tmp_path / "missing"),
        "with_ca": str(with_ca),
        "key": str(_key_file(tmp_path)),
        "x1": str(X1),
        "dst": str(LE / "dst-root-ca-x3.pem"),
    }
    args = [a.format(**subst) for a in args]
    base = {"--fs": "littlefs", "--profile": "esp-idf", "--size": "64K"}
    for flag, value in base.items():
        if flag not in args:
            args = [flag, value, *args]
    if "--bundle" not in args and "--root" not in args and "--preset" not in args:
        args += ["--bundle", str(X1)]
    out = tmp_path / "out" / "fs.bin"
    code, text = pack(runner, *args, "-o", str(out))
    assert code in (1, 2), text
    assert message.lower() in text.lower(), text
    assert "Traceback" not in text
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
    # What the CA has no part in is said alone, before the CA is judged (no gate line);
    # a size under the fewest blocks is hinted with the size that holds the CA's bytes.
    after = ("no space", "replace the bundle", "private", "polic", "at least")
    if not any(w in message for w in after):
        assert "CA:" not in text, text


def test_pack_without_a_profile_says_so_before_the_gate(runner: CliRunner, tmp_path: Path) -> None:
    for size in ("1408K", "1000"):
        code, text = pack(runner, "--fs", "littlefs", "--size", size, "--bundle", str(X1),
                          "-o", str(tmp_path / "x.bin"))  # fmt: skip
        assert code == 2 and "the image needs a profile" in text and "CA:" not in text, text
        assert not (tmp_path / "x.bin").exists()


def test_pack_requires_fs_profile_size_output(runner: CliRunner, tmp_path: Path) -> None:
    code, text = pack(runner, "--profile", "esp-idf", "--size", "64K", "-o", str(tmp_path / "x"))
    assert code == 2 and "--fs" in text
    assert not (tmp_path / "x").exists()


def test_pack_overwrites_atomically(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "fs.bin"
    out.write_bytes(b"old")
    code, text = pack(
        runner, "--fs", "littlefs", "--profile", "esp-idf", "--size", "8K",
        "--bundle", str(X1), "-o", str(out),
    )  # fmt: skip
    assert code == 2 and "no space" in text
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fs.bin"]


# --- --board ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("board", "fs_type", "size", "where"),
    [
        ("mdash-arduino", "spiffs", 0x16F000, "spiffs at 0x291000"),
        ("mongoose-os-esp32", "littlefs", 0x40000, "fs_0 at 0x190000, fs_1 at 0x350000"),
        ("arduino-esp32-littlefs", "littlefs", 0x160000, "spiffs at 0x290000"),
    ],
)
def test_pack_board_takes_every_parameter_from_the_board(
    runner: CliRunner, tmp_path: Path, board: str, fs_type: str, size: int, where: str
) -> None:
    from esp_cabundle.boards import load_board

    out = tmp_path / "fs.bin"
    code, text = pack(runner, "--board", board, "--bundle", str(X1), "--at", AT, "-o", str(out))
    assert code == 0, text
    assert f"board {board}'s {where}" in text
    data = out.read_bytes()
    assert len(data) == size
    fs = load_board(board).filesystem
    assert fs is not None
    image = open_image(data, fs_type=fs.fs_type, profile=fs.profile)
    assert image.read(fs.ca_path) == X1_PEM
    # The same image as the parameters spelled out.
    spelled = tmp_path / "spelled.bin"
    code, text = pack(
        runner, "--fs", fs.fs_type, "--profile", fs.profile, "--size", str(size),
        "--bundle", str(X1), "--at", AT, "-o", str(spelled),
    )  # fmt: skip
    assert code == 0, text
    assert spelled.read_bytes() == data


def test_pack_board_json_and_overrides(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "fs.bin"
    r = runner.invoke(
        cli,
        ["pack", "--board", "mdash-arduino", "--size", "1408K", "--ca-path", "/certs/ca.pem",
         "--bundle", str(X1), "--at", AT, "-o", str(out), "--json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["board"], doc["fs"], doc["profile"], doc["bytes"]) == (
        "mdash-arduino", "spiffs", "esp-idf", 1408 * 1024,
    )  # fmt: skip
    assert doc["partitions"] == []  # 1408K is not the board's default partition
    assert open_image(out.read_bytes()).read("/certs/ca.pem") == X1_PEM
    # ... and a note says so: flashed at 0x291000, a 1408 KiB image does not mount.
    assert doc["notes"] == [
        "the image is 1408 KiB, not the size of board mdash-arduino's file-system partition "
        "(spiffs: 1468 KiB at 0x291000); flash it only to a 1408 KiB partition of your own table",
        "the CA goes to /certs/ca.pem, not /ca.pem, where board mdash-arduino's firmware reads "
        "its CA; flash it only to units whose firmware reads /certs/ca.pem",
    ]
    r = runner.invoke(
        cli, ["pack", "--board", "mdash-arduino", "--size", "1408K", "--bundle", str(X1),
              "--at", AT, "-o", str(out)],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "note: the image is 1408 KiB, not the size of board mdash-arduino's" in r.stderr


def test_pack_and_pack_ca_make_the_same_image(runner: CliRunner, tmp_path: Path) -> None:
    """The command is the library call plus its messages: same bytes, same note."""
    from datetime import datetime, timezone

    from esp_cabundle import CaSource, gate_ca, load_board, pack_ca

    out = tmp_path / "fs.bin"
    r = runner.invoke(
        cli, ["pack", "--board", "mdash-arduino", "--size", "1408K", "--bundle", str(X1),
              "--ca-path", "/certs/ca.pem", "--at", AT, "-o", str(out), "--json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    board = load_board("mdash-arduino")
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    ca = gate_ca(CaSource.from_file(X1), board=board, at=at, ca_path="/certs/ca.pem")
    packed = pack_ca(ca, board=board, size=1408 * 1024, ca_path="/certs/ca.pem")
    assert out.read_bytes() == packed.data
    assert json.loads(r.stdout)["notes"] == list(packed.notes)


def test_pack_board_size_of_its_partition_has_no_note(runner: CliRunner, tmp_path: Path) -> None:
    r = runner.invoke(
        cli, ["pack", "--board", "mdash-arduino", "--size", "0x16F000", "--bundle", str(X1),
              "--at", AT, "-o", str(tmp_path / "fs.bin"), "--json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["notes"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--board", "mdash"], "not in a file system: there is no image to make"),
        (["--board", "mdash-arduino", "--fs", "littlefs"], "reads its CA from spiffs"),
        (["--board", "mongoose-os-esp32", "--profile", "esp-idf"], "profile mongoose-os"),
        (["--board", "nope-board"], "unknown board"),
        (["--fs", "spiffs", "--profile", "esp-idf"], "Error: --size is required without --board"),
    ],
)
def test_pack_board_refusals_write_nothing(
    runner: CliRunner, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "fs.bin"
    code, text = pack(runner, *args, "--bundle", str(X1), "--at", AT, "-o", str(out))
    assert code == 2 and message in text, text
    assert not out.exists()


def test_pack_from_dir_reads_within_its_cap(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file larger than any partition is refused before it is read (a sparse 129 MiB
    file costs no memory), and so are files that together pass the cap; nothing is
    written."""
    src = tmp_path / "data"
    src.mkdir()
    with (src / "huge.bin").open("wb") as f:
        f.truncate(129 << 20)
    out = tmp_path / "fs.bin"
    args = ["--fs", "littlefs", "--profile", "esp-idf", "--size", "64K", "--bundle", str(X1)]
    code, text = pack(runner, *args, "--from-dir", str(src), "-o", str(out))
    assert code == 2, text
    assert "huge.bin: packed file is 129 MiB, over the 128 MiB limit for packed files" in text
    assert not out.exists()
    (src / "huge.bin").unlink()
    (src / "a.bin").write_bytes(b"a" * 600)
    (src / "b.bin").write_bytes(b"b" * 600)
    import esp_cabundle.fs.dirfiles as dirfiles

    monkeypatch.setattr(dirfiles, "MAX_PACK_INPUT", 1024)
    code, text = pack(runner, *args, "--from-dir", str(src), "-o", str(out))
    assert code == 2 and "--from-dir input is 1,200 bytes, over the 1 KiB limit" in text, text
    assert not out.exists()


@pytest.mark.parametrize(
    ("fs_type", "profile", "other"),
    [
        # a SPIFFS pack loads neither LittleFS's modules nor littlefs-python
        ("spiffs", "esp-idf", ("littlefs", "esp_cabundle.fs.littlefs", "esp_cabundle.fs.lfs_")),
        # and a LittleFS pack none of SPIFFS's engine
        ("littlefs", "esp-idf", ("esp_cabundle.fs.spiffs",)),
    ],
)
def test_pack_imports_only_its_file_system(
    tmp_path: Path, fs_type: str, profile: str, other: tuple[str, ...]
) -> None:
    (tmp_path / "ca.pem").write_bytes(X1.read_bytes())
    # no partition table is read for a new image either
    heavy = (*other, "esp_cabundle.partitions", "esp_cabundle.flash", "esptool")
    argv = ["pack", "-q", "--fs", fs_type, "--profile", profile, "--size", "64K"]
    argv += ["--bundle", "ca.pem", "--at", AT, "-o", "fs.bin"]
    r = run_command_without(argv, heavy, tmp_path)
    assert r.returncode == 0, r.stderr
    assert open_image((tmp_path / "fs.bin").read_bytes()).fs_type == fs_type
