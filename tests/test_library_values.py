"""The library's values as a script or a worker pool meets them: a Board and a GatedCA
pickle (a station's worker hands them to its parent) and a Board hashes; a plan's repr
is a line, not kilobytes; a verdict's ``error_text`` is None where ``to_dict`` says
null; CampaignOptions and OutputSpec check what they are given."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import esp_cabundle as ecb
from esp_cabundle.board_model import BoardOutput
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
