"""pack's "a CA update will not fit" warning judges room for the CA file at twice its
size (fs.fit.CA_GROWTH), as README says: a 256 KiB image with a 236 KB asset and a 6 KB
CA was packed without a word, then ``fs put`` of the 13.5 KB default preset failed for
lack of space. The CA file is the one at --ca-path, not the largest file."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.fs import open_image
from esp_cabundle.fs.base import NoRoomError
from esp_cabundle.fs.edit import FileEdit, edit_image, locate_image, pack_image
from esp_cabundle.fs.fit import CA_GROWTH
from tests.support import dumps

PACK = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--bundle", "ca.pem"]


def _ca(in_tmp: Path) -> None:
    """A CA file of about 6 KB (four roots, as the letsencrypt preset is)."""
    names = ["isrgrootx1.pem", "isrg-root-x2.pem", "gen-y-root-yr.pem", "gen-y-root-ye.pem"]
    pem = b"".join(dumps.pem(n) for n in names)
    (in_tmp / "ca.pem").write_bytes(pem)


def test_a_pack_without_room_for_a_ca_twice_its_size_is_warned_of(
    in_tmp: Path, runner: CliRunner
) -> None:
    _ca(in_tmp)
    (in_tmp / "data").mkdir()
    (in_tmp / "data" / "asset.bin").write_bytes(random.Random(1).randbytes(236_000))
    r = runner.invoke(cli, [*PACK, "--size", "256K", "--from-dir", "data", "-o", "fs.bin"])
    assert r.exit_code == 0, r.output
    pem = open_image((in_tmp / "fs.bin").read_bytes()).read("/ca.pem")  # as the gate wrote it
    said = r.stderr.replace("\n  ", " ")
    found = re.search(
        rf"warning: a CA update will not fit: /ca\.pem cannot be rewritten in place as "
        rf"{len(pem) * CA_GROWTH:,} bytes \(twice its size\) in this 256K image "
        r"\(--size (\S+) or more leaves room\)",
        said,
    )
    assert found, said
    # the warning is true: a CA twice the size does not go in (fs put's edit) ...
    big = b"#" * (len(pem) * CA_GROWTH - 1) + b"\n"
    with pytest.raises(NoRoomError):
        edit_image(
            locate_image((in_tmp / "fs.bin").read_bytes()), [FileEdit("put", "/ca.pem", big)]
        )
    # ... and the size it names takes one, with no warning
    line = [*PACK, "--size", found.group(1), "--from-dir", "data", "-o", "roomy.bin"]
    r = runner.invoke(cli, line)
    assert r.exit_code == 0 and "warning" not in r.stderr, r.output
    image = open_image((in_tmp / "roomy.bin").read_bytes())
    image.write("/ca.pem", big)
    assert image.read("/ca.pem") == big


def test_the_trial_is_the_ca_file_at_ca_path_not_the_largest_file(
    in_tmp: Path, runner: CliRunner
) -> None:
    """With --ca-path, the trial rewrote the largest file instead (a 150 KB asset that
    no 256 KiB image can hold twice) and warned of it; the CA file is what an update
    rewrites."""
    _ca(in_tmp)
    (in_tmp / "data").mkdir()
    (in_tmp / "data" / "asset.bin").write_bytes(random.Random(2).randbytes(150_000))
    line = [*PACK, "--size", "256K", "--ca-path", "/certs/ca.pem", "--from-dir", "data"]
    r = runner.invoke(cli, [*line, "-o", "fs.bin"])
    assert r.exit_code == 0 and "warning" not in r.stderr, r.output
    pem = open_image((in_tmp / "fs.bin").read_bytes()).read("/certs/ca.pem")
    asset = (in_tmp / "data" / "asset.bin").read_bytes()
    files = [("/certs/ca.pem", pem), ("/asset.bin", asset)]
    assert (
        pack_image("littlefs", "esp-idf", 256 << 10, files, ca_path="/certs/ca.pem").cramped is None
    )
