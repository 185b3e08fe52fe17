"""Ctrl-C outside a command's work (tester's report, item 15): while click and the
commands are still being imported it is "Interrupted." and exit 130, never a traceback;
after the command has finished and said so, it changes neither the message nor the
exit code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from support.fresh_python import REPO, entry_started, python_child

from esp_cabundle import cli as cli_module

# What differs between interpreters: run on every CI Python (tests/support/shards.py).
pytestmark = pytest.mark.every_python

_BOOM = """
import sys
class Boom:
    def find_spec(self, name, path=None, target=None):
        if name == "click":
            raise KeyboardInterrupt
        return None
sys.meta_path.insert(0, Boom())
from esp_cabundle._entry import main
main(["build", "--no-lock"])
"""


def test_an_interrupt_while_importing_is_interrupted_not_a_traceback(tmp_path: Path) -> None:
    p = python_child(_BOOM, tmp_path)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert err == "Interrupted.\n"
    assert list(tmp_path.iterdir()) == []


# An interrupt that cuts an import short can leave a module half made for the rest of the
# process: on CPython 3.13, ``pathlib`` is a package, and once an interrupt stops it
# between its submodules, importing it again raises NameError ('_abc' is not defined).
# CI met it from a real SIGINT; here the cut is placed on purpose, and the reporter's own
# modules fail as such a half-made import would make them fail.
_HALF_MADE = """
import sys
class Cut:
    cut = False
    def find_spec(self, name, path=None, target=None):
        if name == {cut!r} and not Cut.cut:
            Cut.cut = True
            raise KeyboardInterrupt
        if Cut.cut and name in ("esp_cabundle.ui", "esp_cabundle.text"):
            raise NameError("name '_abc' is not defined")
        return None
sys.meta_path.insert(0, Cut())
from esp_cabundle._entry import main
main({argv!r})
"""


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_an_interrupt_that_leaves_an_import_half_made_is_still_interrupted(
    tmp_path: Path, json_flag: list[str]
) -> None:
    code = _HALF_MADE.format(cut="esp_cabundle.commands.build", argv=["build", *json_flag])
    p = python_child(code, tmp_path)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert err == "Interrupted.\n"
    if json_flag:
        doc = json.loads(out)
        assert doc["ok"] is False and doc["error"] == "interrupted" and doc["exit_code"] == 130
    else:
        assert out == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(sys.version_info < (3, 13), reason="pathlib is a package from 3.13 on")
def test_an_interrupt_inside_pathlib_on_3_13(tmp_path: Path) -> None:
    """The case CI met, with CPython's own pathlib: cut between its two submodules."""
    code = _HALF_MADE.format(cut="pathlib._local", argv=["build", "--json"])
    p = python_child(code, tmp_path)
    out, err = p.communicate(timeout=60)
    assert "Traceback" not in err, err
    assert p.returncode == 130, err
    assert json.loads(out)["error"] == "interrupted"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05, 0.1, 0.2, 0.4])
def test_a_real_sigint_at_start_up(tmp_path: Path, delay: float, sig: signal.Signals) -> None:
    """The signal comes once the entry point runs (a line on stdout says so), then after
    ``delay``: whatever it hits, the outcome is 130 and "Interrupted.", or a finished
    build (exit 0, ca.pem whole) that a late signal leaves as it was."""
    p = entry_started(["build", "--no-lock", "-q"], tmp_path)
    time.sleep(delay)
    p.send_signal(sig)  # SIGTERM (a cancelled CI job), SIGHUP (a closed terminal): Ctrl-C
    _, err = p.communicate(timeout=60)
    assert "Traceback" not in err, err
    if p.returncode == 130:
        assert err.strip().endswith("Interrupted."), err
    else:
        assert p.returncode == 0 and "Interrupted" not in err, err
        assert (tmp_path / "ca.pem").read_bytes().startswith(b"# ISRG Root X1")


def test_an_interrupt_after_the_command_finished_changes_nothing(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    close = click.Context.close

    def late(self: click.Context) -> None:
        close(self)
        if self.parent is None:  # the whole command line, after the command returned
            raise KeyboardInterrupt

    monkeypatch.setattr(click.Context, "close", late)
    assert cli_module.run(["build", "--preset", "letsencrypt", "--no-lock"]) == 0
    out, err = capsys.readouterr()
    assert "Wrote ca.pem" in out and "Interrupted" not in err
    assert (in_tmp / "ca.pem").is_file()


def test_an_interrupt_inside_the_command_is_130(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from esp_cabundle.commands import build as build_cmd

    def stop(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(build_cmd, "build_bundle", stop)
    assert cli_module.run(["build", "--no-lock"]) == 130
    assert capsys.readouterr().err.strip().endswith("Interrupted.")
    assert list(in_tmp.iterdir()) == []


_GC_PROBE = """
import atexit, gc, sys
atexit.register(lambda: print("gc", gc.isenabled(), gc.get_freeze_count() > 0))
sys.argv = ["esp-cabundle", *sys.argv[1:]]
from esp_cabundle._entry import main
main()
"""


@pytest.mark.parametrize(
    "args", [["build", "--preset", "default", "-f", "pem", "-o", "ca.pem"], ["--help"]]
)
def test_the_console_script_collects_again_once_started(tmp_path: Path, args: list[str]) -> None:
    """Collection is off only while click and the command load (their objects frozen
    after): the command itself, however long it runs, collects cycles as usual."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", _GC_PROBE, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "gc True True"


def test_collection_is_released_when_the_command_is_imported() -> None:
    import gc

    gc.disable()
    try:
        cli_module.hold_collection()
        assert not gc.isenabled()
        cli_module.cli.get_command(click.Context(cli_module.cli), "build")
        assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


_LATE = """
import os, signal, time
from esp_cabundle import cli
real, real_run = cli.release_collection, cli.run
ended = []
def run(argv):
    code = real_run(argv)
    ended.append(code)
    return code
def late():
    real()
    if ended:  # the entry point's own call, once the command has ended
        os.kill(os.getpid(), signal.{sig})
        time.sleep(0.05)
cli.release_collection, cli.run = late, run
from esp_cabundle._entry import main
main({argv!r})
"""


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGHUP"])
@pytest.mark.parametrize(
    ("argv", "code"), [(["build", "--no-lock", "-q"], 0), (["build", "--nope"], 2)]
)
def test_a_signal_just_after_the_command_changes_nothing(
    tmp_path: Path, argv: list[str], code: int, sig: str
) -> None:
    """A signal landing just after the command ended (a second Ctrl-C, `timeout` then
    `kill`) used to escape as a traceback while the handlers were being reset. The
    command's own exit code and words stand."""
    p = python_child(_LATE.format(argv=argv, sig=sig), tmp_path)
    _, err = p.communicate(timeout=60)
    assert "Traceback" not in err, err
    assert p.returncode == code, err
    assert "Interrupted" not in err


# CPython 3.11 makes a KeyboardInterrupt raised inside a class body's __set_name__ (a
# dataclass field of a module being imported) into "RuntimeError: Error calling
# __set_name__", caused by it: CI met it from a real SIGINT. Here it is made on purpose.
_CLOTHED = """
import sys
class Clothed:
    def find_spec(self, name, path=None, target=None):
        if name == "esp_cabundle.commands.build":
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as k:
                raise RuntimeError("Error calling __set_name__ on 'Field'") from k
        return None
sys.meta_path.insert(0, Clothed())
from esp_cabundle._entry import main
main(["build", "--no-lock"])
"""


def test_an_interrupt_wrapped_in_another_exception_is_still_interrupted(tmp_path: Path) -> None:
    p = python_child(_CLOTHED, tmp_path)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert err == "Interrupted.\n"
    assert list(tmp_path.iterdir()) == []


def test_a_bug_is_not_taken_for_an_interrupt(tmp_path: Path) -> None:
    """Only an exception caused by an interrupt is one: a plain error keeps its traceback."""
    code = _CLOTHED.replace("raise KeyboardInterrupt", "raise ValueError('a bug')")
    code = code.replace("except KeyboardInterrupt as k", "except ValueError as k")
    p = python_child(code, tmp_path)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 1 and "Traceback" in err and "Interrupted" not in err, err


# Ctrl-C landing in a callback no exception can leave (the import machinery's weakref
# callbacks) is lost, and Python prints "Exception ignored in ...": a real SIGINT met it
# in a stress run. Here a weakref callback raises it while the command is imported.
_UNRAISABLE = """
import sys, weakref
class Lost:
    def find_spec(self, name, path=None, target=None):
        if name == "esp_cabundle.commands.build":
            class A: pass
            a = A()
            def cb(ref): raise KeyboardInterrupt
            Lost.ref = weakref.ref(a, cb)
            del a
        return None
sys.meta_path.insert(0, Lost())
from esp_cabundle._entry import main
main(["build", "--no-lock", "-q"])
"""


def test_an_interrupt_lost_in_a_callback_prints_no_traceback(tmp_path: Path) -> None:
    p = python_child(_UNRAISABLE, tmp_path)
    _, err = p.communicate(timeout=60)
    assert (p.returncode, err) == (0, ""), err  # the build ran as it would have
    assert (tmp_path / "ca.pem").read_bytes().startswith(b"# ISRG Root X1")


_NOHUP = """
import signal
signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup starts it
from esp_cabundle import _entry
import os
os.kill(os.getpid(), signal.SIGHUP)
_entry.main(["build", "--no-lock", "-q"])
"""


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_a_sighup_ignored_from_the_start_stays_ignored(tmp_path: Path) -> None:
    """``nohup esp-cabundle ...`` asks the run to outlive the terminal: a hang-up once
    the entry point's handlers are in place neither stops nor ends it."""
    p = python_child(_NOHUP, tmp_path)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0 and "Interrupted" not in err, err
    assert (tmp_path / "ca.pem").read_bytes().startswith(b"# ISRG Root X1")
