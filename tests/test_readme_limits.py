"""README's "Input limits" table says the caps the code has. Each cap's behaviour is
tested where it bites (tests/test_hostile_inputs.py, test_push_links.py,
test_virtual_rpc_edges.py ...), often with a smaller cap for speed; this holds the
figures a reader sees to the ones in force: a cap changed in the code, or a row edited
in README, fails here until the other follows."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from esp_cabundle import limits
from esp_cabundle.formats.idf_bundle import DEFAULT_MAX_CERTS
from esp_cabundle.limits import human_size
from esp_cabundle.push.mdash import MAX_LISTING_BYTES
from esp_cabundle.push.rpc import MAX_ANSWER_BYTES
from esp_cabundle.virtual.mdash_cloud import MdashCloud
from esp_cabundle.virtual.rpc import CALL_LOG_SIZE, MAX_FRAME_BYTES, SimUnit
from esp_cabundle.virtual.rpc_http import MAX_HEAD_BYTES, YIELD_AFTER
from esp_cabundle.virtual.rpc_links import LanUnitServer

README = Path(__file__).resolve().parent.parent / "README.md"


def limits_table() -> dict[str, str]:
    """The table's rows: the input's cell (up to its first parenthesis) -> the limit's."""
    section = README.read_text().split("### Input limits", 1)[1]
    rows: dict[str, str] = {}
    for line in section.splitlines()[1:]:
        if rows and not line.startswith("|"):
            break  # the end of the table
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or cells[0] in ("Input", "---"):
            continue
        rows[cells[0].split(" (", 1)[0].split(":", 1)[0]] = cells[1]
    return rows


def _cloud_default(name: str) -> object:
    return inspect.signature(MdashCloud).parameters[name].default


def _server_default(name: str) -> object:
    return inspect.signature(LanUnitServer).parameters[name].default


def test_every_limit_readme_lists_is_the_one_in_force() -> None:
    depth = f"nesting {limits.MAX_JSON_DEPTH} levels"
    expected = {
        "certificate files": [human_size(limits.MAX_CERT_INPUT)],
        "a server chain": [f"{limits.MAX_CHAIN_CERTS} certificates"],
        "a forecast": [f"{limits.MAX_FORECAST_INSTANTS} dates"],
        "an ESP-IDF `x509_crt_bundle`": [
            f"{limits.MAX_IDF_BUNDLE_ROOTS:,} roots",
            f"takes {DEFAULT_MAX_CERTS} unless",
        ],
        "`cabundle.yaml`, board profiles": [
            human_size(limits.MAX_YAML_INPUT),
            f"nesting {limits.MAX_YAML_DEPTH} levels",
            f"at most {limits.MAX_YAML_ALIASED:,} values",
        ],
        "`cabundle.lock`": [human_size(limits.MAX_LOCK_INPUT), depth],
        "a journal entry": [human_size(limits.MAX_JOURNAL_INPUT), depth],
        "a partition table CSV": [
            human_size(limits.MAX_CSV_INPUT),
            f"at most {limits.MAX_NUMBER_DIGITS} characters",
        ],
        "the files `pack --from-dir` puts in an image": [
            human_size(limits.MAX_PACK_INPUT),
            f"{limits.MAX_PACK_FILES:,} files",
        ],
        "any other file": [human_size(limits.MAX_FILE_INPUT)],
        "a unit's answer to `push`": [f"{human_size(MAX_ANSWER_BYTES)} per answer frame", depth],
        "mDash's device list": [human_size(MAX_LISTING_BYTES)],
        "a `push --devices` file": [human_size(limits.MAX_DEVICES_INPUT)],
        "a request to `virtual-unit --rpc`": [
            f"{human_size(MAX_FRAME_BYTES)} per frame",
            depth,
            f"headers {MAX_HEAD_BYTES} bytes",
            f"{_server_default('max_connections')} connections at once",
            f"closed after {_server_default('idle_timeout'):g} s without a whole request",
            f"the last {SimUnit.__dataclass_fields__['max_calls'].default} calls kept",
        ],
        "a request to `virtual-unit --mdash`": [
            f"{human_size(MAX_FRAME_BYTES)} per body",
            f"nesting {limits.MAX_JSON_DEPTH - 1} levels",
            "the frame to the unit adds one",
            f"{_cloud_default('max_connections')} connections at once",
            f"served by {_cloud_default('workers')} threads",
            f"a request line and headers not whole within {YIELD_AFTER:g} s",
            f"closed after {_cloud_default('idle_timeout'):g} s without a whole request",
            f"the last {CALL_LOG_SIZE} requests kept",
        ],
    }
    table = limits_table()
    assert set(table) == set(expected), sorted(table)
    for row, figures in expected.items():
        for figure in figures:
            assert figure in table[row], (row, figure, table[row])
        # no other figure in the row that this test does not hold to the code
        said = re.findall(r"\d[\d,.]*", table[row])
        held = re.findall(r"\d[\d,.]*", " ".join(figures))
        assert sorted(said) == sorted(held), (row, said, held)


def test_the_rehearsal_unit_s_limits_read_the_same_in_the_prose() -> None:
    """README's "Rehearse a push" says the virtual unit's caps in words: the same figures."""
    text = " ".join(README.read_text().split("### Rehearse a push", 1)[1].split("\n## ")[0].split())
    for words in (
        f"keeps only the last {SimUnit.__dataclass_fields__['max_calls'].default}",
        f"pass {MAX_HEAD_BYTES} bytes",
        f"a body over {human_size(MAX_FRAME_BYTES)}",
        f"At most {_server_default('max_connections')} connections are open at once",
        f"no whole request for {_server_default('idle_timeout'):g} s",
        f"At most {_cloud_default('max_connections')} connections are open at once (one",
        f"served by {_cloud_default('workers')} threads (the",
        f"after {_cloud_default('idle_timeout'):g} s without a whole request",
    ):
        assert words in text, words
