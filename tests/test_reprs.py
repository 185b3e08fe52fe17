"""Results that carry an image, a dump or a build's outputs print their bytes as a size:
``repr`` (a REPL, a log line, a failed assertion) of a 16 MiB dump was 17 MB."""

from __future__ import annotations

from pathlib import Path

from esp_cabundle.boards import load_board
from esp_cabundle.build import build_bundle
from esp_cabundle.bundle import BundleSpec
from esp_cabundle.config import OutputSpec
from esp_cabundle.flash.offline import WholeDump, update_dump
from esp_cabundle.images import pack_ca
from tests.support import dumps
from tests.support.gated import AT, X1_PEM, gated


def test_a_packed_image_prints_its_size_not_its_bytes() -> None:
    board = load_board("mdash-arduino")
    packed = pack_ca(gated(X1_PEM, board), board=board)
    assert len(packed.data) > 1_000_000
    assert len(repr(packed)) < 2048
    assert f"data=<{len(packed.data)} bytes>" in repr(packed)


def test_a_dump_update_prints_no_flash(tmp_path: Path) -> None:
    board = load_board("mdash-arduino")
    flash = dumps.arduino_dump()
    result = update_dump(flash, board, gated(X1_PEM, board))
    assert len(result.flash) >= 4_000_000
    # the plan's board, table and partition changes remain, each a few KB at most
    assert len(repr(result)) < 16_384
    assert f"flash=<{len(result.flash)} bytes>" in repr(result)
    assert len(repr(WholeDump.parse(flash))) < 2048


def test_a_build_result_prints_its_outputs_sizes(tmp_path: Path) -> None:
    board = load_board("mdash-arduino")
    outputs = (
        OutputSpec("spiffs", tmp_path / "s.bin", {"board": "mdash-arduino"}),
        OutputSpec("pem", tmp_path / "ca.pem"),
    )
    result = build_bundle(
        BundleSpec(roots=(str(Path(__file__).parent / "data/letsencrypt/isrgrootx1.pem"),)),
        outputs,
        board=board,
        at=AT,
    )
    image = result.outputs[0][1]
    assert len(image) > 1_000_000
    assert len(repr(result)) < 16_384
    assert f"<{len(image)} bytes>" in repr(result)
