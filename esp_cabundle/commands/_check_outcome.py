"""How ``check`` ends: the verdicts it could make, and the targets it could not judge.

A target whose chain could not be captured (no saved chain, the server unreachable) hid
every other verdict: the run stopped at the capture error (exit 3) and a failing chain
judged beside it was never shown. Now every chain that can be judged is, and the capture
errors are said with them. A failure found exits 1 even then (a CI gate has its answer:
the CA fails a server); only when every chain judged passes does an unjudged target
exit 3 (nothing failed, but the check is not whole). ``--json`` prints the report
document whether or not a chain was judged, and the hint says the folder ``chains
pull`` saves to once, however many targets it would save.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DeviceError, EspCabundleError, VerdictError
from ..fix_hints import fix_hint
from ..spelling import CLI_SPELLING
from ..targets import ChainNotCaptured
from ..text import shown_path

if TYPE_CHECKING:
    from ..check import CheckReport
    from ..report import ReportWrite

__all__ = ["capture_errors", "check_document", "check_outcome", "unjudged_error"]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _hints(errors: Sequence[EspCabundleError]) -> list[str]:
    """Each hint once; the targets ``chains pull`` saves, when several, in one sentence
    naming their folder: a sentence per target made a hint of 50 sentences for 50."""
    pulled: dict[Path, int] = {}
    for e in errors:
        if isinstance(e, ChainNotCaptured) and e.saved_as is not None:
            pulled[e.saved_as.parent] = pulled.get(e.saved_as.parent, 0) + 1
    if sum(pulled.values()) < 2:  # one target: its own hint names its file
        return list(dict.fromkeys(e.hint for e in errors if e.hint))
    hints = [
        e.hint
        for e in errors
        if e.hint and not (isinstance(e, ChainNotCaptured) and e.saved_as is not None)
    ]
    folders = " and ".join(
        f"{_plural(n, 'chain')} in {shown_path(d)}{os.sep}" for d, n in pulled.items()
    )
    pull = CLI_SPELLING.pulled.removesuffix(" it")  # "'esp-cabundle chains pull' saves"
    hints.insert(
        0,
        f"online, {pull} the {folders}; offline, put each server's chain at the path its "
        "error names (PEM, leaf first)",
    )
    return list(dict.fromkeys(hints))


def unjudged_error(errors: Sequence[DeviceError], judged: int = 0) -> DeviceError:
    """The error for targets whose chains could not be captured, ``judged`` chains
    passing beside them: one target's own error, or every one of several, listed."""
    verb = "passes" if judged == 1 else "pass"
    passed = f" (the {_plural(judged, 'chain')} judged {verb})" if judged else ""
    if len(errors) == 1:
        e = errors[0]
        return DeviceError(f"{e.message}{passed}", hint=e.hint)
    error = DeviceError(
        f"{len(errors)} targets could not be judged: their chains could not be captured{passed}",
        hint="; ".join(_hints(errors)) or None,
    )
    error.violations = tuple(e.message for e in errors)  # type: ignore[attr-defined]
    return error


def check_outcome(
    report: CheckReport,
    unreachable: Sequence[DeviceError],
    *,
    horizon: bool,
    quiet: bool,
) -> EspCabundleError | None:
    """The error ``check`` ends with, or None when every chain passes and every target
    was judged. A failure names its targets when ``quiet`` (the verdicts are not
    printed then), as build's refusal names them."""
    total = len(report.results)
    if report.ok:
        return unjudged_error(unreachable, total) if unreachable else None
    message = (
        f"{len(report.failures)} of {_plural(total, 'chain')} "
        f"would fail{' within the horizon' if horizon else ''}"
    )
    if unreachable:
        message += f"; {_plural(len(unreachable), 'target')} not judged (no chain captured)"
    violations = report.failure_lines() if quiet else ()
    violations += tuple(e.message for e in unreachable)
    hint = "; ".join([fix_hint(report.failures, report.trust), *_hints(unreachable)])
    return VerdictError(message, violations=violations, hint=hint)


def capture_errors(unreachable: Sequence[DeviceError]) -> list[dict[str, str | None]]:
    """``--json``'s ``capture_errors``: each target not judged, its error and hint."""
    return [{"error": e.message, "hint": e.hint} for e in unreachable]


def check_document(
    report: CheckReport,
    unreachable: Sequence[DeviceError],
    failed: EspCabundleError | None,
    report_path: Path | None,
    written: ReportWrite | None = None,
) -> dict[str, Any]:
    """``check --json``'s document: the report, whether or not a chain was judged (a CI
    step reads one shape: ``results`` empty when every target failed to be captured).
    ``written``/``unchanged`` list the HTML report as build's lists its outputs: a
    report that already held these bytes is left untouched, and said so."""
    doc = report.to_dict()
    doc["ok"] = failed is None  # a target not judged is no pass
    doc["capture_errors"] = capture_errors(unreachable)
    # The code this run exits with, as flash --json and every failure document say it;
    # failing, the failure document's words too (the text's Error: and hint: lines).
    doc["exit_code"] = 0 if failed is None else failed.exit_code
    if failed is not None:
        doc.update(error=failed.message, hint=failed.hint)
    if report_path is not None:  # where the HTML went, for the CI step that keeps it
        doc["report"] = str(report_path)
    kept = written is not None and written.unchanged
    doc["written"] = [str(report_path)] if report_path is not None and not kept else []
    doc["unchanged"] = [str(report_path)] if report_path is not None and kept else []
    return doc
