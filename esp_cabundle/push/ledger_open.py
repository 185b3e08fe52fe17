"""Opening a campaign ledger's file: proving an existing one is a campaign's before a byte
is written, creating a new one, and the same checks read-only for a dry run. Apart from
:mod:`.ledger`, which reads and writes its rows once it is open."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from ..errors import InputError, OutputError
from ..fileio import refuse_missing_folder
from .ledger_files import (
    NOT_A_LEDGER_HINT,
    limit_lengths,
    narrow_side_files,
    not_a_ledger_hint,
    open_proven,
)
from .ledger_meta import checked_meta
from .ledger_rows import check_units
from .ledger_schema import TABLES, create_tables, migrate

__all__ = ["AnotherCampaign", "check_ledger", "open_ledger", "refuse_another_campaign"]

_WAIT = 30.0  # seconds, as the connection's busy timeout
_FOLDER_HINT = "give --ledger a file in a directory that can be written to"


class AnotherCampaign(InputError):
    """The ledger records a campaign for another CA file or board: a real run is
    refused, where a dry run, which writes no ledger, previews all the same."""


def open_ledger(p: Path, *, readonly: bool) -> tuple[sqlite3.Connection, dict[str, str]]:
    """A connection to the ledger at ``p``, and (``readonly``) its campaign's facts as
    checked when opened. An existing file is first proven to be a campaign ledger
    without writing a byte (nor creating a side file), so another SQLite database given
    by mistake is refused unchanged. ``readonly`` never writes at all."""
    if os.path.exists(p) and not os.path.isfile(p):
        raise InputError(f"{p} is not a file", hint="give --ledger a file path")
    existing = os.path.isfile(p) and p.stat().st_size > 0
    if existing:
        # One read-only connection proves the file and reads its facts, refused
        # before a byte is written; read only, it is the connection kept.
        proven, rows = open_proven(p, TABLES, reading=readonly)
        try:
            facts = checked_meta(p, rows)
            check_units(p, proven)
        except BaseException:
            proven.close()
            raise
        if readonly:
            narrow_side_files(p)  # reading a WAL ledger opens its -wal/-shm
            return proven, facts
        proven.close()
    elif readonly:
        raise InputError(
            f"{p} is not a campaign ledger (empty)", hint=not_a_ledger_hint(p, reading=True)
        )
    refuse_missing_folder(p, what="ledger", hint=_FOLDER_HINT)
    try:
        fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        os.chmod(p, 0o600)  # also narrows a ledger created by hand with a wider mode
    except OSError as e:
        raise OutputError(f"cannot open the ledger {p}: {e.strerror}") from e
    try:
        db = limit_lengths(
            sqlite3.connect(p, timeout=_WAIT, isolation_level=None, check_same_thread=False)
        )
        # The tables first, in rollback mode, whose first commit writes the whole file:
        # until then it is empty, and a process opening it too makes it (waiting here).
        create_tables(db)
        migrate(db)
        _to_wal(db)
        db.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.DatabaseError as e:
        raise InputError(f"{p} is not a campaign ledger ({e})", hint=NOT_A_LEDGER_HINT) from e
    narrow_side_files(p)
    return db, {}


def _to_wal(db: sqlite3.Connection, *, wait: float = _WAIT) -> None:
    """Put the ledger in WAL mode. SQLite refuses the switch at once ("database is
    locked", without its busy wait) while another process reads the file, as one
    making the same new ledger does: asked again until ``wait`` seconds have passed."""
    give_up = time.monotonic() + wait
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > give_up:
                raise
            time.sleep(0.01)


def check_ledger(
    path: str | Path, *, ca_sha256: str | None = None, board: str | None = None
) -> None:
    """Refuse what opening and binding the ledger at ``path`` would (not a file, not a
    campaign ledger, another campaign's), reading only and making no side file: a dry
    run predicts the real run's refusal. A missing or empty file passes: a real run
    makes it its own. Without ``ca_sha256`` (the CA not judged yet) all but another
    campaign's: a run refuses a wrong path before it judges the CA."""
    p = Path(path)
    if os.path.exists(p) and not os.path.isfile(p):
        raise InputError(f"{p} is not a file", hint="give --ledger a file path")
    refuse_missing_folder(p, what="ledger", hint=_FOLDER_HINT)
    if not os.path.isfile(p) or p.stat().st_size == 0:
        return
    proven, rows = open_proven(p, TABLES)
    try:
        have = checked_meta(p, rows)
        check_units(p, proven)
    finally:
        proven.close()
    if ca_sha256 is not None and board is not None:
        refuse_another_campaign(p, have, ca_sha256=ca_sha256, board=board)


def refuse_another_campaign(
    path: Path, have: dict[str, str], *, ca_sha256: str, board: str
) -> None:
    if "ca_sha256" in have and have["ca_sha256"] != ca_sha256:
        raise AnotherCampaign(
            f"the ledger {path} records a campaign for another CA file "
            f"(SHA-256 {have['ca_sha256'][:16]}..., this one is {ca_sha256[:16]}...)",
            hint="give --ledger a new file for the new campaign",
        )
    if "board" in have and have["board"] != board:
        raise AnotherCampaign(
            f"the ledger {path} records a campaign for board {have['board']}, not {board}",
            hint="give --ledger a new file, or the campaign's --board",
        )
