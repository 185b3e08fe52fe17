"""``push status --json`` and ``--csv``: every unit of a ledger, streamed in batches to a
spool and copied to stdout once the read proved whole (millions of units: never all in
memory as objects)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import IO, TYPE_CHECKING, cast

from ..push.ledger_status import (
    BATCH_STATE_DARK,
    NOT_DONE,
    UNIT_KEYS,
    UnitTally,
    campaign_facts,
    failed_hinted,
    read_consistently,
    unit_batches,
    unit_cells,
)
from ..text import plural
from ..ui import json_carried, json_printed

if TYPE_CHECKING:
    from pathlib import Path

    from ..push.ledger import Ledger

__all__ = ["csv_rows", "print_status_units", "status_next", "told_first"]

_TEXT = itemgetter(2)  # a unit_batches row's text: its JSON object or CSV line


def told_first(first: int) -> str:
    """The failed units whose error's hint needs doing first, as push and status say it."""
    if first == 1:
        return "1 failed unit needs what its error says first"
    return f"{first} failed units need what their errors say first"


def status_next(counts: Mapping[str, int], ledger: Path | str, hinted: int = 0) -> str | None:
    """What to do about the units a campaign left not done (None: none left), as push's
    summary says it (:func:`~._push_render.next_step`: the ``hinted`` failed units, whose
    error's hint needs doing first, apart): status knows the ledger, not the command."""
    left = sum(counts.get(s, 0) for s in NOT_DONE)
    again = left - hinted
    if not left:
        return None
    told = told_first(hinted)
    if not again:
        return f"Next: {told} (the ledger {ledger} keeps where each unit stands)."
    them = "it" if again == 1 else "them"
    also = f"; {told}" if hinted else ""
    return (
        f"Next: {plural(again, 'unit')} not done: run the push that wrote {ledger} again "
        f"(the same command takes up each unit where it stands), or with --watch to keep "
        f"trying {them} until done{also}."
    )


def _write_units(
    ledger: Ledger, out: IO[bytes], encoding: str, *, as_json: bool, shown: Path | str = ""
) -> tuple[bytes, bool]:
    """Every unit of ``ledger`` to ``out`` in ``encoding`` as it is read, a batch at a
    time: the CSV whole, or the items of ``--json``'s "units" list, whose document's head
    is returned (its counts taken as the units went by: the ledger is read once), with
    whether the units written say the campaign is finished (the exit code's ``ok``)."""
    tally, sep = UnitTally(BATCH_STATE_DARK), b""
    if not as_json:
        _write_csv(ledger, out, encoding, tally)
        return b"", tally.finished()
    for batch in unit_batches(ledger):  # (state, goes_dark, the unit's object)
        tally.add(batch)
        out.write(sep + _json_bytes(",\n".join(map(_TEXT, batch)), encoding))
        sep = b",\n"
    counts = tally.counts()
    hinted = failed_hinted(ledger) if counts.get("failed") else 0
    doc = {"ok": tally.finished(), "campaign": campaign_facts(ledger), "counts": counts,
           "goes_dark": tally.dark(), "next": status_next(counts, shown or ledger.path, hinted),
           "units": []}  # fmt: skip
    head = json.dumps(doc, indent=2, ensure_ascii=False, default=str)
    if sep:  # the units go between the brackets
        head = head.removesuffix("[]\n}") + "[\n"
        out.write(b"\n  ]\n}\n")
    else:
        head += "\n"
    return _json_bytes(head, encoding), tally.finished()


def _json_bytes(text: str, encoding: str) -> bytes:
    """``text`` encoded, a character the encoding lacks as a JSON \\u escape."""
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return json_carried(text, encoding).encode(encoding)


def csv_rows(rows: Iterable[Sequence[object]]) -> str:
    """``rows`` as Python 3.11's ``csv.writer`` writes them, on 3.10 too: there a NUL in
    a cell (a unit's hostile reply) raised "need to escape", and the whole status with
    it; 3.11 writes NUL as it is. On 3.10 a NUL stands in as a character no cell holds."""
    rows = [list(r) for r in rows]
    buf = io.StringIO()
    try:
        csv.writer(buf, lineterminator="\n").writerows(rows)
        return buf.getvalue()
    except csv.Error:
        cells = "".join(c for r in rows for c in r if isinstance(c, str))
        mark = next(chr(n) for n in range(0xE000, 0x110000) if chr(n) not in cells)
        held = [[c.replace("\x00", mark) if isinstance(c, str) else c for c in r] for r in rows]
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(held)
        return buf.getvalue().replace(mark, "\x00")


def _write_csv(ledger: Ledger, out: IO[bytes], encoding: str, tally: UnitTally) -> None:
    """The units as ``csv.writer`` writes them, each batch counted in ``tally``. A batch
    whose cells hold no comma, quote, line break or NUL (nothing csv quotes) is written
    as SQLite joined its lines: csv.writer took 4 s of 2 million units; any other's cells
    are read again by rowid and go through csv.writer."""
    width, first = len(UNIT_KEYS), True
    for batch in unit_batches(ledger, as_text=True):  # (state, goes_dark, line, rowid)
        tally.add(batch)
        if first:
            out.write((",".join(UNIT_KEYS) + "\n").encode(encoding))
            first = False
        text = "\n".join(map(_TEXT, batch)) + "\n"
        if (
            text.count(",") != (width - 1) * len(batch)
            or text.count("\n") != len(batch)
            or any(c in text for c in '"\r\x00')  # CR, NUL: bare in 3.11, quoted later?
        ):
            text = csv_rows(unit_cells(ledger, [r[3] for r in batch]))
        out.write(text.encode(encoding))
    if first:  # a ledger with no unit
        out.write(b"id,state\n")


def print_status_units(path: Path, *, as_json: bool) -> bool:
    """``push status --json`` or ``--csv``: every unit, written to a spool file (on disk
    past 8 MiB) as it is read and copied to stdout once the read proved whole: a read
    done again after a campaign moved the file's pages is printed once. The spool holds
    bytes in stdout's encoding: copied as they are, not decoded and encoded again.
    Returns whether the units printed say the campaign is finished: the exit code comes
    from the read printed (a second read, a campaign running meanwhile, could exit 0
    under a printed ``"ok": false``)."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"

    def spooled(ledger: Ledger) -> tuple[IO[bytes], bytes, bool]:
        # closed by the caller once copied (or here, when the read fails)
        spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115
        try:
            head, finished = _write_units(
                ledger, cast("IO[bytes]", spool), encoding, as_json=as_json, shown=path
            )
        except BaseException:
            spool.close()
            raise
        return cast("IO[bytes]", spool), head, finished

    spool, head, finished = read_consistently(path, spooled)
    sys.stdout.flush()
    raw = getattr(sys.stdout, "buffer", None)
    with spool:
        spool.seek(0)
        for chunk in itertools.chain([head], iter(lambda: spool.read(1 << 20), b"")):
            if raw is not None:
                raw.write(chunk)
            else:
                sys.stdout.write(chunk.decode(encoding))
    (raw or sys.stdout).flush()
    if as_json:
        json_printed()
    return finished
