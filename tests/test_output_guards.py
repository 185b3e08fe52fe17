"""No output replaces what the command reads, nor another output, and a config's outputs
stay in its directory even through symlinks (tester's report, items 2 and 3). Each
refusal is exit 2, names both files, and leaves every file as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.fs import open_image
from tests.support import dumps

DATA = Path(__file__).parent / "data"
R10 = DATA / "letsencrypt" / "2024-r10.pem"
X1 = DATA / "letsencrypt" / "isrgrootx1.pem"


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _refused(runner: CliRunner, args: list[str], directory: Path, *words: str) -> None:
    before = _snapshot(directory)
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert "nothing written" in r.output, r.output
    for w in words:
        assert w in r.output, r.output
    assert _snapshot(directory) == before


@pytest.fixture
def built(in_tmp: Path, runner: CliRunner) -> Path:
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt"])
    assert r.exit_code == 0, r.output
    return in_tmp


def test_build_output_over_the_lock(built: Path, runner: CliRunner) -> None:
    _refused(runner, ["build", "-o", "cabundle.lock"], built, "would replace the lock file")
    _refused(runner, ["build", "--locked", "-o", "cabundle.lock"], built, "lock file")


def test_no_lock_build_output_over_the_lock(built: Path, runner: CliRunner) -> None:
    """--no-lock leaves the project's lock as it is: an output may not replace it either
    (it wrote the PEM over cabundle.lock, exit 0, and the next --locked build failed)."""
    _refused(runner, ["build", "--no-lock", "-o", "cabundle.lock"], built, "lock file")


def test_no_lock_build_output_where_a_lock_would_go(in_tmp: Path, runner: CliRunner) -> None:
    """Nor is a PEM made the project's lock where none exists yet: the next build reads it."""
    _refused(
        runner, ["build", "--preset", "letsencrypt", "--no-lock", "-o", "cabundle.lock"], in_tmp
    )
    assert not (in_tmp / "cabundle.lock").exists()


@pytest.mark.parametrize("path", ["cabundle.lock", "cabundle.yaml", "./sub/../cabundle.yaml"])
def test_config_output_over_the_config_or_lock(built: Path, runner: CliRunner, path: str) -> None:
    (built / "sub").mkdir()
    (built / "cabundle.yaml").write_text(
        f"preset: letsencrypt\noutputs:\n  - {{format: pem, path: {path}}}\n"
    )
    # an error at the output's line (it named only the files)
    _refused(runner, ["build"], built, "cabundle.yaml:3: outputs[0].path: ", "share a path")


@pytest.mark.parametrize(
    ("outputs", "line", "words"),
    [
        ("  - {format: pem, path: ca.pem}\n  - {format: pem, path: ./ca.pem}\n", 4, "outputs[1]"),
        ("  - {format: pem}\n  - pem\n", 4, "outputs[1]: 'ca.pem' is already the path of"),
        ("  - {format: c, path: inc/a.h}\n  - {format: c, path: inc/../inc/a.h}\n", 4, "[0]"),
    ],
)
def test_two_config_outputs_on_one_path_is_an_error_at_the_second(
    built: Path, runner: CliRunner, outputs: str, line: int, words: str
) -> None:
    (built / "cabundle.yaml").write_text(f"preset: letsencrypt\noutputs:\n{outputs}")
    _refused(runner, ["build"], built, f"cabundle.yaml:{line}: ", words, "share a path")


def test_output_over_the_named_config(built: Path, runner: CliRunner) -> None:
    (built / "my.yaml").write_text("preset: letsencrypt\n")
    _refused(runner, ["build", "-c", "my.yaml", "-o", "my.yaml"], built, "config my.yaml")


def test_output_over_a_root_file(built: Path, runner: CliRunner) -> None:
    (built / "x1.pem").write_bytes(X1.read_bytes())
    _refused(runner, ["build", "--root", "x1.pem", "-o", "x1.pem"], built, "root file")


def test_output_over_a_targets_saved_chain(built: Path, runner: CliRunner) -> None:
    (built / "chains").mkdir()
    (built / "chains" / "t.pem").write_bytes(R10.read_bytes())
    (built / "cabundle.yaml").write_text(
        "preset: letsencrypt\ntargets:\n  - {name: t, chain: chains/t.pem}\n"
        "outputs:\n  - {format: pem, path: chains/t.pem}\n"
    )
    _refused(runner, ["build"], built, "saved chain of target 't'")


def test_check_report_over_its_inputs(built: Path, runner: CliRunner) -> None:
    (built / "c.pem").write_bytes(R10.read_bytes())
    base = ["check", "--bundle", "ca.pem", "--chain", "c.pem"]
    _refused(runner, [*base, "--report", "ca.pem"], built, "bundle ca.pem")
    _refused(runner, [*base, "--report", "c.pem"], built, "chain file c.pem")
    os.symlink("ca.pem", built / "link.html")
    _refused(runner, [*base, "--report", "link.html"], built, "bundle ca.pem")


@pytest.mark.parametrize(
    ("report", "words"),
    [
        ("cabundle.lock", "config's lock file"),
        ("x1.pem", "root file named in the config"),
        ("ca_pem.h", "config's c output"),
    ],
)
def test_check_report_over_its_projects_files(
    in_tmp: Path, runner: CliRunner, report: str, words: str
) -> None:
    """In a project, ``check --report`` may not replace the lock, a root file or an
    output the config names, though the check itself reads none of them (the HTML went
    over cabundle.lock, exit 0, and the next ``build --locked`` failed on it)."""
    (in_tmp / "x1.pem").write_bytes(X1.read_bytes())
    (in_tmp / "c.pem").write_bytes(R10.read_bytes())
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\nroots: [x1.pem]\noutputs:\n  - {format: pem, path: ca.pem}\n"
        "  - {format: c, path: ca_pem.h}\n"
    )
    assert runner.invoke(cli, ["build"]).exit_code == 0
    args = ["check", "--chain", "c.pem", "--report", report]
    _refused(runner, args, in_tmp, f"the report {report} would replace the {words}")


def _certs(path: Path) -> list[str]:
    """The PEM blocks of a chain file, without the comments a saved one starts with."""
    text = path.read_text()
    return [b.split("-----END")[0] for b in text.split("-----BEGIN CERTIFICATE-----")[1:]]


@pytest.mark.parametrize(
    ("output", "words"),
    [
        ("cabundle.lock", "config's lock file"),
        ("cabundle.yaml", "config "),  # the config itself
        ("x1.pem", "root file named in the config"),
        ("ca_pem.h", "config's c output"),
    ],
)
def test_chains_show_output_over_its_projects_files(
    in_tmp: Path, runner: CliRunner, output: str, words: str
) -> None:
    """In a project, ``chains show FILE -o cabundle.lock`` saved the chain over the lock
    (or the config, a root file, an output), exit 0, as ``chains pull`` and ``check
    --report`` did until they looked at ``Config.project_files()``."""
    (in_tmp / "x1.pem").write_bytes(X1.read_bytes())
    (in_tmp / "c.pem").write_bytes(R10.read_bytes())
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\nroots: [x1.pem]\noutputs:\n  - {format: c, path: ca_pem.h}\n"
    )
    assert runner.invoke(cli, ["build"]).exit_code == 0
    args = ["chains", "show", "c.pem", "-o", output]
    _refused(runner, args, in_tmp, f"the output {output} would replace the {words}")
    # a chain file of its own is saved as before
    r = runner.invoke(cli, ["chains", "show", "c.pem", "-o", "chains/c.pem"])
    assert r.exit_code == 0, r.output
    assert _certs(in_tmp / "chains" / "c.pem") == _certs(R10)


def test_chains_show_host_over_the_lock_is_refused_before_dialling(
    in_tmp: Path, runner: CliRunner, refused_port: int
) -> None:
    """Refused before the capture: nothing is dialled (the port refuses: dialled, it
    would be exit 3, not 2), as a FILE's clobbering is."""
    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\n")
    (in_tmp / "cabundle.lock").write_text("lock\n")
    args = ["chains", "show", "--host", f"127.0.0.1:{refused_port}", "-o", "cabundle.lock"]
    _refused(runner, args, in_tmp, "would replace the config's lock file")


def test_chains_show_beside_a_broken_config_keeps_off_its_lock(
    in_tmp: Path, runner: CliRunner
) -> None:
    """A config that does not parse is not show's business: its other outputs are
    saved, but its lock and the config itself are still kept."""
    (in_tmp / "c.pem").write_bytes(R10.read_bytes())
    (in_tmp / "cabundle.yaml").write_text("preset: nosuch\n")
    (in_tmp / "cabundle.lock").write_text("lock\n")
    _refused(runner, ["chains", "show", "c.pem", "-o", "cabundle.lock"], in_tmp, "lock file")
    _refused(runner, ["chains", "show", "c.pem", "-o", "cabundle.yaml"], in_tmp, "config")
    r = runner.invoke(cli, ["chains", "show", "c.pem", "-o", "saved.pem"])
    assert r.exit_code == 0, r.output
    assert _certs(in_tmp / "saved.pem") == _certs(R10)


def test_pack_image_over_its_ca(built: Path, runner: CliRunner) -> None:
    base = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "64K"]
    # ca.pem is refused for its name (an image named as a CA: test_output_checks.py)...
    _refused(runner, [*base, "--bundle", "ca.pem", "-o", "ca.pem"], built, "a .pem name")
    # ...a CA file whose name says nothing, for being the CA
    (built / "ca").write_bytes((built / "ca.pem").read_bytes())
    _refused(runner, [*base, "--bundle", "ca", "-o", "ca"], built, "CA file ca")


PACK = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "64K", "--bundle", "ca.pem"]


def _packed(image: Path) -> list[str]:
    return [f.path for f in open_image(image.read_bytes()).files()]


def test_pack_never_packs_its_own_image(built: Path, runner: CliRunner) -> None:
    """An image written inside --from-dir is left out of the next image made from it."""
    (built / "data").mkdir()
    (built / "data" / "conf.json").write_text("{}")
    for _ in range(2):  # the second run finds the first one's image in the tree
        r = runner.invoke(cli, [*PACK, "--from-dir", "data", "-o", "data/fs.bin"])
        assert r.exit_code == 0, r.output
        assert _packed(built / "data" / "fs.bin") == ["/ca.pem", "/conf.json"]


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_pack_never_packs_its_own_image_through_a_link(
    built: Path, runner: CliRunner, link: str
) -> None:
    """The image written outside the tree, a link to it inside: the same file, left out
    with a note (a symbolic link leading out is followed only when asked)."""
    (built / "data").mkdir()
    (built / "data" / "conf.json").write_text("{}")
    args = [*PACK, "--from-dir", "data", "-o", "fs.bin"]
    assert runner.invoke(cli, args).exit_code == 0
    inside = built / "data" / "fs-link.bin"
    if link == "symlink":
        inside.symlink_to(built / "fs.bin")
        args.append("--follow-symlinks")
    else:
        inside.hardlink_to(built / "fs.bin")
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "data/fs-link.bin: the image this run writes (an earlier one); left out" in r.stderr
    assert _packed(built / "fs.bin") == ["/ca.pem", "/conf.json"]


def test_pack_image_over_a_file_it_packs(built: Path, runner: CliRunner) -> None:
    """``-o data/conf.cfg`` (meant: -o fs.bin): the file to pack is not destroyed. (A
    name that says a CA or text file, -o data/conf.cfg, is refused for its name.)"""
    (built / "data").mkdir()
    (built / "data" / "conf.cfg").write_text('{"wifi": "secret"}')
    (built / "data" / "sub").mkdir()
    (built / "data" / "sub" / "x.txt").write_text("x")
    os.symlink("../conf.cfg", built / "data" / "sub" / "link.cfg")
    for out in ("data/conf.cfg", "data/sub/link.cfg", "data/sub/x.txt"):
        _refused(runner, [*PACK, "--from-dir", "data", "-o", out], built, "would replace")
    _refused(
        runner,
        [*PACK, "--from-dir", "data", "-o", "data/conf.cfg"],
        built,
        "the image data/conf.cfg would replace the packed file data/conf.cfg",
    )
    _refused(runner, [*PACK, "--from-dir", "data", "-o", "x.json"], built, "a .json name")


def test_build_never_packs_its_own_image(in_tmp: Path, runner: CliRunner) -> None:
    """An ``outputs:`` image inside its own from_dir: the next build leaves it out (it
    once packed it, and a full partition then failed with 'no space')."""
    (in_tmp / "data").mkdir()
    (in_tmp / "data" / "conf.cfg").write_text("{}")
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\noutputs:\n  - {format: littlefs, path: data/fs.bin, "
        "board: mongoose-os-esp32, from_dir: data}\n"
    )
    for _ in range(2):
        r = runner.invoke(cli, ["build", "-q"])
        assert r.exit_code == 0, r.output
        assert _packed(in_tmp / "data" / "fs.bin") == ["/ca.pem", "/conf.cfg"]
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\noutputs:\n  - {format: littlefs, path: data/conf.cfg, "
        "board: mongoose-os-esp32, from_dir: data}\n"
    )
    _refused(runner, ["build"], in_tmp, "would replace the packed file")


def test_fs_cat_over_its_image(built: Path, runner: CliRunner) -> None:
    r = runner.invoke(
        cli,
        ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "64K",
         "--bundle", "ca.pem", "-o", "fs.bin"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    _refused(runner, ["fs", "cat", "fs.bin", "/ca.pem", "-o", "fs.bin"], built, "image fs.bin")


@pytest.fixture
def dumped(built: Path) -> Path:
    """A whole-flash dump of an mDash Arduino unit, the ca.pem built beside it."""
    (built / "dump.bin").write_bytes(dumps.arduino_dump())
    return built


def test_update_dump_over_its_dump(dumped: Path, runner: CliRunner) -> None:
    """The backup of the unit's flash must survive a mistyped -o."""
    base = ["update-dump", "dump.bin", "--board", "mdash-arduino", "--bundle", "ca.pem"]
    _refused(runner, [*base, "-o", "dump.bin"], dumped, "output dump.bin", "dump dump.bin")
    _refused(runner, [*base, "-o", "./dump.bin", "--json"], dumped, "dump dump.bin")
    os.symlink("dump.bin", dumped / "link.bin")
    _refused(runner, [*base, "-o", "link.bin"], dumped, "dump dump.bin")
    os.link("dump.bin", dumped / "hard.bin")  # a hard link: the same file, another name
    _refused(runner, [*base, "-o", "hard.bin"], dumped, "dump dump.bin")


def test_update_dump_over_its_ca_config_or_board(dumped: Path, runner: CliRunner) -> None:
    base = ["update-dump", "dump.bin", "--board", "mdash-arduino"]
    _refused(runner, [*base, "--bundle", "ca.pem", "-o", "ca.pem"], dumped, "a .pem name")
    (dumped / "ca").write_bytes((dumped / "ca.pem").read_bytes())  # a name that says nothing
    _refused(runner, [*base, "--bundle", "ca", "-o", "ca"], dumped, "CA file ca")
    (dumped / "my.yaml").write_text("preset: letsencrypt\n")
    _refused(runner, [*base, "-c", "my.yaml", "-o", "my.yaml"], dumped, "config my.yaml")
    (dumped / "x1.pem").write_bytes(X1.read_bytes())
    (dumped / "x1").write_bytes(X1.read_bytes())
    _refused(runner, [*base, "--root", "x1.pem", "-o", "x1.pem"], dumped, "a .pem name")
    _refused(runner, [*base, "--root", "x1", "-o", "x1"], dumped, "root file x1")
    board = dumped / "mdash-arduino.yaml"
    board.write_bytes(Path(load_board("mdash-arduino").source).read_bytes())
    args = ["update-dump", "dump.bin", "--board", "mdash-arduino.yaml", "--bundle", "ca.pem"]
    _refused(runner, [*args, "-o", "mdash-arduino.yaml"], dumped, "board file")


def test_pack_image_over_its_board_file(built: Path, runner: CliRunner) -> None:
    board = built / "mdash-arduino.yaml"
    board.write_bytes(Path(load_board("mdash-arduino").source).read_bytes())
    args = ["pack", "--board", "mdash-arduino.yaml", "--bundle", "ca.pem"]
    _refused(runner, [*args, "-o", "mdash-arduino.yaml"], built, "board file")


def test_init_force_over_its_board_file(in_tmp: Path, runner: CliRunner) -> None:
    board = in_tmp / "mdash-arduino.yaml"
    board.write_bytes(Path(load_board("mdash-arduino").source).read_bytes())
    args = ["init", "--board", "mdash-arduino.yaml", "--yes", "--force"]
    _refused(runner, [*args, "-o", "mdash-arduino.yaml"], in_tmp, "board file")


# ---------------------------------------------------------------------------------------
# Symlinks and the project directory


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "project").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    return tmp_path / "project"


def _config(project: Path, path: str) -> None:
    (project / "cabundle.yaml").write_text(
        f"preset: letsencrypt\noutputs:\n  - {{format: pem, path: {path}}}\n"
    )


def test_a_linked_directory_leads_outside(project: Path, runner: CliRunner) -> None:
    elsewhere = project.parent / "elsewhere"
    (project / "sub").mkdir()
    os.symlink(elsewhere, project / "sub" / "link")
    _config(project, "sub/link/x.pem")
    _refused(runner, ["build"], project, "outside the config's directory", str(elsewhere))
    assert list(elsewhere.iterdir()) == []
    r = runner.invoke(cli, ["build", "--allow-outside"])  # told so: written there
    assert r.exit_code == 0 and (elsewhere / "x.pem").is_file(), r.output


@pytest.mark.parametrize("name", ["out.pem", "cabundle.lock"])
def test_a_linked_file_leads_outside(project: Path, runner: CliRunner, name: str) -> None:
    victim = project.parent / "elsewhere" / "victim"
    victim.write_text("precious")
    os.symlink(victim, project / name)
    _config(project, "out.pem")
    _refused(runner, ["build"], project, f"(it leads to {victim})")
    assert victim.read_text() == "precious"
