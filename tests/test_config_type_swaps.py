"""Every value of a config swapped for a value of another type (a list, a map, a number,
nothing, an empty string, a boolean): the config is read or refused with a ConfigError
or InputError naming the file, never a Python error (a list as an output's C name was a
TypeError traceback). Deterministic: every place, every swap, in a second or two."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from esp_cabundle.config import parse_config
from esp_cabundle.errors import InputError

SEED: dict[str, Any] = {
    "preset": ["letsencrypt"],
    "roots": ["isrg-root-x1"],
    "exclude": [],
    "service_until": "2035-01-01",
    "max_bytes": 16000,
    "allow": ["expired"],
    "outputs": [
        "pem",
        {"format": "c", "path": "ca.h", "name": "s_pem", "style": "array"},
        {"format": "idf-bundle", "path": "x509_crt_bundle", "max_certs": 10},
        {"format": "spiffs", "path": "fs.bin", "board": "mdash-arduino"},
    ],
    "targets": [{"chain": "chains/a.pem"}, {"host": "mdash.net", "port": 443}],
    "device": "mbedtls-clock",
    "board": "mdash-arduino@1.2.13",
}
SWAPS: list[Any] = [["a", "b"], {"x": 1}, 5, None, "", True, 1.5]


def _places(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _places(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _places(v, (*path, i))


def _swapped(seed: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(seed)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


CASES = [(p, v) for p in _places(SEED) if p for v in SWAPS]


def test_the_seed_itself_is_read() -> None:
    parse_config(json.dumps(SEED), path=Path("cabundle.yaml"))


@pytest.mark.timeout(120)
def test_every_value_swapped_for_another_type_is_read_or_refused_in_words() -> None:
    crashed = []
    for path, value in CASES:
        text = json.dumps(_swapped(SEED, path, value))  # JSON is YAML: every type spelt plainly
        try:
            parse_config(text, path=Path("cabundle.yaml"))
        except InputError as e:
            assert e.message and "cabundle.yaml" in str(e.path or "") + e.message, (path, e)
        except Exception as e:  # the finding: any other error is a bug
            crashed.append(f"{'.'.join(map(str, path))} = {value!r}: {type(e).__name__}: {e}")
    assert not crashed, "\n".join(crashed)
    assert len(CASES) > 150


@pytest.mark.timeout(300)
@pytest.mark.parametrize("board", ["mdash-arduino", "mongoose-os-esp32", "esp-idf-littlefs"])
def test_every_board_file_value_swapped_for_another_type_is_refused_in_words(board: str) -> None:
    """The same for a board file (``--board FILE``, a config's ``board:`` path)."""
    import yaml  # deferred: PyYAML reads the shipped board into a tree to swap in

    from esp_cabundle.boards import parse_board

    seed = yaml.safe_load((Path(__file__).parent.parent / "boards" / f"{board}.yaml").read_text())
    crashed = []
    places = [p for p in _places(seed) if p]
    for path in places:
        for value in SWAPS:
            try:
                parse_board(json.dumps(_swapped(seed, path, value), default=str), source="b.yaml")
            except InputError:
                pass
            except Exception as e:  # the finding: any other error is a bug
                crashed.append(f"{'.'.join(map(str, path))} = {value!r}: {type(e).__name__}: {e}")
    assert not crashed, "\n".join(crashed[:20])
    assert len(places) > 10
