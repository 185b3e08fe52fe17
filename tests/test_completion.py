"""Shell completion (click's, ``_ESP_CABUNDLE_COMPLETE``) parses the line resiliently:
a mistyped command completes as click's own group does (its options, no error); it
printed the tool's "no such command" error and exited 2 into the user's shell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _complete(words: str, cword: int) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "_ESP_CABUNDLE_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(cword),
    }
    script = Path(sys.executable).parent / "esp-cabundle"  # the console script pip made
    return subprocess.run([script], env=env, capture_output=True, text=True, timeout=60)


def test_a_mistyped_command_completes_nothing_quietly() -> None:
    done = _complete("esp-cabundle buidl --", 2)
    assert done.returncode == 0 and done.stderr == "", done
    # what click offers past a word it does not know: the group's own options, no error
    assert all(line.startswith("plain,--") for line in done.stdout.splitlines()), done


def test_commands_and_options_still_complete() -> None:
    assert "plain,build" in _complete("esp-cabundle bui", 1).stdout.splitlines()
    assert "plain,--json" in _complete("esp-cabundle build --js", 2).stdout.splitlines()
