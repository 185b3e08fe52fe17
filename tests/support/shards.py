"""``--shard K/N``: run the K-th of N parts of the suite, split by test module.

CI runs the whole suite on its primary Python and, beside it, one part on each other
supported version (``.ci/run``): every test then runs on two versions, not four, which
keeps the run inside its time budget on a two-core machine. A module marked
``pytestmark = pytest.mark.every_python`` (start-up, signals, imports: what differs
between interpreter versions) is in every part. A test marked ``one_python`` is in none:
an exhaustive sweep of the suite's own code (a cut after every write, every hostile input
under tracemalloc) runs whole on the primary, and the other versions meet the same code
in the rest of the suite; CI's CPU is two runs of the suite on two cores.

CI waits for its slowest part, so the parts are cut to take about the same time: each
module weighs the seconds it took (``shard_weights.txt``, from a ``--durations=0`` run),
and the heaviest goes first, each to the lightest part so far; a module the file lacks
(a new one) goes by a hash of its path. So the same module is in the same part on every
machine and whichever files a run names. Refresh the weights when modules come or grow:

    python -m pytest -n 0 -p no:cacheprovider --shard 1/1 --durations=0 --durations-min=0 -q >d.log
    python tests/support/shards.py d.log >tests/support/shard_weights.txt
"""

from __future__ import annotations

import re
import sys
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

WEIGHTS = Path(__file__).with_name("shard_weights.txt")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--shard",
        default=None,
        metavar="K/N",
        help="run only part K of N (1-based), split by module; every_python modules always",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "every_python: in every --shard part (differs between Python versions)"
    )
    config.addinivalue_line(
        "markers", "one_python: in no --shard part (a sweep the whole run makes on one Python)"
    )


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` as (K, N); a usage error otherwise."""
    k, sep, n = text.partition("/")
    if sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n):
        return int(k), int(n)
    raise pytest.UsageError(f"--shard wants K/N with 1 <= K <= N, not {text!r}")


def read_weights(text: str) -> dict[str, float]:
    """``seconds path`` lines (``#`` comments) as {path: seconds}."""
    weights: dict[str, float] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            weights[_path(fields[1])] = float(fields[0])
    return weights


def _path(module: str) -> str:
    """A module's path as the test id writes it (from the rootdir), on any system."""
    return module.replace("\\", "/")


def split(modules: Iterable[str], parts: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Each module's 1-based part. Those the weights name: heaviest first, each to the
    lightest part so far (the lower part on a tie; ties between modules by path). Any
    other: by a CRC-32 of its path. No module's part depends on which others a run
    collected, or on a hash salted per process."""
    load = [0.0] * parts
    chosen: dict[str, int] = {}
    for module in sorted(weights, key=lambda m: (-weights[m], m)):
        k = min(range(parts), key=lambda i: (load[i], i))
        load[k] += weights[module]
        chosen[module] = k + 1
    for module in map(_path, modules):
        if module not in chosen:
            chosen[module] = zlib.crc32(module.encode()) % parts + 1
    return chosen


def shard_of(module: str, parts: int, weights: Mapping[str, float] | None = None) -> int:
    """The 1-based part a module belongs to (by the weights file unless given)."""
    if weights is None:
        weights = read_weights(WEIGHTS.read_text(encoding="utf-8"))
    return split([module], parts, weights)[_path(module)]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    text = config.getoption("--shard")
    if not text:
        return
    k, n = parse_shard(text)
    weights = read_weights(WEIGHTS.read_text(encoding="utf-8"))
    part = split((item.nodeid.split("::", 1)[0] for item in items), n, weights)
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        module = _path(item.nodeid.split("::", 1)[0])
        if item.get_closest_marker("one_python"):
            drop.append(item)
        elif item.get_closest_marker("every_python") or part[module] == k:
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


_DURATION = re.compile(r"^([0-9.]+)s (?:setup|call|teardown)\s+([^:\s]+\.py)::", re.M)


def weigh(durations: str) -> str:
    """The weights file's text from a ``--durations=0`` report: each module's seconds."""
    total: dict[str, float] = {}
    for seconds, module in _DURATION.findall(durations):
        total[_path(module)] = total.get(_path(module), 0.0) + float(seconds)
    lines = ["# seconds per test module, for --shard (tests/support/shards.py says how)"]
    lines += [f"{s:.1f} {m}" for m, s in sorted(total.items(), key=lambda x: (-x[1], x[0]))]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(weigh(Path(sys.argv[1]).read_text(encoding="utf-8")))
