"""Errors cross process boundaries whole: a gate run under multiprocessing or a
ProcessPoolExecutor hands its parent the real CheckFailed, report and all."""

from __future__ import annotations

import pickle
from datetime import datetime, timezone
from pathlib import Path

import pytest

from esp_cabundle.bundle import BundleSpec
from esp_cabundle.check import CheckFailed, CheckReport, Target
from esp_cabundle.errors import EspCabundleError, ImageError, InputError, PolicyError
from esp_cabundle.gate import CaSource, gate_ca
from esp_cabundle.targets import ChainNotCaptured
from esp_cabundle.verify import Verdict

AT = datetime(2026, 6, 1, tzinfo=timezone.utc)
MDASH = Path(__file__).parent.parent / "examples/ci/chains/mdash.net.pem"


def test_a_check_failed_from_the_gate_survives_a_pickle_round_trip() -> None:
    with pytest.raises(CheckFailed) as refused:
        gate_ca(
            CaSource.build(BundleSpec(roots=("isrg-root-x2",))),
            at=AT,
            targets=[Target("mdash.net", chain=MDASH)],
        )
    error = refused.value
    assert error.report is not None
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is CheckFailed
    assert (back.message, back.hint, back.violations, str(back)) == (
        error.message,
        error.hint,
        error.violations,
        str(error),
    )
    assert back.report == error.report
    verdicts = [(v.explanation, v.reasons) for v in _verdicts(error.report)]
    assert verdicts, "a failing gate judges at least one chain"
    assert [(v.explanation, v.reasons) for v in _verdicts(back.report)] == verdicts
    assert all(text for text, _ in verdicts)


def _verdicts(report: CheckReport | None) -> list[Verdict]:
    assert report is not None
    return [r.timeline.start for r in report.results] + [
        f.verdict for r in report.results for f in r.timeline.flips
    ]


@pytest.mark.parametrize(
    "error",
    [
        InputError("bad", path="x.pem", line=3, hint="fix it"),
        PolicyError("refused", violations=("one",), hint="h"),
        ImageError("no room", hint="bigger"),
        EspCabundleError("root"),
        CheckFailed("failed", violations=("a", "b"), hint="h"),
        ChainNotCaptured("no chain", target="t", hint="h", saved_as=Path("chains/t.pem")),
    ],
)
def test_every_error_keeps_its_fields_through_pickle(error: EspCabundleError) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert vars(back) == vars(error)
    assert str(back) == str(error)


def _exported_errors() -> list[EspCabundleError]:
    """One of each error ``esp_cabundle`` exports beyond the bases above, as the code
    raising it builds one."""
    import esp_cabundle as ecb

    return [
        ecb.AlreadyRestored("nothing to undo", hint="h"),
        ecb.AnotherCampaign("another CA", path="c.db", hint="h"),
        ecb.LedgerDamaged("damaged", hint="h", reread=False),
        ecb.NoRoomError("no room", path="fs.bin", hint="h"),
        ecb.OutOfMemory("out of memory", hint="h"),
        ecb.PlatformVersionError("no such", hint="h", family="arduino", meant=None, advice="a"),
        ecb.TooSmallError("too small", smallest=8192),
        ecb.TornFileSystem("torn", hint="h"),
        ecb.WriteFailed("stopped", written=3, hint="h"),
    ]


@pytest.mark.parametrize("error", _exported_errors(), ids=lambda e: type(e).__name__)
def test_each_exported_error_is_public_and_keeps_its_fields(error: EspCabundleError) -> None:
    """A library caller tells these apart (the CA does not fit, a torn unit not to boot,
    a damaged ledger) by class: each is in ``__all__``, under the documented bases, and
    crosses a process boundary whole."""
    import esp_cabundle as ecb

    name = type(error).__name__
    assert name in ecb.__all__ and getattr(ecb, name) is type(error)
    bases = {
        "NoRoomError": ecb.ImageError,
        "TooSmallError": ecb.ImageError,
        "PlatformVersionError": ecb.ImageError,
        "TornFileSystem": ecb.FlashError,
        "WriteFailed": ecb.FlashError,
        "AlreadyRestored": ecb.InputError,
        "LedgerDamaged": ecb.InputError,
        "AnotherCampaign": ecb.InputError,
        "OutOfMemory": ecb.EspCabundleError,
    }
    assert isinstance(error, bases[name])
    assert f"`{name}`" in (Path(__file__).parent.parent / "README.md").read_text()
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert vars(back) == vars(error)
