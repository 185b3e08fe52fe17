"""SPIFFS updates cut after every sector write (issue: a cut during an mdash-arduino
update left a partition that did not mount until the rerun, and SPIFFS.begin(true) then
formatted it, losing mdash.cfg).

Every state at a sector boundary mounts with the tool's reader holding the old or the
new CA file whole and every other file as it was; the same states were mounted by
SPIFFS's own C code (tests/data/spiffs/cuts.txt lists their SHA-256 and what SPIFFS
read). The cut is made with real esptool against the virtual unit, and the rerun
finishes the update from the journal. Where garbage collection is needed the update is
not power-safe; those plans say so and the rerun still completes them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from esp_cabundle.boards import load_board
from esp_cabundle.errors import FlashError
from esp_cabundle.flash.dump import DumpFile
from esp_cabundle.flash.flasher import flash_unit
from esp_cabundle.flash.plan import UpdatePlan, plan_ca_update
from esp_cabundle.flash.table import read_table
from esp_cabundle.fs.spiffs import SpiffsImage, build_spiffs_image
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.gated import verbatim
from tests.test_spiffs_device_writes import lived_in_mongoose

Start = Callable[..., VirtualESP32]
DATA = Path(__file__).resolve().parent / "data" / "spiffs"
ROOTS = sorted((Path(__file__).resolve().parent / "data" / "letsencrypt").glob("*.pem"))
CA3 = dumps.pem("isrgrootx1.pem") + dumps.pem("isrg-root-x2.pem") + dumps.pem("2024-r10.pem")
CA8 = b"".join(p.read_bytes() for p in ROOTS[:8])
CA18 = b"".join(p.read_bytes() for p in ROOTS[:18])
# cuts.txt holds the states made with these exact CA files: a file added to (or removed
# from) data/letsencrypt shifts ROOTS and fails every lived-in state as "not checked".
CA_SHA256 = {
    "CA8": "66f0c336494c97b219e0aa27a54cc21cbfc30f2600373df92a1ee2200b34f539",
    "CA18": "e72ed2783ff1d2228d346d23c4395c8966e13c69f0206d26463fcd3a7e037dbf",
}


def test_the_cas_are_those_cuts_txt_was_made_with() -> None:
    for name, ca in (("CA8", CA8), ("CA18", CA18)):
        assert hashlib.sha256(ca).hexdigest() == CA_SHA256[name], (
            f"{name} (the first files of tests/data/letsencrypt) changed: keep other test "
            "data out of that folder, or record cuts.txt again with the SPIFFS harness"
        )


def arduino_flash() -> bytes:
    return dumps.arduino_dump()


def arduino_after_first_update() -> bytes:
    flash = arduino_flash()
    return apply(flash, plan(flash, "mdash-arduino", CA3))


def mongoose_flash() -> bytes:
    flash = bytearray(b"\xff" * dumps.FLASH_4M)
    table = dumps.table("mongoose-os-esp32")
    flash[0x8000 : 0x8000 + len(table)] = table
    fs = lived_in_mongoose().to_bytes()  # after eight firmware rewrites of a 26 KB ca.pem
    flash[0x190000 : 0x190000 + len(fs)] = fs
    return bytes(flash)


@dataclass(frozen=True)
class Scenario:
    board: str
    flash: Callable[[], bytes]
    ca: bytes
    partition: tuple[int, int]
    power_safe: bool


SCENARIOS = {
    # the case: mdash-arduino's 1408 KiB partition, a 3-root ca.pem
    "arduino-3roots": Scenario("mdash-arduino", arduino_flash, CA3, (0x290000, 0x160000), True),
    # a second update over the first: the new pages kept out of the old file's blocks
    "arduino-again-8roots": Scenario(
        "mdash-arduino", arduino_after_first_update, CA8, (0x290000, 0x160000), True
    ),
    # a lived-in Mongoose OS partition: room only after garbage collection
    "mongoose-lived-18roots": Scenario(
        "mongoose-os-esp32-spiffs", mongoose_flash, CA18, (0x190000, 0x40000), False
    ),
}


def plan(flash: bytes, board: str, ca: bytes) -> UpdatePlan:
    gated = verbatim(ca, board)  # the exact bytes cuts.txt's states were made with
    dump = DumpFile(flash)
    return plan_ca_update(dump, read_table(dump), load_board(board), gated)


def apply(flash: bytes, unit_plan: UpdatePlan, count: int | None = None) -> bytes:
    out = bytearray(flash)
    for w in unit_plan.writes[:count]:
        assert out[w.offset : w.offset + len(w.old)] == w.old
        out[w.offset : w.offset + len(w.new)] = w.new
    return bytes(out)


def boundary_states(name: str) -> list[bytes]:
    """The partition after 0, 1, ... all of the plan's sector writes."""
    s = SCENARIOS[name]
    flash = s.flash()
    unit_plan = plan(flash, s.board, s.ca)
    off, size = s.partition
    return [apply(flash, unit_plan, k)[off : off + size] for k in range(len(unit_plan.writes) + 1)]


def verified() -> dict[str, str]:
    """SHA-256 -> what SPIFFS's C code read from that partition state."""
    out = {}
    for line in (DATA / "cuts.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            digest, verdict = line.split(" ", 1)
            out[digest] = verdict
    return out


def files(state: bytes) -> dict[str, bytes]:
    img = SpiffsImage.open(state)
    return {f.path: img.read(f.path) for f in img.files()}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_boundary_state_mounts_with_the_old_or_new_ca_file(name: str) -> None:
    s = SCENARIOS[name]
    states = boundary_states(name)
    unit_plan = plan(s.flash(), s.board, s.ca)
    (change,) = [c for c in unit_plan.changes if c.writes]
    assert change.power_safe is s.power_safe
    offsets = [w.offset for w in change.writes]
    assert len(set(offsets)) == len(offsets)  # each sector once (the journal's rule)
    before, after = files(states[0]), files(states[-1])
    old_ca = before.pop("/ca.pem")
    assert after.pop("/ca.pem") == s.ca and after == before
    real = verified()
    without_ca = 0
    for k, state in enumerate(states):
        digest = hashlib.sha256(state).hexdigest()
        assert digest in real, f"{name}: state after {k} writes not checked with SPIFFS"
        now = files(state)  # mounts with the tool's reader
        ca = now.pop("/ca.pem", None)
        assert now == before, (name, k)  # every other file intact, at every cut
        if s.power_safe:
            assert ca in (old_ca, s.ca), (name, k)
            assert real[digest] == "mounts, old or new ca.pem whole, others intact"
        else:
            assert ca in (old_ca, None, s.ca), (name, k)
            without_ca += ca is None
            assert real[digest].startswith("mounts,") and real[digest].endswith("others intact")
    if s.power_safe:
        assert [w.role for w in change.writes].count("commit") == 1
    else:
        # the window: from the block that drops the old index header to the new one's
        roles = [w.role for w in change.writes]
        assert roles.count("old file removed") == 1
        assert (without_ca, len(change.writes)) == (11, 18)  # as README says


@pytest.mark.one_python  # a sweep: on the primary only (support.shards)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_cut_after_any_write_is_finished_by_the_rerun(
    virtual_esp32: Start, tmp_path: Path, name: str
) -> None:
    s = SCENARIOS[name]
    flash = s.flash()
    unit_plan = plan(flash, s.board, s.ca)
    writes = unit_plan.writes
    final = apply(flash, unit_plan)
    cuts = list(range(len(writes)))
    if not s.power_safe:  # 18 writes over a slow link: both ends of the window and between
        roles = [w.role for w in writes]
        edge = roles.index("old file removed")
        cuts = sorted({0, edge - 1, edge, edge + 1, len(writes) // 2, len(writes) - 1})
    for k in cuts:
        unit = virtual_esp32("esp32")
        unit.load(0, flash)
        unit.arm_cut(sector_writes=k)
        journal = tmp_path / f"j{k}"
        with pytest.raises(FlashError, match="link lost"):
            flash_unit(
                unit.url,
                load_board(s.board),
                verbatim(s.ca, s.board),
                journal_dir=journal,
                connect_attempts=1,
            )
        torn = writes[k]
        unit.load(torn.offset, torn.old)  # the cut came just before that sector
        assert unit.read(0, len(flash)) == apply(flash, unit_plan, k)
        result = flash_unit(
            unit.url,
            load_board(s.board),
            verbatim(s.ca, s.board),
            journal_dir=journal,
            connect_attempts=1,
        )
        assert [r.action for r in result.resumed] in (["finished"], ["dropped"])
        assert unit.read(0, len(flash)) == final, (name, k)


def test_a_missing_ca_file_appears_with_its_last_block() -> None:
    from esp_cabundle.fs.spiffs_safe import plan_spiffs_replace

    cfg = (DATA / "idf_src" / "mdash.cfg").read_bytes()
    data = build_spiffs_image([("/mdash.cfg", cfg)], size=0x20000, profile="esp-idf")
    replaced = plan_spiffs_replace(data, "esp-idf", "/ca.pem", CA8)
    assert replaced.power_safe and replaced.steps[-1].role == "commit"
    state = bytearray(data)
    for k, step in enumerate(replaced.steps):
        state[step.block * 4096 : (step.block + 1) * 4096] = step.content
        now = files(bytes(state))
        assert now.pop("/mdash.cfg") == cfg
        assert now == ({"/ca.pem": CA8} if k == len(replaced.steps) - 1 else {})
    assert bytes(state) == replaced.image


def test_what_the_unit_could_not_write_is_refused() -> None:
    from esp_cabundle.errors import ImageError
    from esp_cabundle.fs.spiffs_safe import plan_spiffs_replace

    data = (DATA / "idf-64k.bin").read_bytes()
    with pytest.raises(ImageError, match="no room in the SPIFFS image"):
        plan_spiffs_replace(data, "esp-idf", "/ca.pem", CA18 * 2)
