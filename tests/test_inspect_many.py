"""``inspect`` of inputs holding thousands of certificates (a PEM file under the 4 MiB cap
holds about 8,000 small ones, an ESP-IDF bundle at most 4,096 roots): past 1,000 rows the
table shows its first and last rows and a count by status, ``--all`` lists every one,
``--json`` always has them all, written as it is made; notes of one kind stay a few lines.
Time and memory: benchmarks/bench_parsers.py.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from support.bundles import P256_KEY, cn, v2_bundle

from esp_cabundle.cli import cli
from esp_cabundle.commands.inspect import EDGE_ROWS, SUMMARY_PAST
from esp_cabundle.dates import now
from esp_cabundle.formats.idf_bundle import starts_like_bundle
from esp_cabundle.inspect import inspect_path, report_to_dict
from esp_cabundle.ui import emit_json
from tests.support.verify_pki import mint


def tiny_bundle(n: int) -> bytes:
    return v2_bundle(sorted((cn(f"R{i:05d}"), P256_KEY) for i in range(n)))


def table_rows(out: str) -> list[str]:
    return [line.split()[0] for line in out.splitlines() if line.lstrip().startswith("#")][1:]


def test_past_the_threshold_the_table_is_summed_up(runner: CliRunner, in_tmp: Path) -> None:
    n = SUMMARY_PAST + 1
    (in_tmp / "b.bin").write_bytes(tiny_bundle(n))
    r = runner.invoke(cli, ["inspect", "b.bin"])
    assert r.exit_code == 0, r.output
    shown = [f"#{i}" for i in [*range(1, EDGE_ROWS + 1), *range(n - EDGE_ROWS + 1, n + 1)]]
    assert table_rows(r.stdout) == shown
    assert "\n  ...\n" in r.stdout  # where the rows left out would be
    assert (
        f"  {n - 2 * EDGE_ROWS:,} of {n:,} certificates not listed (between #10 and #992): "
        in r.stdout
    )
    assert "--all lists every one, --json gives them all" in r.stdout
    assert f"by status: {n:,} no dates (bundle)" in r.stdout
    assert len(r.stdout.splitlines()) < 40


def test_up_to_the_threshold_every_row_is_listed(runner: CliRunner, in_tmp: Path) -> None:
    (in_tmp / "b.bin").write_bytes(tiny_bundle(SUMMARY_PAST))
    r = runner.invoke(cli, ["inspect", "b.bin"])
    assert table_rows(r.stdout) == [f"#{i}" for i in range(1, SUMMARY_PAST + 1)]
    assert "not listed" not in r.stdout and "by status" not in r.stdout


def test_all_lists_every_row(runner: CliRunner, in_tmp: Path) -> None:
    n = SUMMARY_PAST + 5
    (in_tmp / "b.bin").write_bytes(tiny_bundle(n))
    r = runner.invoke(cli, ["inspect", "b.bin", "--all"])
    assert r.exit_code == 0, r.output
    assert table_rows(r.stdout) == [f"#{i}" for i in range(1, n + 1)]
    assert "R00500" in r.stdout and "not listed" not in r.stdout


def test_json_has_every_certificate(runner: CliRunner, in_tmp: Path) -> None:
    """Streamed, it is still the document json.dumps would make of report_to_dict."""
    n = SUMMARY_PAST + 5
    (in_tmp / "b.bin").write_bytes(tiny_bundle(n))
    r = runner.invoke(cli, ["inspect", "b.bin", "--json", "--at", "2030-01-01"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    certs = doc["reports"][0]["certificates"]
    assert [c["location"] for c in certs] == [f"#{i}" for i in range(1, n + 1)]
    assert certs[499]["label"] == "R00499" and certs[-1]["status"] == "no dates (bundle)"
    at = datetime(2030, 1, 1, tzinfo=timezone.utc)
    whole = {"ok": True, "reports": [report_to_dict(inspect_path("b.bin"), at)]}
    assert r.stdout == json.dumps(whole, indent=2, ensure_ascii=False) + "\n"


def test_status_counts_name_what_the_hidden_rows_hold(runner: CliRunner, in_tmp: Path) -> None:
    """A CA file of 1,001 certificates, one of them expired in the middle: the count by
    status says so, though its row is not listed."""
    good = mint("Many Root")
    old = mint("Old Root", not_before=datetime(2010, 1, 1, tzinfo=timezone.utc),
               not_after=datetime(2020, 1, 1, tzinfo=timezone.utc))  # fmt: skip
    (in_tmp / "ca.pem").write_bytes(good.pem * 500 + old.pem + good.pem * 500)
    r = runner.invoke(cli, ["inspect", "ca.pem"])
    assert r.exit_code == 0, r.output
    assert "#501" not in table_rows(r.stdout) and "by status: 1,000 ok; 1 EXPIRED" in r.stdout
    r = runner.invoke(cli, ["inspect", "ca.pem", "--fail-within", "30"])
    assert r.exit_code == 1 and "#501 Old Root: expired 2020-01-01" in r.stderr


def test_notes_of_one_kind_stay_a_few_lines(in_tmp: Path) -> None:
    """Names that do not read, and subjects stored with two keys, are counted past five."""
    bad = b"\x30\x02\x05\x00"  # a SEQUENCE holding a NULL: no Name
    unread = v2_bundle([(bad, P256_KEY)] * 3000)
    (in_tmp / "u.bin").write_bytes(unread)
    notes = inspect_path("u.bin").notes
    assert (
        "#1, #2, #3, #4, #5 and 2,995 more: the stored subjects are not a readable DER name"
        in notes
    )
    assert len(notes) == 3  # that one, no dates, over the default maximum
    pairs = sorted((cn(f"D{i:04d}"), key) for i in range(300) for key in (b"\x01", b"\x02"))
    (in_tmp / "d.bin").write_bytes(v2_bundle(pairs))
    notes = inspect_path("d.bin").notes
    assert sum("is stored with different keys" in n for n in notes) == 5
    assert "295 more subjects are stored with different keys (--json lists every root)" in notes


class _Stream(io.StringIO):
    def __init__(self, encoding: str) -> None:
        super().__init__()
        self._encoding = encoding

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


def _emitted(doc: dict[str, Any], encoding: str = "utf-8") -> str:
    stream = _Stream(encoding)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stdout", stream)
        with click.Context(click.Command("x")):
            emit_json(doc)
    return stream.getvalue()


@pytest.mark.parametrize("flat", [False, True], ids=["nested", "flat"])
@pytest.mark.parametrize("size", [0, 1, 255, 256, 257, 600])
def test_a_streamed_document_is_the_same_text(size: int, flat: bool) -> None:
    """``flat``: objects of text, numbers, booleans and nulls only (a ledger's units),
    which are written without json.dumps's pure-Python indenting encoder."""

    def items() -> Iterator[dict[str, Any]]:
        for i in range(size):
            if flat:
                yield {"i": i, "name": 'Zoë ☃ "q" \\ \x1b', "none": None, "yes": i % 2 == 0,
                       "big": -(10**30), "": ""} if i % 7 else {}  # fmt: skip
            else:
                yield {"i": i, "name": "Zoë ☃", "none": None, "nested": {"a": [1, {}]}, "e": []}

    when = now().replace(microsecond=0)  # once: two calls may straddle a second

    def doc(lazy: bool) -> dict[str, Any]:
        rows = items() if lazy else list(items())
        more = items() if lazy else list(items())
        inner = (x for x in [more, []]) if lazy else [more, []]
        return {"reports": [{"rows": rows, "empty": iter(()) if lazy else []}, inner], "n": 1.5,
                "path": Path("a/b"), "when": when}  # fmt: skip

    expected = json.dumps({"ok": True, **doc(False)}, indent=2, ensure_ascii=False, default=str)
    assert _emitted(doc(True)) == expected + "\n"


def test_a_streamed_document_escapes_what_the_stream_cannot_carry() -> None:
    name = "caf\udce9 ☃"  # a file name that is not UTF-8, and a snowman
    text = _emitted({"files": iter([name])}, encoding="ascii")
    assert text.isascii() and json.loads(text)["files"] == [name]


def test_a_bundle_over_the_certificate_cap_is_refused_unwalked(
    runner: CliRunner, in_tmp: Path
) -> None:
    """inspect reads images up to 256 MiB; a bundle is a certificate file (4 MiB): 27
    million roots would take gigabytes, so one over the cap is refused from its start."""
    n = 420_000  # 10 bytes a root: 4.2 MB
    (in_tmp / "big.bin").write_bytes(v2_bundle([(b"\x30\x00", b"")] * n))
    r = runner.invoke(cli, ["inspect", "big.bin"])
    assert r.exit_code == 2
    assert "big.bin: ESP-IDF certificate bundle is 4,200,000 bytes, over the 4 MiB" in r.stderr
    assert starts_like_bundle(v2_bundle([(b"\x30\x00", b"")] * 3)) == "v2"
    v1 = struct.pack(">H", 2) + 2 * (struct.pack(">HH", 2, 1) + b"\x30\x00\x01")
    assert starts_like_bundle(v1 + b"cut") == "v1"  # its start only
    assert starts_like_bundle(b"\xff" * 64) is None and starts_like_bundle(b"") is None
