"""examples/: every esp-cabundle invocation they contain runs, taken from the files
themselves (Makefile recipes, CMake COMMAND lines, the PlatformIO hook's COMMANDS, the
workflow's run: steps, each README's ```sh blocks), in a scratch copy, offline, with the
clock pinned; plus the real tools where they exist (make, cmake, a C++ compiler). The CI
workflow's steps are run in test_examples_ci."""

from __future__ import annotations

import ast
import re
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from support.doc_commands import (
    EXAMPLES,
    REPO,
    Command,
    child_env,
    command,
    markdown_commands,
    run_all,
    run_command,
)
from support.tools import requires

from esp_cabundle.certs import load_certificates
from esp_cabundle.config import load_config

EXAMPLE_DIRS = ("make", "esp-idf", "platformio", "mongoose-os", "arduino", "ci")


def test_every_example_has_a_readme_and_a_config() -> None:
    for name in EXAMPLE_DIRS:
        d = EXAMPLES / name
        assert (d / "README.md").is_file(), name
        cfg = load_config(d / "cabundle.yaml")
        assert cfg.outputs, name
        assert cfg.section("targets"), f"{name}: give the example a target with a saved chain"
        for t in cfg.section("targets"):
            assert t.chain_path(cfg.base_dir).is_file(), f"{name}: {t.name} has no saved chain"


# --- make ---------------------------------------------------------------------------------


def makefile_commands(path: Path, targets: tuple[str, ...]) -> list[Command]:
    """The recipe lines of ``targets`` (and their prerequisites, first), with the
    Makefile's own variables expanded."""
    text = path.read_text()
    variables = dict(re.findall(r"^([A-Z_]+)\s*\??:?=\s*(.*?)\s*$", text, re.M))
    rules: dict[str, tuple[list[str], list[tuple[int, str]]]] = {}
    current = None
    for n, line in enumerate(text.splitlines(), start=1):
        m = re.match(r"^([\w.-]+):(?!=)\s*(.*)$", line)
        if m and not line.startswith("\t"):
            current = m.group(1)
            rules[current] = (m.group(2).split(), [])
        elif line.startswith("\t") and current:
            rules[current][1].append((n, line.strip()))
        elif not line.strip():
            current = None

    def expand(s: str) -> str:
        return re.sub(r"\$\((\w+)\)", lambda m: variables[m.group(1)], s)

    out: list[Command] = []
    done: set[str] = set()

    def visit(t: str) -> None:
        if t in done:
            return
        done.add(t)
        deps, recipe = rules[t]
        for d in deps:
            if d in rules:
                visit(d)
        out.extend(command(expand(line), f"{path.name}:{n}") for n, line in recipe)

    for t in targets:
        visit(t)
    return out


def test_make_recipes_run(scratch: Path) -> None:
    d = scratch / "make"
    lock = (d / "cabundle.lock").read_bytes()
    cmds = makefile_commands(d / "Makefile", ("cabundle", "cabundle-check"))
    assert [c.argv[:2] for c in cmds] == [
        ["esp-cabundle", "build"],
        ["esp-cabundle", "build"],
        ["esp-cabundle", "inspect"],
        ["esp-cabundle", "check"],
    ]
    # The gate builds from the committed lock; nothing before it may rewrite the lock.
    gate = makefile_commands(d / "Makefile", ("cabundle-check",))
    assert gate[0].argv[:2] == ["esp-cabundle", "build"] and "--locked" in gate[0].argv
    run_all(cmds, d)
    _check_make_outputs(d)
    assert (d / "cabundle.lock").read_bytes() == lock  # the committed lock is current


def _check_make_outputs(d: Path) -> None:
    build = d / "build"
    certs = load_certificates((build / "ca.pem").read_bytes())
    assert [c.label for c in certs] == [
        "ISRG Root X1", "ISRG Root X2", "Root YR", "Root YE", "Amazon Root CA 1",
    ]  # fmt: skip
    header = (build / "ca_pem.h").read_text()
    assert "const char ca_pem[] =" in header
    assert [c.sha256 for c in load_certificates(header.encode())] == [c.sha256 for c in certs]
    from esp_cabundle.fs import open_image

    image = open_image((build / "spiffs.bin").read_bytes(), fs_type="spiffs")
    # The fleet's partition: Arduino-ESP32 1.0.x default.csv, as the mdash-arduino board.
    from esp_cabundle.boards import load_board

    board = load_board("mdash-arduino")
    assert "board: mdash-arduino" in (d / "cabundle.yaml").read_text()
    assert board.layout is not None
    (spiffs,) = board.fs_partitions(board.layout)
    assert (spiffs.offset, spiffs.size) == (0x291000, 0x16F000)
    assert image.size == spiffs.size
    assert f"0x{spiffs.size:X} bytes at {spiffs.offset:#x}" in (d / "README.md").read_text()
    assert image.read("/ca.pem") == (build / "ca.pem").read_bytes()
    assert "timeline-svg" in (build / "forecast.html").read_text()


@requires("make")
def test_make_target_itself(scratch: Path) -> None:
    d = scratch / "make"
    env = child_env()
    dry = subprocess.run(
        ["make", "-n", "cabundle-check"], cwd=d, env=env, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    # make's own expansion agrees with the recipes the test above ran.
    assert dry.stdout.split("\n")[:-1] == [
        c.text for c in makefile_commands(d / "Makefile", ("cabundle-check",))
    ]
    p = subprocess.run(
        ["make", "cabundle-check"], cwd=d, env=env, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip
    # On a fresh checkout the gate builds every output from the committed lock by itself.
    assert p.returncode == 0, p.stdout + p.stderr
    _check_make_outputs(d)
    # The README's make lines run too (make cabundle, then the gate again).
    lock = (d / "cabundle.lock").read_bytes()
    run_all(markdown_commands(d / "README.md"), d)
    assert (d / "cabundle.lock").read_bytes() == lock
    _check_make_outputs(d)


@requires("make")
def test_make_takes_the_tool_and_the_service_end_from_its_command_line(scratch: Path) -> None:
    """examples/make/README.md: ESP_CABUNDLE and SERVICE_UNTIL can be overridden."""
    p = subprocess.run(
        ["make", "-n", "cabundle-check", "ESP_CABUNDLE=/opt/x/esp-cabundle",
         "SERVICE_UNTIL=2031-03-31"],
        cwd=scratch / "make", env=child_env(), capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    lines = p.stdout.splitlines()
    assert lines and all(line.startswith("/opt/x/esp-cabundle ") for line in lines), lines
    assert any("--until 2031-03-31" in line for line in lines), lines


@requires("make")
def test_make_check_fails_when_the_selection_drifts_from_the_lock(scratch: Path) -> None:
    """The gate cannot pass on drift: a root added to cabundle.yaml (and not yet in the
    committed lock) fails 'make cabundle-check', which leaves lock and outputs alone."""
    d = scratch / "make"
    env = child_env()
    p = subprocess.run(
        ["make", "cabundle"], cwd=d, env=env, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    cfg = d / "cabundle.yaml"
    cfg.write_text(
        cfg.read_text().replace(
            "roots: [amazon-root-ca-1]", "roots: [amazon-root-ca-1, gts-root-r1]"
        )
    )
    before = {f: f.read_bytes() for f in (d / "cabundle.lock", *sorted((d / "build").iterdir()))}
    p = subprocess.run(
        ["make", "cabundle-check"], cwd=d, env=env, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip
    assert p.returncode != 0
    assert "the resolved roots differ from" in p.stderr and "+ GTS Root R1" in p.stderr
    assert {f: f.read_bytes() for f in before} == before


@requires("make")
def test_make_check_fails_on_a_refused_target(scratch: Path) -> None:
    d = scratch / "make"
    cfg = d / "cabundle.yaml"
    cfg.write_text(cfg.read_text().replace("device: mbedtls-noclock", "device: idf-bundle"))
    chain = scratch / "chains" / "letsencrypt-2024-short.pem"
    chain.write_bytes((scratch / "chains" / "letsencrypt-2021-long.pem").read_bytes())
    p = subprocess.run(
        ["make", "cabundle-check"], cwd=d, env=child_env(), capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip
    # build itself refuses: DST Root CA X3 (issuer of the sent cross-sign) is not in the
    # bundle, and ESP-IDF's callback only looks there (-0x3000).
    assert p.returncode != 0
    assert "would break 1 target" in p.stderr and "-0x3000" in p.stderr
    assert not (d / "build" / "ca.pem").exists()


# --- ESP-IDF ------------------------------------------------------------------------------


def cmake_commands(path: Path, config: Path) -> list[Command]:
    """``COMMAND ${ESP_CABUNDLE} ...`` lines of cabundle.cmake, for ``config``."""
    out = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        m = re.search(r"COMMAND \$\{ESP_CABUNDLE\} (.*)$", line)
        if m:
            args = m.group(1).replace("${config}", str(config))
            args = args.replace("${depfile}", str(config.parent / "build" / "cabundle.d"))
            out.append(command(f"esp-cabundle {args}", f"{path.name}:{n}"))
    return out


def test_esp_idf_cmake_commands_and_readme(scratch: Path) -> None:
    d = scratch / "esp-idf"
    cmds = cmake_commands(d / "cabundle.cmake", d / "cabundle.yaml")
    assert len(cmds) == 2
    run_all(cmds, d)
    for p in ("certs/ca.pem", "fs/ca.pem"):
        assert len(load_certificates((d / p).read_bytes())) == 8, p
    run_all(markdown_commands(d / "README.md"), d)
    from esp_cabundle.formats.idf_bundle import detect_bundle_format

    assert detect_bundle_format((d / "x509_crt_bundle.bin").read_bytes()) == "v2"
    sdk = (d / "sdkconfig.defaults").read_text()
    assert 'CONFIG_MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH="certs/ca.pem"' in sdk
    assert any(o.path == d / "certs" / "ca.pem" for o in load_config(d / "cabundle.yaml").outputs)


@requires("cmake")
def test_esp_idf_cmake_project_runs(scratch: Path, tmp_path: Path) -> None:
    """The project CMakeLists.txt with ESP-IDF's two functions stubbed: configuring
    writes the CA files, the cabundle target rewrites them, and the SPIFFS image
    depends on it."""
    d = scratch / "esp-idf"
    for p in ("certs/ca.pem", "fs/ca.pem"):
        assert not (d / p).exists()
    lines = []
    for line in (d / "CMakeLists.txt").read_text().splitlines():
        if "$ENV{IDF_PATH}" in line:
            continue  # ESP-IDF itself
        lines.append(re.sub(r"^project\((\w+)\)", r"project(\1 NONE)", line))
    stub = """
function(spiffs_create_partition_image partition base_dir)
  cmake_parse_arguments(arg "FLASH_IN_PROJECT" "" "DEPENDS" ${ARGN})
  if(NOT TARGET ${arg_DEPENDS})
    message(FATAL_ERROR "image depends on missing target ${arg_DEPENDS}")
  endif()
  add_custom_target(spiffs_${partition}_bin ALL DEPENDS ${arg_DEPENDS}
    COMMAND ${CMAKE_COMMAND} -E copy ${base_dir}/ca.pem ${CMAKE_BINARY_DIR}/image-ca.pem)
endfunction()
"""
    (d / "CMakeLists.txt").write_text(stub + "\n".join(lines) + "\n")
    build = tmp_path / "cmake-build"
    env = child_env()
    cfg = subprocess.run(
        ["cmake", "-S", str(d), "-B", str(build)], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert cfg.returncode == 0, cfg.stdout + cfg.stderr
    assert len(load_certificates((d / "certs" / "ca.pem").read_bytes())) == 8
    (d / "fs" / "ca.pem").unlink()
    b = subprocess.run(
        ["cmake", "--build", str(build)], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert b.returncode == 0, b.stdout + b.stderr
    assert (build / "image-ca.pem").read_bytes() == (d / "fs" / "ca.pem").read_bytes()
    # A refused bundle stops the configure step with esp-cabundle's reason.
    cfg_file = d / "cabundle.yaml"
    cfg_file.write_text(
        cfg_file.read_text().replace("service_until: 2034-12-31", "service_until: 2050-01-01")
    )
    bad = subprocess.run(
        ["cmake", "-S", str(d), "-B", str(tmp_path / "bad")], env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert bad.returncode != 0
    assert "expires 2035-06-04, before the devices' end of service" in bad.stderr + bad.stdout


# --- PlatformIO ---------------------------------------------------------------------------


class FakeSConsEnv:
    """The part of PlatformIO's SCons environment the hook uses."""

    def __init__(self, project: Path) -> None:
        self.project = project

    def subst(self, s: str) -> str:
        assert s == "$PROJECT_DIR", s
        return str(self.project)

    def Exit(self, code: int) -> None:  # SCons' name
        raise SystemExit(code)


def _run_hook(d: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in child_env().items():
        monkeypatch.setenv(k, v)
    runpy.run_path(
        str(d / "cabundle_pre.py"),
        init_globals={"Import": lambda *names: None, "env": FakeSConsEnv(d)},
    )


def test_platformio_hook_runs_its_commands(
    scratch: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    d = scratch / "platformio"
    ini = (d / "platformio.ini").read_text()
    assert "extra_scripts = pre:cabundle_pre.py" in ini
    tree = ast.parse((d / "cabundle_pre.py").read_text())
    (listed,) = [
        ast.literal_eval(n.value)
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "COMMANDS"
    ]
    run_all([command(" ".join(["esp-cabundle", *a]), "cabundle_pre.py") for a in listed], d)
    (d / "data" / "ca.pem").unlink()
    (d / "include" / "ca_pem.h").unlink()
    _run_hook(d, monkeypatch)  # the hook itself, as PlatformIO runs it
    assert "esp-cabundle build -c cabundle.yaml --quiet" in capfd.readouterr().out
    assert len(load_certificates((d / "data" / "ca.pem").read_bytes())) == 8
    assert "const char ca_pem[]" in (d / "include" / "ca_pem.h").read_text()
    run_all(markdown_commands(d / "README.md"), d)
    from esp_cabundle.fs import open_image

    image = open_image((d / "littlefs.bin").read_bytes(), fs_type="littlefs")
    assert image.read("/ca.pem") == (d / "data" / "ca.pem").read_bytes()
    # README: mklittlefs' parameters for the default table's 1408 KiB partition
    facts = image.describe()
    assert (facts["block size"], facts["disk version"]) == (4096, "2.0"), facts
    assert image.size == 1408 * 1024
    assert "platformio" in [p.name for p in image.candidates]  # as mklittlefs writes


def test_platformio_hook_stops_the_build_on_a_refused_bundle(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = scratch / "platformio"
    cfg = d / "cabundle.yaml"
    cfg.write_text(cfg.read_text().replace("preset: default", "preset: aws-iot"))
    with pytest.raises(SystemExit) as e:
        _run_hook(d, monkeypatch)
    assert e.value.code == 1
    assert not (d / "data" / "ca.pem").exists()
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SystemExit):
        runpy.run_path(
            str(d / "cabundle_pre.py"),
            init_globals={"Import": lambda *names: None, "env": FakeSConsEnv(d)},
        )


# --- Mongoose OS --------------------------------------------------------------------------


def test_mongoose_os_fs_and_mos_yml(scratch: Path) -> None:
    from support.dumps import mongoose_dump

    d = scratch / "mongoose-os"
    (d / "dump.bin").write_bytes(mongoose_dump())
    run_all(markdown_commands(d / "README.md"), d)
    mos = yaml.safe_load((d / "mos.yml").read_text())
    assert "fs" in mos["filesystem"]
    pem_outputs = [o for o in load_config(d / "cabundle.yaml").outputs if o.format == "pem"]
    assert [o.path.relative_to(d).as_posix() for o in pem_outputs] == ["fs/ca.pem"]
    for key, value in mos["config_schema"]:
        assert key.endswith(".ssl_ca_cert") and value == "ca.pem"
    assert not any("ca-bundle" in lib["origin"] for lib in mos["libs"])
    text = (d / "fs" / "ca.pem").read_bytes()
    assert max(len(line) for line in text.splitlines()) < 127
    # update-dump replaced /ca.pem in both fs_0 and fs_1 and kept conf9.json.
    from esp_cabundle.fs import open_image

    new = (d / "new.bin").read_bytes()
    old = (d / "dump.bin").read_bytes()
    for offset in (0x190000, 0x350000):
        before = open_image(old[offset : offset + 0x40000], fs_type="littlefs")
        after = open_image(new[offset : offset + 0x40000], fs_type="littlefs")
        assert after.read("/ca.pem") == text
        assert after.read("/conf9.json") == before.read("/conf9.json")
    assert new[:0x190000] == old[:0x190000]


# --- Arduino ------------------------------------------------------------------------------

ARDUINO_STUBS = {
    "Arduino.h": "#include <stdio.h>\n#include <stddef.h>\nvoid delay(unsigned long);\n",
    "WiFi.h": """#include "Arduino.h"
enum { WL_CONNECTED = 3 };
struct WiFiClass { void begin(const char *, const char *); int status(); };
extern WiFiClass WiFi;
struct SerialClass { void begin(long); void println(const char *);
  int printf(const char *, ...); };
extern SerialClass Serial;
""",
    "WiFiClientSecure.h": """#include "Arduino.h"
struct WiFiClientSecure { void setCACert(const char *rootCA); int connect(const char *, int);
  void stop(); int lastError(char *buf, const size_t size); };
""",
}


def test_arduino_header_and_sketch(scratch: Path, tmp_path: Path) -> None:
    d = scratch / "arduino"
    run_all(markdown_commands(d / "README.md"), d)
    header = (d / "cabundle_client" / "ca_pem.h").read_text()
    (name,) = re.findall(r"const char (\w+)\[\] =", header)
    sketch = (d / "cabundle_client" / "cabundle_client.ino").read_text()
    assert '#include "ca_pem.h"' in sketch and f"setCACert({name})" in sketch
    assert len(load_certificates(header.encode())) == 5
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        pytest.skip("no C++ compiler: the sketch was checked textually only")
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for fname, text in ARDUINO_STUBS.items():
        (stubs / fname).write_text(text)
    src = tmp_path / "sketch.cpp"
    src.write_text('#include "Arduino.h"\n' + sketch)
    p = subprocess.run(
        [compiler, "-fsyntax-only", "-Wall", "-Werror", "-I", str(stubs),
         "-I", str(d / "cabundle_client"), "-x", "c++", str(src)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr


# --- every README in examples/ ------------------------------------------------------------


def test_every_example_file_is_read_by_a_test() -> None:
    """No committed example file holds commands the tests above do not read."""
    read_by_tests = {
        "Makefile", "cabundle.cmake", "cabundle_pre.py", "cabundle.yml", "README.md",
        "cabundle.yaml", "CMakeLists.txt", "mos.yml", "platformio.ini", "sdkconfig.defaults",
        "cabundle_client.ino", ".gitignore", "partitions.csv", "cabundle.lock",
    }  # fmt: skip
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: cannot tell committed files from build outputs")
    p = subprocess.run(
        ["git", "ls-files", "examples"], cwd=REPO, capture_output=True, text=True,
        timeout=30, check=True,
    )  # fmt: skip
    files = [Path(f) for f in p.stdout.splitlines()]
    assert Path("examples/make/Makefile") in files
    for f in files:
        if "chains" not in f.parts and f.name not in read_by_tests:
            pytest.fail(f"{f}: not read by tests/test_examples*.py")


def test_chains_readme(scratch: Path) -> None:
    """examples/chains/README.md's commands run from the repository root."""
    root = scratch.parent
    out = run_command(command("esp-cabundle build", "setup"), root)
    assert out.code == 0, out.stderr
    run_all(markdown_commands(EXAMPLES / "chains" / "README.md"), root)
