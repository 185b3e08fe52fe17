"""Shared fixtures. Test data lives in tests/data (copied from the vendors' vectors)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"

if str(TESTS.parent) not in sys.path:
    sys.path.insert(0, str(TESTS.parent))


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
