"""The key scanner's fast paths agree with the plain rules they stand for.

PEM armour is found over the reversed text (a label's "begin" or "end" looked for
after it, in C) and base64 runs from the byte before them; both were a call or a
retry per label or letter (1 MB/s on "private key" in every line). Each is checked here
against the plain rule, written out as the scanner used to run it, on seeded random text
made of the pieces each rule turns on, and timed on the inputs that were slow.
"""

from __future__ import annotations

import base64
import random
import re

import pytest
from support.scan_bounds import fill

from esp_cabundle import keyscan, keyscan_armour
from esp_cabundle.keyscan import find_private_key
from esp_cabundle.keyscan_common import memoised
from tests.support.gate_cases import X1_PEM
from tests.support.key_vectors import key_vectors

# ---------------------------------------------------------------------------------------
# PEM armour: the rule, forward and one label at a time

_SEP = rb"[\x00\t\x0b\x0c\r \xa0\xc2_-]"
_LABEL = re.compile(rb"private[^a-z0-9\n]{0,8}key(?![a-z0-9])")
_WORD = rb"[a-z0-9][a-z0-9.]{0,15}"
_BEGIN = rb"(?<![a-z0-9])(?:begin|end)" + _SEP + rb"{1,8}(?:" + _WORD + _SEP + rb"{1,8}){0,2}\Z"
_BEFORE = re.compile(_BEGIN)
_BEFORE_DASHED = re.compile(rb"-{3}" + _SEP + rb"{0,8}" + _BEGIN)
# What the scanner ran before: the leftmost way to match, its dashes or none.
_BEFORE_LEFTMOST = re.compile(rb"(-{3}" + _SEP + rb"{0,8})?" + _BEGIN)
_AFTER = re.compile(rb"(?:" + _SEP + rb"{1,8}[a-z0-9]{1,16})?" + _SEP + rb"{0,8}-{3}")


def _armour_rule(data: bytes, *, leftmost: bool = False) -> int | None:
    """Where the first label in armour starts: "begin" or "end", separators and at most
    two words right before it, and dashes before that or after the label."""
    low = data.lower()
    for m in _LABEL.finditer(low):
        lo = max(0, m.start() - 96)
        if leftmost:
            before = _BEFORE_LEFTMOST.search(low, lo, m.start())
            dashed = before is not None and before.group(1) is not None
        else:
            before = _BEFORE.search(low, lo, m.start())
            dashed = _BEFORE_DASHED.search(low, lo, m.start()) is not None
        if before is not None and (dashed or _AFTER.match(low, m.end())):
            return m.start()
    return None


# Pieces of headers, right and wrong: each slot of a header is filled from its list.
_SLOTS: list[list[bytes]] = [
    [b"", b"# ", b"x", b"\n", b"legend ", b"end of ", b"begin -----end "],
    [b"", b"-----", b"---", b"--", b"-----\x00", b"---- "],
    [b"begin", b"END", b"end", b"xbegin", b"begins", b"Begin\n"],
    [b" ", b"  ", b"\t", b"\xc2\xa0", b"_", b"", b" - ", b"         "],
    [b"", b"rsa ", b"x9.42 dh ", b"of a ", b"a b c ", b"ec-", b"encrypted\x00", b"ab.c "],
    [
        b"private key",
        b"PRIVATE  KEY",
        b"private-key",
        b"privatekey",
        b"private keys",
        b"private\nkey",
    ],
    [b"", b"-----", b" block-----", b" ---", b"--", b" x y ---", b"\n-----"],
    [b"", b"\n", b" private key-----", b"\nend private key"],
]


def test_armour_is_found_where_the_plain_rule_finds_it() -> None:
    rng = random.Random(7)
    found = 0
    for _ in range(6000):
        text = b"".join(rng.choice(slot) for slot in _SLOTS)
        expected = _armour_rule(text)
        assert keyscan._find_armour(text.lower()) == expected, text
        # everything the scanner found before is still found, at that label or before
        before = _armour_rule(text, leftmost=True)
        assert before is None or (expected is not None and expected <= before), text
        found += expected is not None
    assert 1000 < found < 5000  # the slots make both verdicts


def test_armour_behind_another_begin_is_found() -> None:
    """The rule takes any "begin" or "end" before a label: the scanner used to look at
    the leftmost only, and missed "-----END PRIVATE KEY" behind a "Begin"."""
    text = b"Begin -----END PRIVATE KEY\n"
    assert _armour_rule(text, leftmost=True) is None
    found = find_private_key(text)
    assert found is not None and found.kind == "PEM private-key header"
    assert found.offset == text.index(b"-----")  # the header, not its label


# ---------------------------------------------------------------------------------------
# base64 runs: every run, one at a time

_RUN = re.compile(rb"[A-Za-z0-9+/]{16,}")


def _base64_rule(data: bytes) -> tuple[str, int] | None:
    """Each run of 16 base64 characters or more opening with "M", "b", "/" or "z" (a key's
    DER, OpenSSH's and Java's magic), decoded with the runs that follow within 8 bytes."""
    runs = list(_RUN.finditer(data))
    for i, run in enumerate(runs):
        head = data[run.start() : run.start() + 16]
        if head[0] not in b"Mb/z" or (head[0] in b"/z" and not head.startswith(keyscan._JAVA_B64)):
            continue
        text, last = data[run.start() : run.end()], run.end()
        for nxt in runs[i + 1 :]:
            if len(text) >= 256 or nxt.start() - last > 8:
                break
            text, last = text + data[nxt.start() : nxt.end()], nxt.end()
        raw = base64.b64decode(text[:256][: len(text[:256]) // 4 * 4])
        if raw.startswith(b"openssh-key-v1\x00"):
            return "base64 OpenSSH key", run.start()
        kind = keyscan.java_store_kind(raw) or keyscan.der_key_kind(raw, truncated=True)
        if kind is not None:
            return f"base64 {kind}", run.start()
    return None


def test_base64_runs_are_read_as_the_plain_rule_reads_them() -> None:
    rng = random.Random(8)
    bodies = [base64.b64encode(v) for v in key_vectors().values()]
    bodies.append(b"".join(X1_PEM.splitlines()[1:-1]))
    gaps = [b"\n", b"\r\n", b'"\n  "', b" ", b"\n\n\n\n\n\n\n\n\n", b"-", b"=\n"]
    found = 0
    for _ in range(1500):
        body = rng.choice(bodies)
        at = rng.choice([0, 0, rng.randrange(len(body) - 40)])
        parts = []
        for _ in range(rng.randrange(1, 6)):
            size = rng.randrange(1, 90)
            parts.append(body[at : at + size])
            at += size
        text = rng.choice([b"", b"x", b"# ", b"+"]) + b"".join(p + rng.choice(gaps) for p in parts)
        expected = _base64_rule(text)
        assert keyscan._scan_base64(text, []) == expected, text
        found += expected is not None
    assert 50 < found < 1400


# A run that may open a key, as the scanner found it before: "M", "b", "z" or "/" after a
# byte that is no base64 character, then 15 base64 characters or more.
_KEY_RUN_RULE = re.compile(
    rb"[Mbz/](?<=[\x00-\x2a\x2c-\x2e\x3a-\x40\x5b-\x60\x7b-\xff][Mbz/])[A-Za-z0-9+/]{15,}"
)


@pytest.mark.parametrize("seed", range(6))
def test_runs_that_may_open_a_key_are_found_where_the_plain_rule_finds_them(seed: int) -> None:
    """keyscan finds them in the text's byte classes (a literal ".M", re's fast scan): the
    same runs, after every byte that is no base64 character, on text of every byte."""
    rng = random.Random(seed)
    pieces = [b"MIIB" * 4, b"x" * 14, b"x" * 15]  # runs of 15 and 16 after an opening
    pieces += [bytes([c]) for c in b"Mbz/+A09=\n"] + [bytes([c]) for c in range(256)]
    text = b"".join(rng.choice(pieces) for _ in range(20_000))
    classes = text.translate(keyscan._B64_CLASSES)
    found = [(m.start() + 1, m.end()) for m in keyscan._B64_KEY_RUN.finditer(classes)]
    expected = [m.span() for m in _KEY_RUN_RULE.finditer(text)]
    assert found == expected
    assert len(expected) > 50


# ---------------------------------------------------------------------------------------
# The inputs that were slow


class _Counted:
    """A compiled pattern that counts its ``match`` calls."""

    def __init__(self, pattern: re.Pattern[bytes]) -> None:
        self.pattern, self.calls = pattern, 0

    def match(self, data: bytes, pos: int = 0) -> re.Match[bytes] | None:
        self.calls += 1
        return self.pattern.match(data, pos)


@pytest.mark.parametrize(
    ("unit", "checked"),
    [
        (b"private key, ", 0),  # a label every 13 bytes: a call each, 1 MB/s, before
        (b"# this file holds no private key\n", 0),
        (b"-----begin private\n", 0),
        (b"# the end of a private key\n", 1),  # "end" and two words: checked, once
        (b"end private key ", 1),
    ],
)
def test_a_label_is_checked_in_python_only_after_a_begin(
    unit: bytes, checked: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Labels are looked at one by one only when "begin" or "end" (and at most two words)
    stand right before them; the rest is one search in C. Timed: bench_keyscan.py."""
    after = _Counted(keyscan_armour.ARMOUR_AFTER)
    monkeypatch.setattr(keyscan_armour, "ARMOUR_AFTER", after)
    data = unit * 2000
    assert find_private_key(data) is None
    assert after.calls == checked * 2000


def test_memoised_scans_each_bytes_once() -> None:
    """The scanners hand the DER scan the same window again and again on hostile text: a
    memoised scan answers a repeat from its digest, with what the scan said."""
    calls: list[bytes] = []

    def scan(data: bytes) -> tuple[str, int] | None:
        calls.append(data)
        return ("DER key", 3) if data.startswith(b"0") else None

    once = memoised(scan)
    assert [once(b"0abc"), once(b"xyz"), once(b"0abc"), once(b"xyz")] == [
        ("DER key", 3),
        None,
        ("DER key", 3),
        None,
    ]
    assert calls == [b"0abc", b"xyz"]


def test_squeezed_od_an_windows_are_scanned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """od -An's "*"s are each tried as 2 to 8 lines, in windows of the same bytes when
    the lines repeat: each window is scanned once (466,000 der_key_kind calls were
    155,000 on this 512 KiB)."""
    calls: list[int] = []
    kind = keyscan.der_key_kind

    def counted(*args: object, **kwargs: object) -> str | None:
        calls.append(1)
        return kind(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(keyscan, "der_key_kind", counted)
    assert keyscan.find_private_key(fill(b" 30 82 02 01  >0...<\n*\n")) is None
    assert len(calls) < 250_000
