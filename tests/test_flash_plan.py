"""Planning a CA update on a unit's flash while reading only what the file system needs:
the fetch cache, SPIFFS read by MD5 bisection (byte-identical to a full read), and the
LittleFS planner whose write order survives a cut at every point (checked offline here by
mounting every torn intermediate state with littlefs)."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esp_cabundle.blocks import FlashCache, SectorWrite
from esp_cabundle.boards import load_board
from esp_cabundle.bundle import BundleSpec
from esp_cabundle.errors import FlashError, ImageError, InputError, PartitionTableError
from esp_cabundle.flash.base import SECTOR_SIZE
from esp_cabundle.flash.dump import DumpFile
from esp_cabundle.flash.plan import UpdatePlan, plan_ca_update
from esp_cabundle.flash.table import read_table
from esp_cabundle.fs import open_image
from esp_cabundle.fs.littlefs import LittleFsImage, build_littlefs_image
from esp_cabundle.fs.spiffs import SpiffsImage, build_spiffs_image, get_spiffs_profile
from esp_cabundle.fs.spiffs_safe import read_spiffs_region
from esp_cabundle.gate import CaSource, GatedCA, gate_ca
from esp_cabundle.partitions import Partition, PartitionTable
from esp_cabundle.virtual.boards import board_image
from tests.support import dumps
from tests.support.dumps import CountingDump
from tests.support.gated import AT, canonical, gated, huge

NEW_CA = canonical(
    dumps.pem("isrgrootx1.pem") + dumps.pem("isrg-root-x2.pem") + dumps.pem("2024-r10.pem")
)
KiB = 1024


def read_dump_table(flash: bytes) -> PartitionTable:
    return read_table(DumpFile(flash))


def files_of(image_bytes: bytes) -> dict[str, bytes]:
    image = open_image(image_bytes)
    return {f.path: image.read(f.path) for f in image.files()}


# ---------------------------------------------------------------------------------------
# FlashCache


def test_cache_fetches_once_and_reads_ahead_within_a_sector() -> None:
    data = random.Random(3).randbytes(0x10000)
    dump = CountingDump(data)
    cache = FlashCache(dump)
    assert cache.read(0x1000, 4) == data[0x1000:0x1004]
    assert dump.reads == [(0x1000, 256)]
    assert cache.read(0x1000, 200) == data[0x1000:0x10C8]
    assert len(dump.reads) == 1  # known: nothing fetched
    # sequential misses double the window: 512, 1024, 2048 bytes
    cache.read(0x1100, 16)
    cache.read(0x1300, 16)
    cache.read(0x1700, 16)
    assert dump.reads[1:] == [(0x1100, 512), (0x1300, 1024), (0x1700, 2048)]
    assert cache.known(0x1000, 0xF00) and not cache.known(0x1F00, 1)
    # a miss in another sector starts small again; ranges spanning sectors are exact
    assert cache.read(0x2FF0, 0x20) == data[0x2FF0:0x3010]
    assert cache.bytes_read == sum(n for _, n in dump.reads)


def test_cache_peek_fill_forget_confirm() -> None:
    data = bytes(range(256)) * 64
    dump = CountingDump(data)
    cache = FlashCache(dump)
    cache.read(0, 256)
    mixed = cache.peek(0x80, 0x100, lambda page: bytes([0xAA]) * 256)
    assert mixed == data[0x80:0x100] + b"\xaa" * 0x80
    cache.forget(0, 256)
    assert not cache.known(0, 1)
    cache.confirm(0x200, b"\x11" * 256)  # the unit's MD5 said so
    assert cache.read(0x200, 256) == b"\x11" * 256
    with pytest.raises(ValueError):
        cache.confirm(0x10, b"\x00" * 256)
    assert cache.read_or_blank(0x400, 256) == data[0x400:0x500]  # not blank: read


def test_read_or_blank_sends_only_a_digest_for_erased_ranges() -> None:
    dump = CountingDump(b"\xff" * 0x4000)
    cache = FlashCache(dump)
    assert cache.read_or_blank(0x1000, 0x1000) == b"\xff" * 0x1000
    assert dump.reads == [] and cache.md5s == 1


# ---------------------------------------------------------------------------------------
# SPIFFS: read by MD5 bisection


@pytest.mark.parametrize("profile", ["esp-idf", "mongoose-os"])
def test_spiffs_sparse_read_is_byte_identical_and_reads_little(profile: str) -> None:
    files = [("/ca.pem", NEW_CA), ("/cfg.json", b"{}" * 50), ("/big.bin", bytes(20000))]
    image = build_spiffs_image(files, size=0x100000, profile=profile)
    flash = b"\xff" * 0x10000 + image
    dump = CountingDump(flash)
    cache = FlashCache(dump)
    got = read_spiffs_region(cache, 0x10000, 0x100000, get_spiffs_profile(profile))
    assert got == image
    assert dump.bytes_read <= 12 * SECTOR_SIZE  # the blocks holding pages, not 1 MiB
    assert cache.md5s < 60


def test_spiffs_sparse_read_after_gc_storms_with_scattered_erase_counts() -> None:
    rnd = random.Random(5)
    image = SpiffsImage.open(build_spiffs_image([], size=0x40000, profile="mongoose-os"))
    for i in range(200):
        image.write(f"/f{i % 5}", rnd.randbytes(rnd.randint(100, 5000)))
    assert image.gc_runs > 0
    data = image.to_bytes()
    dump = CountingDump(data)
    got = read_spiffs_region(FlashCache(dump), 0, 0x40000, get_spiffs_profile("mongoose-os"))
    assert got == data


def test_spiffs_sparse_read_of_an_erased_partition_costs_digests_only() -> None:
    dump = CountingDump(b"\xff" * 0x80000)
    cache = FlashCache(dump)
    got = read_spiffs_region(cache, 0, 0x80000, get_spiffs_profile("esp-idf"))
    assert got == b"\xff" * 0x80000 and dump.reads == []


# ---------------------------------------------------------------------------------------
# Plans on the vendor layouts


def _plan(flash: bytes, board: str, ca: GatedCA | None = None) -> tuple[UpdatePlan, CountingDump]:
    dump = CountingDump(flash)
    plan = plan_ca_update(
        dump, read_dump_table(flash), load_board(board), ca or gated(NEW_CA, board)
    )
    return plan, dump


def apply(flash: bytes, writes: tuple[SectorWrite, ...] | list[SectorWrite]) -> bytes:
    out = bytearray(flash)
    for w in writes:
        assert out[w.offset : w.offset + SECTOR_SIZE] == w.old
        out[w.offset : w.offset + SECTOR_SIZE] = w.new
    return bytes(out)


def test_mongoose_plan_reads_little_and_orders_the_commit_last() -> None:
    flash = dumps.mongoose_dump()
    plan, dump = _plan(flash, "mongoose-os-esp32")
    assert [c.partition.name for c in plan.changes] == ["fs_0", "fs_1"]
    for c in plan.changes:
        assert c.power_safe and c.action == "replace"
        assert dict(c.facts)["disk version"] == "2.0"
        assert 1 <= len(c.writes) <= 6
        assert c.writes[-1].role == "metadata" and c.writes[-1].offset - c.partition.offset in (
            0,
            SECTOR_SIZE,
        )
        assert all(w.role == "new data" for w in c.writes[:-1])
        # of a 256 KiB partition: README says "about 10 KiB" (10,496 bytes)
        assert 8 * KiB <= c.bytes_read <= 12 * KiB
        assert [f.path for f in c.files] == ["/big.dat", "/conf0.json", "/conf9.json", "/log.txt"]
    assert dump.bytes_read == plan.bytes_read
    new = apply(flash, plan.writes)
    for c in plan.changes:
        p = c.partition
        old_files, new_files = files_of(flash[p.offset : p.end]), files_of(new[p.offset : p.end])
        assert new_files.pop("/ca.pem") == NEW_CA
        old_files.pop("/ca.pem")
        assert new_files == old_files
        assert open_image(new[p.offset : p.end]).describe()["disk version"] == "2.0"
    assert dumps.outside_equal(flash, new, [(0x190000, 0x1D0000), (0x350000, 0x390000)])


def test_arduino_plan_reads_only_used_blocks() -> None:
    flash = dumps.arduino_dump()
    plan, dump = _plan(flash, "mdash-arduino")
    (c,) = plan.changes
    assert c.fs_type == "spiffs" and c.power_safe and c.writes
    assert dump.bytes_read <= 48 * KiB + 0x1000  # table + used blocks of 1408 KiB
    new = apply(flash, plan.writes)
    after = files_of(new[0x290000:0x3F0000])
    before = files_of(flash[0x290000:0x3F0000])
    assert after.pop("/ca.pem") == NEW_CA
    before.pop("/ca.pem")
    assert after == before
    assert dumps.outside_equal(flash, new, [(0x290000, 0x3F0000)])
    # new pages first, then the one block that swaps the index headers, then deletions
    roles = [w.role for w in c.writes]
    assert roles.count("commit") == 1
    commit = roles.index("commit")
    assert set(roles[:commit]) <= {"new pages"} and set(roles[commit + 1 :]) <= {
        "old pages deleted"
    }


def test_up_to_date_plans_nothing() -> None:
    flash = dumps.mongoose_dump()
    plan, _ = _plan(flash, "mongoose-os-esp32")
    new = apply(flash, plan.writes)
    again, _ = _plan(new, "mongoose-os-esp32")
    assert again.up_to_date and all(c.up_to_date for c in again.changes)


@pytest.mark.parametrize(
    "board", ["mdash-arduino", "mongoose-os-esp32", "mongoose-os-esp32-spiffs", "platformio-esp32"]
)
@pytest.mark.parametrize(("preset", "sectors"), [("letsencrypt", 3), ("default", 5)])
def test_a_unit_with_free_space_takes_a_sector_per_4k_of_ca_and_one_more(
    board: str, preset: str, sectors: int
) -> None:
    """README (Update units on the bench): on a unit as it left the factory, `flash`
    writes one sector per 4 KiB of the new CA file and one more, on SPIFFS and LittleFS
    alike: 3 for the letsencrypt preset (6 KB), 5 for the default preset (13.5 KB)."""
    profile = load_board(board)
    flash = board_image(profile).flash
    ca = gate_ca(CaSource.build(BundleSpec(presets=(preset,))), board=profile, at=AT)
    assert len(ca.pem) // 1000 == {"letsencrypt": 6, "default": 13}[preset]
    plan, _ = _plan(flash, board, ca)
    assert plan.changes and all(c.action == "replace" for c in plan.changes)
    assert [len(c.writes) for c in plan.changes] == [sectors] * len(plan.changes)
    assert sectors == -(-len(ca.pem) // SECTOR_SIZE) + 1


# ---------------------------------------------------------------------------------------
# Refusals (nothing to write, clear reasons)


def test_refusals() -> None:
    mongoose = dumps.mongoose_dump()
    with pytest.raises(InputError, match="every file-system partition"):
        _plan(dumps.mongoose_dump(fs_1=False)[:0x190000] + b"\xff" * 0x270000, "mongoose-os-esp32")
    with pytest.raises(PartitionTableError, match="no partition 'fs_0'"):
        _plan(dumps.arduino_dump(), "mongoose-os-esp32")
    noise = dumps.with_random(mongoose, 0x190000, 0x40000)
    with pytest.raises(ImageError, match=r"no LittleFS file system.*nothing formatted"):
        _plan(noise, "mongoose-os-esp32")
    with pytest.raises(ImageError, match="does not fit"):
        _plan(mongoose, "mongoose-os-esp32", huge("mongoose-os-esp32"))
    with pytest.raises(ImageError):
        _plan(dumps.arduino_dump(), "arduino-esp32-littlefs")
    with pytest.raises(ImageError, match="cannot write"):
        _plan(dumps.arduino_dump(), "mdash-arduino", huge("mdash-arduino", 1500 * 1024))


def test_plan_never_writes_outside_its_partition() -> None:
    plan, _ = _plan(dumps.mongoose_dump(), "mongoose-os-esp32")
    c = plan.changes[0]
    stray = SectorWrite(c.partition.end, b"\xff" * SECTOR_SIZE, b"\x00" * SECTOR_SIZE)
    bad = dataclasses.replace(plan, changes=(dataclasses.replace(c, writes=(*c.writes, stray)),))
    with pytest.raises(FlashError, match="outside partition 'fs_0'"):
        bad.check_bounds()
    half = SectorWrite(c.partition.offset, b"\xff" * 100, b"\x00" * 100)
    with pytest.raises(FlashError):
        dataclasses.replace(plan, changes=(dataclasses.replace(c, writes=(half,)),)).check_bounds()


# ---------------------------------------------------------------------------------------
# Power safety: every torn intermediate state mounts with the old or the new CA file


def _assert_power_safe(flash: bytes, plan: UpdatePlan) -> None:
    for c in plan.changes:
        assert c.power_safe, c.order
        p = c.partition
        old = files_of(flash[p.offset : p.end])
        for label, state in dumps.cut_states(flash, c.writes, torn=True):
            image = LittleFsImage.open(state[p.offset : p.end])
            now = {f.path: image.read(f.path) for f in image.files()}
            assert now.get(c.ca_path) in (old.get(c.ca_path), c.new_ca), label
            assert {k: v for k, v in now.items() if k != c.ca_path} == {
                k: v for k, v in old.items() if k != c.ca_path
            }, label


def test_mongoose_vector_survives_a_cut_anywhere_offline() -> None:
    flash = dumps.mongoose_dump()
    plan, _ = _plan(flash, "mongoose-os-esp32")
    _assert_power_safe(flash, plan)


def _littlefs_flash(image: bytes, offset: int = 0x10000) -> tuple[bytes, Partition]:
    flash = bytearray(b"\xff" * (offset + len(image)))
    flash[offset:] = image
    return bytes(flash), Partition("storage", 1, 0x83, offset, len(image))


def _lived_in(seed: int, blocks: int, *, profile: str, nested: bool) -> bytes:
    """A LittleFS image edited many times (so its logs and pairs are in any state)."""
    rnd = random.Random(seed)
    files = [("/ca.pem", dumps.pem("dst-root-ca-x3.pem"))]
    image = LittleFsImage.open(
        build_littlefs_image(files, size=blocks * SECTOR_SIZE, profile=profile)
    )
    names = ["/cfg.json", "/log.txt", "/data/a.bin", "/data/b.bin"] if nested else ["/x", "/y"]
    for _ in range(rnd.randint(0, 40)):
        name = rnd.choice(names)
        if rnd.random() < 0.2 and image.exists(name):
            image.remove(name)
        else:
            image.write(name, rnd.randbytes(rnd.choice([10, 300, 5000, 9000])))
    return image.to_bytes()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(
    seed=st.integers(0, 10_000),
    profile=st.sampled_from(["esp-idf", "mongoose-os"]),
    nested=st.booleans(),
    certs=st.integers(1, 4),
)
def test_lived_in_littlefs_images_survive_a_cut_anywhere(
    seed: int, profile: str, nested: bool, certs: int
) -> None:
    image = _lived_in(seed, 24, profile=profile, nested=nested)
    flash, part = _littlefs_flash(image)
    board = load_board("esp-idf-littlefs" if profile == "esp-idf" else "mongoose-os-esp32")
    fs = board.filesystem
    assert fs is not None
    board = dataclasses.replace(
        board,
        chips=("esp32",),
        filesystem=dataclasses.replace(fs, partitions=("storage",), subtypes=()),
    )
    flash = _with_table(flash, part)
    names = ("isrgrootx1.pem", "isrg-root-x2.pem", "2024-r10.pem", "2024-e5.pem")
    ca = b"".join(dumps.pem(n) for n in names[:certs])
    plan = plan_ca_update(DumpFile(flash), read_dump_table(flash), board, gated(ca, board))
    assert plan.writes
    _assert_power_safe(flash, plan)


def _with_table(flash: bytes, part: Partition) -> bytes:
    from esp_cabundle.partitions import PartitionTable

    table = PartitionTable((part,)).to_binary()
    out = bytearray(flash)
    out[0x8000 : 0x8000 + len(table)] = table
    return bytes(out)


class FailingDump(DumpFile):
    """A dump whose link dies at the n-th read or MD5 (and stays dead)."""

    def __init__(self, data: bytes, fail_at: int) -> None:
        super().__init__(data, name="dump")
        self.fail_at = fail_at
        self.count = 0

    def _tick(self, offset: int) -> None:
        self.count += 1
        if self.count >= self.fail_at:
            raise FlashError(f"link lost at {offset:#x}")

    def read(self, offset: int, length: int) -> bytes:
        self._tick(offset)
        return super().read(offset, length)

    def md5(self, offset: int, length: int) -> str:
        self._tick(offset)
        return super().md5(offset, length)


@pytest.mark.parametrize("board", ["mongoose-os-esp32", "mdash-arduino"])
def test_a_read_failing_anywhere_fails_the_plan_never_misleads_it(board: str) -> None:
    """littlefs must never work around a lost link (e.g. by mounting the older half of a
    metadata pair): every failing read surfaces as the link error, at any point."""
    flash = dumps.mongoose_dump() if board == "mongoose-os-esp32" else dumps.arduino_dump()
    table = read_dump_table(flash)
    counter = FailingDump(flash, 1 << 30)
    plan_ca_update(counter, table, load_board(board), gated(NEW_CA, board))
    accesses = counter.count
    assert accesses > 1
    for n in range(1, accesses + 1):
        with pytest.raises(FlashError, match="link lost"):
            plan_ca_update(FailingDump(flash, n), table, load_board(board), gated(NEW_CA, board))


# ---------------------------------------------------------------------------------------
# Verification after writing: a mismatch names the sectors


class BadWrites(DumpFile):
    """A unit whose flash does not keep what it is sent, or changes more."""

    def __init__(self, data: bytes, *, flip_written: bool = False, stray: int | None = None):
        super().__init__(data, name="bench unit")
        self.flip_written = flip_written
        self.stray = stray

    def write(self, offset: int, data: bytes) -> None:
        if self.flip_written:
            data = bytes([data[0] ^ 0x01]) + data[1:]
        super().write(offset, data)
        if self.stray is not None:  # e.g. firmware writing while we do
            self._data[self.stray] = 0x5A


def _flash_ca(flash: DumpFile, board: str, tmp_path: Path) -> object:
    from esp_cabundle.flash.flasher import flash_ca
    from esp_cabundle.flash.journal import Journal

    return flash_ca(
        flash,
        load_board(board),
        gated(NEW_CA, board),
        mac="aa:bb:cc:dd:ee:ff",
        journal=Journal(tmp_path),
    )


@pytest.mark.parametrize("board", ["mongoose-os-esp32", "mdash-arduino"])
def test_written_sectors_that_do_not_read_back_are_named(board: str, tmp_path: Path) -> None:
    flash = dumps.mongoose_dump() if board == "mongoose-os-esp32" else dumps.arduino_dump()
    with pytest.raises(FlashError, match=r"the write at 0x[0-9a-f]+ does not read back") as e:
        _flash_ca(BadWrites(flash, flip_written=True), board, tmp_path)
    assert e.value.exit_code == 3


def test_bytes_changed_outside_the_written_sectors_are_caught(tmp_path: Path) -> None:
    flash = dumps.mongoose_dump()
    with pytest.raises(FlashError, match="bytes outside the written sectors changed"):
        _flash_ca(BadWrites(flash, stray=0x1B0010), "mongoose-os-esp32", tmp_path)


@pytest.mark.parametrize("board", ["mongoose-os-esp32", "mdash-arduino"])
def test_read_back_compares_the_ca_file_and_the_other_files(board: str) -> None:
    from esp_cabundle.flash.plan import reread_problems

    flash = dumps.mongoose_dump() if board == "mongoose-os-esp32" else dumps.arduino_dump()
    cache = FlashCache(DumpFile(flash))
    plan = plan_ca_update(cache, read_dump_table(flash), load_board(board), gated(NEW_CA, board))
    c = plan.changes[0]
    as_planned = FlashCache(DumpFile(apply(flash, plan.writes)))
    assert reread_problems(as_planned, c) == []
    # the unit still holds the old sectors: the old CA file is read back
    assert any("does not hold the new CA file" in p for p in reread_problems(cache, c))
    # a file the plan kept has gone
    gone = dataclasses.replace(c, files=(*c.files, c.files[0].__class__("/gone.txt", 3)))
    assert "the other files are not the ones that were there" in reread_problems(as_planned, gone)
