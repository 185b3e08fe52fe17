"""A file-system error's hint is said as facts (the image is as it was, there is no room,
no such file) and worded for its reader: an image being edited, a new image being made,
the command line that names the image. Rewording from facts, not by replacing text, can
be done again by a caller knowing more, and never touches a hint it does not own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from esp_cabundle.errors import ImageError
from esp_cabundle.fs import create_image, get_profile
from esp_cabundle.fs.base import FsHint, HintContext, SizeHint
from esp_cabundle.fs.edit import pack_image
from esp_cabundle.spelling import BOARD_SPELLING, CLI_SPELLING, CONFIG_SPELLING, PYTHON

PEM = (Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem").read_bytes()
BIG = bytes(range(256)) * 1200  # 300 KiB: more than a 256 KiB image holds


def _no_room() -> ImageError:
    img = create_image("littlefs", "esp-idf", 256 << 10)
    with pytest.raises(ImageError) as caught:
        img.write("/big.bin", BIG)
    return caught.value


def test_a_full_image_s_hint_is_worded_for_each_reader_from_the_same_facts() -> None:
    e = _no_room()
    assert (
        e.hint
        == "the image was not changed; free space by removing files, or use a larger partition"
    )
    e.reword(HintContext(new_image=True))
    assert e.hint == "nothing was written; use a larger partition, or pack fewer files"
    # a caller knowing more words it again from the facts, not from the text above
    e.reword(HintContext(new_image=True, output="out dir/fs.bin", spelling=CLI_SPELLING))
    assert e.hint == (
        "nothing was written to out dir/fs.bin; use a larger partition (--size), or pack "
        "fewer files"
    )
    e.reword(HintContext())
    assert (
        e.hint
        == "the image was not changed; free space by removing files, or use a larger partition"
    )


def test_pack_words_its_hints_for_a_new_image() -> None:
    with pytest.raises(ImageError) as caught:
        pack_image("littlefs", "esp-idf", 256 << 10, [("/ca.pem", PEM), ("/big.bin", BIG)])
    # the size that holds them (tests/test_pack_room_hints.py proves it packs)
    assert re.fullmatch(
        r"nothing was written; use a larger partition \(size=\d+ or more holds these files "
        r"and leaves room to rewrite them\), "
        "or pack fewer files",
        caught.value.hint or "",
    ), caught.value.hint


def test_a_missing_file_s_hint_names_the_command_its_reader_types() -> None:
    img = create_image("spiffs", "esp-idf", 256 << 10)
    with pytest.raises(ImageError) as caught:
        img.read("/nope.pem")
    e = caught.value
    assert e.hint == "list the files the image holds: esp-cabundle fs ls IMAGE"
    e.reword(HintContext(ls_command="esp-cabundle fs ls 'my fs.bin'"))
    assert e.hint == "list the files the image holds: esp-cabundle fs ls 'my fs.bin'"


def test_a_hint_given_as_text_is_never_reworded() -> None:
    """A hint no file-system fact made (here one that quotes the placeholder words) is
    left as it is: string replacement rewrote whatever held the words."""
    e = ImageError("x", hint="the image was not changed: see esp-cabundle fs ls IMAGE")
    e.reword(HintContext(new_image=True, ls_command="esp-cabundle fs ls a.bin"))
    assert e.hint == "the image was not changed: see esp-cabundle fs ls IMAGE"


def test_the_size_option_comes_from_one_spelling() -> None:
    """The size is named by a Spelling's ``size`` alone: the error's own (FsHint), or
    the reader's (HintContext) over it; SizeHint words it as that spelling sets it."""
    hint = FsHint(no_room=True, fits=12288, spelling=PYTHON)
    assert hint.text(HintContext(new_image=True)) == (
        "nothing was written; use a larger partition (size=12288 or more holds these "
        "files and leaves room to rewrite them), or pack fewer files"
    )
    assert hint.text(HintContext(new_image=True, spelling=CONFIG_SPELLING)) == (
        "nothing was written; use a larger partition (size: 12K or more holds these "
        "files and leaves room to rewrite them), or pack fewer files"
    )
    assert hint.text(HintContext(new_image=True, spelling=CLI_SPELLING)) == (
        "nothing was written; use a larger partition (--size 12K or more holds these "
        "files and leaves room to rewrite them), or pack fewer files"
    )
    mine = CLI_SPELLING._replace(size="--partition-size")
    assert SizeHint(8192, mine).text() == "give --partition-size 8K or more"
    assert SizeHint(8192, mine).option == mine.size
    assert SizeHint(8192, BOARD_SPELLING).text() == (
        "make the partition 8K or more (the unit's partition table)"
    )


def test_a_file_system_named_as_a_profile_is_told_so() -> None:
    """``--profile spiffs`` was answered "did you mean 'esp-idf'?" (a near name by letters)."""
    for fs_type, other in (("littlefs", "spiffs"), ("spiffs", "littlefs"), ("spiffs", "spiffs")):
        with pytest.raises(ImageError) as e:
            get_profile(fs_type, other)
        hint = e.value.hint or ""
        assert hint.startswith(
            f"{other} is a file system, not a profile; the {fs_type} profiles: "
        ), hint
        assert "did you mean" not in hint
