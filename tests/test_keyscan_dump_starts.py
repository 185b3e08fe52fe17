"""keyscan_hex reads a dump from the lines its pattern _DUMP_START finds, not from every
line with an offset: each line it passes over must be one _read_dump takes no dump from
(od's odd "0000000 048" lines), and a key whose dump opens right after such lines, at
the text's first byte, in a comment, or with groups of odd widths is still found."""

from __future__ import annotations

import random

import pytest

from esp_cabundle.certs import load_certificates
from esp_cabundle.keyscan import _scan_der, find_private_key
from esp_cabundle.keyscan_hex import _DUMP_FIRST, _DUMP_LINE, _DUMP_START, find_hex_text
from tests.support.gate_cases import X1_PEM
from tests.support.hex_text import TOOLS
from tests.support.key_vectors import key_vectors

KEY = key_vectors()["test-only-ec-pkcs8.der"]
X1_DER = load_certificates(X1_PEM)[0].der
# Lines the pattern passes over: od's bytes in octal or decimal (three digits, odd), an
# offset alone, od -tx1's offsets with one odd number.
NO_DUMPS = b"0000000 048\n0000001 060\n*\n0000010 002\n0000020\n# 000000 1\n" * 400


def _odd_groups(data: bytes) -> bytes:
    """``data`` as lines of od's shape whose groups are of three digits, then two: each
    line's digits are even in all, its groups odd (no tool's; _read_dump reads it)."""
    lines = []
    for off in range(0, len(data), 16):
        digits = data[off : off + 16].hex()
        groups = [digits[i : i + 3] for i in range(0, len(digits) - 2, 3)]
        tail = digits[len(groups) * 3 :]
        if len(tail) % 2:  # a line shorter than 16 bytes: an odd tail joins the last group
            groups[-1] += tail
            tail = ""
        lines.append(f"{off:07o} " + " ".join(groups + ([tail] if tail else [])))
    return "".join(line + "\n" for line in lines).encode()


# Dumps only the dump reader finds (the bare-hex and word scans read none of them), so a
# line the pattern wrongly passes over loses the key.
DUMPS = {
    "xxd -e": TOOLS["xxd -e"][1](KEY),
    "xxd -e -g8": TOOLS["xxd -e -g8"][1](KEY),
    "odd groups": _odd_groups(KEY),
}


# hexdump -C of a certificate's first bytes, no key, without its last line (the offset
# alone): a dump of another kind than xxd's, read up to the line before the key's dump.
AN_OTHER_DUMP = b"".join(TOOLS["hexdump -C"][1](X1_DER[:48]).splitlines(keepends=True)[:-1])


def test_each_dump_here_is_found_by_the_dump_reader_alone() -> None:
    """The cases below prove something only if the bare-hex scan, which runs after the
    dump reader, cannot find their keys: with a letter before each line's offset (no
    dump line's), none is found."""
    for name, dump in DUMPS.items():
        assert find_hex_text(dump.lower(), _scan_der) is not None, name
        spoilt = b"".join(b"x " + line for line in dump.splitlines(keepends=True))
        assert find_private_key(spoilt) is None, name


@pytest.mark.parametrize("name", sorted(DUMPS))
@pytest.mark.parametrize(
    ("before", "after"),
    [
        (b"", b""),  # the text's first line: no line end before it
        (NO_DUMPS, b""),
        (X1_PEM + NO_DUMPS, NO_DUMPS),
        (NO_DUMPS + b"0000000 048", b""),  # the line before ends with no dump's odd digits
        (NO_DUMPS + b"\r\n\n", b""),
        (NO_DUMPS + AN_OTHER_DUMP, b""),  # its last line right before the key's first
    ],
    ids=[
        "first",
        "after-odd-lines",
        "in-pem",
        "after-a-digit",
        "after-a-blank-line",
        "after-a-dump",
    ],
)
def test_a_dump_after_lines_passed_over_is_found(name: str, before: bytes, after: bytes) -> None:
    dump = DUMPS[name]
    sep = b"\n" if before and not before.endswith(b"\n") else b""
    text = before + sep + dump + after
    found = find_private_key(text)
    assert found is not None and "hex dump" in found.kind, (name, found)
    assert found.line == before.count(b"\n") + len(sep) + 1, (name, found)


@pytest.mark.parametrize("mark", [b"# ", b"// ", b"  * ", b"\t; ", b"-- "])
def test_a_dump_in_comments_with_odd_groups_is_found(mark: bytes) -> None:
    text = NO_DUMPS + b"".join(mark + line + b"\n" for line in DUMPS["odd groups"].splitlines())
    found = find_private_key(text)
    assert found is not None and "hex dump" in found.kind, found
    assert found.line == NO_DUMPS.count(b"\n") + 1


def _random_line(rng: random.Random) -> bytes:
    """A line of a dump's shape, or near one: a comment mark, an offset of five to
    seventeen digits, a separator, groups of 1 to 34 digits one to five blanks apart, a
    text column, a CR."""
    hexdigits = b"0123456789abcdef"
    line = rng.choice([b"", b"", b"# ", b"  // ", b"\t;", b"--\t", b"* ", b"x "])
    line += bytes(rng.choice(hexdigits) for _ in range(rng.randrange(5, 18)))
    line += rng.choice([b" ", b" ", b"  ", b"   ", b"    ", b"     ", b": ", b":", b"\t", b""])
    for i in range(rng.choice([0, 1, 2, 3, 8, 16, 40])):
        if i:
            line += b" " * rng.choice([1, 1, 1, 2, 3, 4, 5])
        line += bytes(rng.choice(hexdigits) for _ in range(rng.choice([1, 2, 3, 4, 5, 8, 31, 34])))
    line += rng.choice([b"", b"", b" ", b"  |0..|", b"  >0..<", b"  0.x", b" x", b"|"])
    return line + rng.choice([b"", b"", b"\r"])


@pytest.mark.parametrize("seed", range(8))
def test_every_line_a_dump_may_open_with_is_tried(seed: int) -> None:
    """Every line _read_dump takes as a dump's first (_DUMP_LINE matches it, its digits
    are even in number) is one the pattern finds, after a line end or as the first."""
    rng = random.Random(seed)
    taken = odd = 0
    for _ in range(5000):
        line = _random_line(rng)
        m = _DUMP_LINE().match(line + b"\n")
        if m is None:
            continue
        kind = "xxd" if m.group("xxd") is not None else "od"
        if len(m.group(kind).translate(None, b" ")) % 2:
            continue
        taken += 1
        odd += kind == "od" and any(len(g) % 2 for g in m.group("od").split())
        assert _DUMP_FIRST().match(line + b"\n") is not None, line
        assert _DUMP_START().match(b"x\n" + line, 1) is not None, line
    # lines of a dump's shape often enough to prove it, od's with odd groups too
    assert taken > 300 and odd > 20, (taken, odd)
