"""Whether a hint names a command to run or a call to make follows ``Spelling.cli``, said
by the caller, never guessed from how one of its words is shaped: a spelling whose
flags look like the CLI's but that is not the CLI gets a script's words, and the
other way round."""

from __future__ import annotations

from pathlib import Path

import pytest

from esp_cabundle.bundle import BundleSpec, resolve_bundle
from esp_cabundle.catalog import Catalog
from esp_cabundle.chains import load_chain_file
from esp_cabundle.errors import InputError
from esp_cabundle.spelling import BOARD_SPELLING, CLI_SPELLING, CONFIG_SPELLING, PYTHON
from esp_cabundle.targets import Target, saving_hint

# Dashed words, but a script's: told what to call, as PYTHON is.
DASHED_SCRIPT = CLI_SPELLING._replace(cli=False)
# The CLI in its own (made-up) words: told what to run, as CLI_SPELLING is.
PLAIN_CLI = PYTHON._replace(cli=True, root_file="-r path/to/root.pem", pulled=CLI_SPELLING.pulled)


def test_the_spellings_say_who_they_are() -> None:
    assert CLI_SPELLING.cli and BOARD_SPELLING.cli
    assert not PYTHON.cli and not CONFIG_SPELLING.cli


def test_saving_a_chain_follows_the_field(tmp_path: Path) -> None:
    t, path = Target("mdash.net", host="mdash.net"), tmp_path / "c.pem"
    script = saving_hint(t, path, None, None, PYTHON)
    cli = saving_hint(t, path, None, None, CLI_SPELLING)
    assert "capture_chain('mdash.net')" in script and "esp-cabundle" not in script
    assert f"'esp-cabundle chains pull' saves it as {path}" in cli
    assert saving_hint(t, path, None, None, DASHED_SCRIPT) == script
    assert saving_hint(t, path, None, None, PLAIN_CLI) == cli


def test_a_missing_chain_file_follows_the_field(tmp_path: Path) -> None:
    def hint(spelling: object) -> str | None:
        with pytest.raises(InputError) as e:
            load_chain_file(tmp_path / "none.pem", spelling=spelling)  # type: ignore[arg-type]
        return e.value.hint

    assert hint(DASHED_SCRIPT) == hint(PYTHON)
    assert "capture_chain(HOST)" in str(hint(PYTHON))
    assert hint(PLAIN_CLI) == hint(CLI_SPELLING)
    assert "'esp-cabundle chains pull'" in str(hint(CLI_SPELLING))


def test_a_root_directory_follows_the_field(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()

    def hint(spelling: object) -> str | None:
        spec = BundleSpec(roots=("certs",), base_dir=tmp_path)
        with pytest.raises(InputError) as e:
            resolve_bundle(spec, Catalog.load(), spelling)  # type: ignore[arg-type]
        return e.value.hint

    assert hint(CLI_SPELLING) == "name a file with --root, e.g. --root certs/FILE"
    assert hint(PLAIN_CLI) == "name a file with -r, e.g. -r certs/FILE"
    assert hint(DASHED_SCRIPT) == "name the file itself: --root certs/FILE"
    assert hint(PYTHON) == "name the file itself: BundleSpec(roots=['certs/FILE'])"


def test_saving_a_pulled_chain_names_spelling_pulled(tmp_path: Path) -> None:
    """The CLI's words for what saves a pulled chain come from ``Spelling.pulled`` (as
    every other hint of it does), not a copy of them; a script is shown its call."""
    t, path = Target("mdash.net", host="mdash.net"), tmp_path / "c.pem"
    mine = CLI_SPELLING._replace(pulled="'my-wrapper pull' saves it")
    assert saving_hint(t, path, None, None, mine).startswith(
        f"online, 'my-wrapper pull' saves it as {path}; offline"
    )
    assert saving_hint(t, path, None, None, CLI_SPELLING).startswith(
        f"online, {CLI_SPELLING.pulled} as {path}; offline"
    )
    script = saving_hint(t, path, None, None, PYTHON)
    assert script.startswith(f"online, save it as {path} with: Path(")
    assert PYTHON.pulled not in script and "esp-cabundle" not in script
