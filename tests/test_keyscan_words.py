"""Private keys in decimal 16-, 32- and 64-bit words (od -tu2, od -td2, hexdump -d, od
-tu4, od -tu8 ...) and octal 16-bit words (od, od -o, hexdump -o), as the real tools print
them on little- and big-endian hosts, are refused wherever they stand, naming the file
and the line of the word holding the key's first byte; the same dumps of certificates
are no key; hostile words are scanned in bounded time and memory."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from click.testing import CliRunner
from support.scan_bounds import clean_scan_peak, fill
from support.tools import run_tool

from esp_cabundle.certs import load_certificates
from esp_cabundle.cli import cli
from esp_cabundle.errors import PrivateKeyError
from esp_cabundle.keyscan import _scan_der, find_private_key
from tests.support.gate_cases import X1_PEM
from tests.support.key_vectors import key_vectors, no_key_data, openssh_key

# od and hexdump print words in the host's byte order: little-endian here (the test below
# checks it), with offsets or without, signed or not, 8 words a line, 4 or 1 (-v: one
# word a line repeats often, and od would print "*" for lines repeating the one before).
# Each with how it spells a word: base and width in bytes.
WORD_DUMPS = [
    (["od", "-An", "-tu2"], 10, 2),
    (["od", "-tu2"], 10, 2),
    (["od", "-Ad", "-tu2"], 10, 2),
    (["od", "-td2"], 10, 2),
    (["od", "-An", "-td2"], 10, 2),
    (["od", "-An", "-tu2", "-w8"], 10, 2),
    (["od", "-v", "-tu2", "-w2"], 10, 2),
    (["hexdump", "-d"], 10, 2),
    (["od", "-v"], 8, 2),  # od's default: octal words
    (["od", "-o"], 8, 2),
    (["od", "-An", "-o", "-w4"], 8, 2),
    (["hexdump", "-o"], 8, 2),
    (["od", "-tu4"], 10, 4),
    (["od", "-An", "-td4"], 10, 4),
    (["od", "-v", "-Ad", "-tu4", "-w4"], 10, 4),
    (["od", "-tu8"], 10, 8),
    (["od", "-An", "-td8"], 10, 8),
    (["od", "-v", "-An", "-tu8", "-w8"], 10, 8),
]
IDS = [" ".join(c) for c, _, _ in WORD_DUMPS]
# DER keys and key stores, and an OpenSSH key (its magic, no DER)
NAMES = sorted(n for n in key_vectors() if not n.endswith((".p7", ".p7s")))


def _key(name: str) -> bytes:
    return openssh_key() if name == "openssh" else key_vectors()[name]


def _commented(dump: bytes, mark: bytes = b"# ") -> bytes:
    return b"".join(mark + line + b"\n" for line in dump.splitlines())


def _first_byte_offset(key: bytes) -> int:
    found = _scan_der(key)
    assert found is not None
    return found[1]


def _big_endian(data: bytes, width: int) -> bytes:
    """What makes the tools print ``data``'s words as a big-endian host would: each
    word's bytes swapped (``data`` padded with zeros to whole words, as od pads)."""
    data += bytes(-len(data) % width)
    return b"".join(data[i : i + width][::-1] for i in range(0, len(data), width))


def test_the_dumps_are_little_endian_words() -> None:
    assert run_tool(["od", "-An", "-tu2"], b"\x30\x82").split() == [b"33328"]
    assert run_tool(["hexdump", "-d"], b"\x30\x82").split()[1] == b"33328"
    assert run_tool(["od", "-An"], b"\x30\x82").split() == [b"101060"]  # 0x8230 in octal
    assert run_tool(["hexdump", "-o"], b"\x30\x82").split()[1] == b"101060"
    assert run_tool(["od", "-An", "-tu4"], b"\x30\x82\x04\xa4").split() == [b"2751758896"]
    word = run_tool(["od", "-An", "-tu8"], b"\x30\x82\x04\xa4\x02\x01\x00\x02").split()
    assert word == [b"%d" % int.from_bytes(b"\x30\x82\x04\xa4\x02\x01\x00\x02", "little")]


@pytest.mark.parametrize(("command", "base", "width"), WORD_DUMPS, ids=IDS)
@pytest.mark.parametrize("name", [*NAMES, "openssh"])
def test_a_key_in_words_is_refused(command: list[str], base: int, width: int, name: str) -> None:
    """Alone, after the roots of a PEM bundle, in its comment lines and after other
    bytes (the key at an odd offset, its first byte inside a word): refused naming the
    line of the word that holds the key's first byte; no key in the message."""
    _refused(command, base, width, _key(name), "little")


# On a big-endian host: one command of each base and width
BIG_ENDIAN_DUMPS = [
    (["od", "-An", "-tu2"], 10, 2),
    (["hexdump", "-d"], 10, 2),
    (["od"], 8, 2),
    (["hexdump", "-o"], 8, 2),
    (["od", "-td4"], 10, 4),
    (["od", "-An", "-tu8"], 10, 8),
]


@pytest.mark.parametrize(
    ("command", "base", "width"), BIG_ENDIAN_DUMPS, ids=[" ".join(c[0]) for c in BIG_ENDIAN_DUMPS]
)
@pytest.mark.parametrize("name", ["test-only-ec-pkcs8.der", "test-only-rsa-pkcs1.der", "openssh"])
def test_a_key_in_big_endian_words_is_refused(
    command: list[str], base: int, width: int, name: str
) -> None:
    _refused(command, base, width, _key(name), "big")


def _refused(
    command: list[str], base: int, width: int, key: bytes, order: Literal["little", "big"]
) -> None:
    spelt = "decimal" if base == 10 else "octal"
    for before in (b"", b"\x01", b"\x01\x02\x03"):
        data = before + key
        dump = run_tool(command, _big_endian(data, width) if order == "big" else data)
        first = _first_byte_offset(data)
        for text in (dump, X1_PEM + dump, X1_PEM + b"# pasted:\n" + _commented(dump)):
            found = find_private_key(text)
            assert found is not None, before
            how = f"spelt as {spelt} {8 * width}-bit words, {order}-endian"
            assert how in found.kind, found.kind
            # the word at the finding holds the key's first byte
            word = int(text[found.offset :].split()[0], base) % (1 << (8 * width))
            assert word.to_bytes(width, order)[first % width] == data[first], found
            with pytest.raises(PrivateKeyError, match="private key material") as e:
                load_certificates(text, source="ca.pem")
            assert str(e.value).startswith(f"ca.pem:{found.line}: "), str(e.value)
            assert b" ".join(dump.split()[4:8]) not in str(e.value).encode()


def test_the_kind_names_the_key_and_the_words() -> None:
    for name, kind in (
        ("test-only-ec-pkcs8.der", "DER PKCS#8"),
        ("test-only-rsa-pkcs1.der", "DER PKCS#1 RSA or DSA"),
        ("test-only-nss-pk12util.p12", "BER PKCS#12 key store"),
        ("openssh", "OpenSSH key"),
    ):
        found = find_private_key(run_tool(["od", "-An", "-tu2"], _key(name)))
        assert found is not None
        assert found.kind == f"{kind} spelt as decimal 16-bit words, little-endian"


@pytest.mark.parametrize(("command", "base", "width"), WORD_DUMPS, ids=IDS)
@pytest.mark.parametrize("order", ["little", "big"])
def test_certificates_in_words_are_no_key(
    command: list[str], base: int, width: int, order: str
) -> None:
    """The same tools' words of certificates, PKCS#7 stores of them, a Java trust store
    and random bytes, as either host prints them: no key; a bundle with the dump in its
    comments loads."""
    for name, data in no_key_data(8).items():
        dump = run_tool(command, _big_endian(data, width) if order == "big" else data)
        assert find_private_key(dump) is None, name
        assert find_private_key(X1_PEM + dump) is None, name
        commented = X1_PEM + _commented(dump)
        assert find_private_key(commented) is None, name
        assert len(load_certificates(commented, source="ca.pem")) == 1


def test_words_that_are_no_dump_are_read() -> None:
    """Tables of numbers, years, ports, and words broken by a letter hold no key (an RSA
    key: nothing inside it is a key of its own, as a PKCS#8 EC key's SEC1 one is)."""
    key = key_vectors()["test-only-rsa-pkcs1.der"]
    words = run_tool(["od", "-An", "-tu2"], key).split()
    for text in (
        b"# years: 2021 2024 2026 2032 2035 2040\n" * 50,
        b"ports 443 8080 8443 1883 8883\n" * 50,
        b" ".join(words[:3]) + b" x " + b" ".join(words[3:]),  # the key's header broken
        b" ".join(words[1:]),  # the word holding its first byte cut off
    ):
        assert find_private_key(X1_PEM + text) is None, text[:40]


def test_build_refuses_a_decimal_word_dump_and_writes_nothing(
    in_tmp: Path, runner: CliRunner
) -> None:
    key = key_vectors()["test-only-ec-pkcs8.der"]
    (in_tmp / "mine.pem").write_bytes(X1_PEM + run_tool(["hexdump", "-d"], key))
    r = runner.invoke(cli, ["build", "--root", "./mine.pem", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 2, r.output
    line = X1_PEM.count(b"\n") + 1
    assert (
        f"mine.pem:{line}: private key material (DER PKCS#8 spelt as decimal 16-bit "
        "words, little-endian)" in r.output
    )
    assert sorted(p.name for p in in_tmp.iterdir()) == ["mine.pem"]


# ---------------------------------------------------------------------------------------
# Bounded on hostile input


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "unit",
    [
        b"33328 ",  # one run, decoded and searched once
        b" 33328   514     2  4096\n",  # od -An -tu2 lines opening like DER
        b"0000000 33328   514     2  4096\n",  # with offsets
        b"0000000   33328   00514   00002   04096\n",  # hexdump -d
        b"-32208 -1 ",
        b"123 45 67 x",  # markers, runs too short to decode
        b"123 45 67\n",  # one run over the lines
        b"1234 ",
        b"123\n# ",  # a run over comment lines
        b"1234567 ",  # offsets, no words
        b"12345678901234567890\n",  # 64-bit words, one a line
        b"99999 ",
        b"101060 ",  # od's octal words
        b"0000000 101060 002004 000402\n",
        b"0000000  101060  002004\n",  # hexdump -o
        b" 2751758896 1442840834\n",  # od -tu4
        b"-1543208400 ",
        b"0000000  6196954198115123760 18212655126143289784\n",  # od -tu8
        b"123456789012345678901 ",  # too long for a word
        b"99999999999999999999 ",  # twenty digits, above any 64-bit word
        b"-99999999999999999999\n",
        b"123" + b" " * 60,  # separators too long
    ],
)
def test_hostile_words_are_scanned_in_bounded_time(unit: bytes) -> None:
    data = fill(unit)
    assert find_private_key(data) is None
    assert find_private_key(data + b"\n" + data[:4096]) is None


@pytest.mark.parametrize(
    "unit",
    [
        b"33328 ",
        b" 33328   514     2  4096\n",
        b"-1234\n",
        b"101060 ",
        b"2751758896 ",
        b"18446744073709551615 ",
    ],
)
def test_one_long_word_run_is_scanned_in_bounded_memory(unit: bytes) -> None:
    data = fill(unit)
    peak = clean_scan_peak(data)
    assert peak < 8 * len(data), peak


def test_a_key_in_few_words_is_refused_wherever_they_can_spell_one() -> None:
    """A run of three numbers or fewer is passed over unread only if each has four
    characters at most (16-bit words, six bytes: no key). The smallest key der_key_kind
    takes (SEC1: a SEQUENCE of five bytes, version 1, a BER OCTET STRING) is found in
    od -tu4's three 32-bit words, little-endian, with offsets (which the run's pattern
    counts as words, the words' reader not), and in four 16-bit words of four digits."""
    # built, not spelt: the repository's own scan (test_gate) would find it spelt here
    key = bytes([0x31 - 1]) + bytes.fromhex("050201012480") + bytes(5)
    assert _scan_der(key) is not None
    words = [int.from_bytes(key[i : i + 4], "little") for i in range(0, 12, 4)]
    assert max(len(str(w)) for w in words) > 4  # the form under test: wider than 16 bits
    text = b"0000000 " + b" ".join(b"%d" % w for w in words) + b"\n0000014\n"
    found = find_private_key(X1_PEM + b"*\n" + text)
    assert found is not None and "32-bit words" in found.kind, found
    assert found.line == X1_PEM.count(b"\n") + 2, found
    # the same numbers cut to four characters (modulo 10,000): six bytes, no key
    short = b" ".join(b"%d" % (w % 10_000) for w in words)
    assert find_private_key(X1_PEM + b"*\n0000000 " + short + b"\n0000014\n") is None
    # four such numbers are eight bytes: od -tu2's 16-bit words of the key
    four = b" ".join(b"%5d" % int.from_bytes(key[i : i + 2], "little") for i in range(0, 8, 2))
    assert max(map(len, four.split())) <= 4  # the form under test
    found = find_private_key(X1_PEM + b"*\n0000000 " + four + b"\n0000010\n")
    assert found is not None and "16-bit words" in found.kind, found
