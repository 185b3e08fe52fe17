"""CI runs every test: with ESP_CABUNDLE_NO_SKIPS=1 (``.ci/run`` sets it) a skipped test
fails the run, naming each test and its reason, unless its reason is one of
:data:`EXPECTED` (a test for another Python version). Every other skip is for a tool
or package missing here (mosquitto, cmake, Chromium, python-mbedtls, ...), which CI
installs: there, a skip means CI lost one and the test silently stopped running."""

from __future__ import annotations

import os

import pytest

ENV = "ESP_CABUNDLE_NO_SKIPS"
# A real permission test where the tests run as root (CI does): root reads and writes
# past any mode. Each such test has a twin that runs as root, the refusal made by a stand-in.
ROOT_READS_ANYTHING = "permission bits do not bind root (a stand-in twin runs as root)"
# Skips that are right in CI too: the test is for another Python version, or the one above.
EXPECTED = frozenset({"pathlib is a package from 3.13 on", ROOT_READS_ANYTHING})

_skipped: list[tuple[str, str]] = []


def skip_reason(report: pytest.TestReport) -> str:
    """The reason a skipped test's report gives, without pytest's 'Skipped: '."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


def unexpected(skipped: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(node, why) for node, why in skipped if why not in EXPECTED]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append((report.nodeid, skip_reason(report)))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get(ENV) != "1":
        return
    bad = unexpected(_skipped)
    if not bad:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    tests = "test" if len(bad) == 1 else "tests"
    lines = [f"{ENV}=1: {len(bad)} skipped {tests} CI should have run:"]
    lines += [f"  {node}: {why}" for node, why in bad]
    if reporter is not None:
        reporter.write_line("\n".join(lines), red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
