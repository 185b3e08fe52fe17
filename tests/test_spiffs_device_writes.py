"""SPIFFS edits take the firmware's write path: the file handed to SPIFFS_write in the
pieces the platform's stdio and SPIFFS's write cache make, garbage collection between
them. The tool then accepts exactly the writes the unit would (issue: `fs put` refused
"needs 108 pages after garbage collection" where the unit wrote the file), and leaves
the bytes the unit would. Vectors: tests/data/spiffs/README.md."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from esp_cabundle.errors import ImageError
from esp_cabundle.fs.spiffs import SpiffsImage, build_spiffs_image

DATA = Path(__file__).resolve().parent / "data" / "spiffs"


def payload(k: int, n: int) -> bytes:
    return bytes((k * 31 + i * 7) % 251 for i in range(n))


def real(name: str) -> bytes:
    return gzip.decompress((DATA / "real" / name).read_bytes())


def files_of(img: SpiffsImage) -> dict[str, bytes]:
    return {f.path: img.read(f.path) for f in img.files()}


def test_a_64k_esp_idf_partition_takes_what_one_write_could_not() -> None:
    img = SpiffsImage.open((DATA / "idf-64k.bin").read_bytes())
    img.write("/ca.pem", payload(0, 6000))
    img.write("/ca.pem", payload(1, 6700))
    state = img.to_bytes()
    others = {p: d for p, d in files_of(img).items() if p != "/ca.pem"}
    one_call = SpiffsImage.open(state)
    with pytest.raises(ImageError, match="needs 51 pages after garbage collection"):
        one_call.write("/ca.pem", payload(50, 12500), chunk=0)
    assert one_call.to_bytes() == state  # refused, nothing changed
    img.write("/ca.pem", payload(50, 12500))  # as the firmware writes: it fits
    assert img.to_bytes() == real("idf-64k-chunked.bin.gz")  # what SPIFFS itself wrote
    after = files_of(SpiffsImage.open(img.to_bytes()))
    assert after.pop("/ca.pem") == payload(50, 12500) and after == others


def lived_in_mongoose() -> SpiffsImage:
    mg = DATA / "mg_src"
    files = [
        ("ca.pem", payload(0, 26800)),
        ("conf0.json", (mg / "conf0.json").read_bytes()),
        ("conf9.json", (mg / "conf9.json").read_bytes()),
        ("log.txt", payload(3, 4000)),
    ]
    img = SpiffsImage.open(build_spiffs_image(files, size=256 * 1024, profile="mongoose-os"))
    for k in range(1, 8):
        img.write("ca.pem", payload(k, 26800 - (k % 3) * 100))
    return img


def test_a_lived_in_mongoose_partition_takes_a_26k_ca_file() -> None:
    img = lived_in_mongoose()
    facts = img.describe()
    assert (facts["used bytes"], facts["deleted pages"]) == (32630, 782)
    state = img.to_bytes()
    with pytest.raises(ImageError, match="needs 108 pages after garbage collection"):
        SpiffsImage.open(state).write("ca.pem", payload(99, 26800), chunk=0)
    img.write("ca.pem", payload(99, 26800))
    out = img.to_bytes()
    # the bytes SPIFFS's own C code mounted and read back whole (see the data README)
    assert out == real("mongoose-256k-lived.bin.gz")
    assert hashlib.sha256(out).hexdigest().startswith("65c7a898")
    after = files_of(SpiffsImage.open(out))
    assert after.pop("/ca.pem") == payload(99, 26800)
    before = files_of(SpiffsImage.open(state))
    before.pop("/ca.pem")
    assert after == before


def test_arduino_writes_in_4k_pieces_and_refuses_what_the_unit_refuses() -> None:
    """Smaller pieces are not always roomier: every piece after the first moves the
    index header to a new page. The unit then fails part-way (SPIFFS_ERR_FULL); the tool
    refuses and changes nothing."""
    base = (DATA / "idf-64k.bin").read_bytes()
    arduino = SpiffsImage.open(base, "arduino")
    assert arduino.profile.write_chunk == 4096
    arduino.write("/ca.pem", payload(5, 12500))
    assert arduino.read("/ca.pem") == payload(5, 12500)
    tight = SpiffsImage.open(base, "esp-idf")
    tight.write("/ca.pem", payload(0, 12000))
    tight.write("/ca.pem", payload(1, 11000))
    state = tight.to_bytes()
    with pytest.raises(ImageError, match="no room in the SPIFFS image"):
        tight.write("/ca.pem", payload(2, 13000))  # SPIFFS stops at byte 11,520
    assert tight.to_bytes() == state


def test_a_file_larger_than_the_image_is_told_in_whole_file_terms() -> None:
    """Tester's report: a 2 MB file on a 1408K image said 'needs 3 pages' (one of the
    device's chunks); say what the whole file needs and what the image has."""
    img = SpiffsImage.open((DATA / "idf-64k.bin").read_bytes())
    state = img.to_bytes()
    # 797 = ceil(200,000 / 251 data bytes per 256-byte page); 60 pages free or deleted
    with pytest.raises(ImageError, match="it needs 797 data pages, the image has 60 free"):
        img.write("/big.bin", payload(7, 200_000))
    assert img.to_bytes() == state


def test_a_chunk_below_the_page_size_is_refused() -> None:
    img = SpiffsImage.open((DATA / "idf-64k.bin").read_bytes())
    with pytest.raises(ImageError, match="write chunk 128 is below the 256-byte page"):
        img.write("/ca.pem", b"x" * 1000, chunk=128)
