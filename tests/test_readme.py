"""README.md stays true: every command of its ```sh blocks runs, in order, as shown, in
one scratch directory (a copy of examples/ plus what commands marked ``# needs network``
would have left there), with the clock pinned; ``--port`` commands reach virtual ESP32
units; the ```yaml blocks parse as cabundle.yaml; each troubleshooting row's diagnosis
runs and exits as the row says.

Not run: lines marked ``# needs network`` (pip installs from PyPI, live ``--host``
captures, ``chains pull``), and ``python -m pytest`` lines, which name parts of this very
suite: those are collected (the files exist and import) rather than run again.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.doc_commands import (
    EXAMPLES,
    MDASH_KEY,
    NETWORK_MARK,
    REPO,
    TODAY,
    BackgroundUnits,
    Command,
    FleetStandIns,
    Outcome,
    UnitPool,
    command,
    copy_examples,
    fenced_blocks,
    freeze_clock,
    markdown_commands,
    run_command,
    unsaid,
    uses_port,
)

from esp_cabundle.config import parse_config

README = REPO / "README.md"
# What a network step would leave behind: (path in the scratch directory, stand-in).
NETWORK_STANDINS = {
    "fleet/chains/mdash.net.pem": EXAMPLES / "chains" / "letsencrypt-2024-short.pem",
}
_CD = re.compile(r"^(?:(?P<before>.*?)\s*&&\s*)?cd (?P<dir>\S+)$")


def prepare(scratch: Path) -> None:
    copy_examples(scratch / "examples")
    for rel, src in NETWORK_STANDINS.items():
        (scratch / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, scratch / rel)


def needs_network(text: str) -> bool:
    return "pip install" in text or "--host" in text or "chains pull" in text


def run_pytest_line(cmd: Command) -> None:
    """Collect, do not run, the tests a README line names (they run in this suite)."""
    argv = cmd.argv
    files = [a for a in argv if a.endswith(".py")]
    assert files, cmd.source
    for f in files:
        assert (REPO / f).is_file(), f"{cmd.source}: {f} does not exist"
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert p.returncode == 0, f"{cmd.source}: collection failed\n{p.stdout}\n{p.stderr}"


def run_in_order(
    cmds: list[Command],
    scratch: Path,
    ports: Callable[[str], str],
    unavailable: Callable[[str], bool] = lambda text: False,
    background: BackgroundUnits | None = None,
) -> tuple[list[Command], list[Command]]:
    """Run every command; returns (run, skipped)."""
    cwd = scratch
    ran, skipped = [], []
    for cmd in cmds:
        if cmd.network or unavailable(cmd.text):
            skipped.append(cmd)
            continue
        if background is not None and background.start(cmd, cwd):
            assert not cmd.says, f"{cmd.source}: a background line's output is not read"
            ran.append(cmd)
            continue
        if re.match(r"^python3? -m pytest\b", cmd.text):
            assert not cmd.says, f"{cmd.source}: a pytest line is collected, not run"
            run_pytest_line(cmd)
            ran.append(cmd)
            continue
        m = _CD.match(cmd.text.split("#", 1)[0].strip())
        if m:
            assert not cmd.says, f"{cmd.source}: a cd line's output is not read"
            if m.group("before"):
                out = run_command(command(m.group("before"), cmd.source), cwd)
                assert out.code == 0, out.describe(cmd)
            cwd = (cwd / m.group("dir")).resolve()
            assert cwd.is_dir(), f"{cmd.source}: no directory {cwd}"
            ran.append(cmd)
            continue
        out = run_command(cmd, cwd, ports=ports)
        assert out.code == cmd.expect, out.describe(cmd)
        wrong = unsaid(cmd, out)
        assert wrong is None, wrong
        ran.append(cmd)
    assert cwd == scratch.resolve(), "a block changed directory without coming back"
    return ran, skipped


def troubleshooting_rows(markdown: str) -> list[tuple[str, Command]]:
    """(symptom, diagnosis) of each row of the Troubleshooting table: the first
    esp-cabundle code span of the last cell, expected to exit 1 when the cell says so."""
    section = markdown.split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
    rows = []
    for n, line in enumerate(section.splitlines()):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or set(cells[0]) <= {"-"} or cells[0].startswith("What"):
            continue
        m = re.search(r"`(esp-cabundle [^`]+)`(?P<after>[^`]*)", cells[-1])
        assert m, f"troubleshooting row without an esp-cabundle command: {cells[0]}"
        expect = 1 if re.match(r"\s*exits 1\b", m.group("after")) else 0
        rows.append((cells[0], Command(m.group(1), f"README.md: Troubleshooting row {n}", expect)))
    return rows


@pytest.mark.timeout(600)
def test_readme_commands_run_as_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, virtual_esp32: Callable[..., Any]
) -> None:
    freeze_clock(monkeypatch)
    # flash/restore journal under XDG_STATE_HOME: keep them out of the real home.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    scratch = tmp_path / "work"
    scratch.mkdir()
    prepare(scratch)
    cmds = markdown_commands(README)
    pool = UnitPool(virtual_esp32)
    # push commands reach the mDash stand-in, a mosquitto and LAN units on 127.0.0.1
    monkeypatch.setenv("MDASH_API_KEY", MDASH_KEY)
    fleet = FleetStandIns()
    units = BackgroundUnits(fleet.broker)
    try:
        ran, skipped = run_in_order(
            cmds, scratch, lambda t: fleet(pool(units(t))), fleet.unavailable, units
        )
    finally:
        fleet.close()
        units.close()
    assert fleet.used >= {"mdash", "rpc"}
    # the bench section's rehearsal unit, and the push rehearsal's (MQTT ones need
    # mosquitto): over MQTT, HTTP and behind the virtual mDash
    assert units.started >= (4 if fleet.used >= {"mqtt"} else 3)
    assert len(ran) > 40, len(ran)
    assert sum(bool(c.says) for c in ran) >= 20  # lines whose printed text was checked
    # The marks are honest: exactly the lines that need the network are skipped.
    for c in cmds:
        assert c.network == needs_network(c.text), f"{c.source}: `{c.text}`"
    assert {c.argv[0] for c in skipped} <= {"python3", "esp-cabundle"}
    assert (scratch / "fleet" / "cabundle-campaign.db").is_file()  # the mDash campaign ran
    assert pool.used >= 2  # the Arduino and the Mongoose OS units both served commands
    assert any(uses_port(c.text) for c in ran)

    text = README.read_text()
    rows = troubleshooting_rows(text)
    assert len(rows) >= 5
    for symptom, cmd in rows:
        out = run_command(cmd, scratch)
        assert out.code == cmd.expect, f"{symptom}\n" + out.describe(cmd)
    symptoms = " ".join(s for s, _ in rows)
    for needle in ("-0x2700", "0xffffd900", "-0x3000", "BADCERT_FUTURE", "Mongoose OS"):
        assert needle in symptoms, needle


def test_a_comment_after_an_arrow_is_text_the_command_must_print() -> None:
    """``# exit 1 => A ... B``: exit 1, and A then B in the output, white space loose."""
    cmd = command("esp-cabundle x --y   # exit 1 => CA: 5 roots ... until 2035", "R:1")
    assert cmd.expect == 1 and cmd.says == ("CA: 5 roots", "until 2035")
    assert unsaid(cmd, Outcome(1, "", "CA: 5\n  roots, accepted until 2035")) is None
    missing = unsaid(cmd, Outcome(1, "CA: 5 roots", "accepted until 2036"))
    assert missing is not None and "R:1: `esp-cabundle x --y" in missing
    assert "does not print 'until 2035'\n" in missing
    backwards = unsaid(cmd, Outcome(1, "until 2035, CA: 5 roots", ""))
    assert backwards is not None and "'until 2035' after the text before it" in backwards
    assert unsaid(cmd, Outcome(1, "until 2035", "CA: 5 roots")) is None  # stderr first
    prose = command("esp-cabundle x   # what it shows", "R:2")
    assert prose.says == () and unsaid(prose, Outcome(0, "", "")) is None


def test_readme_yaml_blocks_are_valid_configs(tmp_path: Path) -> None:
    blocks = fenced_blocks(README.read_text(), "yaml")
    assert len(blocks) >= 2
    for line, block in blocks:
        try:
            parse_config(block, path=tmp_path / "cabundle.yaml")
        except Exception as e:  # pragma: no cover - the message is the point
            pytest.fail(f"README.md:{line}: yaml block is not a valid cabundle.yaml: {e}")


def test_readme_starts_with_the_two_setup_commands() -> None:
    first, second = fenced_blocks(README.read_text())[:2]
    assert "pip install . && esp-cabundle build" in first[1]
    assert "pip install '.[test]' && python -m pytest" in second[1]


_CI_VALUES = {"$3": "1/1"}  # run_version's --shard "$3"


def test_test_commands_print_pytest_summary_line() -> None:
    """Every pytest command README and .ci/run give, with its own options (and
    pyproject's addopts) on one quick test, ends with pytest's summary line: a doubled
    ``-q`` (one in addopts, one on the line) would hide it."""
    lines = [c.text for c in markdown_commands(README) if "-m pytest" in c.text]
    ci = (REPO / ".ci" / "run").read_text()
    lines += [ln for ln in ci.splitlines() if re.match(r'\s*"?[^\s"]*python"? -m pytest\b', ln)]
    assert len(lines) >= 3, lines
    for text in lines:
        argv = shlex.split(text.split("&&")[-1], comments=True)
        argv = argv[argv.index("pytest") + 1 :]
        argv = argv[: argv.index("||")] if "||" in argv else argv
        opts = [a for a in argv if not a.endswith(".py")]  # its options, not its files
        # .ci/run's shell variables, as the script fills them (part K of N of the suite)
        opts = [_CI_VALUES.get(a, a) for a in opts]
        assert not [a for a in opts if "$" in a], f"{text!r}: a variable this test cannot fill"
        p = subprocess.run(
            [sys.executable, "-m", "pytest", *opts, "-p", "no:cacheprovider",
             "tests/test_text.py::test_plural"],
            cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert p.returncode == 0, p.stdout + p.stderr
        last = p.stdout.strip().splitlines()[-1]
        assert re.search(r"\b1 passed in ", last), f"{text!r} ends with {last!r}"


def test_readme_guide_sections_in_order() -> None:
    heads = [h for h in re.findall(r"^## (.+)$", README.read_text(), re.M)]
    wanted = [
        "Start a project",
        "Which roots should my devices trust?",
        "How is ca.pem made?",
        "Where does it go?",
        "Will my devices still connect?",
        "Update a flash dump without losing settings",
        "Update units on the bench",
        "Update units in the field",
        "Gate CI on it",
        "Troubleshooting",
    ]
    positions = [heads.index(w) for w in wanted]
    assert positions == sorted(positions), heads
    for platform in ("mDash", "Mongoose OS", "ESP-IDF", "Arduino", "PlatformIO"):
        assert f"\n### {platform}\n" in README.read_text(), platform


def test_every_command_mentioned_in_readme_exists() -> None:
    from esp_cabundle.cli import COMMANDS

    for _, block in fenced_blocks(README.read_text()):
        for line in block.splitlines():
            if line.startswith("esp-cabundle "):
                name = shlex.split(line, comments=True)[1]
                assert name in COMMANDS, line


def test_unit_pool_substitutes_ports() -> None:
    """The port substitution itself: layouts by board, the last unit reused, globs."""
    started: list[dict[str, Any]] = []

    class Unit:
        def __init__(self, n: int) -> None:
            self.url = f"socket://127.0.0.1:{5000 + n}"
            self.loaded: list[int] = []

        def load(self, offset: int, data: bytes) -> None:
            self.loaded.append(offset)

    def start(chip: str, **kw: Any) -> Unit:
        started.append(kw)
        return Unit(len(started))

    pool = UnitPool(start)
    a = pool("esp-cabundle flash --port /dev/ttyUSB0 --board mongoose-os-esp32 --bundle ca.pem")
    assert a.endswith("--port socket://127.0.0.1:5001 --board mongoose-os-esp32 --bundle ca.pem")
    assert pool("esp-cabundle restore --port /dev/ttyUSB0") == (
        "esp-cabundle restore --port socket://127.0.0.1:5001"
    )
    b = pool("esp-cabundle read --port /dev/ttyUSB0 --partition spiffs -o s.bin")
    assert "socket://127.0.0.1:5002" in b
    c = pool("esp-cabundle flash -p '/dev/ttyUSB*' --board mdash-arduino --log s.csv")
    assert c == (
        "esp-cabundle flash --port socket://127.0.0.1:5002 --port socket://127.0.0.1:5003 "
        "--board mdash-arduino --log s.csv"
    )
    assert pool("inspect -p COM3 --board mdash-arduino").endswith(
        "127.0.0.1:5004 --board mdash-arduino"
    )
    assert len({kw["mac"] for kw in started}) == len(started) == 4


def _how_blocks_run() -> str:
    """README's own account of how its ``sh`` blocks are run (above the guide)."""
    text = README.read_text()
    start = text.index("The rest of this page is a guide")
    return " ".join(text[start : text.index("\n## ", start)].split())


def test_readme_says_how_its_blocks_run_as_this_test_runs_them() -> None:
    """Each way run_in_order and its helpers depart from running a line literally is in
    README's account, with what this test puts in place of the network (the date, the
    stand-in files, the mDash key variable); and each file that a ``--port`` line saves
    and a later line reads is named there with that line, so a reader without a unit
    knows that line depends on one."""
    said = _how_blocks_run()
    for words in (
        f"clock at {TODAY}",
        "`# exit N`",
        "`# => TEXT`",
        "each part between ` ... `",
        f"`# {NETWORK_MARK}`",
        *(f"`{rel}`" for rel in NETWORK_STANDINS),
        "`/dev/ttyUSB0`, `COM3`",
        "`'/dev/ttyUSB*'` is two ports",
        "`fs_0`/`fs_1`",
        "the unit last used on that port",
        "`esp-cabundle virtual-unit ... &`",
        "`--mdash`",
        "`MDASH_API_KEY`",
        "`mqtt://`",
        "where mosquitto is not installed",
        "`--rpc`",
        "`python -m pytest` lines are collected, not run",
        "[Troubleshooting](#troubleshooting)",
    ):
        assert words in said, words
    made: dict[str, str] = {}
    for c in markdown_commands(README):
        if c.network:
            continue
        argv = shlex.split(c.text, comments=True)
        outs = {argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("-o", "--output")}
        if uses_port(c.text):
            made.update(dict.fromkeys(outs, " ".join(argv[1:])))
            continue
        for a in argv:
            if a in made:
                assert f"`{argv[1]} {a}" in said, f"{c.source}: `{c.text}` is not explained"
                assert f"`{made[a]}`" in said, f"{c.source}: {made[a]} is not named"
        for out in outs:
            made.pop(out, None)
