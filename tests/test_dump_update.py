"""update-dump: the CA file replaced in the board's file-system partitions, nothing else
touched (checked byte for byte), and every refusal leaving no output file."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.errors import ImageError, InputError, PartitionTableError
from esp_cabundle.flash.dump import DumpFile
from esp_cabundle.flash.offline import WholeDump, update_dump
from esp_cabundle.flash.plan import plan_ca_update
from esp_cabundle.flash.table import read_table
from esp_cabundle.fs import open_image
from esp_cabundle.fs.edit import pack_image
from esp_cabundle.fs.littlefs import LittleFsImage, build_littlefs_image
from esp_cabundle.partitions import PartitionTable
from esp_cabundle.spelling import CLI_SPELLING, PYTHON
from tests.support import dumps
from tests.support.dumps import CountingDump
from tests.support.gated import canonical, gated, huge
from tests.support.pki import issue

# As the gate renders it: what ends up in the dump's CA file.
NEW_CA = canonical(
    dumps.pem("isrgrootx1.pem") + dumps.pem("isrg-root-x2.pem") + dumps.pem("2024-r10.pem")
)


def fs_files(flash: bytes, offset: int, size: int) -> dict[str, bytes]:
    image = open_image(flash[offset : offset + size])
    return {f.path: image.read(f.path) for f in image.files()}


def test_arduino_mdash_update_touches_only_the_spiffs_partition() -> None:
    old = dumps.arduino_dump()
    result = update_dump(old, load_board("mdash-arduino"), gated(NEW_CA, "mdash-arduino"))
    new = result.flash
    assert dumps.outside_equal(old, new, [(0x290000, 0x3F0000)])
    changed = dumps.differing_sectors(old, new)
    assert changed and list(result.plan.sectors) == changed
    assert all(0x290000 <= s < 0x3F0000 for s in changed)
    before = fs_files(old, 0x290000, 0x160000)
    after = fs_files(new, 0x290000, 0x160000)
    assert after["/ca.pem"] == NEW_CA
    for path in ("/mdash.cfg", "/big.dat", "/certs/extra.pem"):
        assert after[path] == before[path]
    assert set(after) == set(before)
    image = open_image(new[0x290000:0x3F0000])
    assert image.profile.name == "esp-idf"
    (u,) = result.plan.changes
    assert u.old_ca == before["/ca.pem"]
    assert tuple(f.path for f in u.files) == ("/big.dat", "/certs/extra.pem", "/mdash.cfg")


def test_mongoose_update_changes_both_slots_and_keeps_littlefs_2_0() -> None:
    old = dumps.mongoose_dump()
    result = update_dump(old, load_board("mongoose-os-esp32"), gated(NEW_CA, "mongoose-os-esp32"))
    new = result.flash
    ranges = [(0x190000, 0x1D0000), (0x350000, 0x390000)]
    assert dumps.outside_equal(old, new, ranges)
    assert [u.partition.name for u in result.plan.changes] == ["fs_0", "fs_1"]
    for start, end in ranges:
        image = open_image(new[start:end])
        facts = image.describe()
        assert facts["disk version"] == "2.0" and facts["block count"] == 64
        files = {f.path: image.read(f.path) for f in image.files()}
        assert files["/ca.pem"] == NEW_CA
        assert files["/conf9.json"] == (dumps.DATA / "littlefs/src/conf9.json").read_bytes()
        assert "/log.txt" in files
        assert any(start <= s < end for s in result.plan.sectors)
    assert any("flash encryption is off" in n for n in result.plan.notes)


def test_erased_second_slot_is_skipped() -> None:
    old = dumps.mongoose_dump(fs_1=False)
    result = update_dump(old, load_board("mongoose-os-esp32"), gated(NEW_CA, "mongoose-os-esp32"))
    fs_0, fs_1 = result.plan.changes
    assert fs_1.skipped and not fs_1.sectors
    assert fs_0.sectors
    assert dumps.outside_equal(old, result.flash, [(0x190000, 0x1D0000)])
    assert any("'fs_1' is erased" in n for n in result.plan.notes)


def test_planner_reads_only_the_board_partitions() -> None:
    flash = dumps.mongoose_dump()
    source = CountingDump(flash)
    table = read_table(DumpFile(flash))
    plan = plan_ca_update(
        source, table, load_board("mongoose-os-esp32"), gated(NEW_CA, "mongoose-os-esp32")
    )
    slots = [(0x190000, 0x1D0000), (0x350000, 0x390000)]
    ranges = source.reads + source.md5s
    assert source.reads and all(any(a <= o and o + n <= b for a, b in slots) for o, n in ranges)
    assert sorted(w.offset for w in plan.writes) == list(plan.sectors)
    assert all(len(w.new) == len(w.old) == 0x1000 for w in plan.writes)


def test_same_ca_changes_nothing_twice() -> None:
    old = dumps.arduino_dump()
    once = update_dump(old, load_board("mdash-arduino"), gated(NEW_CA, "mdash-arduino")).flash
    twice = update_dump(once, load_board("mdash-arduino"), gated(NEW_CA, "mdash-arduino"))
    assert fs_files(twice.flash, 0x290000, 0x160000)["/ca.pem"] == NEW_CA
    assert dumps.outside_equal(once, twice.flash, [(0x290000, 0x3F0000)])


# --- a cut anywhere: update-dump's plan is the one flash writes to a unit ----------------


@pytest.mark.parametrize(
    ("board", "torn"),
    [("mongoose-os-esp32", True), ("mdash-arduino", False), ("arduino-esp32-littlefs", True)],
)
def test_every_cut_state_of_the_plan_mounts_with_the_old_or_new_ca(board: str, torn: bool) -> None:
    """LittleFS: a cut anywhere, inside a sector too; SPIFFS: at every sector boundary
    (a torn SPIFFS block is erased by SPIFFS's own mount: the rerun finishes first)."""
    old = _dump_for(board)
    result = update_dump(old, load_board(board), gated(NEW_CA, board))
    plan = result.plan
    states = dumps.cut_states(old, plan.writes, torn=torn)
    assert states[-1][1] == result.flash
    for c in plan.changes:
        if not c.writes:
            continue
        assert c.power_safe, c.order
        p = c.partition
        before = fs_files(old, p.offset, p.size)
        old_ca = before.pop(c.ca_path)
        for label, state in states:
            now = fs_files(state, p.offset, p.size)
            assert now.pop(c.ca_path, None) in (old_ca, NEW_CA), (p.name, label)
            assert now == before, (p.name, label)


def _dump_for(board: str) -> bytes:
    if board == "mongoose-os-esp32":
        return dumps.mongoose_dump()
    flash = dumps.arduino_dump()
    if board == "arduino-esp32-littlefs":  # a lived-in LittleFS in the 1408 KiB partition
        image = LittleFsImage.open(
            build_littlefs_image(
                [("/ca.pem", dumps.pem("dst-root-ca-x3.pem")), ("/cfg.json", b"{}" * 300)],
                size=0x160000,
                profile="arduino",
            )
        )
        for i in range(30):
            image.write(f"/log{i % 3}.txt", bytes([i]) * (500 + 97 * i))
        flash = flash[:0x290000] + image.to_bytes() + flash[0x3F0000:]
    return flash


# --- refusals (library) -------------------------------------------------------------------


def test_missing_partition() -> None:
    with pytest.raises(PartitionTableError, match="no partition 'fs_0'"):
        update_dump(
            dumps.arduino_dump(),
            load_board("mongoose-os-esp32"),
            gated(NEW_CA, "mongoose-os-esp32"),
        )


def test_wrong_file_system_names_the_right_one() -> None:
    with pytest.raises(ImageError, match="does not mount as spiffs") as e:
        update_dump(
            dumps.mongoose_dump(),
            load_board("mongoose-os-esp32-spiffs"),
            gated(NEW_CA, "mongoose-os-esp32-spiffs"),
        )
    assert "holds a littlefs file system" in str(e.value)


def test_ciphertext_with_encrypted_flag() -> None:
    flash = dumps.with_random(dumps.mongoose_dump(), 0x190000, 0x40000)
    with pytest.raises(ImageError, match=r"'fs_0'.*does not mount") as e:
        update_dump(flash, load_board("mongoose-os-esp32"), gated(NEW_CA, "mongoose-os-esp32"))
    assert "fs_0 is damaged or encrypted" in str(e.value)


def test_all_target_partitions_erased() -> None:
    flash = bytearray(dumps.arduino_dump())
    flash[0x290000:0x3F0000] = b"\xff" * 0x160000
    with pytest.raises(InputError, match="every file-system partition the board names is erased"):
        update_dump(bytes(flash), load_board("mdash-arduino"), gated(NEW_CA, "mdash-arduino"))


def test_a_ca_gated_for_another_board_is_refused() -> None:
    with pytest.raises(InputError, match="rules of board mdash-arduino, not of mongoose-os-esp32"):
        update_dump(
            dumps.mongoose_dump(), load_board("mongoose-os-esp32"), gated(NEW_CA, "mdash-arduino")
        )
    with pytest.raises(InputError, match="rules of no board"):
        update_dump(dumps.arduino_dump(), load_board("mdash-arduino"), gated(NEW_CA))


def test_no_room_in_a_full_image_is_refused() -> None:
    flash = dumps.mongoose_dump()
    with pytest.raises((ImageError, InputError)):
        update_dump(flash, load_board("mongoose-os-esp32"), huge("mongoose-os-esp32"))


# --- CLI ----------------------------------------------------------------------------------


# update-dump on the arduino_file fixture's dump
ARDUINO_DUMP = ["update-dump", "dump.bin", "--board", "mdash-arduino"]


@pytest.fixture
def arduino_file(in_tmp: Path) -> Path:
    p = in_tmp / "dump.bin"
    p.write_bytes(dumps.arduino_dump())
    (in_tmp / "new-ca.pem").write_bytes(NEW_CA)
    return p


def test_cli_update_dump(arduino_file: Path, in_tmp: Path, runner: CliRunner) -> None:
    r = runner.invoke(cli, [*ARDUINO_DUMP, "--bundle", "new-ca.pem", "-o", "new.bin"])
    assert r.exit_code == 0, r.output
    old, new = arduino_file.read_bytes(), (in_tmp / "new.bin").read_bytes()
    changed = dumps.differing_sectors(old, new)
    assert "/ca.pem replaced; kept 3 other files" in r.output
    for s in changed:
        assert f"{s:#x}" in r.output
    assert fs_files(new, 0x290000, 0x160000)["/ca.pem"] == NEW_CA
    assert old == arduino_file.read_bytes()  # the input is never touched


def test_cli_update_dump_builds_the_bundle_and_reports_json(
    in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "mos.bin").write_bytes(dumps.mongoose_dump())
    r = runner.invoke(
        cli,
        [
            "update-dump",
            "mos.bin",
            "--board",
            "mongoose-os-esp32",
            "--preset",
            "letsencrypt",
            "-o",
            "out.bin",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [p["name"] for p in doc["partitions"]] == ["fs_0", "fs_1"]
    assert all(p["action"] == "replace" for p in doc["partitions"])
    # the image's facts hold numbers as numbers, as README says (they were strings)
    assert all(p["facts"]["block size"] == 4096 for p in doc["partitions"]), doc["partitions"]
    new = (in_tmp / "out.bin").read_bytes()
    assert doc["changed_sectors"] == dumps.differing_sectors(dumps.mongoose_dump(), new)
    ca = fs_files(new, 0x190000, 0x40000)["/ca.pem"]
    assert b"-----BEGIN CERTIFICATE-----" in ca and ca.count(b"BEGIN CERTIFICATE") == 4


@pytest.mark.parametrize("as_json", [False, True])
def test_cli_a_dump_already_holding_the_ca_is_left_alone(
    arduino_file: Path, in_tmp: Path, runner: CliRunner, as_json: bool
) -> None:
    """Updating a dump that holds exactly the new CA bytes writes no output at all (an
    output already there is left as it was) and says the dump already holds the roots."""
    args = ["--board", "mdash-arduino", "--bundle", "new-ca.pem"]
    first = runner.invoke(cli, ["update-dump", "dump.bin", *args, "-o", "new.bin"])
    assert first.exit_code == 0, first.output
    (in_tmp / "previous.bin").write_bytes(b"an earlier output")
    extra = ["--json"] if as_json else []
    r = runner.invoke(cli, ["update-dump", "new.bin", *args, "-o", "previous.bin", *extra])
    assert r.exit_code == 0, r.output
    assert (in_tmp / "previous.bin").read_bytes() == b"an earlier output"
    r2 = runner.invoke(cli, ["update-dump", "new.bin", *args, "-o", "again.bin", *extra])
    assert r2.exit_code == 0 and not (in_tmp / "again.bin").exists()
    if as_json:
        doc = json.loads(r.stdout)
        assert doc["up_to_date"] is True and doc["output"] is None
        assert doc["changed_sectors"] == [] and doc["partitions"][0]["action"] == "up to date"
    else:
        assert (
            "Up to date: new.bin already holds the 3 CAs (2 roots, 1 intermediate); nothing written"
            in r.output
        )
        assert "Wrote" not in r.output


def test_update_dump_help_says_an_up_to_date_dump_writes_no_output(runner: CliRunner) -> None:
    """A CI script flashed -o's file after exit 0 and found none: the dump already held
    the CA. README says so; --help says it too, and the --json key to check."""
    text = " ".join(runner.invoke(cli, ["update-dump", "--help"]).stdout.split())
    assert "-o's file is neither created nor changed (exit 0)" in text, text
    assert '--json\'s "up_to_date" (true, "output" null)' in text, text


REFUSALS = [
    (["--board", "mongoose-os-esp32"], "no partition 'fs_0'"),
    (["--board", "mongoose-os-esp32-spiffs"], "no partition 'fs_0'"),
    (["--board", "mdash"], "keeps its CA in c form"),
    (["--board", "no-such-board"], "unknown board 'no-such-board'"),
    (["--board", "mdash-arduino", "--preset", "letsencrypt"], "cannot be combined"),
]


@pytest.mark.parametrize(("args", "message"), REFUSALS)
def test_cli_refusals_leave_no_output(
    arduino_file: Path, in_tmp: Path, runner: CliRunner, args: list[str], message: str
) -> None:
    before = sorted(p.name for p in in_tmp.iterdir())
    r = runner.invoke(
        cli, ["update-dump", "dump.bin", "--bundle", "new-ca.pem", *args, "-o", "out.bin"]
    )
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == before


def _run(
    runner: CliRunner, dump: bytes, board: str, tmp: Path, bundle: bytes = NEW_CA
) -> tuple[int, str]:
    (tmp / "d.bin").write_bytes(dump)
    (tmp / "ca.pem").write_bytes(bundle)
    r = runner.invoke(
        cli, ["update-dump", "d.bin", "--board", board, "--bundle", "ca.pem", "-o", "o.bin"]
    )
    return r.exit_code, r.output


@pytest.mark.parametrize(
    ("case", "board", "message"),
    [
        ("encrypted", "mongoose-os-esp32", "fs_0 is damaged or encrypted"),
        ("garbage", "mdash-arduino", "does not mount as spiffs"),
        ("truncated", "mdash-arduino", "the dump looks truncated"),
        ("no-table", "mdash-arduino", "no partition table"),
        ("bad-md5", "mdash-arduino", "MD5 mismatch"),
        ("key", "mdash-arduino", "private key"),
    ],
)
def test_cli_error_paths_write_nothing(
    in_tmp: Path, runner: CliRunner, case: str, board: str, message: str
) -> None:
    flash = dumps.mongoose_dump() if board.startswith("mongoose") else dumps.arduino_dump()
    bundle = NEW_CA
    if case == "encrypted":
        flash = dumps.with_random(flash, 0x190000, 0x40000)
    elif case == "garbage":
        flash = dumps.with_random(flash, 0x290000, 0x160000)
    elif case == "truncated":
        flash = flash[:0x300000]
    elif case == "no-table":
        flash = b"\xff" * 0x400000
    elif case == "bad-md5":
        b = bytearray(flash)
        b[0x8000 + 0x28] ^= 1
        flash = bytes(b)
    elif case == "key":
        bundle = NEW_CA + issue("k").key_pem()
    code, output = _run(runner, flash, board, in_tmp, bundle)
    assert code == 2, output
    assert message in output
    assert "CA: " not in output  # no line that reads as success before the error
    assert not (in_tmp / "o.bin").exists()


@pytest.mark.parametrize("size", [3_000_000, 0x300000, 0x3F8000])
def test_cli_truncated_dump_names_the_partition_cut_off(
    in_tmp: Path, runner: CliRunner, size: int
) -> None:
    """``head -c 3000000 dump.bin``: which partition is cut, why, and what to do."""
    code, output = _run(runner, dumps.arduino_dump()[:size], "mdash-arduino", in_tmp)
    assert code == 2, output
    first = "spiffs" if size < 0x3F0000 else "coredump"
    end = 0x3F0000 if first == "spiffs" else 0x400000
    assert f"partition '{first}' ends at {end:#x}, beyond the {size:#x}-byte dump" in output
    assert "the dump looks truncated" in output and "nothing written" in output
    assert "esp-cabundle read --port PORT --all" in output
    assert ("(and 1 more after it)" in output) == (first == "spiffs")
    assert "goes beyond" not in output and not (in_tmp / "o.bin").exists()


def test_cli_truncated_dump_is_refused_before_the_ca_is_gated(
    in_tmp: Path, runner: CliRunner
) -> None:
    """An expired root (a gate failure, exit 1) with a cut dump: the dump is what is
    wrong first, and nothing about the CA is said."""
    (in_tmp / "d.bin").write_bytes(dumps.arduino_dump()[:0x300000])
    args = ["d.bin", "--board", "mdash-arduino", "--root", "dst-root-ca-x3", "-o", "o.bin"]
    r = runner.invoke(cli, ["update-dump", *args])
    assert r.exit_code == 2, r.output
    assert "the dump looks truncated" in r.output
    assert "expired" not in r.output and "CA: " not in r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["d.bin"]


def test_update_dump_parses_the_table_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parses: list[int] = []
    parse = PartitionTable.from_binary

    def counting(cls: type[PartitionTable], data: bytes, **kw: Any) -> PartitionTable:
        parses.append(kw.get("offset", -1))
        return parse(data, **kw)

    monkeypatch.setattr(PartitionTable, "from_binary", classmethod(counting))
    flash = dumps.arduino_dump()
    whole = WholeDump.parse(flash, source="d.bin")
    assert parses == [0x8000] and whole.table.offset == 0x8000
    update_dump(whole, load_board("mdash-arduino"), gated(NEW_CA, "mdash-arduino"))
    assert parses == [0x8000]  # the checked table is the one the update plans with
    update_dump(flash, load_board("mdash-arduino"), gated(NEW_CA, "mdash-arduino"))
    assert parses == [0x8000, 0x8000]


def test_cli_dump_cut_inside_its_table(in_tmp: Path, runner: CliRunner) -> None:
    code, output = _run(runner, dumps.arduino_dump()[:0x8040], "mdash-arduino", in_tmp)
    assert code == 2, output
    assert "partition table at 0x8000 is cut short" in output and "nothing written" in output
    assert "read the whole flash again" in output
    assert "goes beyond" not in output and not (in_tmp / "o.bin").exists()


def test_trailing_bytes_after_a_whole_dump_are_refused() -> None:
    """A length no flash has is bytes added or lost (tryout: a 4 MiB + 100-byte file
    was updated into a 4,194,404-byte output): refused, as tests/test_dump_sizes.py
    checks from the command line."""
    flash = dumps.arduino_dump() + b"xyz"
    with pytest.raises(PartitionTableError, match="3 bytes more than a 4096 KiB flash"):
        update_dump(flash, load_board("mdash-arduino"), gated(NEW_CA, "mdash-arduino"))


def test_cli_missing_dump_file(in_tmp: Path, runner: CliRunner) -> None:
    r = runner.invoke(cli, ["update-dump", "nope.bin", "--board", "mdash-arduino", "-o", "o.bin"])
    assert r.exit_code == 2
    assert "nope.bin" in r.output
    assert not (in_tmp / "o.bin").exists()
    # As inspect says it: the hint was null. How to make one: read the unit's flash.
    j = runner.invoke(
        cli, ["update-dump", "dump.bin", "--board", "mdash-arduino", "-o", "o.bin", "--json"]
    )
    doc = json.loads(j.stdout)
    assert doc["error"] == "dump.bin: no such flash dump"
    assert doc["hint"].startswith("save a unit's whole flash as it (esp-cabundle read --port ")
    assert "--all -o dump.bin)" in doc["hint"]


def test_cli_policy_violation_writes_nothing(
    arduino_file: Path, in_tmp: Path, runner: CliRunner
) -> None:
    r = runner.invoke(cli, [*ARDUINO_DUMP, "--root", "dst-root-ca-x3", "-o", "o.bin"])
    assert r.exit_code == 1, r.output
    assert "expired" in r.output
    assert not (in_tmp / "o.bin").exists()


def test_a_ca_file_or_an_image_given_as_the_dump_is_said_as_what_it_is(tmp_path: Path) -> None:
    """'no partition table in the 0x17a6-byte image (no 4 KiB sector starts aa 50)' was
    said of a PEM file and of a one-partition image alike."""
    pem = (Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem").read_bytes()
    image = pack_image("littlefs", "esp-idf", 64 << 10, [("/ca.pem", pem)]).data
    for spelling in (PYTHON, CLI_SPELLING):
        with pytest.raises(PartitionTableError, match="PEM text \\(certificates\\), not a") as p:
            WholeDump.parse(pem, source="my ca.pem", spelling=spelling)
        said = '--bundle "my ca.pem"' if spelling.cli else "load_trust_set('my ca.pem')"
        assert said in (p.value.hint or "")
        with pytest.raises(PartitionTableError, match="a littlefs image \\(one partition\\)") as e:
            WholeDump.parse(image, source="fs.bin", spelling=spelling)
        hint = e.value.hint or ""
        assert spelling.read_all in hint
        assert ("esp-cabundle fs put fs.bin ca.pem" in hint) is spelling.cli


def _hint(output: str) -> str:
    return output.split("hint: ", 1)[1].replace("\n", " ")


def test_cli_image_as_dump_hint_keeps_the_board_and_runs(in_tmp: Path, runner: CliRunner) -> None:
    """The hint was 'fs put fs.bin ca.pem' alone: the --board typed (its CA path and
    rules) and the --preset were lost. Each command it names now runs as copied."""
    pem = dumps.pem("isrgrootx1.pem")
    (in_tmp / "fs.bin").write_bytes(pack_image("spiffs", "esp-idf", 64 << 10, []).data)
    (in_tmp / "my roots.pem").write_bytes(pem)
    typed = ["update-dump", "fs.bin", "--board=mdash-arduino", "--bundle", "my roots.pem"]
    r = runner.invoke(cli, [*typed, "-o", "new.bin"])
    assert r.exit_code == 2, r.output
    put = "esp-cabundle fs put fs.bin 'my roots.pem' /ca.pem --board=mdash-arduino"
    assert put in _hint(r.output)
    r = runner.invoke(cli, shlex.split(put)[1:])
    assert r.exit_code == 0, r.output
    assert open_image((in_tmp / "fs.bin").read_bytes()).read("/ca.pem") == canonical(pem)

    typed = ["update-dump", "fs.bin", "--board", "mdash-arduino", "--preset", "letsencrypt"]
    r = runner.invoke(cli, [*typed, "--max-bytes", "65536", "-o", "new.bin"])
    assert r.exit_code == 2, r.output
    build, put = _hint(r.output).split(": ", 1)[1].split("; ")[0].split(", then ")
    assert build == "esp-cabundle build --preset letsencrypt --max-bytes 65536 -o ca.pem"
    assert put == "esp-cabundle fs put fs.bin ca.pem --board mdash-arduino --max-bytes 65536"
    for line in (build, put):
        r = runner.invoke(cli, shlex.split(line)[1:])
        assert r.exit_code == 0, r.output
    assert b"ISRG Root X2" in open_image((in_tmp / "fs.bin").read_bytes()).read("/ca.pem")


@pytest.mark.parametrize(
    ("ca", "extra"),
    [
        (["--preset", "letsencrypt"], ["--at", "2023-01-01"]),
        (["--preset", "letsencrypt"], ["--at=2023-01-01", "--no-check"]),
        (["--bundle", "ca.pem"], ["--allow", "expired", "--no-check"]),
    ],
)
def test_the_image_hint_gates_as_of_today_in_full(
    in_tmp: Path, runner: CliRunner, ca: list[str], extra: list[str]
) -> None:
    """An image given to 'update-dump --at 2023-01-01' hinted a build and fs put with
    --at 2023-01-01 (and --no-check, --allow): copied, they write today a CA the gate
    judged as of 2023 or not at all. The lines leave them out and say so, as next: does."""
    (in_tmp / "fs.bin").write_bytes(pack_image("spiffs", "esp-idf", 64 << 10, []).data)
    (in_tmp / "ca.pem").write_bytes(dumps.pem("isrgrootx1.pem"))
    typed = ["update-dump", "fs.bin", "--board", "mdash-arduino", *ca, "--max-bytes", "65536"]
    r = runner.invoke(cli, [*typed, *extra, "-o", "new.bin"])
    assert r.exit_code == 2, r.output
    lines = _hint(r.output).partition("itself: ")[2].partition("; or ")[0]
    lines, _, why = lines.partition(" (without ")
    for line in lines.split(", then "):
        for word in ("--at", "2023", "--allow", "expired", "--no-check"):
            assert not any(w.startswith(word) for w in shlex.split(line)), line
        assert "--max-bytes" in shlex.split(line), line
    left = " ".join(w.split("=")[0] for w in extra if w.startswith("--"))
    who = "fs put gates" if "--bundle" in ca else "build and fs put gate"
    assert why == f"{left}: {who} the CA as of today, in full)", why
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem", "fs.bin"]


@pytest.mark.parametrize("as_json", [False, True])
def test_cli_update_dump_says_how_to_put_the_result_on_the_unit(
    arduino_file: Path, in_tmp: Path, runner: CliRunner, as_json: bool
) -> None:
    """'Wrote new.bin (changed: N sectors)' stopped there: the next step is 'flash' with
    the board and CA typed (the same update in place); none once the dump is up to date.
    No esptool line: 'write-flash --diff-with dump.bin 0x0 new.bin' fails as printed
    (--diff-with takes every word after it), and once the unit changed since the dump
    was read esptool rewrites the whole image, the stale dump over the unit."""
    extra = ["--json"] if as_json else []
    args = [*ARDUINO_DUMP, "--bundle", "new-ca.pem", "-o", "new.bin", *extra]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    step = json.loads(r.stdout)["next"] if as_json else _next_line(r.output)
    flash = "esp-cabundle flash --port PORT --board mdash-arduino --bundle new-ca.pem"
    assert step.startswith(f"{flash} does the same on the unit in place"), step
    assert "only the changed sectors, journaled, restorable" in step, step
    assert "esptool" not in step and "diff-with" not in step, step
    assert step.endswith("(only the changed sectors, journaled, restorable)"), step
    again = runner.invoke(cli, ["update-dump", "new.bin", *ARDUINO_DUMP[2:], "--bundle",
                                "new-ca.pem", "-o", "x.bin", *extra])  # fmt: skip
    assert again.exit_code == 0 and not (in_tmp / "x.bin").exists(), again.output
    if as_json:
        assert json.loads(again.stdout)["next"] is None
    else:
        assert "next:" not in again.output


@pytest.mark.parametrize(
    "extra",
    [
        ["--at", "2023-01-01"],
        ["--at=2023-01-01", "--no-check"],
        ["--allow", "expired", "--no-check"],
    ],
)
def test_the_next_step_gates_as_of_today_in_full(
    arduino_file: Path, in_tmp: Path, runner: CliRunner, extra: list[str]
) -> None:
    """An 'update-dump --at 2023-01-01' rehearsal printed a flash line with --at 2023-01-01
    (and --no-check, --allow): copied, it writes today a CA the gate judged as of 2023 or
    not at all. The flash line leaves them out and says so; the CA options stay."""
    args = [*ARDUINO_DUMP, "--bundle", "new-ca.pem", "--max-bytes", "65536"]
    r = runner.invoke(cli, [*args, *extra, "-o", "new.bin"])
    assert r.exit_code == 0, r.output
    step = _next_line(r.output)
    flash, _, rest = step.partition(" does the same on the unit")
    assert flash == (
        "esp-cabundle flash --port PORT --board mdash-arduino --bundle new-ca.pem --max-bytes 65536"
    ), step
    for word in ("--at", "2023", "--allow", "--no-check"):
        assert word not in shlex.split(flash), step
    left = " ".join(w.split("=")[0] for w in extra if w.startswith("--"))
    assert rest.endswith(f"(without {left}: flash gates the CA as of today, in full)"), step


def _next_line(output: str) -> str:
    (line,) = [ln for ln in output.splitlines() if ln.startswith("next: ")]
    return line.removeprefix("next: ")
