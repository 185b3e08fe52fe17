"""``--shard K/N`` (tests/support/shards.py), which CI's other Python versions run: the
parts together are the whole suite, no test is in two of them, and the every_python
modules are in all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.shards import WEIGHTS, parse_shard, read_weights, shard_of, split, weigh

SUPPORT = Path(__file__).resolve().parent
REPO = SUPPORT.parent


def _collect(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "support.shards", "-p", "no:cacheprovider",
         "--collect-only", "-q", "--rootdir", str(folder), str(folder), *args],
        capture_output=True,
        text=True,
        cwd=folder,
        env={"PYTHONPATH": str(SUPPORT), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )  # fmt: skip


def _ids(r: subprocess.CompletedProcess[str]) -> set[str]:
    assert r.returncode == 0, r.stdout + r.stderr
    return {line for line in r.stdout.splitlines() if "::" in line}


def test_the_parts_make_the_whole_suite_once(tmp_path: Path) -> None:
    for i in range(12):
        (tmp_path / f"test_m{i}.py").write_text(
            "".join(f"def test_{j}():\n    pass\n" for j in range(3))
        )
    (tmp_path / "test_start.py").write_text(
        "import pytest\npytestmark = pytest.mark.every_python\ndef test_s():\n    pass\n"
    )
    (tmp_path / "test_sweep.py").write_text(
        "import pytest\n@pytest.mark.one_python\ndef test_all():\n    pass\n"
        "def test_one():\n    pass\n"
    )
    whole = _ids(_collect(tmp_path))
    assert len(whole) == 39
    parts = [_ids(_collect(tmp_path, "--shard", f"{k}/3")) for k in (1, 2, 3)]
    every = {i for i in whole if i.startswith("test_start.py")}
    assert every and all(every <= p for p in parts)
    sweep = {"test_sweep.py::test_all"}  # on the whole run's Python only
    assert sweep <= whole and not any(sweep & p for p in parts)
    rest = [p - every for p in parts]
    assert set().union(*rest) == whole - every - sweep
    assert sum(len(p) for p in rest) == len(whole - every - sweep)  # no test in two parts
    assert all(rest), "a part with no module of its own"
    # A module's tests stay together (one module's fixtures set up once).
    for p in rest:
        modules = {i.split("::")[0] for i in p}
        assert all(all(i in p for i in whole - sweep if i.startswith(m + "::")) for m in modules)


@pytest.mark.parametrize("bad", ["0/3", "4/3", "3", "a/b", "1/0", "-1/2"])
def test_a_bad_part_is_a_usage_error(tmp_path: Path, bad: str) -> None:
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    r = _collect(tmp_path, f"--shard={bad}")
    assert r.returncode == 4, r.stdout + r.stderr
    assert "--shard wants K/N with 1 <= K <= N" in r.stderr
    with pytest.raises(pytest.UsageError):
        parse_shard(bad)


def test_a_module_is_in_the_same_part_on_every_machine() -> None:
    """The split is by the weights file and each path as the test id writes it
    (tests/test_x.py), not by which files a run names or a hash salted per process."""
    weights = read_weights(WEIGHTS.read_text(encoding="utf-8"))
    modules = sorted(str(p.relative_to(REPO)) for p in (REPO / "tests").glob("test_*.py"))
    whole = split(modules, 3, weights)
    assert shard_of("tests/test_build.py", 3) == shard_of("tests\\test_build.py", 3)
    assert whole == split(reversed(modules), 3, weights)
    assert all(shard_of(m, 3) == whole[m] for m in modules[::17])
    assert set(whole.values()) == {1, 2, 3}


@pytest.mark.parametrize("parts", [2, 3, 4])
def test_the_parts_take_about_the_same_time(parts: int) -> None:
    """CI waits for its slowest part: by the weights, no part is heavier than the
    lightest by more than the heaviest module (split by a hash of the path, CI's three
    parts once took 512, 398 and 287 s)."""
    weights = read_weights(WEIGHTS.read_text(encoding="utf-8"))
    assert len(weights) > 300 and all(m.startswith("tests/test_") for m in weights)
    load = [0.0] * parts
    for module, k in split(weights, parts, weights).items():
        load[k - 1] += weights[module]
    assert max(load) - min(load) <= max(weights.values()), load


def test_the_weights_are_read_from_a_durations_report() -> None:
    report = """\
============================= slowest durations ==============================
2.50s call     tests/test_a.py::test_x[1-2]
0.50s setup    tests/test_a.py::test_y
1.00s call     tests/test_b.py::test_z
0.00s teardown tests/test_b.py::test_z
"""
    text = weigh(report)
    assert text.splitlines()[1:] == ["3.0 tests/test_a.py", "1.0 tests/test_b.py"]
    assert read_weights(text) == {"tests/test_a.py": 3.0, "tests/test_b.py": 1.0}
    # a module the weights lack goes by its path's CRC-32, the others as they were
    both = split(["tests/test_c.py"], 2, read_weights(text))
    assert both == {"tests/test_a.py": 1, "tests/test_b.py": 2, "tests/test_c.py": 1}
