"""A verdict's reasons (check's failure lines lead with the error code) are its
explanation without the words naming that code again, said by the explainer, not cut
out of its text afterwards."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest

from esp_cabundle.check import CheckFailed
from esp_cabundle.verify.profiles import DEVICE_PROFILES, ERR_SSL_VERIFICATION_WITHOUT_HOSTNAME
from esp_cabundle.verify.verdict import Verdict
from esp_cabundle.verify.verifier import _early
from tests.support.gate_cases import DST_PEM
from tests.test_gate_board import gate

AT = datetime(2026, 6, 1, tzinfo=timezone.utc)


def _cut(v: Verdict) -> str:
    """What check.py cut out of the explanation before."""
    code = v.error_text
    return v.explanation.replace(f" The device logs {code}.", "").replace(f"logs {code}", "logs it")


def test_a_refused_chains_reasons_leave_out_the_logged_code() -> None:
    with pytest.raises(CheckFailed) as e:
        gate(DST_PEM)
    assert e.value.report is not None
    v = e.value.report.failures[0].timeline.start
    assert f"The device logs {v.error_text}." in v.explanation
    assert v.error_text not in v.reasons and v.reasons == _cut(v)


def test_an_early_refusals_reasons_say_the_unit_logs_it() -> None:
    profile = dataclasses.replace(DEVICE_PROFILES["mbedtls3-clock"], sets_hostname=False)
    v = _early(profile, AT, AT, None, "tls", ERR_SSL_VERIFICATION_WITHOUT_HOSTNAME)
    assert f"the unit logs {v.error_text}." in v.explanation
    assert v.reasons.endswith("the unit logs it.") and v.reasons == _cut(v)
