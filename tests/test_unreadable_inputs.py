"""A file the user names but may not read (chmod 000) is said by the tool's own reader,
"cannot read ... (Permission denied)", exit 2, as ``build --root`` said it: click's
path check answered first with a usage banner and "File 'x' is not readable."."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from tests.support import dumps

UNREAD = "unread.pem"


@pytest.fixture
def unreadable(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``unread.pem`` made unreadable: chmod 000, which root reads anyway, so the
    permission checks and opens are refused for it here as for any other user."""
    path = in_tmp / UNREAD
    path.write_bytes(dumps.pem("isrgrootx1.pem"))
    path.chmod(0)
    real_access, real_open = os.access, os.open

    def is_it(p: Any) -> bool:
        return isinstance(p, (str, os.PathLike)) and Path(os.fsdecode(p)).name == UNREAD

    def access(p: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
        return False if is_it(p) and mode & os.R_OK else real_access(p, mode, *args, **kwargs)

    def open_(p: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if is_it(p):
            raise PermissionError(13, "Permission denied", os.fsdecode(p))
        return real_open(p, flags, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(os, "open", open_)
    return path


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (["check", "--bundle", UNREAD, "--roadmap", "letsencrypt"], "bundle file"),
        (["pack", "--bundle", UNREAD, "--fs", "littlefs", "--profile", "esp-idf",
          "--size", "256K", "-o", "out.bin"], "CA file"),
        (["fs", "ls", UNREAD], "file-system image"),
        (["inspect", UNREAD], "image or CA file"),
        (["build", "-c", UNREAD, "--dry-run"], "config file"),
        (["build", "--root", UNREAD, "--dry-run"], "certificate file"),
    ],
)  # fmt: skip
def test_an_unreadable_input_is_the_tool_s_own_error(
    unreadable: Path, runner: CliRunner, args: list[str], what: str
) -> None:
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert f"cannot read {what} (Permission denied)" in r.stderr, r.stderr
    assert "Usage:" not in r.stderr and "is not readable" not in r.stderr
    assert sorted(p.name for p in unreadable.parent.iterdir()) == [UNREAD]


def test_an_unreadable_output_is_not_refused_as_an_input(
    unreadable: Path, runner: CliRunner
) -> None:
    """-o names a file to write: whether it can be read was click's question, and its
    "File 'unread.pem' is not readable." stopped a build that could replace it."""
    before = unreadable.read_bytes()
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "--no-lock", "-q", "-o", UNREAD])
    assert "is not readable" not in r.output and "Usage:" not in r.output, r.output
    assert r.exit_code == 0, r.output
    after = unreadable.read_bytes()
    assert after != before and after.count(b"-----BEGIN CERTIFICATE-----") == 4
