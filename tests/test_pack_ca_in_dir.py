"""A CA file in ``pack --from-dir`` (tryout item 1): a PlatformIO project's ``data/``
holds the ``ca.pem`` build wrote, and packing that directory with it as --bundle was
refused with a hint to move the CA off the path the board's firmware reads; following
the hint packed a junk ``data/ca.pem`` where the units read their CA, unchecked.

Now a file at the CA path holding the gated bundle's own bytes is left out with a note
(as build leaves its own outputs out of ``from_dir``), any other is refused without
that hint; a --ca-path off the board's is noted; and with the CA moved, any file at the
board's CA path is refused. Nothing is written on a refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle import InputError, load_board, pack_ca
from esp_cabundle.cli import cli
from esp_cabundle.fs import open_image
from tests.support.gated import canonical, gated

BOARD = ["--board", "platformio-esp32"]
CA = Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem"
JUNK = b"junk not a cert\n"


def _files(path: Path) -> dict[str, bytes]:
    image = open_image(path.read_bytes())
    return {f.path: image.read(f.path) for f in image.files()}


def _pack(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(cli, ["pack", *BOARD, "--bundle", "ca.pem", *args])
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture
def project(in_tmp: Path) -> Path:
    """A CA file and data/ holding a file of the firmware's."""
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    (in_tmp / "data").mkdir()
    (in_tmp / "data" / "conf.json").write_text("{}\n")
    return in_tmp


def test_the_ca_pem_build_wrote_into_data_packs(in_tmp: Path, runner: CliRunner) -> None:
    """The tryout's own steps: init for PlatformIO, build (data/ca.pem), pack data/."""
    r = runner.invoke(cli, ["init", *BOARD, "--preset", "letsencrypt", "--yes"])
    assert r.exit_code == 0, r.output
    assert runner.invoke(cli, ["build"]).exit_code == 0
    pem = (in_tmp / "data" / "ca.pem").read_bytes()
    args = ["pack", *BOARD, "--bundle", "data/ca.pem", "--from-dir", "data", "-o", "x.bin"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert _files(in_tmp / "x.bin") == {"/ca.pem": pem}
    assert "note: /ca.pem of the directory: the bundle's own bytes, packed there; left out" in (
        r.stderr
    )
    r = runner.invoke(cli, [*args, "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["notes"] == [
        "/ca.pem of the directory: the bundle's own bytes, packed there; left out"
    ]
    assert doc["files"] == [{"path": "/ca.pem", "size": len(pem)}]


def test_another_ca_pem_in_the_directory_is_refused_without_moving_the_ca(
    project: Path, runner: CliRunner
) -> None:
    (project / "data" / "ca.pem").write_bytes(JUNK)
    code, _, err = _pack(runner, "--from-dir", "data", "-o", "x.bin")
    assert code == 2, err
    assert "a file to pack, /ca.pem, would replace the bundle at /ca.pem; nothing written" in err
    assert "hint: remove data/ca.pem, or, if a build wrote it (before the CA changed" in err
    assert "--ca-path" not in err and "elsewhere" not in err
    assert not (project / "x.bin").exists()


def test_a_stale_ca_pem_names_the_directory_file_and_offers_the_build(
    in_tmp: Path, runner: CliRunner
) -> None:
    """Reviewer item 4: data/ca.pem an earlier build wrote, the CA since changed, was
    refused with "remove /ca.pem from the directory" (the image's path): the hint now
    names data/ca.pem and offers the build that writes it again."""
    r = runner.invoke(cli, ["init", *BOARD, "--preset", "letsencrypt", "--yes"])
    assert r.exit_code == 0, r.output
    assert runner.invoke(cli, ["build"]).exit_code == 0
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())  # another CA than the one built
    before = (in_tmp / "data" / "ca.pem").read_bytes()
    code, _, err = _pack(runner, "--from-dir", "data", "-o", "x.bin")
    assert code == 2, err
    assert "a file to pack, /ca.pem, would replace the bundle at /ca.pem; nothing written" in err
    assert (
        "hint: remove data/ca.pem, or, if a build wrote it (before the CA changed: it holds "
        "other bytes than the gated bundle), run 'esp-cabundle build' to write it again; the "
        "gated bundle goes to /ca.pem, and the units trust what it holds"
    ) in " ".join(err.split())
    assert "from the directory" not in err
    assert not (in_tmp / "x.bin").exists()
    assert (in_tmp / "data" / "ca.pem").read_bytes() == before


def test_a_ca_path_off_the_boards_is_noted(project: Path, runner: CliRunner) -> None:
    code, _, err = _pack(runner, "--from-dir", "data", "--ca-path", "/certs/ca.pem", "-o", "x.bin")
    assert code == 0, err
    note = (
        "the CA goes to /certs/ca.pem, not /ca.pem, where board platformio-esp32's firmware "
        "reads its CA; flash it only to units whose firmware reads /certs/ca.pem"
    )
    assert f"note: {note}" in err
    assert sorted(_files(project / "x.bin")) == ["/certs/ca.pem", "/conf.json"]
    r = runner.invoke(
        cli, ["pack", *BOARD, "--bundle", "ca.pem", "--ca-path", "certs/ca.pem", "-o", "y.bin",
              "--json"]
    )  # fmt: skip
    assert r.exit_code == 0 and json.loads(r.stdout)["notes"] == [note], r.output
    # the board's own path, spelt either way: no note
    for path in ("/ca.pem", "ca.pem"):
        code, _, err = _pack(runner, "--ca-path", path, "-o", "z.bin")
        assert code == 0 and "note:" not in err, err


@pytest.mark.parametrize("content", [JUNK, None], ids=["junk", "the-bundle"])
def test_a_file_where_the_board_reads_is_refused_when_the_ca_moves(
    project: Path, runner: CliRunner, content: bytes | None
) -> None:
    """Any file: even the bundle's bytes there would go unchecked by the next run."""
    ca_pem = canonical(CA.read_bytes())
    (project / "data" / "ca.pem").write_bytes(ca_pem if content is None else content)
    code, _, err = _pack(runner, "--from-dir", "data", "--ca-path", "/certs/ca.pem", "-o", "x.bin")
    assert code == 2, err
    err = " ".join(err.split())
    where = (
        "a file to pack, /ca.pem, is where the board's firmware reads its CA, and the bundle "
        "goes to /certs/ca.pem: "
    )
    if content is None:  # reviewer item 3: those bytes ARE the gated bundle's
        assert (
            f"{where}/ca.pem (data/ca.pem) holds the gated bundle's bytes, so a copy of the "
            "bundle would stay at /ca.pem beside /certs/ca.pem, and the units would go on "
            "trusting it after a CA update rewrites /certs/ca.pem alone; nothing written"
        ) in err
        assert "no gate judged" not in err
        assert "(the copy is then left out)" in err
    else:
        assert f"{where}the units would trust /ca.pem, which no gate judged" in err
    assert "hint: drop --ca-path: the gated bundle then goes to /ca.pem" in err
    assert not (project / "x.bin").exists()


def test_the_library_and_build_refuse_alike(project: Path, runner: CliRunner) -> None:
    """pack_ca and an outputs: entry go through the same check, worded for each."""
    board = load_board("platformio-esp32")
    ca = gated(CA.read_bytes(), board)
    with pytest.raises(InputError, match="is where the board's firmware reads its CA") as e:
        pack_ca(ca, board=board, ca_path="/certs/ca.pem", files=[("/ca.pem", JUNK)])
    assert "drop ca_path=" in (e.value.hint or "")
    same = pack_ca(ca, board=board, files=[("ca.pem", ca.pem), ("/conf.json", b"{}")])
    assert same.notes == (
        "/ca.pem of the directory: the bundle's own bytes, packed there; left out",
    )
    assert same.image.read("/ca.pem") == ca.pem
    (project / "data" / "ca.pem").write_bytes(JUNK)
    (project / "cabundle.yaml").write_text(
        "preset: letsencrypt\noutputs:\n  - {format: littlefs, path: fs.bin, "
        "board: platformio-esp32, ca_path: /certs/ca.pem, from_dir: data}\n"
    )
    r = runner.invoke(cli, ["build"])
    assert r.exit_code == 2, r.output
    assert "is where the board's firmware reads its CA" in r.stderr
    assert "drop ca_path:" in r.stderr
    assert not (project / "fs.bin").exists() and not (project / "cabundle.lock").exists()


def test_build_notes_a_ca_path_off_the_boards_as_pack_does(in_tmp: Path, runner: CliRunner) -> None:
    """Reviewer item 5: an image output naming a board and another ca_path: was built
    without a word, while pack said the CA moved off the path the firmware reads."""
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\noutputs:\n  - {format: littlefs, path: fs.bin, "
        "board: platformio-esp32, ca_path: /certs/ca.pem}\n"
        "  - {format: littlefs, path: same.bin, board: platformio-esp32, ca_path: ca.pem}\n"
    )
    note = (
        "the CA goes to /certs/ca.pem, not /ca.pem, where board platformio-esp32's firmware "
        "reads its CA; flash it only to units whose firmware reads /certs/ca.pem"
    )
    r = runner.invoke(cli, ["build"])
    assert r.exit_code == 0, r.output
    assert r.stderr.count(f"note: {note}") == 1  # the board's own path, spelt ca.pem: none
    assert sorted(_files(in_tmp / "fs.bin")) == ["/certs/ca.pem"]
    r = runner.invoke(cli, ["build", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["notes"] == [note]


def test_build_notes_a_size_off_the_boards_partition_as_pack_does(
    in_tmp: Path, runner: CliRunner
) -> None:
    """An image output naming a board with a size: that is not its partition's was built
    without a word, while pack says it: flashed to the board's partition, it does not
    mount, and a unit that formats on a failed mount loses every file."""
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\noutputs:\n  - {format: littlefs, path: fs.bin, "
        "board: platformio-esp32, size: 256K}\n"
        "  - {format: littlefs, path: same.bin, board: platformio-esp32, size: 1408K}\n"
    )
    r = runner.invoke(cli, ["build", "--json"])
    assert r.exit_code == 0, r.output
    (note,) = json.loads(r.stdout)["notes"]  # the board's own size: none
    assert note.startswith("the image is 256 KiB, not the size of board platformio-esp32's")
    args = ["pack", "--board", "platformio-esp32", "--preset", "letsencrypt", "--size", "256K"]
    r = runner.invoke(cli, [*args, "-o", "p.bin", "--json"])
    assert r.exit_code == 0, r.output
    assert note in json.loads(r.stdout)["notes"]  # pack's words
