"""Every benchmark README.md names runs, at its smallest size, to the end: exit 0 and its
figure lines printed (the figures' values are the benchmark's to report, not asserted
here). README's speed and memory figures come from these scripts, so one that stopped
running (bench_parsers failed at import for a while unnoticed) would leave them unmeasured.
bench_vendor needs an ESP-IDF checkout: without one it says it skipped and exits 0.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from esp_cabundle.errors import EspCabundleError

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"

FIGURE = r"[\d.]+ MB +[\d.]+ s +peak +[\d.]+ MB +"  # bench_parsers: size, time, peak memory

# Each script: its smallest arguments and the lines (regular expressions) it must print.
RUNS: dict[str, tuple[list[str], list[str]]] = {
    "bench_parsers.py": (
        ["--quick"],
        [
            r"^C source:$",
            rf"^  30,000 literals \+ a PEM +{FIGURE}ok$",
            rf"^  byte array, 15 MB +{FIGURE}refused: .*over the 4 MiB",
            r"^YAML and JSON:$",
            rf"^  billion laughs +{FIGURE}refused: ",
            rf"^  100,000-deep lock file +{FIGURE}refused: ",
            r"^Flash dumps \(partition-table search\):$",
            rf"^  16 MiB, table at 0xf00000 +{FIGURE}ok$",
            r"^PEM, 1,010 certificates:$",
            rf"^  report +{FIGURE}ok$",
            rf"^  table \(summed up\) +{FIGURE}ok$",
            rf"^  table --all +{FIGURE}ok$",
            rf"^  --json \(streamed\) +{FIGURE}ok$",
            r"^  by status: [\d,]+ ok; [\d,]+ EXPIRED$",
            r"^ESP-IDF bundle, 1,010 roots:$",
            r"^  by status: [\d,]+ no dates \(bundle\)$",
            rf"^  4,097 roots +{FIGURE}refused: .*too large to read",
        ],
    ),
    "bench_flash.py": (
        ["--quick"],
        [
            r"^Mongoose OS fs_0 .*: replace ca.pem \(\d+ bytes\)",
            r"^  (flash|full write|careful) +[\d,]+B +[\d,]+B +\d+ +\d+ +[\d,]+B +[\d.]+s$",
            r"^  flash: \d+ sector\(s\) erased per partition .*, [\d.]+% of the careful .*, "
            r"\d+x faster modeled",
            r"^  counting the connection for both: [\d.]+%",
        ],
    ),
    "bench_inspect_memory.py": (
        ["--sizes", "1M", "--pack", "1M"],
        [
            r"^interpreter and CLI alone: \d+ MB peak RSS$",
            r"^inspect +1 MiB +\d+ MB +[\d.]+ +[\d.-]+ +[\d.]+ s$",
            r"^pack --from-dir +1 MiB +\d+ MB +[\d.]+ +[\d.-]+ +[\d.]+ s$",
        ],
    ),
    "bench_push.py": (
        ["--units", "20", "--offline", "5", "--status-units", "1000"],
        [
            r"^campaign: [\d.]+ s, [\d.]+ units/s$",
            r"^RPC frames per unit: [\d,]+ bytes",
            r"^ledger: [\d,]+ bytes \(\d+ per unit\)$",
            r"^verified on the units \(images mounted, every file checked\): 20$",
            r"^goal >= 50 units/s: .*; every unit verified: True$",
            r"^offline fleet: 5 silent ids .*: [\d.]+ s; states ",
            r"^  status \(text\) +[\d.]+ s, peak +\d+ MB",
            r"^  status --json +[\d.]+ s, peak +\d+ MB",
            r"^  status --csv +[\d.]+ s, peak +\d+ MB",
        ],
    ),
    "bench_fs_memory.py": (
        ["--littlefs", "1M", "--spiffs", "1M"],
        [r"^interpreter and CLI alone: \d+ MB peak RSS$"]
        + [
            rf"^{fs} +1\.0 MiB +{verb} +\d+ MB +[\d.]+ +[\d.-]+$"
            for fs in ("littlefs", "spiffs")
            for verb in ("fs put", "fs rm", "fs ls", "inspect")
        ],
    ),
    # Not in README; without IDF_PATH (removed below) it documents a skip and exit 0.
    "bench_vendor.py": ([], [r"^skipped: set IDF_PATH \(or --idf-path\) to an ESP-IDF checkout"]),
}


def run(script: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("IDF_PATH", "COLUMNS")}
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_benchmark_readme_names_is_run_here() -> None:
    named = set(re.findall(r"benchmarks/(\w+\.py)", (ROOT / "README.md").read_text()))
    assert named and named <= set(RUNS), f"add to RUNS: {sorted(named - set(RUNS))}"
    assert all((BENCHMARKS / script).is_file() for script in RUNS)


@pytest.mark.parametrize("script", sorted(RUNS))
def test_a_benchmark_runs_and_prints_its_figures(script: str) -> None:
    args, figures = RUNS[script]
    p = run(script, args)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    missing = [f for f in figures if not any(re.search(f, line) for line in lines)]
    assert not missing, f"{script} did not print {missing}:\n{p.stdout}"


def _bench_parsers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_parsers", BENCHMARKS / "bench_parsers.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _refuse() -> None:
    raise EspCabundleError("b: an ESP-IDF certificate bundle (v2) too large to read")


@pytest.mark.parametrize(
    ("fn", "refused", "said"),
    [
        (_refuse, None, "x: expected ok, got refused: b: an ESP-IDF certificate bundle"),
        (lambda: None, "over the 4 MiB", "x: expected refused: ...over the 4 MiB, got ok"),
        (_refuse, "over the 4 MiB", "x: expected refused: ...over the 4 MiB, got refused: b:"),
    ],
    ids=["refused-not-read", "read-not-refused", "refused-for-another-reason"],
)
def test_bench_parsers_stops_on_an_unexpected_outcome(
    fn: Callable[[], Any], refused: str | None, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """It used to time a refusal as if it were the parse (every bundle row was refused)."""
    with pytest.raises(SystemExit) as e:
        _bench_parsers().measure("x", 1, fn, refused)
    assert isinstance(e.value.code, str) and said in e.value.code
    assert capsys.readouterr().out == ""  # no figure printed for it


def test_bench_fs_memory_fails_when_a_command_fails() -> None:
    """A SPIFFS image of 3 KiB cannot be made: named, no figure, exit 1."""
    p = run("bench_fs_memory.py", ["--littlefs", "", "--spiffs", "3K"])
    assert p.returncode == 1
    assert "(pack --fs exited 2:" in p.stdout
    assert "bench_fs_memory: 1 command(s) failed (above); their figures are missing" in p.stderr
    assert not re.search(r"^spiffs ", p.stdout, re.M)
