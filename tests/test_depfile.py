"""``build --depfile``: every file a build read, as make, Ninja and CMake read
dependencies, so a change to a saved chain or a root file (not only to cabundle.yaml)
builds again; and cabundle.cmake configures again when one changes."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.doc_commands import child_env, copy_examples, freeze_clock
from support.tools import requires
from support.verify_pki import mint

from esp_cabundle.catalog import Catalog
from esp_cabundle.certs import load_certificates
from esp_cabundle.cli import cli
from esp_cabundle.depfile import is_depfile, render_depfile
from esp_cabundle.errors import InputError
from esp_cabundle.fs import open_image

ALLOW = ("--allow", "expires-before-service-end")  # extra.der: Root YR's cross-sign, to 2032


def _rule(text: str) -> tuple[list[str], list[str]]:
    """(targets, inputs) of a depfile, unescaped as make reads it, each made absolute
    (a name relative to where the build ran, which is where this reads it)."""
    rule = text.partition("\n\n")[0]  # the rule, then -MP's empty ones
    joined = rule.replace("\\\n", " ")
    head, _, tail = joined.partition(": ")

    def words(s: str) -> list[str]:
        out = re.findall(r"(?:\\.|[^\s\\])+", s)
        words = [re.sub(r"\\(.)", r"\1", w).replace("$$", "$") for w in out]
        return [os.path.abspath(w) for w in words]

    return words(head), words(tail)


def test_render_escapes_as_make_reads_and_never_depends_on_a_target(tmp_path: Path) -> None:
    out = tmp_path / "out dir" / "ca.pem"
    odd = tmp_path / "a $HOME #1.pem"
    text = render_depfile([out, out], [odd, out, odd, tmp_path / "x.yaml"]).decode()
    assert "out\\ dir" in text and "a\\ $$HOME\\ \\#1.pem" in text
    targets, inputs = _rule(text)
    assert targets == [str(out)]
    assert inputs == [str(odd), str(tmp_path / "x.yaml")]


def test_a_name_that_is_not_utf8_is_written_as_its_bytes(in_tmp: Path) -> None:
    """As make and Ninja open files: the bytes of the name, not a traceback."""
    name = os.fsdecode(b"r\xff\xe9 1.pem")
    (in_tmp / name).write_bytes(mint("Odd Root").pem)
    argv = ["build", "--root", name, "--allow", "not-ca", "--depfile", "d.d"]
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 0, r.output
    data = (in_tmp / "d.d").read_bytes()
    assert b"\n  r\xff\xe9\\ 1.pem \\\n" in data  # as given: relative
    assert _rule(os.fsdecode(data))[1][0] == str(in_tmp / name)
    # The lock holds the name too (it was a traceback): as a JSON escape, read back whole.
    assert "\\udcff\\udce9 1.pem" in (in_tmp / "cabundle.lock").read_text(encoding="utf-8")
    r = CliRunner().invoke(cli, [*argv[:-2], "--locked"])
    assert r.exit_code == 0, r.output


def test_a_line_break_in_a_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="line break"):
        render_depfile([tmp_path / "ca.pem"], [tmp_path / "bad\nname.pem"])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """examples/esp-idf (a target with a saved chain), plus a root given as a file and a
    SPIFFS image packing a directory; run from inside it."""
    freeze_clock(monkeypatch)
    d = copy_examples(tmp_path / "examples") / "esp-idf"
    (d / "roots").mkdir()
    cert = load_certificates((d.parent / "chains" / "letsencrypt-gen-y-rsa.pem").read_bytes())
    (d / "roots" / "extra.der").write_bytes(cert[-1].der)
    (d / "data").mkdir()
    (d / "data" / "conf.json").write_text("{}")
    cfg = d / "cabundle.yaml"
    text = cfg.read_text().replace("preset: default", "preset: default\nroots: [roots/extra.der]")
    text += "  - {format: spiffs, path: spiffs.bin, profile: esp-idf, size: 64K, from_dir: data}\n"
    cfg.write_text(text)
    monkeypatch.chdir(d)
    return d


def test_build_lists_every_file_it_read(project: Path) -> None:
    r = CliRunner().invoke(cli, ["build", *ALLOW, "--depfile", "deps/ca.d"])
    assert r.exit_code == 0, r.output
    targets, inputs = _rule((project / "deps" / "ca.d").read_text())
    assert targets == [
        str(project / p) for p in ("certs/ca.pem", "fs/ca.pem", "spiffs.bin", "cabundle.lock")
    ]
    store = Catalog.load().store
    assert inputs == [
        str(project / "roots" / "extra.der"),
        str(project / "cabundle.yaml"),
        str(project.parent / "chains" / "letsencrypt-gen-y-rsa.pem"),
        str(project / "data"),
        str(project / "data" / "conf.json"),
        str(store),
        str(Catalog.load().resolve("isrg-root-yr").data_file),  # Gen Y: package data
    ]


@pytest.mark.parametrize("stdout", ["-", "/dev/stdout"])
def test_an_output_on_stdout_is_no_target(in_tmp: Path, stdout: str) -> None:
    """Standard output however named is no file make could rebuild: with every output
    there, the dependency file is the rule's target (``/dev/stdout`` was one)."""
    argv = ["build", "--preset", "letsencrypt", "--no-lock", "-o", stdout, "--depfile", "ca.d"]
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("# ISRG Root X1")
    targets, inputs = _rule((in_tmp / "ca.d").read_text())
    assert targets == [str(in_tmp / "ca.d")]
    catalog = Catalog.load()
    assert inputs == [str(catalog.store), str(catalog.resolve("isrg-root-yr").data_file)]


def test_dry_run_names_the_depfile_and_writes_nothing(project: Path) -> None:
    before = sorted(p for p in project.rglob("*"))
    r = CliRunner().invoke(cli, ["build", *ALLOW, "--dry-run", "--json", "--depfile", "ca.d"])
    assert r.exit_code == 0, r.output
    assert str(Path("ca.d")) in json.loads(r.stdout)["would_write"]
    assert sorted(p for p in project.rglob("*")) == before


@pytest.mark.parametrize("name", ["cabundle.yaml", "certs/ca.pem", "cabundle.lock"])
def test_a_depfile_on_a_file_the_build_uses_is_refused(project: Path, name: str) -> None:
    (project / "certs").mkdir(exist_ok=True)
    (project / "certs" / "ca.pem").write_text("old")
    (project / "cabundle.lock").write_text("old lock")
    kept = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    r = CliRunner().invoke(cli, ["build", *ALLOW, "--depfile", name])
    assert r.exit_code == 2, r.output
    assert "names a file the build reads or writes; nothing written" in r.stderr
    assert {p: p.read_bytes() for p in project.rglob("*") if p.is_file()} == kept


@pytest.mark.parametrize("name", ["x/../certs/ca.pem", "x/../cabundle.lock"])
def test_a_depfile_naming_an_output_yet_to_be_made_another_way_is_refused(
    project: Path, name: str
) -> None:
    """Compared as files, not names: before an output exists, x/../certs/ca.pem is it,
    and the dependency file written over it would be all the bundle there is."""
    (project / "cabundle.lock").unlink()  # a first build: no output exists yet
    r = CliRunner().invoke(cli, ["build", *ALLOW, "--depfile", name])
    assert r.exit_code == 2, r.output
    assert "names a file the build reads or writes; nothing written" in r.stderr
    assert not (project / "certs").exists() and not (project / "cabundle.lock").exists()


def test_the_label_filter_is_an_input_no_file_may_replace(project: Path) -> None:
    csv = project / "authorities.csv"
    csv.write_text("Owner,Common Name or Certificate Name\nISRG,ISRG Root X1\n")
    kept = csv.read_bytes()
    base = ["build", *ALLOW, "--idf-filter", str(csv.name), "-f", "idf-bundle"]
    for more in (["-o", "b.bin", "--depfile", csv.name], ["-o", csv.name]):
        r = CliRunner().invoke(cli, [*base, *more])
        assert r.exit_code == 2, r.output
        assert "nothing written" in r.stderr and csv.read_bytes() == kept
        assert not (project / "b.bin").exists()
    r = CliRunner().invoke(cli, [*base, "-o", "b.bin", "--depfile", "ca.d"])
    assert r.exit_code == 0, r.output
    assert str(csv) in _rule((project / "ca.d").read_text())[1]


def test_a_depfile_in_from_dir_is_left_out_of_the_image_as_outputs_are(project: Path) -> None:
    """The second build must not pack the first one's dependency file (and then refuse
    it as a file it reads); a file of the user's there is still never replaced."""
    for _ in range(2):
        r = CliRunner().invoke(cli, ["build", *ALLOW, "--depfile", "data/ca.d"])
        assert r.exit_code == 0, r.output
    image = open_image((project / "spiffs.bin").read_bytes())
    assert sorted(f.path for f in image.files()) == ["/ca.pem", "/conf.json"]
    assert "data/ca.d: the dependency file of this run" in r.stderr
    r = CliRunner().invoke(cli, ["build", *ALLOW, "--depfile", "data/conf.json"])
    assert r.exit_code == 2 and "names a file the build reads" in r.stderr, r.output
    assert (project / "data" / "conf.json").read_text() == "{}"


def test_a_refused_build_writes_no_depfile(project: Path) -> None:
    r = CliRunner().invoke(cli, ["build", "--depfile", "ca.d"])  # extra.der ends in 2032
    assert r.exit_code == 1, r.output
    assert not (project / "ca.d").exists() and not (project / "certs").exists()


@requires("cmake")
def test_cmake_configures_again_when_a_saved_chain_changes(tmp_path: Path) -> None:
    """cabundle_generate runs at configure time: a chain saved again (chains pull) must
    run it again, or the firmware keeps a CA judged against the old chain."""
    d = copy_examples(tmp_path / "examples") / "esp-idf"
    (d / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.16)\n"
        "include(${CMAKE_CURRENT_LIST_DIR}/cabundle.cmake)\n"
        "cabundle_generate(${CMAKE_CURRENT_LIST_DIR}/cabundle.yaml)\n"
        "get_property(deps DIRECTORY PROPERTY CMAKE_CONFIGURE_DEPENDS)\n"
        'message(STATUS "deps=${deps}")\n'
        "project(depfile_test NONE)\n"
        "add_custom_target(app ALL COMMAND ${CMAKE_COMMAND} -E echo app)\n"
    )
    build, env = tmp_path / "b", child_env()

    def cmake(*args: str) -> str:
        p = subprocess.run(
            ["cmake", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=tmp_path,  # above the project: the depfile names its files relative to here
        )
        assert p.returncode == 0, p.stdout + p.stderr
        return p.stdout + p.stderr

    out = cmake("-S", str(d), "-B", str(build))
    deps = next(line for line in out.splitlines() if "deps=" in line).split("=", 1)[1]
    # The files read, not the empty rules after them ("cabundle.yaml:").
    assert str(d / "cabundle.yaml") in deps.split(";")
    assert not [p for p in deps.split(";") if p.endswith(":")], deps
    assert "Configuring done" not in cmake("--build", str(build))  # nothing changed
    chain = d.parent / "chains" / "letsencrypt-gen-y-rsa.pem"
    chain.write_bytes(chain.read_bytes() + b"\n")
    assert "Configuring done" in cmake("--build", str(build))


@requires("make")
def test_make_sees_the_inputs_of_the_outputs_as_they_were_named(in_tmp: Path) -> None:
    """make matches a rule by its target's name: a depfile naming /abs/ca.pem adds no
    input to the Makefile's ca.pem. Named as given, a root file touched makes ca.pem
    out of date (make -q: 1), and nothing touched leaves it up to date (0)."""
    (in_tmp / "root.pem").write_bytes(mint("Make Root").pem)
    argv = ["build", "--root", "root.pem", "--allow", "not-ca", "--depfile", "ca.d"]
    assert CliRunner().invoke(cli, argv).exit_code == 0
    assert (in_tmp / "ca.d").read_text().startswith("ca.pem cabundle.lock: \\\n")
    (in_tmp / "Makefile").write_text("ca.pem:\n\t@echo build again\n-include ca.d\n")

    def question() -> int:
        return subprocess.run(["make", "-q", "ca.pem"], cwd=in_tmp, check=False).returncode

    assert question() == 0
    later = (in_tmp / "ca.pem").stat().st_mtime + 60
    os.utime(in_tmp / "root.pem", (later, later))
    assert question() == 1


def test_a_chains_folder_waiting_for_a_chain_and_from_dir_folders_are_listed(
    project: Path,
) -> None:
    """A target with no chain saved yet: its first ``chains pull`` adds a file to
    chains/, which must build again; so must a file added in a folder of from_dir."""
    cfg = project / "cabundle.yaml"
    cfg.write_text(
        cfg.read_text().replace("targets:\n", "targets:\n  - {name: new, host: n.test}\n")
    )
    (project / "chains").mkdir()
    (project / "data" / "sub").mkdir()
    (project / "data" / "sub" / "x.json").write_text("{}")
    r = CliRunner().invoke(cli, ["build", *ALLOW, "--no-check", "--depfile", "ca.d"])
    assert r.exit_code == 0, r.output
    inputs = _rule((project / "ca.d").read_text())[1]
    assert str(project / "chains") in inputs
    assert str(project / "data" / "sub") in inputs
    assert str(project / "data" / "sub" / "x.json") in inputs


@requires("make")
@pytest.mark.parametrize("where", ["found", "sub", "absolute"])
def test_make_rebuilds_a_configs_outputs_when_its_root_file_changes(
    in_tmp: Path, where: str
) -> None:
    """A config found by searching (or given as an absolute path) holds absolute paths;
    the depfile still names its outputs and root file as the Makefile does
    (``data/ca.pem``, not ``/tmp/.../data/ca.pem``), or make never sees the root change."""
    d = in_tmp if where == "found" else in_tmp / "sub"
    d.mkdir(exist_ok=True)
    (d / "myroot.pem").write_bytes(mint("Make Root").pem)
    (d / "cabundle.yaml").write_text(
        "roots: [myroot.pem]\nallow: [not-ca]\noutputs:\n"
        "  - {format: pem, path: data/ca.pem}\n  - {format: c, path: include/ca_pem.h}\n"
    )
    config = {"found": [], "sub": ["-c", "sub/cabundle.yaml"]}.get(where)
    argv = ["build", *(["-c", str(d / "cabundle.yaml")] if config is None else config)]
    prefix = "" if where == "found" else "sub/"
    r = CliRunner().invoke(cli, [*argv, "--depfile", "build/ca.d"])
    assert r.exit_code == 0, r.output
    targets, _ = (in_tmp / "build" / "ca.d").read_text().split(":", 1)
    assert targets == f"{prefix}data/ca.pem {prefix}include/ca_pem.h {prefix}cabundle.lock"
    (in_tmp / "Makefile").write_text(
        f"{prefix}data/ca.pem: {prefix}cabundle.yaml\n\t@echo rebuilt\n-include build/ca.d\n"
    )

    def make() -> str:
        argv = ["make", f"{prefix}data/ca.pem"]
        return subprocess.run(argv, cwd=in_tmp, capture_output=True, text=True, check=True).stdout

    assert "rebuilt" not in make()  # up to date: the build just wrote it
    later = (d / "data" / "ca.pem").stat().st_mtime + 60
    os.utime(d / "myroot.pem", (later, later))
    assert "rebuilt" in make()


def test_a_file_reached_through_a_symlinked_directory_is_named_below_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The working directory is the resolved one (os.getcwd); a config given through a
    symlink to it (``-c /link/cabundle.yaml``) gave absolute names make never matched."""
    real = tmp_path / "real"
    (real / "data").mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    monkeypatch.chdir(link)  # os.getcwd() says .../real
    text = render_depfile([link / "data" / "ca.pem"], [link / "root.pem"]).decode()
    assert text.split() == ["data/ca.pem:", "\\", "root.pem", "root.pem:"], text
    outside = tmp_path / "elsewhere.pem"  # outside the build's directory: absolute still
    assert str(outside) in render_depfile([link / "x.pem"], [outside]).decode().split()


def test_each_input_gets_an_empty_rule_escaped_as_it_is_listed(tmp_path: Path) -> None:
    """As ``gcc -MP``: one empty rule per input, none for a target."""
    odd = tmp_path / "a $HOME #1.pem"
    text = render_depfile([tmp_path / "ca.pem"], [odd, tmp_path / "x.yaml"]).decode()
    phony = text.partition("\n\n")[2]
    assert phony.split("\n\n") == [f"{tmp_path}/a\\ $$HOME\\ \\#1.pem:", f"{tmp_path}/x.yaml:\n"]
    assert is_depfile(text.encode())


@requires("make")
def test_make_builds_again_after_a_root_file_is_renamed(in_tmp: Path) -> None:
    """``mv myca.pem fleetroot.pem`` and the config edited to match: make said "No rule
    to make target 'myca.pem'" until the depfile had an empty rule for each input."""
    (in_tmp / "myca.pem").write_bytes(mint("Make Root").pem)
    cfg = in_tmp / "cabundle.yaml"
    cfg.write_text(
        "roots: [myca.pem]\nallow: [not-ca]\noutputs:\n  - {format: pem, path: ca.pem}\n"
    )
    (in_tmp / "Makefile").write_text(
        "ca.pem: cabundle.yaml\n\tesp-cabundle build --depfile ca.d -q\n-include ca.d\n"
    )
    env = child_env()

    def make() -> subprocess.CompletedProcess[str]:
        argv = ["make", "ca.pem"]
        return subprocess.run(argv, cwd=in_tmp, env=env, capture_output=True, text=True)

    first = make()
    assert first.returncode == 0, first.stdout + first.stderr
    assert "\nmyca.pem:\n" in (in_tmp / "ca.d").read_text()
    (in_tmp / "myca.pem").rename(in_tmp / "fleetroot.pem")
    cfg.write_text(cfg.read_text().replace("myca.pem", "fleetroot.pem"))
    again = make()
    assert again.returncode == 0, again.stdout + again.stderr
    assert "esp-cabundle build" in again.stdout
    assert "fleetroot.pem" in (in_tmp / "ca.d").read_text()


def test_a_package_root_lists_the_package_file_it_came_from(in_tmp: Path) -> None:
    """Gen Y is not in certifi: its copy is package data, and an esp-cabundle upgrade
    that changes it must build again."""
    argv = ["build", "--root", "isrg-root-yr", "--no-lock", "-o", "ca.pem"]
    r = CliRunner().invoke(cli, [*argv, "--depfile", "ca.d"])
    assert r.exit_code == 0, r.output
    inputs = _rule((in_tmp / "ca.d").read_text())[1]
    catalog = Catalog.load()
    entry = catalog.resolve("isrg-root-yr")
    assert entry.source == "package" and entry.data_file is not None
    assert inputs == [str(catalog.store), str(entry.data_file)]
    x1 = ["build", "--root", "isrg-root-x1", "--no-lock", "-o", "x.pem", "--depfile", "x.d"]
    r = CliRunner().invoke(cli, x1)  # in certifi: the Mozilla store only
    assert r.exit_code == 0, r.output
    assert _rule((in_tmp / "x.d").read_text())[1] == [str(catalog.store)]


@requires("make")
def test_make_is_done_after_a_build_that_wrote_into_its_from_dir(in_tmp: Path) -> None:
    """Tryout item 2: data/ca.pem renamed into data/ (an image's from_dir, listed as an
    input) left the directory newer than it, and make ran the build every time. The
    outputs written are stamped once all are in place; a file added there still builds."""
    (in_tmp / "data").mkdir()
    (in_tmp / "data" / "conf.json").write_text("{}\n")
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\noutputs:\n  - {format: pem, path: data/ca.pem}\n"
        "  - {format: littlefs, path: littlefs.bin, board: platformio-esp32, from_dir: data}\n"
        "  - {format: pem, path: main/ca.pem}\n"
    )
    (in_tmp / "Makefile").write_text(
        "data/ca.pem: cabundle.yaml\n\tesp-cabundle build --quiet --depfile build/ca.d\n"
        "-include build/ca.d\n"
    )

    def make() -> str:
        p = subprocess.run(
            ["make"], cwd=in_tmp, env=child_env(), capture_output=True, text=True, timeout=120,
            check=True,
        )  # fmt: skip
        return p.stdout

    assert "esp-cabundle build" in make()
    assert str(in_tmp / "data") in _rule((in_tmp / "build" / "ca.d").read_text())[1]
    ca = in_tmp / "data" / "ca.pem"
    assert ca.stat().st_mtime_ns >= (in_tmp / "data").stat().st_mtime_ns
    assert "'data/ca.pem' is up to date" in make()
    firmware_ca = (in_tmp / "main" / "ca.pem").stat().st_mtime_ns
    (in_tmp / "data" / "new.json").write_text("{}\n")
    assert "esp-cabundle build" in make()
    assert "/new.json" in [
        f.path for f in open_image((in_tmp / "littlefs.bin").read_bytes()).files()
    ]
    # Reviewer item 1: data/ca.pem held its bytes (left unchanged), and data/ stayed newer
    # than it: every later make ran the build again. It is stamped, as data/ is read.
    out = make()
    assert "esp-cabundle build" not in out
    assert "'data/ca.pem' is up to date" in out
    # an output left unchanged elsewhere keeps its mtime: firmware including it not rebuilt
    assert (in_tmp / "main" / "ca.pem").stat().st_mtime_ns == firmware_ca


@requires("ninja")
@pytest.mark.parametrize("restat", [True, False])
def test_ninja_restat_stops_the_build_after_an_input_that_changes_no_output(
    in_tmp: Path, restat: bool
) -> None:
    """README: an output that already holds its bytes is left as it was, so an input
    edited without changing the outputs makes make run the build each time; Ninja's
    ``restat = 1`` stops that: one run, then "no work to do". Without it, every run builds
    again (which shows this test can tell the two apart)."""
    (in_tmp / "myroot.pem").write_bytes(mint("Ninja Root").pem)
    cfg = in_tmp / "cabundle.yaml"
    cfg.write_text(
        "roots: [myroot.pem]\nallow: [not-ca]\noutputs:\n  - {format: pem, path: ca.pem}\n"
    )
    (in_tmp / "build.ninja").write_text(
        "rule cabundle\n"
        "  command = esp-cabundle build --depfile ca.d -q\n"
        "  depfile = ca.d\n"
        "  deps = gcc\n"
        + ("  restat = 1\n" if restat else "")
        + "build ca.pem cabundle.lock: cabundle cabundle.yaml\n"
    )
    env = child_env()

    def ninja() -> str:
        p = subprocess.run(["ninja"], cwd=in_tmp, env=env, capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
        return p.stdout

    assert "esp-cabundle build" in ninja()
    assert "no work to do" in ninja()
    before = (in_tmp / "ca.pem").read_bytes(), (in_tmp / "ca.pem").stat().st_mtime_ns
    cfg.write_text(cfg.read_text() + "# a comment: the outputs stay as they were\n")
    later = (in_tmp / "ca.pem").stat().st_mtime + 60
    os.utime(cfg, (later, later))
    assert "esp-cabundle build" in ninja()  # the input changed: one run
    after = (in_tmp / "ca.pem").read_bytes(), (in_tmp / "ca.pem").stat().st_mtime_ns
    assert after == before  # which wrote nothing
    second = ninja()
    if restat:
        assert "no work to do" in second
    else:
        assert "esp-cabundle build" in second
