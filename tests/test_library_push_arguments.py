"""``Ledger(b"x.db")`` failed with a raw TypeError from ``Path()``, and ``PushFile``
given ``ca.pem``'s bytes raised a plain TypeError (``PushFile.for_board``: ``'bytes'
object has no attribute 'for_board'``). Now each is an ArgumentTypeError (an InputError,
exit_code 2) whose hint is the call to make, as pack_ca's and flash_unit's are."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.fleet import mdash_unit

from esp_cabundle.boards import load_board
from esp_cabundle.errors import ArgumentTypeError
from esp_cabundle.push.campaign import CampaignOptions, PushFile, run_campaign
from esp_cabundle.push.ledger import Ledger
from esp_cabundle.push.mdash import MdashTransport
from esp_cabundle.push.transport import UnitRef
from tests.support.gated import X1_PEM, gated

GATE_BYTES = "gate it first: ca = gate_ca(CaSource.finished('ca.pem', data), board=board, at=now)"


@pytest.mark.parametrize(
    ("call", "message", "hint"),
    [
        (
            lambda: Ledger(b"x.db"),  # type: ignore[arg-type]
            "Ledger takes a path \\(str or Path\\), not bytes",
            "give the path as str: Ledger('x.db')",
        ),
        (
            lambda: Ledger(None),  # type: ignore[arg-type]
            "Ledger takes a path \\(str or Path\\), not NoneType",
            "give Ledger the file's path (str or Path)",
        ),
        (
            lambda: PushFile(X1_PEM),  # type: ignore[arg-type]
            "PushFile takes a GatedCA \\(made by gate_ca only\\), not bytes",
            GATE_BYTES,
        ),
        (
            lambda: PushFile(Path("ca.pem")),  # type: ignore[arg-type]
            "PushFile takes a GatedCA \\(made by gate_ca only\\), not PosixPath",
            "gate it first: ca = gate_ca(CaSource.from_file(Path('ca.pem')), board=board, at=now)",
        ),
        (
            lambda: PushFile.for_board(X1_PEM, load_board("mdash-arduino")),  # type: ignore[arg-type]
            "PushFile.for_board takes a GatedCA \\(made by gate_ca only\\), not bytes",
            GATE_BYTES,
        ),
    ],
)
def test_a_wrong_type_is_refused_with_the_call_to_make_and_nothing_made(
    call: Callable[[], object],
    message: str,
    hint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ArgumentTypeError, match=message) as e:
        call()
    assert e.value.hint == hint
    assert e.value.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_a_ledger_path_as_str_or_path_still_opens(tmp_path: Path) -> None:
    for path in (str(tmp_path / "a.db"), tmp_path / "b.db"):
        with Ledger(path) as ledger:
            assert ledger.path == Path(path)
        assert Path(path).is_file()


KEY = "mdash-key-0c1d2e3f4a5b"  # the stand_in fixture's
CAMPAIGN = (
    "open it first: with Ledger('campaign.db') as ledger: "
    "run_campaign(transports, push, ledger, options)"
)


def _push() -> PushFile:
    return PushFile(gated(X1_PEM, "mdash-arduino"))


def _mdash() -> MdashTransport:
    """Made, never asked (nothing listens on port 9): a refusal comes first."""
    return MdashTransport(KEY, base_url="http://127.0.0.1:9/api/v2", timeout=1)


@pytest.mark.parametrize(
    ("args", "kwargs", "message", "hint"),
    [
        (
            lambda: (_mdash(), _push()),
            {},
            "run_campaign's transports takes a sequence of transports, not one MdashTransport",
            "give a list: run_campaign([transport], push, ledger, options)",
        ),
        (
            # a broker's URL (which may carry a password: never shown)
            lambda: ("mqtts://user:secret@127.0.0.1:9", _push()),
            {},
            "run_campaign's transports takes a sequence of transports, not str\n",
            "give a list: run_campaign([MqttTransport.from_url(url, ids)], push, ledger, "
            "options), or MdashTransport(api_key) in it",
        ),
        (
            lambda: (["mqtts://user:secret@127.0.0.1:9"], _push()),
            {},
            "run_campaign's transports takes transports, not str\n",
            "make each with MqttTransport.from_url(url, ids) or MdashTransport(api_key)",
        ),
        (
            lambda: ([_mdash()], gated(X1_PEM, "mdash-arduino")),
            {},
            "run_campaign's push takes a PushFile, not GatedCA",
            "wrap it: run_campaign(transports, PushFile(ca), ledger, options)",
        ),
        (
            lambda: ([_mdash()], X1_PEM),
            {},
            "run_campaign's push takes a PushFile, not bytes",
            "gate it first: PushFile(gate_ca(CaSource.finished('ca.pem', data), board=board, "
            "at=now))",
        ),
        (
            lambda: ([_mdash()], _push()),
            {"options": None},
            "run_campaign's options takes CampaignOptions, not NoneType",
            "give CampaignOptions() (its defaults), or CampaignOptions(watch=True, ...)",
        ),
        (
            lambda: ([_mdash()], _push()),
            {"options": {"watch": True}},
            "run_campaign's options takes CampaignOptions, not dict",
            "make it with CampaignOptions: CampaignOptions(**options)",
        ),
        (
            lambda: ([_mdash()], _push()),
            {"stop": True},
            "run_campaign's stop= takes a threading.Event or None, not bool True",
            "stop=threading.Event(), set to end the campaign (or leave stop out)",
        ),
        (
            lambda: ([_mdash()], _push()),
            {"progress": "progress.log"},
            "run_campaign's progress= takes a function or None, not str",
            "give a callable, or leave progress out",
        ),
    ],
)
def test_run_campaign_refuses_a_wrong_type_before_binding_the_ledger(
    args: Callable[[], tuple[object, object]],
    kwargs: dict[str, object],
    message: str,
    hint: str,
    tmp_path: Path,
) -> None:
    """Before the check, one transport, a URL or ``stop=True`` failed only after the
    ledger was bound to the campaign (its CA, board and start written); the others deep
    inside with an AttributeError."""
    transports, push = args()
    options = kwargs.pop("options", CampaignOptions())
    with Ledger(tmp_path / "c.db") as ledger:
        with pytest.raises(ArgumentTypeError, match=message) as e:
            run_campaign(transports, push, ledger, options, **kwargs)  # type: ignore[arg-type]
        assert e.value.hint == hint
        assert e.value.exit_code == 2
        assert "secret" not in f"{e.value} {e.value.hint}"
        assert "ca_sha256" not in ledger.meta()  # not bound


def test_run_campaign_refuses_a_ledger_path_before_opening_it(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with pytest.raises(
        ArgumentTypeError, match="run_campaign's ledger takes a Ledger, not PosixPath"
    ) as e:
        run_campaign([_mdash()], _push(), path, CampaignOptions())  # type: ignore[arg-type]
    assert e.value.hint == CAMPAIGN.replace("'campaign.db'", repr(str(path)))
    assert list(tmp_path.iterdir()) == []


def test_a_campaign_over_a_list_or_a_generator_of_transports_still_runs(
    stand_in: Any, tmp_path: Path
) -> None:
    """The documented form, and a generator: a watch lists the units anew each pass, and
    a generator read by the first pass gave the second none (the unit left unlisted)."""
    # "late" is listed offline on every pass: a watch goes on
    s = stand_in([mdash_unit("up"), mdash_unit("late", online_at=float("inf"))])
    passes: list[int] = []
    stop = threading.Event()

    def listed(count: int) -> None:
        passes.append(count)
        if len(passes) == 2:
            stop.set()

    with Ledger(tmp_path / "a.db") as ledger:
        report = run_campaign(
            [MdashTransport(KEY, base_url=s.url, timeout=2)], _push(), ledger, CampaignOptions()
        )
    assert {r.id: r.state for r in report.rows} == {"up": "verified", "late": "offline"}
    seen: list[str] = []
    with Ledger(tmp_path / "b.db") as ledger:
        transport = MdashTransport(KEY, base_url=s.url, timeout=2)
        units = transport.units

        def counted() -> list[UnitRef]:
            seen.append("listed")
            return units()

        transport.units = counted  # type: ignore[method-assign]
        run_campaign(
            (t for t in [transport]),
            _push(),
            ledger,
            CampaignOptions(watch=True, poll=0.01),
            on_listing=listed,
            stop=stop,
        )
    assert seen == ["listed", "listed"]  # each pass asked the transport
