"""od's dumps without offsets (od -An) read line by line (:mod:`esp_cabundle.keyscan_columns`):
one word a line, od -z's columns with a second type's lines, and "*"s standing for an
unknown number of lines; certificates in them are no key, and hostile lines are read
within bounds."""

from __future__ import annotations

import random
import re
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization as ser
from support.scan_bounds import fill
from support.tools import run_tool
from support.verify_pki import pooled_key

from esp_cabundle.cli import cli
from esp_cabundle.keyscan import _scan_der, find_private_key
from esp_cabundle.keyscan_columns import (
    _COUNT_MAX,
    _HEAD,
    _PAD,
    _PADS_MAX,
    _PAIRS,
    _TRIES,
    _Run,
    find_columns,
)
from esp_cabundle.keyscan_dumps import _EXPAND_MAX
from tests.support.ber import _header, to_ber
from tests.support.gate_cases import X1_PEM
from tests.support.key_vectors import key_vectors, no_key_data

WORD_A_LINE = [
    ["od", "-An", "-tx4", "-w4"],
    ["od", "-An", "-tx2", "-w2"],
    ["od", "-An", "-tx8", "-w8"],
    ["od", "-An", "-to4", "-w4"],
    ["od", "-An", "-tu1z", "-tc", "-w1"],
]
BYTE_A_LINE = [
    ["od", "-An", "-tx1", "-w1"],
    ["od", "-An", "-tu1", "-w1"],
    ["od", "-An", "-b", "-w1"],
]


def _rsa_pkcs8() -> bytes:
    key = pooled_key("rsa2048")
    return key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption())


@pytest.mark.parametrize("command", WORD_A_LINE, ids=" ".join)
def test_a_key_a_word_a_line_is_refused_at_its_first_line(command: list[str]) -> None:
    """A word alone on its line, indented: no offset. The finding names the line holding
    the key's first byte (the key starts a word: the line after the roots)."""
    key = key_vectors()["test-only-ec-pkcs8.der"]
    text = X1_PEM + run_tool(command, key)
    found = find_private_key(text)
    assert found is not None, command
    assert found.line == X1_PEM.count(b"\n") + 1, (found, text.splitlines()[found.line - 1])


@pytest.mark.parametrize("command", [*BYTE_A_LINE, WORD_A_LINE[-1]], ids=" ".join)
def test_a_key_whose_first_bytes_hold_a_star_is_refused(command: list[str]) -> None:
    """BER DSA's PKCS#8 algorithm ends, after the parameters, in the end-of-contents
    00 00 00 00 (a "*" for three lines): in what der_key_kind reads, so no count but the
    right one makes a key, and its inner key is a bare INTEGER (RSA's PKCS#8 ends its
    algorithm in 01 01 01 too, but holds a PKCS#1 key found without it)."""
    dump = run_tool(command, key_vectors()["test-only-ber-dsa-pkcs8.der"])
    assert b"\n*\n" in dump  # the form under test
    found = find_private_key(X1_PEM + dump)
    assert found is not None, command
    assert "a '*' read as" in found.kind, found
    assert (X1_PEM + dump).splitlines()[found.line - 1] == b"*", found
    rsa = find_private_key(run_tool(command, _rsa_pkcs8()))
    assert rsa is not None and "PKCS#1" in rsa.kind, rsa


def _distinct(contents: bytes, before: int, after: int) -> bytes:
    """``contents`` with no byte equal to the one before it (``before`` before the first)
    nor the last equal to ``after``: each such byte xored with 1, 2 or 3 (its sign bit
    kept, never 00, so an INTEGER stays one of its length)."""
    out = bytearray(contents)
    for i, byte in enumerate(out):
        prev = out[i - 1] if i else before
        next_ = out[i + 1] if i + 1 < len(out) else after
        if byte == prev or (i + 1 == len(out) and byte == after):
            out[i] = next(v for v in (byte ^ 1, byte ^ 2, byte ^ 3) if v not in (prev, next_, 0))
    return bytes(out)


def _run_of_three(contents: bytes, at: int) -> bytes:
    """``contents`` with bytes ``at`` to ``at + 2`` one byte, not the one before or after."""
    byte = next(v for v in b"ZYX" if v not in contents[at - 1 : at + 4 : 4])
    return contents[:at] + bytes([byte] * 3) + contents[at + 3 :]


def _dsa_with_runs(runs: int) -> bytes:
    """A BER DSA PKCS#8 key (to_ber of the DER OpenSSL writes: version 0, id-dsa with
    p, q and g, an OCTET STRING of the INTEGER key; 1024-bit p, 160-bit q), its numbers'
    bytes random but seeded and no two in a row equal but p's length (81 81) and the
    end-of-contents, then a run of three equal bytes put in p and (``runs`` 2) in q: in
    od -An -tx1 -w1's lines, a "*" for two lines each besides the end-of-contents' for
    three (not in g: the end-of-contents read as four would make up for it). The scanner
    reads the structure, not the arithmetic (p is no prime), and counts read wrong can
    land on a key by chance in some numbers: so these are fixed, and made at test time."""
    rng = random.Random(2026)
    p = _distinct(bytes([0, rng.randrange(0x80, 0x100)]) + rng.randbytes(127), 0x81, 0x02)
    q = _distinct(bytes([0, rng.randrange(0x80, 0x100)]) + rng.randbytes(19), 0x15, 0x02)
    g = _distinct(bytes([rng.randrange(1, 0x80)]) + rng.randbytes(127), 0x80, 0x00)
    key = _distinct(bytes([rng.randrange(1, 0x80)]) + rng.randbytes(19), 0x14, 0x00)
    p = _run_of_three(p, 10)
    q = _run_of_three(q, 10) if runs == 2 else q
    version, oid = b"\x00", bytes.fromhex("2a8648ce380401")

    def der(tag: int, contents: bytes) -> bytes:
        return _header(tag, len(contents)) + contents

    parameters = b"".join(der(0x02, c) for c in (p, q, g))
    algorithm = der(0x06, oid) + der(0x30, parameters)
    body = der(0x02, version) + der(0x30, algorithm) + der(0x04, der(0x02, key))
    ber = to_ber(der(0x30, body))
    expected = [*[p[10:13], q[10:13]][:runs], bytes(4)]
    assert [m.group() for m in re.finditer(rb"(?s)(.)\1\1+", ber)] == expected
    return ber


@pytest.mark.parametrize("command", [*BYTE_A_LINE, WORD_A_LINE[-1]], ids=" ".join)
def test_a_key_whose_first_bytes_hold_two_stars_is_refused(command: list[str]) -> None:
    """A BER DSA key whose p holds a run of three equal bytes (one key in 400 does):
    its first bytes hold two "*"s standing for more than one line, each read as 2 to
    _COUNT_MAX lines (the first is named)."""
    text = X1_PEM + run_tool(command, _dsa_with_runs(1))
    found = find_private_key(text)
    assert found is not None, command
    assert "two '*'s read as 2 and 3 lines" in found.kind, found
    assert text.splitlines()[found.line - 1] == b"*", found


@pytest.mark.parametrize("command", [*BYTE_A_LINE, WORD_A_LINE[-1]], ids=" ".join)
def test_a_key_whose_first_bytes_hold_three_stars_is_not_found(command: list[str]) -> None:
    """README's "Not detected": in od -An's squeezed lines, a key whose first bytes hold
    "*"s standing for more than one line each in three of its elements (here a run of
    three equal bytes in p, one in q, and the end-of-contents) is not found; the same
    key with the run in p alone is."""
    assert find_private_key(run_tool(command, _dsa_with_runs(1))) is not None
    assert find_private_key(X1_PEM + run_tool(command, _dsa_with_runs(2))) is None, command


@pytest.mark.parametrize("command", WORD_A_LINE + BYTE_A_LINE, ids=" ".join)
def test_certificates_without_offsets_are_no_key(command: list[str]) -> None:
    for name, data in no_key_data(8).items():
        for padded in (data, bytes(100) + data + bytes(100)):
            assert find_private_key(run_tool(command, padded)) is None, name


def test_build_refuses_a_dump_a_word_a_line_and_writes_nothing(
    in_tmp: Path, runner: CliRunner
) -> None:
    dump = run_tool(["od", "-An", "-tx4", "-w4"], key_vectors()["test-only-ec-sec1.der"])
    (in_tmp / "mine.pem").write_bytes(X1_PEM + dump)
    r = runner.invoke(cli, ["build", "--root", "./mine.pem", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 2, r.output
    line = X1_PEM.count(b"\n") + 1
    assert f"mine.pem:{line}: private key material (DER SEC1 EC spelt as od -An's" in r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["mine.pem"]


HOSTILE = [
    b" 30\n*\n",  # a "*" after each line, a SEQUENCE's byte before each: windows tried
    b" 30\n 30\n 30\n 30\n*\nx\n",  # many runs, each padded
    b" 30 82 02 01 30 82 02 01 30 82 02 01 30 82 02 01\n*\nx\n",
    b" " + b"1 " * 290 + b"\n*\n",  # long lines: copies bounded
    b" 02018230\n*\n",
    b" 3000010202018230\n 3000010202018230\n*\n",
    b" 30\n   0\n 30  >0<\n*\n",  # od -z's columns: the other lines dropped
    b" 1\n",
    b"  " + b"7" * 22 + b"\n*\n",  # octal of 8 bytes
]


# A hang guard, not a speed target: the work is bounded by the count of bytes scanned
# below (a loaded CI's four Python parts on two cores once took this past 60 s).
@pytest.mark.one_python  # a sweep: on the primary only (support.shards)
@pytest.mark.timeout(240)
@pytest.mark.parametrize("unit", HOSTILE)
def test_hostile_lines_without_offsets_are_read_in_bounded_time_memory_and_work(
    unit: bytes,
) -> None:
    """The bytes scanned in all (each run in each format, its zeros, the windows) are
    linear in the text, and so is the memory the reading holds at its peak (measured
    for this module alone: od -z's columns cost the older readers more, see
    test_keyscan_dumps)."""
    data = fill(unit)
    calls: list[int] = []

    def counting(buf: bytes) -> tuple[str, int] | None:
        calls.append(len(buf))
        return _scan_der(buf)

    assert find_columns(data, counting) is None
    tracemalloc.start()
    try:
        assert find_columns(data, _scan_der) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # each line's start (8 bytes a line of 3 bytes or more), the run's bytes, a window
    assert peak < 4 * (len(data) + _EXPAND_MAX)
    assert find_private_key(data) is None
    window_max = 2 * _HEAD + _COUNT_MAX * 300 + _PAD
    assert sum(calls) <= 6 * (len(data) + _EXPAND_MAX) + _PADS_MAX + _TRIES * window_max


def test_the_windows_tried_stop_at_their_cap() -> None:
    """Every "*" has a SEQUENCE's first byte before it: windows are tried until _TRIES
    (after the run's one scan in hex: the cap reached ends the search)."""
    calls: list[int] = []

    def counting(buf: bytes) -> tuple[str, int] | None:
        calls.append(len(buf))
        return None

    # each window different (its "*"'s line a count up), so none is answered from its parts
    lines = b"".join(b" 30\n %02x\n*\n" % (n % 256) + b" 00\n" * (n // 256) for n in range(2000))
    assert find_columns(lines, counting) is None
    assert len(calls) == _TRIES + 1
    calls.clear()  # windows repeating, some answered from their parts: the cap still holds
    assert find_columns(fill(b" 30\n 82\n*\n"), counting) is None
    assert 1 < len(calls) <= _TRIES + 1


def test_the_windows_of_two_stars_stop_at_their_cap() -> None:
    """20 "*"s, each after its own line: each is read alone as 2 to _COUNT_MAX lines,
    then each two of them (190 pairs, 49 counts each) until _PAIRS windows of two."""
    calls: list[int] = []

    def counting(buf: bytes) -> tuple[str, int] | None:
        calls.append(len(buf))
        return None

    lines = b"".join(b" 30\n %02x\n*\n" % n for n in range(20))
    assert find_columns(lines, counting) is None
    assert len(calls) == 1 + 20 * (_COUNT_MAX - 1) + _PAIRS


class _Unseen(dict[tuple[bytes, int], object]):
    """Windows answered from their parts: none (every window built and scanned)."""

    def __contains__(self, key: object) -> bool:
        return False


@pytest.mark.parametrize("first", [b" 31\n", b" 30\n"])
def test_windows_alike_but_before_their_star_are_told_apart(first: bytes) -> None:
    """Two runs of od -An -tx1 -w1 lines whose "*"s have the same line and the same bytes
    after: the first opens with 31 (no SEQUENCE) in place of the key's 30, the second is
    the key's (a BER DSA key, found only with a "*" read as several lines: how many
    depends on the key, which key_vectors makes afresh each session). The second's
    windows are the key's, not the first's answers; the first run holds the key too if
    it opens with 30, and is the one named then."""
    key = run_tool(["od", "-An", "-tx1", "-w1"], key_vectors()["test-only-ber-dsa-pkcs8.der"])
    assert key.startswith(b" 30\n")
    text = first + key[4:] + b"x\n" + key
    found = find_columns(text, _scan_der)
    assert found is not None and "a '*' read as " in found[0], found
    second = len(key) + len(first) - 4 + 2  # where the second run starts
    assert (found[1] > second) == (first == b" 31\n"), found


@pytest.mark.parametrize("seed", range(12))
def test_windows_answered_from_their_parts_find_what_every_window_scanned_finds(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window tried before is answered by its parts (before, its line and count, after)
    without being built: on text of od -An -tx1 -w1 lines holding a BER DSA key (found
    only with a "*" read as several lines) at random places, among repeated lines, "*"s and
    breaks, the finding is the one of a scan building every window."""
    rng = random.Random(seed)
    key = run_tool(["od", "-An", "-tx1", "-w1"], key_vectors()["test-only-ber-dsa-pkcs8.der"])
    pieces = [b" 30\n", b" 82\n", b" 00\n", b"*\n", b" 02\n 01\n", b"x\n", key, key[:300]]
    weights = [20, 10, 10, 20, 5, 1, 1, 2]
    text = b"".join(rng.choices(pieces, weights, k=rng.randrange(200, 2000)))
    scanned: list[bytes] = []

    def recording(buf: bytes) -> tuple[str, int] | None:
        scanned.append(buf)
        return _scan_der(buf)

    found = find_columns(text, recording)
    built = list(scanned)
    scanned.clear()
    find = _Run.find
    monkeypatch.setattr(_Run, "find", lambda self, d, b, w: find(self, d, b, _Unseen()))
    assert find_columns(text, recording) == found, seed
    assert set(built) == set(scanned)  # no window left unscanned


def _add_rule(run: _Run, pos: int) -> bool:
    """_Run.add as the plain rule: each of a line's numbers checked on its own."""
    if run.data.startswith(b"*", pos):
        run.lines.append(-1 - pos)
        return True
    tokens = run.tokens(pos)
    if tokens is None:
        return True
    if not tokens or not all(re.fullmatch(rb"-?[0-9a-fA-F]{1,22}", t) for t in tokens):
        return False
    run.lines.append(pos)
    run.widths.update(map(len, tokens))
    run.hex = run.hex and not any(t.startswith(b"-") for t in tokens)
    run.octal = run.octal and all(re.fullmatch(rb"[0-7]+", t) for t in tokens)
    if run.decimal and all(re.fullmatch(rb"-?[0-9]+", t) for t in tokens):
        values = list(map(int, tokens))
        run.low, run.high = min(run.low, *values), max(run.high, *values)
    else:
        run.decimal = False
    return True


@pytest.mark.parametrize("seed", range(10))
def test_a_lines_numbers_are_read_as_the_plain_rule_reads_them(seed: int) -> None:
    """_Run.add checks a line's numbers in one match each (hex, octal, decimal): the
    state it leaves, line by line, is the one of checking each number on its own."""
    rng = random.Random(seed)
    numbers = [b"30", b"-48", b"060", b"7", b"9", b"ff", b"FF", b"-", b"0x30", b"1" * 22, b"1" * 23]
    numbers += [b"*", b"g", b"", b"12-3", b"0177777", b"8"]
    blanks = [b" ", b"  ", b"\t", b" \r", b"\x0b", b"   "]
    lines = []
    for _ in range(400):
        line = b"".join(
            rng.choice(blanks) + rng.choice(numbers) for _ in range(rng.randrange(0, 5))
        )
        lines.append(rng.choice([line, line, b"*", b"", line + b"  >0.<"]))
    data = b"\n".join(lines) + b"\n"
    for columns in (False, True):
        fast, plain = _Run(data), _Run(data)
        fast.columns = plain.columns = columns
        pos = 0
        while pos < len(data):
            assert fast.add(pos) == _add_rule(plain, pos), data[pos : data.find(b"\n", pos)]
            state = (fast.widths, fast.hex, fast.octal, fast.decimal, fast.low, fast.high)
            assert state == (
                plain.widths,
                plain.hex,
                plain.octal,
                plain.decimal,
                plain.low,
                plain.high,
            )
            assert list(fast.lines) == list(plain.lines)
            if not fast.hex and not fast.octal and not fast.decimal:
                fast, plain = _Run(data), _Run(data)  # a fresh run: every state is reached
                fast.columns = plain.columns = columns
            pos = data.find(b"\n", pos) + 1
