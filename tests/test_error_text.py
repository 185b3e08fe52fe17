"""``str()`` of an error with violations lists them between the message and the hint,
as the CLI prints them: a library caller's traceback read "keep the root the chain ends
at (named above)" with nothing named above (library-user tryout)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from esp_cabundle.bundle import BundleSpec
from esp_cabundle.check import CheckFailed
from esp_cabundle.errors import InputError, PolicyError, VerdictError
from esp_cabundle.gate import CaSource, gate_ca


@pytest.mark.parametrize("kind", [PolicyError, VerdictError])
def test_violations_are_listed_between_the_message_and_the_hint(
    kind: type[PolicyError] | type[VerdictError],
) -> None:
    e = kind("2 roots refused", violations=("A expired", "B over budget"), hint="drop them")
    assert str(e) == "2 roots refused\n  - A expired\n  - B over budget\n  hint: drop them"
    assert str(kind("refused")) == "refused"
    assert str(InputError("bad", hint="fix it")) == "bad\n  hint: fix it"  # unchanged


def test_a_gates_check_failed_names_the_failure_its_hint_points_to() -> None:
    from esp_cabundle.boards import load_board

    source = CaSource.build(BundleSpec(roots=("amazon-root-ca-1",)))
    with pytest.raises(CheckFailed) as e:
        gate_ca(
            source, board=load_board("mdash-arduino"), at=datetime(2026, 12, 1, tzinfo=timezone.utc)
        )
    text = str(e.value)
    assert "(named above)" in text
    (failure,) = e.value.violations
    assert f"\n  - {failure}\n  hint: " in text and failure.startswith("mdash.net: -0x2700")
