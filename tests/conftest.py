"""Shared fixtures. Test data lives in tests/data (copied from the vendors' vectors)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from os import listdir as os_listdir
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"

if str(TESTS.parent) not in sys.path:
    sys.path.insert(0, str(TESTS.parent))

pytest_plugins = [
    "support.shards",  # --shard K/N, for CI's other Python versions
    "support.no_skips",  # ESP_CABUNDLE_NO_SKIPS=1 (CI): a skipped test fails the run
]


@pytest.fixture(autouse=True)
def _no_secrets_carried_over() -> Iterator[None]:
    """Each test is a session of its own: secrets a command remembered (for masking)
    do not mask the next test's output."""
    yield
    from esp_cabundle.redact import forget

    forget()


@pytest.fixture(autouse=True)
def _no_terminal_width_carried_over(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables fit COLUMNS when it is set (esp_cabundle.ui.table_width): a COLUMNS the
    shell running pytest exported would cut the cells tests look for. A test that
    wants a width sets it."""
    monkeypatch.delenv("COLUMNS", raising=False)


# What the test tools themselves keep where pytest runs (hypothesis's example database).
_TOOL_DIRS = {".hypothesis", ".pytest_cache", "__pycache__"}


@pytest.fixture(autouse=True)
def _nothing_left_in_the_working_directory() -> Iterator[None]:
    """A test writes only under its own temporary directories: a command run without
    ``-o`` or a chdir lands its default outputs (ca.pem, cabundle.lock) where pytest
    runs, a checkout. Such a test fails, naming the files, which are removed."""
    cwd = Path.cwd()
    before = set(os_listdir(cwd))
    yield
    stray = sorted(set(os_listdir(cwd)) - before - _TOOL_DIRS)
    for name in stray:
        path = cwd / name
        if path.is_file() or path.is_symlink():
            path.unlink()
    assert not stray, f"the test left {', '.join(stray)} in the working directory"


@pytest.fixture
def stand_in(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``stand_in(units)`` starts an mDash stand-in taking the test module's ``KEY``
    (MDASH_API_KEY holds it); every one started is closed after the test."""
    from support.fleet_links import MdashStandIn, started

    key = request.module.KEY
    monkeypatch.setenv("MDASH_API_KEY", key)
    with started(lambda units: MdashStandIn(units, key)) as start:
        yield start


@pytest.fixture
def start_unit() -> Iterator[Any]:
    """``start_unit(*args, cwd=None)``: ``esp-cabundle virtual-unit ARGS`` as a child
    process (support.doc_commands.UnitProcess); any left running is killed after the test."""
    from support.doc_commands import UnitProcess
    from support.fleet_links import started

    with started(UnitProcess) as start:
        yield start


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections through the test: bound, never listening.
    One bound and let go could be taken meanwhile by a server of a parallel run."""
    from support.fleet_links import refusing_ports  # deferred: as the fixtures above

    with refusing_ports() as port:
        yield port()


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of examples/ (the examples refer to ../chains), clock pinned."""
    from support.doc_commands import copy_examples, freeze_clock

    freeze_clock(monkeypatch)
    return copy_examples(tmp_path / "examples")


@pytest.fixture
def virtual_esp32() -> Iterator[Callable[..., Any]]:
    """Start virtual ESP32 units (esp_cabundle.virtual) on 127.0.0.1; all stop at the end.

    ``unit = virtual_esp32("esp32s3", flash_size=8 << 20)``; connect to ``unit.url``.
    A unit whose server thread hit an unexpected exception fails the test.
    """
    from esp_cabundle.virtual import VirtualESP32

    units: list[VirtualESP32] = []

    def start(*args: Any, **kwargs: Any) -> VirtualESP32:
        unit = VirtualESP32(*args, **kwargs).start()
        units.append(unit)
        return unit

    yield start
    for unit in units:
        unit.stop()
    errors = [e for unit in units for e in unit.errors]
    assert not errors, f"virtual ESP32 server errors: {errors!r}"


@pytest.fixture
def mongoose_unit(virtual_esp32: Callable[..., Any]) -> Any:
    """A virtual ESP32 holding the Mongoose OS layout (LittleFS 2.0 in fs_0 and fs_1)."""
    from support.layouts import load_mongoose

    unit = virtual_esp32("esp32")
    load_mongoose(unit)
    return unit


@pytest.fixture
def arduino_unit(virtual_esp32: Callable[..., Any]) -> Any:
    """A virtual ESP32 holding the Arduino-ESP32 layout (mDash-style SPIFFS)."""
    from support.layouts import load_arduino

    unit = virtual_esp32("esp32")
    load_arduino(unit)
    return unit


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[Any]:
    """Debian's mosquitto on 127.0.0.1 (a free port, a temporary config), for the
    session; tests skip with the reason when the binary is absent (.ci/run installs it)."""
    yield from _own_mosquitto()


@pytest.fixture
def broker() -> Iterator[Any]:
    """A broker of the test's own, for a test that stops or kills it (the session's
    :func:`mosquitto` is shared: it must not stop)."""
    yield from _own_mosquitto()


def _own_mosquitto() -> Iterator[Any]:
    from support.fleet_links import Mosquitto, mosquitto_binary

    if mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    with Mosquitto() as b:
        yield b


@pytest.fixture
def mdash(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, list[Any]]]:
    """The mDash stand-in with two units (dev1 answers, dev2 is silent), its key
    (support.fleet_links.MDASH_KEY) in MDASH_API_KEY: the push CLI tests' fleet."""
    from support.fleet import mdash_unit
    from support.fleet_links import MDASH_KEY, MdashStandIn

    units = [mdash_unit("dev1"), mdash_unit("dev2", silent=True)]
    stand_in = MdashStandIn(units, MDASH_KEY)
    monkeypatch.setenv("MDASH_API_KEY", MDASH_KEY)
    yield stand_in, units
    stand_in.close()
