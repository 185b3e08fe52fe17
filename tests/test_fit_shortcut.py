"""A roomy pack is spared its rewrite trial (fs.fit.surely_rewritable: free blocks for
twice the trial's bytes and a few more), and the shortcut is sound: wherever it
says a rewrite will find room, the trial, the write ``fs put`` makes, finds it. Held at
every size from the least that packs up past where the shortcut first holds, for both
file systems, the two SPIFFS garbage collectors, and files of a few sizes."""

from __future__ import annotations

import random

import pytest

from esp_cabundle.fs import edit as edit_module
from esp_cabundle.fs import open_image
from esp_cabundle.fs.base import NoRoomError
from esp_cabundle.fs.edit import pack_image
from esp_cabundle.fs.fit import rewritable, rewrite_trial, surely_rewritable

BLOCK = 4096
PAST = 3  # sizes checked past the first the shortcut takes


def _file(length: int) -> bytes:
    return random.Random(length).randbytes(length)


@pytest.mark.parametrize(
    ("fs", "profile"), [("littlefs", "esp-idf"), ("spiffs", "esp-idf"), ("spiffs", "mongoose-os")]
)
@pytest.mark.parametrize("length", [2_500, 13_568, 45_000])
@pytest.mark.parametrize("ca_path", ["/ca.pem", "/other.pem"])
def test_the_shortcut_never_says_room_the_trial_does_not_find(
    fs: str, profile: str, length: int, ca_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held with the trial a pack makes (rewrite_trial): the CA file grown to twice its
    size when it is at the CA path, a file under another name as it is. The size a
    refusal's hint names is not under test here: its search (a pack at each size tried)
    is left out, 8 of the 9 parts of the time."""
    monkeypatch.setattr(edit_module, "smallest_fit", lambda *args, **kwargs: None)
    files = [("/ca.pem", _file(length))]
    trial = rewrite_trial(files, ca_path)
    assert trial is not None
    size, sure, tried = 3 * BLOCK, 0, 0  # SPIFFS needs three blocks
    while sure < PAST:
        assert size < 64 * BLOCK + 8 * length, "the shortcut never held"
        try:
            packed = pack_image(fs, profile, size, files)
        except NoRoomError:
            size += BLOCK
            continue
        if surely_rewritable(open_image(packed.data, profile=profile), trial):
            sure += 1
            assert rewritable(open_image(packed.data, profile=profile), trial), size
        else:
            tried += 1
        size += BLOCK
    assert tried, "no size was left to the trial: the bound was not approached"


@pytest.mark.parametrize("fs", ["littlefs", "spiffs"])
def test_a_roomy_pack_runs_no_trial_and_a_cramped_one_does(
    fs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    trials: list[int] = []
    real = edit_module.rewritable

    def counted(*args: object, **kwargs: object) -> bool | None:
        trials.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(edit_module, "rewritable", counted)
    files = [("/ca.pem", _file(13_568))]
    roomy = pack_image(fs, "esp-idf", 256 * 1024, files)
    assert roomy.cramped is None and not trials
    assert roomy.image.read("/ca.pem") == files[0][1]
    size = 3 * BLOCK
    while True:
        try:
            pack_image(fs, "esp-idf", size, files)
            break
        except NoRoomError:
            size += BLOCK
    assert trials, f"the least size that packs ({size}) was not tried"


def test_the_trial_rewrites_the_ca_file_not_a_large_asset(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pack with a 6 MB asset beside its CA tried rewriting the asset, through SPIFFS's
    write path, at each size the search tried: 22 s for one pack. The CA file is what an
    update rewrites; with none at the CA path, only a file of CA size is tried."""
    tried: list[str] = []
    real = edit_module.rewritable

    def counted(scratch: object, trial: tuple[str, bytes] | None) -> bool:
        tried.append(trial[0] if trial else "")
        return real(scratch, trial)  # type: ignore[arg-type]

    monkeypatch.setattr(edit_module, "rewritable", counted)
    ca, asset = _file(13_568), _file(6 << 20)
    with pytest.raises(NoRoomError):
        pack_image("spiffs", "esp-idf", 64 * BLOCK, [("/ca.pem", ca), ("/asset.bin", asset)])
    assert tried and set(tried) == {"/ca.pem"}
    tried.clear()
    with pytest.raises(NoRoomError) as caught:
        pack_image("spiffs", "esp-idf", 64 * BLOCK, [("/asset.bin", asset)])
    assert set(tried) <= {""}, tried  # no file of CA size: nothing rewritten
    assert "or more" in (caught.value.hint or "")
    assert rewrite_trial([("/a.pem", ca), ("/b.bin", asset)], "/ca.pem") == ("/a.pem", ca)
    assert rewrite_trial([("/b.bin", asset)], "/ca.pem") is None


@pytest.mark.parametrize("fs", ["littlefs", "spiffs"])
def test_room_for_twice_the_trial_is_enough_to_skip_it(
    fs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pack with free blocks for more than twice its grown trial, but not three times,
    runs no trial: the 3x bound made a 1408 KiB pack with a 233 KB CA pay its trial
    (60 ms, benchmarks/bench_vendor.py) once the trial became twice the file."""
    trials: list[int] = []
    real = edit_module.rewritable

    def counted(*args: object, **kwargs: object) -> bool | None:
        trials.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    files = [("/ca.pem", _file(13_568))]
    trial = rewrite_trial(files, "/ca.pem")
    assert trial is not None
    for blocks in range(8, 64):
        image = open_image(pack_image(fs, "esp-idf", blocks * BLOCK, files).data)
        free = image.free_blocks()
        assert free is not None
        if 2 * len(trial[1]) + 5 * BLOCK <= free * BLOCK < 3 * len(trial[1]) + 5 * BLOCK:
            break
    else:
        pytest.fail("no size leaves free blocks between twice and three times the trial")
    monkeypatch.setattr(edit_module, "rewritable", counted)
    packed = pack_image(fs, "esp-idf", blocks * BLOCK, files)
    assert packed.cramped is None and not trials, blocks
