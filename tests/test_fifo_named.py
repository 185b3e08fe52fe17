"""fifo.named_fifo tells a FIFO with a name on disk (waited on for a writer) from a pipe
reached through /dev/fd (``inspect <(cmd)``: its end of file is the input's end), by
what the path resolves to, not by Linux's ``pipe:[N]`` link text alone."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from esp_cabundle import fifo

pytestmark = pytest.mark.skipif(not Path("/dev/fd").is_dir(), reason="needs /dev/fd")


@pytest.fixture
def pipe() -> Iterator[Path]:
    read_end, write_end = os.pipe()
    yield Path(f"/dev/fd/{read_end}")
    os.close(read_end)
    os.close(write_end)


def test_a_pipe_through_dev_fd_is_not_named(pipe: Path) -> None:
    assert not fifo.named_fifo(pipe)


def test_a_pipe_through_dev_fd_is_not_named_where_dev_fd_holds_no_links(
    pipe: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """macOS: /dev/fd/N is a node of its own, not a link to ``pipe:[N]``; a test of that
    text took it for a named FIFO, and waited on it for a writer."""
    monkeypatch.setattr(fifo.os.path, "realpath", lambda p: os.fspath(p))
    assert not fifo.named_fifo(pipe)


def test_a_fifo_made_by_mkfifo_is_named(tmp_path: Path) -> None:
    path = tmp_path / "dump.fifo"
    os.mkfifo(path)
    assert fifo.named_fifo(path)
    link = tmp_path / "link.fifo"
    link.symlink_to(path)
    assert fifo.named_fifo(link)
    (tmp_path / "plain").write_bytes(b"x")
    assert not fifo.named_fifo(tmp_path / "plain")
