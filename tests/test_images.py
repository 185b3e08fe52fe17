"""Image parameters from a board: what ``pack --board`` and image outputs build."""

from __future__ import annotations

import pytest

from esp_cabundle.boards import load_board
from esp_cabundle.errors import InputError
from esp_cabundle.images import image_spec


@pytest.mark.parametrize(
    ("board", "expected"),
    [
        # Arduino-ESP32 1.0.x default.csv: spiffs 0x16F000 at 0x291000.
        ("mdash-arduino", ("spiffs", "esp-idf", 0x16F000, "/ca.pem", ("spiffs", 0x291000))),
        # Arduino-ESP32 2.x+ default.csv: spiffs 0x160000 at 0x290000.
        ("arduino-esp32-littlefs",
         ("littlefs", "arduino", 0x160000, "/ca.pem", ("spiffs", 0x290000))),
        ("mongoose-os-esp32", ("littlefs", "mongoose-os", 0x40000, "/ca.pem", ("fs_0", 0x190000))),
    ],
)  # fmt: skip
def test_a_board_gives_every_parameter(board: str, expected: tuple[object, ...]) -> None:
    spec = image_spec(load_board(board))
    fs_type, profile, size, ca_path, (part, offset) = expected  # type: ignore[misc]
    assert (spec.fs_type, spec.profile, spec.size, spec.ca_path) == (
        fs_type, profile, size, ca_path,
    )  # fmt: skip
    assert (spec.partitions[0].name, spec.partitions[0].offset) == (part, offset)
    assert spec.board == board


def test_mongoose_os_image_is_for_both_slots() -> None:
    spec = image_spec(load_board("mongoose-os-esp32"))
    assert spec.where == "fs_0 at 0x190000, fs_1 at 0x350000"


def test_given_size_and_ca_path_replace_the_boards() -> None:
    spec = image_spec(load_board("mdash-arduino"), size=0x160000, ca_path="/certs/ca.pem")
    assert (spec.size, spec.ca_path) == (0x160000, "/certs/ca.pem")
    assert spec.partitions == ()  # not the default table's partition any more


@pytest.mark.parametrize(
    ("board", "kwargs", "message"),
    [
        ("mdash-arduino", {"fs_type": "littlefs"}, "reads its CA from spiffs, not littlefs"),
        ("mongoose-os-esp32", {"profile": "esp-idf"}, "profile mongoose-os, not esp-idf"),
        ("mdash", {}, "not in a file system: there is no image to make"),
        ("esp-idf-bundle", {}, "not in a file system"),
    ],
)
def test_contradictions_and_boards_without_a_file_system(
    board: str, kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(InputError, match=message) as e:
        image_spec(load_board(board), **kwargs)  # type: ignore[arg-type]
    assert e.value.exit_code == 2 and e.value.hint


def test_without_a_board_everything_is_given() -> None:
    spec = image_spec(fs_type="littlefs", platform="arduino-2.0.17", size=0x40000)
    assert spec.profile == "arduino" and spec.ca_path is None
    with pytest.raises(InputError, match="needs the size"):
        image_spec(fs_type="spiffs", profile="esp-idf")
    with pytest.raises(InputError, match="needs a profile"):
        image_spec(fs_type="spiffs", size=0x10000)
