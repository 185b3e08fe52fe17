"""What a push campaign takes and gives back: the CA file, the options, progress events
and the report.

Apart from :mod:`.campaign`, which runs it, so that callers which only describe or render
a campaign (the survey, the push command's output) need not import the engine.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ..arguments import require_int, require_type
from ..ca_arguments import check_ca_for_board
from ..dates import as_datetime
from ..errors import ArgumentTypeError, InputError, PushError
from ..gate import GatedCA
from ..spelling import PYTHON, Spelling
from .files import UnitInfo, device_name
from .firmware_use import not_read_by, wrong_board
from .ledger import UnitRow

if TYPE_CHECKING:
    from ..boards import Board
    from .transport import UnitRef

__all__ = ["CampaignOptions", "CampaignReport", "PushFile", "UnitEvent", "sha256_hex"]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class PushFile:
    """The CA file a campaign puts on the units: a :class:`~esp_cabundle.gate.GatedCA`
    gated for the units' board, never raw bytes. It goes to the board's CA path (named as
    the RPC services take it, e.g. ``ca.pem``), staged first at ``<name>.new``."""

    ca: GatedCA
    name: str = field(init=False)
    board: str = field(init=False)

    def __post_init__(self) -> None:
        # ca.pem's bytes or its path: an ArgumentTypeError naming gate_ca, as pack_ca's
        check_ca_for_board(self.ca, None, "PushFile", optional=True)
        board = self.ca.board
        if board is None or board.filesystem is None:
            judged = f"board {board.name}, which has no CA file" if board else "no board"
            raise InputError(
                f"the CA was gated for {judged}: there is no file on the units to replace",
                hint="gate it for the board of the units (gate_ca(..., board=...))",
            )
        object.__setattr__(self, "name", device_name(board.filesystem.ca_path))
        object.__setattr__(self, "board", board.name)

    @classmethod
    def for_board(cls, ca: GatedCA, board: Board) -> PushFile:
        """The push of ``ca`` to units of ``board``; InputError when it was gated for
        another board (its rules did not judge it)."""
        check_ca_for_board(ca, board, "PushFile.for_board")
        ca.for_board(board)
        return cls(ca)

    @property
    def data(self) -> bytes:
        """The bytes each unit's CA file will hold."""
        return self.ca.pem

    @property
    def sha256(self) -> str:
        return self.ca.sha256

    @property
    def temp_name(self) -> str:
        return self.name + ".new"

    def not_read_by(self, info: UnitInfo) -> str | None:
        """Why a unit reporting ``info`` would not use this file (its firmware release
        trusts something else), or None."""
        board = self.ca.board
        return not_read_by(board, info) if board is not None else None

    def wrong_board(
        self, unit: UnitRef, info: UnitInfo, options: CampaignOptions
    ) -> PushError | None:
        """The refusal for a unit reporting firmware other than the board's (the CA was
        judged for that board's connections and file), or None; its hint the way to
        update this unit alone with the right board (``options.unit_board_again``)."""
        board, hook = self.ca.board, options.unit_board_again
        again = (lambda right: hook(right, unit)) if hook is not None else None
        found = (
            wrong_board(board, info, spelling=options.spelling, again=again)
            if board is not None
            else None
        )
        if found is None:
            return None
        why, hint = found
        return PushError(f"unit {unit.id}: {why}", hint=hint)


@dataclass(frozen=True, slots=True)
class CampaignOptions:
    """How :func:`~esp_cabundle.push.campaign.run_campaign` runs: ``concurrency`` units
    at once, each call within ``timeout`` seconds; with ``reboot``, a verified unit is
    rebooted and must answer again within ``reconnect_timeout``; with ``watch``, passes
    repeat every ``poll`` seconds (units come online over weeks) until ``until``."""

    concurrency: int = 8
    timeout: float = 10.0
    reboot: bool = False
    reconnect_timeout: float = 120.0
    watch: bool = False
    until: datetime | None = None  # watch no later than this (UTC wall clock)
    poll: float = 60.0
    # Given an old CA file found on a unit, the date it stops working (the forecast of
    # the units' connection; a past date: failing since then), or None. A watch without
    # ``until`` ends at the earliest date still ahead.
    deadline_for: Callable[[bytes], datetime | None] | None = None
    # Given a CA file, its go-dark date as ``push status`` shows it: ISO, "none" (no
    # failure within the forecast) or "unknown" (not judged). Without it, only the dates
    # ``deadline_for`` gives are kept (its None says neither).
    go_dark_for: Callable[[bytes], str] | None = None
    # Given an old CA file found already failing, what ``check`` says beside its date
    # (its ``failing_since.roadmap_since``): since when the servers a shipped roadmap
    # says send the chain that fails fail, and which (check's "why"), or None.
    roadmap_for: Callable[[bytes], tuple[datetime, str] | None] | None = None
    # What ``go_dark_for`` judges against (servers' names, or "nothing"), kept in the
    # ledger so ``push status`` can say why a date is unknown.
    judged_against: str | None = None
    in_place: bool = False  # write the CA path directly (no room for a second copy)
    # Given the board a unit's firmware needs and the unit (its id, address and the
    # transport that reaches it: ``via``), what updates that unit alone with that board
    # (the CLI: a runnable push line), else None: the wrong board's hint then says
    # ``spelling``'s "again with the board, for this unit".
    unit_board_again: Callable[[str, UnitRef], str | None] | None = field(
        default=None, compare=False
    )
    # How the hints name the options (--in-place, --frame-size to a CLI user); the ledger
    # keeps the errors, and push status reads either spelling of in_place back.
    spelling: Spelling = field(default=PYTHON, compare=False)

    def __post_init__(self) -> None:
        # A script's timeout="10" or concurrency=0 failed only mid-campaign, units half done.
        _check_options(self)


def _what(name: str, takes: str) -> str:
    return f"CampaignOptions's {name}= takes {takes}"


def _check_options(o: CampaignOptions) -> None:
    """ArgumentTypeError for a value of the wrong type, InputError for one out of range;
    a naive ``until`` is made UTC, as everywhere in the library."""
    require_int(
        o.concurrency, _what("concurrency", "a number of units (int)"), "give an int: concurrency=8"
    )
    if o.concurrency < 1:
        raise InputError(
            f"{_what('concurrency', 'a number of units')} of 1 or more, not {o.concurrency}",
            hint="concurrency=1 works on one unit at a time",
        )
    for name in ("timeout", "reconnect_timeout", "poll"):
        value = getattr(o, name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ArgumentTypeError(
                f"{_what(name, 'seconds (int or float)')}, not {type(value).__name__} {value!r}",
                hint=f"give a number: {name}=10.0",
            )
        # beyond TIMEOUT_MAX, waiting that long raises OverflowError mid-campaign
        if not (math.isfinite(value) and 0 < value <= threading.TIMEOUT_MAX):
            raise InputError(
                f"{_what(name, 'seconds')} above 0 and at most {threading.TIMEOUT_MAX:g}, "
                f"not {value!r}",
                hint=f"for example {name}=10.0",
            )
    for name in ("reboot", "watch", "in_place"):
        require_type(getattr(o, name), bool, _what(name, "a bool"), f"{name}=True or False")
    if o.until is not None:
        if not isinstance(o.until, datetime):
            raise ArgumentTypeError(
                f"{_what('until', 'a datetime or None')}, not {type(o.until).__name__} {o.until!r}",
                hint="give the end as a datetime: until=datetime(2026, 12, 31, 23, 59, "
                "tzinfo=timezone.utc)",
            )
        object.__setattr__(o, "until", as_datetime(o.until))
    for name in ("deadline_for", "go_dark_for", "roadmap_for", "unit_board_again"):
        value = getattr(o, name)
        if value is not None and not callable(value):
            raise ArgumentTypeError(
                f"{_what(name, 'a function or None')}, not {type(value).__name__}",
                hint=f"give a callable, or leave {name} out",
            )
    if o.judged_against is not None:
        require_type(
            o.judged_against,
            str,
            _what("judged_against", "a str or None"),
            "judged_against='mdash.net'",
        )
    require_type(o.spelling, Spelling, _what("spelling", "a Spelling"), "spelling=PYTHON")


@dataclass(frozen=True, slots=True)
class UnitEvent:
    """Progress: a unit changed state (``final`` when this run is through with it)."""

    unit: str
    state: str
    text: str = ""
    final: bool = False
    passed: bool = False  # passed over this pass, not contacted (done, or its retry waits)


@dataclass(frozen=True, slots=True)
class CampaignReport:
    rows: tuple[UnitRow, ...]  # the units listed in this run, in listing order
    reboot: bool
    deadline: datetime | None  # the earliest date ahead an old file stops working
    passes: int
    stopped: bool = False  # interrupted, with a unit left not done
    failing_since: datetime | None = None  # an old file found already fails (since then)
    # listings merged (the same unit at two addresses); what binding did to the ledger
    notes: tuple[str, ...] = ()
    watch_ended: datetime | None = None  # a watch stopped by its end (--until, deadline)
    # The link lost in the last pass, which stopped it: (what, when) ("MQTT broker").
    link_lost: tuple[str, datetime] | None = None
    # Beside ``failing_since``: the date and kinds ``roadmap_for`` gave for that file.
    roadmap: tuple[datetime, str] | None = None

    def is_done(self, row: UnitRow) -> bool:
        """The unit holds the file (with ``reboot``: and came back with it)."""
        return row.state in ("up-to-date", "reconnected") or (
            row.state == "verified" and not self.reboot
        )

    @property
    def ok(self) -> bool:
        """Nothing left for a push to do: every unit done or ``unused``. An unused unit's
        firmware does not read the file, which no run can change (a campaign that counted
        it would fail forever); renderers list it apart, as not protected."""
        return all(self.is_done(r) or r.state == "unused" for r in self.rows)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.state] = out.get(r.state, 0) + 1
        return out
