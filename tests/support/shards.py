"""``--shard K/N``: run the K-th of N parts of the suite, split by test module.

CI runs the whole suite on its primary Python and, beside it, one part on each other
supported version (``.ci/run``): every test then runs on two versions, not four, which
keeps the run inside its time budget on a two-core machine. A module marked
``pytestmark = pytest.mark.every_python`` (start-up, signals, imports: what differs
between interpreter versions) is in every part. Modules are assigned by a stable hash
of their path, so the same part holds the same tests on every machine.
"""

from __future__ import annotations

import zlib

import pytest


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


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` as (K, N); a usage error otherwise."""
    k, sep, n = text.partition("/")
    if sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n):
        return int(k), int(n)
    raise pytest.UsageError(f"--shard wants K/N with 1 <= K <= N, not {text!r}")


def shard_of(module_path: str, parts: int) -> int:
    """The 1-based part a module belongs to, by its path as the test id writes it (from
    the rootdir: ``tests/test_x.py``)."""
    return zlib.crc32(module_path.replace("\\", "/").encode()) % parts + 1


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    text = config.getoption("--shard")
    if not text:
        return
    k, n = parse_shard(text)
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        if item.get_closest_marker("every_python") or shard_of(module, n) == k:
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
