"""Squeezed dumps: od, hexdump and xxd -a print a lone "*" for lines repeating the one
before; a key whose bytes hold such a repeat is refused all the same (the "*" expanded
as the offsets say), the same dumps of certificates are no key, and hostile squeezes are
expanded within bounds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.scan_bounds import clean_scan_peak, fill
from support.tools import run_tool

from esp_cabundle.certs import load_certificates
from esp_cabundle.cli import cli
from esp_cabundle.errors import PrivateKeyError
from esp_cabundle.keyscan import find_private_key
from esp_cabundle.keyscan_dumps import _EXPAND_MAX, _SQUEEZES_MAX, _squeezes, expand_squeezed
from tests.support.gate_cases import X1_PEM
from tests.support.key_vectors import key_vectors, no_key_data, openssh_key

# Without -v: each prints "*" for a repeated line. One byte or word a line makes repeats
# inside keys (OpenSSH's magic holds "ss", its lengths "\0\0\0"; DER "01 01").
SQUEEZING = [
    ["od", "-tu1", "-w1"],
    ["od", "-Ad", "-tu1", "-w1"],  # decimal offsets
    ["od", "-b", "-w1"],
    ["od", "-tx1", "-w1"],
    ["od", "-Ax", "-tx1", "-w1"],
    ["od", "-tu2", "-w2"],
    ["od", "-w2"],  # octal words
    ["od", "-x", "-w2"],
    ["xxd", "-a", "-c1"],
    ["hexdump", "-e", '"%07.7_ax " 1/1 "%02x" "\\n"'],
]
KEYS = ["test-only-ec-pkcs8.der", "test-only-rsa-pkcs1.der", "test-only-der.p12", "openssh"]


def _key(name: str) -> bytes:
    return openssh_key() if name == "openssh" else key_vectors()[name]


@pytest.mark.parametrize("command", SQUEEZING, ids=" ".join)
@pytest.mark.parametrize("name", KEYS)
def test_a_key_in_a_squeezed_dump_is_refused(command: list[str], name: str) -> None:
    """Alone, after a PEM bundle's roots, with zeros around it (more "*"s) and in comment
    lines: refused, naming a line of the dump; the message holds no key."""
    key = _key(name)
    for data in (key, bytes(64) + key + bytes(64)):
        dump = run_tool(command, data)
        assert data is key or b"\n*\n" in dump  # the form under test
        commented = b"".join(b"# " + line + b"\n" for line in dump.splitlines())
        for text in (dump, X1_PEM + dump, X1_PEM + b"# pasted:\n" + commented):
            found = find_private_key(text)
            assert found is not None, (name, data[:2])
            with pytest.raises(PrivateKeyError, match="private key material") as e:
                load_certificates(text, source="ca.pem")
            assert str(e.value).startswith(f"ca.pem:{found.line}: "), str(e.value)
            assert 0 < found.line <= text.count(b"\n") + 1


def test_a_key_ending_in_a_repeat_is_refused_in_hexdump_e() -> None:
    """hexdump -e writes no offset after its last "*": a key whose last byte repeats
    ends in "0000088 68", "*" and nothing more; that "*" is its line once at least."""
    der = _key("test-only-ec-pkcs8.der")[:-2] + b"\x68\x68"  # the public point's last bytes
    dump = run_tool(SQUEEZING[-1], der)
    assert dump.endswith(b" 68\n*\n"), dump[-40:]  # the form under test
    found = find_private_key(dump)
    assert found is not None and "squeezed lines expanded" in found.kind, found


# a byte a line, and a "*" for any repeat (xxd -a squeezes lines of zeros only)
BYTE_A_LINE = [c for c in SQUEEZING if "-w2" not in c and c[0] != "xxd"]


@pytest.mark.parametrize("command", [c for c in SQUEEZING if c[0] != "xxd"], ids=" ".join)
def test_a_repeat_one_line_after_a_repeat_is_expanded(command: list[str]) -> None:
    """Bytes c2 c2 c2 c2 4b 4b 4b 4b dump as "c2", "*", "4b", "*" (a byte or a word a
    line): the second "*" has a "*", no offset, before its line; the width is the first's.
    One random EC key in about fifty held such a run, and its od -w1 dump went unrefused."""
    der = bytearray(_key("test-only-ec-pkcs8.der"))
    at = der.index(b"\x02\x01\x01\x04\x20") + 5  # the private scalar's 32 bytes
    at += at % 2  # on a word's boundary, for the dumps of words
    der[at : at + 8] = b"\xc2" * 4 + b"\x4b" * 4
    dump = run_tool(command, bytes(der))
    assert re.search(rb"\n\*\n[^\n]*\n\*\n", dump), dump  # the form under test
    found = find_private_key(dump)
    assert found is not None and "squeezed lines expanded" in found.kind, found


@pytest.mark.parametrize("command", BYTE_A_LINE, ids=" ".join)
def test_an_openssh_key_is_found_only_with_its_stars_expanded(command: list[str]) -> None:
    """A byte a line: the "ss" of the magic is a "*", and the key holds no 0x30 byte
    (key_vectors.openssh_key): only the magic, read across the "*", makes it a key."""
    dump = run_tool(command, openssh_key())
    assert b"\n*\n" in dump
    found = find_private_key(X1_PEM + dump)
    assert found is not None, command
    assert found.kind.startswith("OpenSSH key") and "its squeezed lines expanded" in found.kind


def test_the_finding_points_at_the_key_or_its_star() -> None:
    """The line named holds the key's first byte, or is the "*" standing for it."""
    key = openssh_key()
    dump = run_tool(["od", "-tu1", "-w1"], bytes(8) + key)
    found = find_private_key(X1_PEM + dump)
    assert found is not None and "squeezed" in found.kind
    line = (X1_PEM + dump).splitlines()[found.line - 1]
    assert line.split()[-1] == b"111" or line == b"*", line  # "o" of the magic


@pytest.mark.parametrize(
    "command",
    [
        ["od", "-An", "-tx1z"],
        ["od", "-An", "-tx1z", "-w1"],
        ["od", "-tu1z"],
        ["od", "-An", "-tu1z"],
    ],
    ids=" ".join,
)
def test_the_finding_in_a_dump_with_a_text_column_points_at_the_key(command: list[str]) -> None:
    """od -z's text columns dropped or skipped, the finding is still the key's first
    byte in the text as given (its line and its offset), not a column's or a shift's."""
    before = b"pq<rs>tu 48 30 yz" * 2  # "48 30" in the column: no key's byte
    text = X1_PEM + run_tool(command, before + _key(KEYS[0]))
    found = find_private_key(text)
    assert found is not None, text
    width = 1 if "-w1" in command else 16
    assert found.line == X1_PEM.count(b"\n") + len(before) // width + 1
    line_start = text.rfind(b"\n", 0, found.offset) + 1
    assert found.offset < text.index(b">", line_start), text[line_start:][:80]
    assert text[found.offset : found.offset + 2] in (b"30", b"48"), text[found.offset :][:40]


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        (["od", "-tu1", "-w1"], "OpenSSH key spelt as decimal bytes, its squeezed lines expanded"),
        (["od"], "OpenSSH key spelt as octal 16-bit words, little-endian"),
    ],
)
def test_build_refuses_a_dump_and_writes_nothing(
    in_tmp: Path, runner: CliRunner, command: list[str], kind: str
) -> None:
    (in_tmp / "mine.pem").write_bytes(X1_PEM + run_tool(command, openssh_key()))
    r = runner.invoke(cli, ["build", "--root", "./mine.pem", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 2, r.output
    line = X1_PEM.count(b"\n") + 1
    assert f"mine.pem:{line}: private key material ({kind})" in r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["mine.pem"]


@pytest.mark.parametrize("command", SQUEEZING, ids=" ".join)
def test_certificates_in_a_squeezed_dump_are_no_key(command: list[str]) -> None:
    for name, data in no_key_data(8).items():
        for padded in (data, bytes(100) + data + bytes(100)):
            dump = run_tool(command, padded)
            assert find_private_key(dump) is None, name
            assert find_private_key(X1_PEM + dump) is None, name
            assert len(load_certificates(X1_PEM + dump, source="ca.pem")) == 1


def test_a_star_is_expanded_only_with_offsets_that_tell_how_far() -> None:
    line = b"0000001 048\n"
    for text in (
        b"0000000 048\n*\n0000020 002\n",  # one line before: its width unknown
        b"0000000 048\n0000001 048\n*\n0000001 002\n",  # the next offset not past it
        b"0000000 048\n0000002 048\n*\n0000005 002\n",  # not a whole number of lines
        b"/*\n * comment\n *\n */\n",  # a C comment's lone " *"
    ):
        assert expand_squeezed(text, 8) is None, text
    expanded = expand_squeezed(b"0000000 048\n" + line + b"*\n0000004 002\n", 8)
    assert expanded is not None
    assert expanded[0] == b"0000000 048\n" + line * 3 + b"0000004 002\n"
    # no offsets (od -An): a "*" stands for one line at least, so for it once
    expanded = expand_squeezed(b" 48\n 48\n*\n  2\n", 8)
    assert expanded is not None and expanded[0] == b" 48\n 48\n 48\n  2\n"


def test_a_star_after_a_dumps_first_line_takes_the_width_of_the_lines_after_it() -> None:
    """Nothing before the first line tells the width: the full line after the "*" and
    the next offset do; if a "*" follows that line too, the next two lines in a row."""
    first = b"0000000 30\n*\n0000002 82\n0000003 02\n"
    expanded = expand_squeezed(first, 8)
    assert expanded is not None and expanded[0] == first.replace(b"*\n", b"0000000 30\n")
    twice = b"0000000 30\n*\n0000002 82\n*\n0000004 02\n0000005 01\n"
    expanded = expand_squeezed(twice, 8)
    assert expanded is not None
    assert expanded[0] == b"0000000 30\n" * 2 + b"0000002 82\n" * 2 + b"0000004 02\n0000005 01\n"


@pytest.mark.parametrize("name", ["test-only-rsa-pkcs1.der", "test-only-ec-pkcs8.der"])
def test_a_key_whose_dump_squeezes_its_first_line_is_refused(name: str) -> None:
    """printf 0 > x; cat key.der >> x; od -tx1 -w1 x: "0000000 30", "*", "0000002 82"."""
    dump = run_tool(["od", "-tx1", "-w1"], b"0" + _key(name))
    assert dump.startswith(b"0000000 30\n*\n0000002 "), dump[:40]  # the form under test
    found = find_private_key(dump)
    assert found is not None and "squeezed lines expanded" in found.kind, found


def test_the_expansion_is_bounded() -> None:
    """A "*" standing for 2**60 lines is left as it is (a break in the dump); a text of
    many "*"s each standing for a few: copies stop at _EXPAND_MAX, or _SQUEEZES_MAX "*"s."""
    huge = b"0000000 048\n0000001 048\n*\n7777777777777777 002\n"
    assert expand_squeezed(huge, 8) is None
    few = b"0000000 048\n0000001 048\n*\n0000010 002\n"
    expanded = expand_squeezed(few, 8)
    assert expanded is not None and expanded[0].count(b"0000001 048\n") == 7
    for size in (1 << 16, 1 << 20):  # copies of fewer "*"s than _SQUEEZES_MAX, of more
        many = fill(few, size)
        expanded = expand_squeezed(many, 8)
        assert expanded is not None
        assert len(many) < len(expanded[0]) <= len(many) + _EXPAND_MAX
        assert len(expanded[1]) <= _SQUEEZES_MAX


@pytest.mark.one_python  # a sweep: on the primary only (support.shards)
@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "unit",
    [
        b"0000000 048\n0000001 048\n*\n7777777777777777 002\n",
        b"0000000 048\n0000001 048\n*\n0000010 002\n",  # expanded, 3 bases
        b"0000000 060\n0000001 060\n*\n0000010 060\n",
        b"0000000 000\n0000001 000\n*\n",
        b"*\n",
        b"0000000 30 82\n*\n",
        b"00000000: 3082\n00000002: 3082\n*\n00000010: 0201\n",
        b"0000000 " + b"1 " * 600 + b"\n0000001 1\n*\n0000777 1\n",  # long lines
        b" 30\n*\n",  # od -An: each "*" once
        b" 30 82 02 01\n 30 82 02 01\n*\n",
        b"0000000 30 82\n        0 202\n*\n",  # od -tx1 -tc
        b"0000000 30 82 02 01  >0...<\n*\n0000010 30 82 02 01  >0...<\n",  # od -tx1z
        b" 30 82 02 01  >0...<\n*\n",  # od -An -tx1z: scanned again, the columns dropped
        b"0000000 30\n*\n0000002 82\n*\n",  # widths looked for after the first line
        # od -z's columns dropped from many short lines (re.sub held every piece: 2.9x)
        b" 30  >0<\n   0\n*\n",
        b" 48  >0<\n    \n",
        b"0 >0<\n",
        b" >0<\n*\n",
        b"000000 \n      1\n",  # od's later types' lines dropped from many short lines
    ],
)
def test_hostile_squeezes_are_scanned_in_bounded_time_and_memory(unit: bytes) -> None:
    data = fill(unit)
    # no key found (clean_scan_peak's own assertion: one scan, traced, not two), and a
    # scan of the expanded text (as every scan, 8 bytes a byte at most) and its copies
    assert clean_scan_peak(data) < 10 * (len(data) + _EXPAND_MAX)


@pytest.mark.one_python  # a sweep: on the primary only (support.shards)
@pytest.mark.timeout(60)
@pytest.mark.parametrize("step", [2, 64])
@pytest.mark.parametrize(("rest", "stars"), [(b" 048\n", 40_000), (b" 048" * 249 + b"\n", 600)])
def test_hostile_carried_widths_are_scanned_in_bounded_time_and_memory(
    rest: bytes, stars: int, step: int
) -> None:
    """Every "*" after the first takes its width from the one before: "0000000 048",
    "0000001 048", then a "*" and a line (of 12 or 1,004 bytes) ``stars`` times, the
    offsets ``step`` apart. Expanded within the same bounds as other squeezes."""
    lines = (b"*\n%07o" % (1 + n * step) + rest for n in range(1, stars + 1))
    data = b"0000000" + rest + b"0000001" + rest + b"".join(lines)
    assert 500_000 < len(data) < 700_000
    squeezes = _squeezes(data)
    assert len(squeezes) > 100  # the widths carried
    assert clean_scan_peak(data) < 10 * (len(data) + _EXPAND_MAX)  # and no key found


@pytest.mark.parametrize("command", [["od", "-tx1", "-tc"], ["od", "-tx1", "-tc", "-v"]])
def test_a_key_in_od_with_a_second_type_names_its_hex_line(command: list[str]) -> None:
    """od -tx1 -tc prints each line twice, its characters with no offset: read without
    them, the finding names the hex line holding the key's first byte."""
    text = X1_PEM + run_tool(command, bytes(40) + _key("test-only-ec-pkcs8.der"))
    found = find_private_key(text)
    assert found is not None and "od's lines of other types left out" in found.kind, found
    assert text.splitlines()[found.line - 1].startswith(b"0000040  00"), found
