"""A ``disk_version`` littlefs does not know is an ImageError at every library entry
point, never littlefs's ``lfs_init`` assertion (which aborted the interpreter)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from esp_cabundle.errors import ImageError
from esp_cabundle.fs import open_image

LFS20 = Path(__file__).parent / "data/littlefs/mongoose-lfs20-256k.bin"

# Each bad value through each entry point that hands a version to littlefs, in a child
# process: an abort there kills the child, not the test run.
_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from esp_cabundle import create_image, open_image, pack_ca
    from esp_cabundle.errors import ImageError
    from esp_cabundle.fs.littlefs import LittleFsImage, build_littlefs_image
    from tests.support.gated import X1_PEM, gated

    ca = gated(X1_PEM)
    lfs20 = Path(sys.argv[1]).read_bytes()
    calls = {
        "pack_ca": lambda v: pack_ca(
            ca, fs_type="littlefs", profile="esp-idf", size=0x20000, disk_version=v
        ),
        "create_image": lambda v: create_image("littlefs", "esp-idf", 0x20000, disk_version=v),
        "LittleFsImage.create": lambda v: LittleFsImage.create(0x20000, "esp-idf", disk_version=v),
        "build_littlefs_image": lambda v: build_littlefs_image(
            {}, size=0x20000, profile="esp-idf", disk_version=v
        ),
        "open_image": lambda v: open_image(lfs20, disk_version=v),
        "LittleFsImage.open": lambda v: LittleFsImage.open(lfs20, disk_version=v),
    }
    for name, call in calls.items():
        for value in (20, 21, 99, 0x30000, 0, -1, "2.1", 2.0, True):
            try:
                call(value)
            except ImageError as e:
                print(name, repr(value), e.message, "| hint:", e.hint, flush=True)
            else:
                print(name, repr(value), "ACCEPTED", flush=True)
    """
)


def test_a_bad_disk_version_is_an_image_error_everywhere() -> None:
    root = Path(__file__).parent.parent
    r = subprocess.run(
        [sys.executable, "-c", _CHILD, str(LFS20)],
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert len(lines) == 6 * 9, r.stdout
    assert not [line for line in lines if "ACCEPTED" in line]
    assert all("is not a LittleFS on-disk version" in line for line in lines), r.stdout


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        (20, "for on-disk version 2.0 give disk_version=0x00020000"),
        (21, "for on-disk version 2.1 give disk_version=0x00020001"),
        ("2.0", "for on-disk version 2.0 give disk_version=0x00020000"),
        (" 2.1", "for on-disk version 2.1 give disk_version=0x00020001"),
        (99, "give disk_version=0x00020000 or disk_version=0x00020001"),
        (b"2.1", "give disk_version=0x00020000 or disk_version=0x00020001"),
    ],
)
def test_the_error_names_the_accepted_values_and_the_likely_one(value: object, hint: str) -> None:
    with pytest.raises(ImageError, match=r"give 0x00020000 \(2\.0\) or 0x00020001 \(2\.1\)") as e:
        open_image(LFS20.read_bytes(), disk_version=value)  # type: ignore[arg-type]
    assert e.value.hint == hint


@pytest.mark.parametrize("value", [0, 99, -1, "2.0"])
def test_opening_with_a_bad_version_does_not_speak_of_an_upgrade(value: object) -> None:
    with pytest.raises(ImageError) as e:
        open_image(LFS20.read_bytes(), disk_version=value)  # type: ignore[arg-type]
    assert "upgrade" not in e.value.message
    assert repr(value) in e.value.message
