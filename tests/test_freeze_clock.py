"""freeze_clock (tests/support/doc_commands.py) leaves no frozen clock behind.

A module first imported while a test had the clock frozen binds the fake
(``from .dates import now``) where monkeypatch never set it, so monkeypatch's undo does
not reach it: tests/test_push_cli.py::test_a_bad_until_does_not_offer_now_which_it_refuses
failed after tests/test_readme.py (which first imports the CLI under a freeze), its
``--until now`` judged by one module's live clock against another's 2026-12-01.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from types import ModuleType

import pytest
import support.doc_commands as support_copy

import esp_cabundle.commands as commands_package
import tests.support.doc_commands as tests_copy

# A real module that takes ``now`` by ``from ..dates import now``.
NAME = "esp_cabundle.commands._date_hint"


@pytest.fixture
def first_import() -> Iterator[pytest.MonkeyPatch]:
    """The module NAME as if not yet imported; the real one is put back at the end."""
    real = importlib.import_module(NAME)
    with pytest.MonkeyPatch.context() as mp:
        mp.delitem(sys.modules, NAME)
        mp.setattr(commands_package, "_date_hint", real)  # import_module rebinds it
        yield mp


def imported_while_frozen(today: str) -> ModuleType:
    with pytest.MonkeyPatch.context() as mp:
        tests_copy.freeze_clock(mp, today)
        fresh = importlib.import_module(NAME)
        assert fresh.now() == datetime.fromisoformat(f"{today}T00:00+00:00")
    return fresh


def test_a_module_imported_while_frozen_reads_the_live_clock_after(
    first_import: pytest.MonkeyPatch,
) -> None:
    """It kept returning 2001-01-01 (the fake's instant) for the rest of the session."""
    fresh = imported_while_frozen("2001-01-01")
    before = datetime.now(timezone.utc)
    got = fresh.now()
    after = datetime.now(timezone.utc)
    assert before <= got <= after, got


def test_a_later_freeze_through_the_other_import_reaches_it(
    first_import: pytest.MonkeyPatch,
) -> None:
    """doc_commands is imported as support.doc_commands and as
    tests.support.doc_commands, two modules: a function one of them left behind answers
    the other's freeze, and is live again after it."""
    assert support_copy is not tests_copy
    fresh = imported_while_frozen("2001-01-01")
    with pytest.MonkeyPatch.context() as mp:
        when = support_copy.freeze_clock(mp, "2033-03-03")
        assert fresh.now() == when
    before = datetime.now(timezone.utc)
    assert before <= fresh.now() <= datetime.now(timezone.utc)
