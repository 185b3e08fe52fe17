"""A command run in a fresh interpreter, to see which modules it imports: the test
process has imported everything already, so only a child shows what a user pays for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Literal

_ENTRIES = {
    "console script": "    from esp_cabundle.cli import main\n    main()\n",
    "python -m": "    import runpy\n    runpy.run_module('esp_cabundle', run_name='__main__')\n",
}


def run_command_without(
    argv: list[str],
    heavy: tuple[str, ...],
    cwd: Path,
    *,
    entry: Literal["console script", "python -m"] = "console script",
) -> subprocess.CompletedProcess[str]:
    """``esp-cabundle *argv`` in a child interpreter started through ``entry``; the child
    exits non-zero (its stderr says why) unless the command exits 0 and imported none of
    the ``heavy`` packages or modules, nor anything below them."""
    code = (
        f"import sys\nsys.argv = ['esp-cabundle', *{argv!r}]\ntry:\n{_ENTRIES[entry]}"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        f"loaded = [m for m in sys.modules for h in {heavy!r} if (m + '.').startswith(h + '.')]\n"
        "assert not loaded, loaded\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=120
    )


REPO = Path(__file__).resolve().parents[2]


def python_child(code: str, cwd: Path) -> subprocess.Popen[str]:
    """``python -c code`` in ``cwd``, importing this checkout, its pipes open."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def entry_started(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    """``esp-cabundle *argv`` through its entry point, returned once that is imported
    (its handlers set): a signal sent before would meet the interpreter's start-up."""
    code = (
        f"import os\nfrom esp_cabundle._entry import main\nos.write(1, b'R\\n')\nmain({argv!r})\n"
    )
    p = python_child(code, cwd)
    assert p.stdout is not None and p.stdout.readline() == "R\n"
    return p
