"""``-o FIFO`` with nothing reading it blocked in silence; it now says once on stderr
what it waits for, as an input FIFO with no writer does, then writes when a reader
comes. A reader already there (or a moment late) gets no waiting line."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle import ui as esp_ui
from esp_cabundle.cli import cli

BUILD = ["build", "--preset", "letsencrypt", "--no-lock", "-o", "ca.fifo"]
WAITING = "ca.fifo is a FIFO: waiting for something to read from it (Ctrl-C to stop)\n"


def _reader(fifo: Path, got: list[bytes]) -> threading.Thread:
    t = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    t.start()
    return t


@pytest.mark.timeout(60)
def test_an_output_fifo_with_no_reader_says_what_it_waits_for(
    in_tmp: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = in_tmp / "ca.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    readers: list[threading.Thread] = []

    def note_then_read(text: str, **options: object) -> None:
        said(text, **options)  # type: ignore[arg-type]
        if "is a FIFO" in text:
            readers.append(_reader(fifo, got))  # the reader comes once told

    said = esp_ui.note  # fifo imports it when it tells, so patched here
    monkeypatch.setattr(esp_ui, "note", note_then_read)
    r = runner.invoke(cli, BUILD)
    assert len(readers) == 1
    readers[0].join(timeout=30)
    assert r.exit_code == 0, r.output
    assert r.stderr.count(WAITING) == 1, r.stderr
    assert got and got[0].startswith(b"# ISRG Root X1")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and sorted(os.listdir(in_tmp)) == ["ca.fifo"]


@pytest.mark.timeout(60)
def test_a_reader_a_moment_late_gets_no_waiting_line(in_tmp: Path, runner: CliRunner) -> None:
    fifo = in_tmp / "ca.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    readers: list[threading.Thread] = []
    late = threading.Timer(0.3, lambda: readers.append(_reader(fifo, got)))
    late.start()
    r = runner.invoke(cli, BUILD)
    late.join(timeout=30)
    readers[0].join(timeout=30)
    assert r.exit_code == 0, r.output
    assert "waiting for something to read" not in r.stderr, r.stderr
    assert got and got[0].startswith(b"# ISRG Root X1")
