"""The library's values as a script or a worker pool meets them: a Board and a GatedCA
pickle (a station's worker hands them to its parent) and a Board hashes; a plan's repr
is a line, not kilobytes; a verdict's ``error_text`` is None where ``to_dict`` says
null; CampaignOptions and OutputSpec check what they are given."""

from __future__ import annotations

import math
import os
import pickle
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import esp_cabundle as ecb
from esp_cabundle.board_model import BoardOutput
from esp_cabundle.errors import ArgumentTypeError, InputError
from esp_cabundle.flash.offline import update_dump
from esp_cabundle.frozen_map import FrozenMap
from tests.support import dumps
from tests.support.gated import AT, X1_PEM, gated

REPO = Path(__file__).resolve().parent.parent


# --- 1. Board and GatedCA pickle; Board hashes; both stay immutable -------------------


BOARDS = sorted(p.stem for p in (REPO / "esp_cabundle/data/boards").glob("*.yaml"))


@pytest.mark.parametrize("name", BOARDS)
def test_a_board_pickles_to_an_equal_board_and_hashes(name: str) -> None:
    """A MappingProxyType in BoardOutput.options (and the firmware release's) made
    pickle.dumps(board) and hash(board) raise TypeError."""
    board = ecb.load_board(name)
    back = pickle.loads(pickle.dumps(board))
    assert back == board and hash(back) == hash(board)
    assert {board: 1}[back] == 1
    assert back.output.options == board.output.options
    assert back.device_profile() == board.device_profile()


def test_a_gated_ca_with_its_board_pickles_to_an_equal_one_that_still_works() -> None:
    board = ecb.load_board("mdash-arduino")
    ca = gated(X1_PEM, board)
    back = pickle.loads(pickle.dumps(ca))
    assert back == ca and back.board == board
    assert back.for_board(board) == ca.pem
    assert ecb.pack_ca(back, board=board).data == ecb.pack_ca(ca, board=board).data


def test_board_options_stay_immutable_and_are_a_copy() -> None:
    given = {"name": "s_pem"}
    output = BoardOutput("c", "ca.h", given)
    given["name"] = "changed"  # the caller's dict, changed afterwards
    assert output.options == {"name": "s_pem"}
    with pytest.raises(TypeError):
        output.options["name"] = "x"  # type: ignore[index]
    with pytest.raises(AttributeError):
        output.options._items = {}  # type: ignore[attr-defined]
    assert isinstance(output.options, FrozenMap)
    assert hash(output) == hash(BoardOutput("c", "ca.h", {"name": "s_pem"}))


def test_a_frozen_map_is_a_mapping_equal_to_a_dict() -> None:
    m = FrozenMap({"a": 1, "b": 2})
    assert m == {"a": 1, "b": 2} and dict(m) == {"a": 1, "b": 2}
    assert m != {"a": 1} and list(m) == ["a", "b"] and len(m) == 2
    assert pickle.loads(pickle.dumps(m)) == m and hash(FrozenMap({"b": 2, "a": 1})) == hash(m)
    assert repr(m) == "FrozenMap({'a': 1, 'b': 2})"


def test_a_frozen_map_stays_whole_and_says_why_it_cannot_hash() -> None:
    m = FrozenMap({"a": [1]})
    with pytest.raises(AttributeError, match="immutable"):
        del m._items  # it left a map whose every read failed
    with pytest.raises(AttributeError, match="immutable"):
        m._items = {}  # type: ignore[misc]
    assert m == {"a": [1]}
    with pytest.raises(TypeError, match="unhashable"):
        hash(m)  # hashable when its values are, as a tuple is


# --- 2. a plan's repr: sizes, counts, digests, no bytes ------------------------------


def test_an_update_plan_and_a_dump_update_print_in_one_short_line() -> None:
    """Their repr held the whole board, partition table and every change: ~8-10 KB."""
    board = ecb.load_board("mdash-arduino")
    ca = gated(X1_PEM, board)
    result = update_dump(dumps.arduino_dump(), board, ca)
    plan_text, result_text = repr(result.plan), repr(result)
    assert len(plan_text) < 400 and len(result_text) < 500
    assert "\\x" not in result_text and "b'" not in result_text
    assert plan_text.startswith("UpdatePlan(board='mdash-arduino@1.2.13', ")
    assert f"{len(ca.pem)} bytes, sha256 {ca.sha256[:12]}" in plan_text
    assert f"writes={len(result.plan.writes)}" in plan_text
    assert "spiffs: " in plan_text  # the partition, its writes and CA sizes
    assert result_text.startswith(f"DumpUpdate(flash=<{len(result.flash)} bytes>, sha256=")
    assert result_text.endswith(f"plan={plan_text})")


# --- 3. error_text: None when the unit accepts, as to_dict's error --------------------


def test_a_verdict_error_text_is_none_exactly_when_its_dict_error_is_null() -> None:
    ca = ecb.gate_ca(ecb.CaSource.build(ecb.BundleSpec(presets=("letsencrypt",))), at=AT)
    chain = ecb.load_chain_file(REPO / "examples/chains/letsencrypt-2024-short.pem").certificates
    device = ecb.parse_device_profile("mbedtls-noclock")
    accepted = ecb.verify_chain(
        ecb.TrustSet.from_certificates(ca.certificates), chain, device, at=AT
    )
    assert accepted.ok and accepted.error_text is None and accepted.to_dict()["error"] is None
    assert "logs" not in accepted.explanation  # the text never said "logs none"
    refused = ecb.verify_chain(ecb.TrustSet.from_certificates(chain[-1:]), chain, device, at=AT)
    assert not refused.ok and refused.error_text is not None
    assert refused.error_text.startswith(f"{refused.to_dict()['error']} (MBEDTLS_ERR_")
    assert f"The device logs {refused.error_text}." in refused.explanation


# --- 4. CampaignOptions checks its values --------------------------------------------


@pytest.mark.parametrize(
    ("given", "error", "words"),
    [
        (
            {"concurrency": "8"},
            ArgumentTypeError,
            "concurrency= takes a number of units (int), not str",
        ),
        ({"concurrency": 2.5}, ArgumentTypeError, "concurrency= takes a number of units (int)"),
        ({"concurrency": True}, ArgumentTypeError, "concurrency= takes a number of units (int)"),
        (
            {"concurrency": 0},
            InputError,
            "concurrency= takes a number of units of 1 or more, not 0",
        ),
        ({"timeout": "10"}, ArgumentTypeError, "timeout= takes seconds (int or float), not str"),
        (
            {"timeout": None},
            ArgumentTypeError,
            "timeout= takes seconds (int or float), not NoneType",
        ),
        ({"timeout": 0}, InputError, "timeout= takes seconds above 0"),
        ({"reconnect_timeout": -1.0}, InputError, "reconnect_timeout= takes seconds above 0"),
        ({"poll": math.nan}, InputError, "poll= takes seconds above 0"),
        ({"poll": math.inf}, InputError, "poll= takes seconds above 0"),
        ({"poll": 1e300}, InputError, "poll= takes seconds above 0 and at most"),
        ({"reboot": "yes"}, ArgumentTypeError, "reboot= takes a bool, not str 'yes'"),
        ({"watch": 1}, ArgumentTypeError, "watch= takes a bool, not int 1"),
        ({"in_place": None}, ArgumentTypeError, "in_place= takes a bool, not NoneType"),
        ({"until": "2026-12-31"}, ArgumentTypeError, "until= takes a datetime or None, not str"),
        ({"until": 1767225600}, ArgumentTypeError, "until= takes a datetime or None, not int"),
        ({"deadline_for": "soon"}, ArgumentTypeError, "deadline_for= takes a function or None"),
        ({"go_dark_for": 3}, ArgumentTypeError, "go_dark_for= takes a function or None"),
        ({"unit_board_again": "x"}, ArgumentTypeError, "unit_board_again= takes a function"),
        ({"judged_against": 3}, ArgumentTypeError, "judged_against= takes a str or None"),
        ({"spelling": "cli"}, ArgumentTypeError, "spelling= takes a Spelling, not str"),
    ],
)
def test_campaign_options_refuse_a_wrong_value_naming_it(
    given: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as e:
        ecb.CampaignOptions(**given)
    assert str(e.value.args[0]).startswith("CampaignOptions's ")
    assert words in str(e.value.args[0])
    assert isinstance(e.value, InputError) and e.value.hint


def test_campaign_options_take_what_the_cli_and_scripts_give() -> None:
    ecb.CampaignOptions()
    ecb.CampaignOptions(concurrency=1, timeout=1, poll=0.2, reconnect_timeout=3600.0)
    ecb.CampaignOptions(deadline_for=lambda data: None, judged_against="mdash.net")
    naive = ecb.CampaignOptions(watch=True, until=datetime(2026, 12, 31))
    assert naive.until == datetime(2026, 12, 31, tzinfo=timezone.utc)  # naive is UTC
    aware = datetime(2026, 12, 31, tzinfo=timezone.utc)
    assert ecb.CampaignOptions(until=aware).until is aware


# --- 5. OutputSpec keeps a Path --------------------------------------------------------


class _PathLike:
    def __init__(self, path: str) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return self.path


@pytest.mark.parametrize("given", ["out/ca.pem", Path("out/ca.pem"), _PathLike("out/ca.pem")])
def test_an_output_spec_keeps_its_path_as_a_path(given: Any) -> None:
    spec = ecb.OutputSpec("pem", given)
    assert type(spec.path) is type(Path()) and spec.path == Path("out/ca.pem")
    assert spec == ecb.OutputSpec("pem", Path("out/ca.pem"))


def test_a_build_from_a_str_path_writes_and_reports_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = ecb.BundleSpec(roots=(str(REPO / "tests/data/letsencrypt/isrgrootx1.pem"),))
    result = ecb.build_bundle(spec, (ecb.OutputSpec("pem", "out/ca.pem"),), at=AT)
    assert ecb.write_build(result).written == (Path("out/ca.pem"),)
    assert (tmp_path / "out/ca.pem").is_file()


@pytest.mark.parametrize(
    ("given", "error", "words"),
    [
        (3, ArgumentTypeError, "OutputSpec's path= takes a path (str or Path), not int"),
        (None, ArgumentTypeError, "OutputSpec's path= takes a path (str or Path), not NoneType"),
        (b"ca.pem", ArgumentTypeError, "OutputSpec's path= takes a path (str or Path), not bytes"),
        (_PathLike(b"ca.pem"), ArgumentTypeError, "OutputSpec's path= takes a path"),  # type: ignore[arg-type]
        ("", InputError, "OutputSpec's path= is empty"),
    ],
)
def test_an_output_spec_refuses_what_is_no_path(
    given: Any, error: type[Exception], words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error) as e:
        ecb.OutputSpec("pem", given)
    assert words in str(e.value.args[0]) and isinstance(e.value, InputError) and e.value.hint
    assert os.listdir(tmp_path) == []  # nothing written
