"""Editing a large image fits in a small multiple of its size, and running out of memory
anywhere in an edit is a clean error that leaves the image as it was."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.fs.lfs_device import BufferStore
from esp_cabundle.fs.littlefs import LittleFsImage

DATA = Path(__file__).parent / "data"
VECTOR = DATA / "littlefs" / "mongoose-lfs20-256k.bin"
PEM = (DATA / "letsencrypt" / "isrgrootx1.pem").read_bytes()

# A 64 MiB image's `fs put` held it about 7 times (485 MB peak) and needed more than
# 500 MB of address space; now about twice (under 200 MB). 400 MB sits between the two.
LIMIT = 400_000_000


def test_fs_put_on_a_64_mib_littlefs_image_fits_a_memory_limit(tmp_path: Path) -> None:
    img = LittleFsImage.create(64 << 20, "esp-idf")
    img.write("/ca.pem", PEM)
    image = tmp_path / "fs.bin"
    image.write_bytes(img.to_bytes())
    del img
    (tmp_path / "new.pem").write_bytes(PEM[:1000])

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))

    put = ["fs", "put", "fs.bin", "new.pem", "/x.pem", "--json"]
    r = subprocess.run(
        [sys.executable, "-m", "esp_cabundle", *put],
        cwd=tmp_path,
        capture_output=True,
        preexec_fn=limit,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads(r.stdout)["put"] == {"path": "/x.pem", "bytes": 1000}
    edited = LittleFsImage.open(image.read_bytes())
    assert edited.read("/x.pem") == PEM[:1000]
    assert edited.read("/ca.pem") == PEM
    assert [f.path for f in edited.files()] == ["/ca.pem", "/x.pem"]


def _no_memory(*args: object, **kwargs: object) -> None:
    raise MemoryError


@pytest.mark.parametrize(
    "where",
    [
        # inside a littlefs callback: littlefs-python cannot pass the exception on
        (BufferStore, "prog"),
        # verifying the edit: mounting the result again
        (LittleFsImage, "reopened"),
    ],
    ids=["littlefs-callback", "read-back"],
)
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_running_out_of_memory_in_fs_put_is_a_clean_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: tuple[type, str], as_json: bool
) -> None:
    image = tmp_path / "fs.bin"
    shutil.copyfile(VECTOR, image)
    (tmp_path / "new.pem").write_bytes(PEM)
    monkeypatch.setattr(*where, _no_memory)
    args = ["fs", "put", str(image), str(tmp_path / "new.pem"), "/x.pem"]
    r = CliRunner().invoke(cli, args + (["--json"] if as_json else []))
    assert r.exit_code == 3, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert "Traceback" not in r.output and "MemoryError" not in r.output
    message = "the machine ran out of memory running 'esp-cabundle fs put'"
    if as_json:
        doc = json.loads(r.stdout)
        assert doc["ok"] is False and doc["exit_code"] == 3 and doc["kind"] == "OutOfMemory"
        assert doc["error"] == message
        assert "ulimit" in doc["hint"]
        assert r.stderr == ""
    else:
        assert r.stdout == ""
        lines = r.stderr.splitlines()
        assert lines[0] == f"Error: {message}"
        assert len(lines) == 2 and lines[1].startswith("  hint: ") and "ulimit" in lines[1]
    assert image.read_bytes() == VECTOR.read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["fs.bin", "new.pem"]


def test_a_store_keeps_no_journal_once_an_edit_stands_or_is_undone() -> None:
    """The undo journal ran on after an edit (every later write copied what it replaced,
    for good), and the 'read-only' view became the bytearray's own once written."""
    from esp_cabundle.fs.lfs_device import BufferStore

    store = BufferStore(bytes(3 * BufferStore.UNIT))
    snap = store.snapshot()
    store.prog(0, b"\x01")
    store.release(snap)
    store.prog(BufferStore.UNIT, b"\x02")
    assert snap == {}  # let go, and the later write was not kept
    assert store.view().readonly
    with pytest.raises(TypeError):
        store.view()[0] = 9  # type: ignore[index]
    snap = store.snapshot()
    store.prog(2 * BufferStore.UNIT, b"\x03")
    store.restore(snap)
    store.prog(2 * BufferStore.UNIT, b"\x04")
    assert snap == {}  # undone, and nothing kept after
    assert store.read(0, 1) == b"\x01" and store.read(BufferStore.UNIT, 1) == b"\x02"


def _peak(fn: object) -> int:
    """Peak bytes traced while ``fn()`` runs (what it allocates, not the interpreter)."""
    import tracemalloc

    assert callable(fn)
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_creating_a_littlefs_image_holds_it_once() -> None:
    """create held a new image three times: an erased temporary, the buffer, and a copy
    as the bytes it was opened with (all erased: nothing need be held for those)."""
    from esp_cabundle.fs import create_image

    size = 8 << 20
    create_image("littlefs", "esp-idf", 256 << 10)  # imports, off the count
    assert _peak(lambda: create_image("littlefs", "esp-idf", size)) < 1.2 * size


@pytest.mark.parametrize("fs_type", ["littlefs", "spiffs"])
def test_packing_an_image_holds_it_about_twice(fs_type: str) -> None:
    """pack held a new LittleFS image 3.5 times its size (create's three, a copy for the
    result) and a SPIFFS one 3.2 times (the built bytes, the mounted copy, a further copy
    as the result): now the image is read back where it lies, and the result is the
    built bytes (SPIFFS) or the one copy of the image (LittleFS)."""
    from esp_cabundle.fs import open_image
    from esp_cabundle.fs.edit import pack_image

    size = 8 << 20
    pack_image(fs_type, "esp-idf", 256 << 10, [("/ca.pem", PEM)])  # imports, off the count
    packed: list[object] = []
    peak = _peak(lambda: packed.append(pack_image(fs_type, "esp-idf", size, [("/ca.pem", PEM)])))
    assert peak < 2.3 * size
    (result,) = packed
    assert open_image(result.data).read("/ca.pem") == PEM  # type: ignore[attr-defined]


def test_editing_a_spiffs_image_holds_it_about_once() -> None:
    """SPIFFS open copied the image twice and every edit kept a whole copy to undo it:
    an edit held it three times besides the caller's bytes. Now it is copied once to
    edit, and an undo keeps only the pages the edit overwrote."""
    from esp_cabundle.errors import ImageError
    from esp_cabundle.fs.edit import pack_image
    from esp_cabundle.fs.spiffs import SpiffsImage

    size = 4 << 20
    data = pack_image("spiffs", "esp-idf", size, [("/ca.pem", PEM)]).data
    kept: list[SpiffsImage] = []

    def edit() -> None:
        img = SpiffsImage.open(data)
        img.write("/x.pem", PEM[:1000])
        img.remove("/ca.pem")
        kept.append(img)

    assert _peak(edit) < 1.3 * size
    (img,) = kept
    before = img.to_bytes()
    with pytest.raises(ImageError, match="no room"):
        img.write("/big.bin", bytes(size))
    assert img.to_bytes() == before  # undone from the pages kept
    assert [f.path for f in img.files()] == ["/x.pem"] and img.read("/x.pem") == PEM[:1000]


class _PlainStore:
    """A store that is not a BufferStore (as a unit's overlay is not): littlefs runs on
    it through the general context."""

    def __init__(self, data: bytes) -> None:
        self.inner = BufferStore(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.mark.parametrize("store", [BufferStore, _PlainStore])
def test_a_littlefs_image_dropped_is_freed_without_a_garbage_collection(
    store: type[BufferStore] | type[_PlainStore],
) -> None:
    """littlefs' callbacks were a class made per image, its methods' closures holding
    the image's device and bytes: a reference cycle, so a dropped image waited for a full
    collection, which pack's search ran after every size it tried (39 s of one test's
    40 in a test process holding many objects). Now its last reference frees it."""
    import gc
    import weakref

    data = VECTOR.read_bytes()
    gc.collect()
    gc.disable()
    try:
        image = LittleFsImage.mount(store(data), len(data), "mongoose-os")  # type: ignore[arg-type]
        image.write("/ca.pem", PEM)
        assert image.read("/ca.pem") == PEM
        device = weakref.ref(image._device)
        del image
        assert device() is None, "the image is held by a reference cycle"
    finally:
        gc.enable()
