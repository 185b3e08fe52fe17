"""C byte arrays with a typo, and brace lists of wider numbers beside them.

A typo in a certificate's byte array must be named (file, line, item) and refuse the
file, never drop that root unseen; a table of numbers wider than a byte (``uint16_t
ports[] = {8883, 443}``) is not a byte array and must not refuse the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.certs import Certificate, load_certificate_file, load_certificates, sniff_kind
from esp_cabundle.cli import cli
from esp_cabundle.errors import CertificateError

LE = Path(__file__).parent / "data" / "letsencrypt"


def x1() -> Certificate:
    return load_certificate_file(LE / "isrgrootx1.pem")[0]


def x2() -> Certificate:
    return load_certificate_file(LE / "isrg-root-x2.pem")[0]


def _items(c: Certificate) -> list[str]:
    return [f"0x{b:02x}" for b in c.der]


def _c_array(name: str, items: list[str], decl: str = "static const unsigned char") -> str:
    """A C byte array as generators write it, 12 items a line from the line after its
    declaration."""
    rows = "".join(", ".join(items[i : i + 12]) + ",\n" for i in range(0, len(items), 12))
    return f"{decl} {name}[] = {{\n{rows}}};\n"


# (the first items as written, what the message says of the bad one)
FIRST_ITEM_TYPOS = {
    "0x3g for 0x30": (["0x3g"], "'0x3g' where a byte constant was expected, as its first item"),
    "0x3g before 0x30": (["0x3g", "0x30"], "'0x3g' where a byte constant was expected"),
    "0x300 for 0x30": (["0x300"], "0x300 does not fit in a byte, as its first item"),
    "no comma after 0x30": (["0x30 0x82"], "'0x82' where ',' was expected, after 1 byte"),
}


def _with_first(items: list[str], first: list[str]) -> list[str]:
    """``items`` with its first item (or first two, when ``first`` joins them without a
    comma) replaced by ``first``."""
    dropped = 2 if first == ["0x30 0x82"] else 1
    return first + items[dropped:] if first != ["0x3g", "0x30"] else ["0x3g", *items]


@pytest.mark.parametrize("case", FIRST_ITEM_TYPOS, ids=list(FIRST_ITEM_TYPOS))
def test_one_array_with_a_bad_first_item_names_it(case: str) -> None:
    """A file of one byte array whose first item is mistyped was not taken for C at all
    (the sniffer wanted a good first item): "no certificate found", nothing named. It
    is C, and the item and its line are named as a typo later in the array is."""
    first, said = FIRST_ITEM_TYPOS[case]
    src = _c_array("ca", _with_first(_items(x1()), first)).encode()
    assert sniff_kind(src) == "c-array"
    with pytest.raises(CertificateError) as e:
        load_certificates(src, source="roots.c")
    assert e.value.line == 2, str(e.value)  # the item's line, not the declaration's
    assert said in e.value.reason
    assert e.value.hint is not None and "0x00-0xFF" in e.value.hint


@pytest.mark.parametrize("case", FIRST_ITEM_TYPOS, ids=list(FIRST_ITEM_TYPOS))
def test_a_bad_first_item_beside_a_good_array_refuses_the_file(case: str) -> None:
    """With the first (or second) byte mistyped the array no longer opens 30 82: it was
    skipped and the file loaded with the other root alone. The DER around the hole
    (82 LL LL 30 82: the TBSCertificate inside) still says it is a certificate."""
    first, said = FIRST_ITEM_TYPOS[case]
    good = _c_array("root1", _items(x1()))
    src = good + _c_array("root2", _with_first(_items(x2()), first))
    with pytest.raises(CertificateError, match="the whole file is refused") as e:
        load_certificates(src.encode(), source="roots.c")
    assert e.value.line == good.count("\n") + 2
    assert said in e.value.reason


def test_a_bad_first_item_refuses_the_build_and_leaves_the_file(
    runner: CliRunner, in_tmp: Path
) -> None:
    src = _c_array("ca", _with_first(_items(x1()), ["0x3g"]))
    Path("roots.c").write_text(src)
    r = runner.invoke(cli, ["build", "--root", "./roots.c", "-o", "ca.pem"])
    assert r.exit_code == 2, r.output
    assert "roots.c:2:" in r.stderr and "'0x3g' where a byte constant was expected" in r.stderr
    assert sorted(p.name for p in Path().iterdir()) == ["roots.c"]
    assert Path("roots.c").read_text() == src


WIDE_TABLES = (
    "int table[] = {1000, 2000};\n"
    "uint16_t ports[] = {8883, 443};\n"
    "static const uint32_t magic[] = {0xDEADBEEF, 0x30, 0x82};\n"
    "struct cfg { char *host; int port; } cfg = {0, 8883};\n"
    "void f(char c) { int t[] = {1000, 48, 130}; (void)t; }\n"
    "static const long long big[] = {123456789012345678901234567890123456789};\n"
)


def test_tables_of_wider_numbers_beside_certificate_arrays_are_ignored() -> None:
    """Any brace list holding a number above 255 refused the whole C file: firmware
    sources keep port and lookup tables beside their certificates."""
    a, b = x1(), x2()
    src = WIDE_TABLES + _c_array("root1", _items(a)) + _c_array("root2", _items(b), "uint8_t")
    assert load_certificates(src.encode(), source="roots.c") == (a, b)
    # beside mDash-style PEM text in string literals, too
    strings = "".join(f'"{row}\\n"\n' for row in a.pem().splitlines())
    src = f"static const char *s_pem =\n{strings};\n" + WIDE_TABLES
    assert sniff_kind(src.encode()) == "c-strings"
    assert load_certificates(src.encode(), source="mdash.c") == (a,)


@pytest.mark.parametrize(
    ("decl", "at", "bad", "why"),
    [
        ("static const unsigned char", 40, "0x1ff", "declared 'unsigned char'"),
        ("const uint8_t", 40, "0x1ff", "declared 'uint8_t'"),
        ("const char", 40, "08", "declared 'char'"),
        ("static const int", 40, "1300", "opens as a certificate's DER (30 82 ...)"),
        ("static const uint16_t", 0, "0x300", "opens as a certificate's DER (?? 82 "),
    ],
    ids=["unsigned char", "uint8_t", "char, bad octal", "int, opens as DER", "first item"],
)
def test_a_byte_array_with_a_value_beyond_a_byte_still_refuses_the_file(
    decl: str, at: int, bad: str, why: str
) -> None:
    """A certificate's array with a value no byte holds is a typo, beside wider tables
    or not: the file is refused, naming the item, its line and why the list was taken
    for bytes, rather than that root dropped unseen."""
    items = _items(x2())
    items[at] = bad
    src = WIDE_TABLES + _c_array("root1", _items(x1())) + _c_array("root2", items, decl)
    line = src.count("\n", 0, src.index("root2")) + 2 + at // 12  # 12 items a line
    with pytest.raises(CertificateError, match="byte array holds a value out of range") as e:
        load_certificates(src.encode(), source="roots.c")
    assert e.value.line == line and bad in e.value.reason and why in e.value.reason
    assert "the whole file is refused" in e.value.reason


def test_a_value_beyond_a_byte_refuses_the_build_and_leaves_the_file(
    runner: CliRunner, in_tmp: Path
) -> None:
    items = _items(x2())
    items[40] = "0x1ff"
    src = WIDE_TABLES + _c_array("root1", _items(x1())) + _c_array("root2", items)
    Path("roots.c").write_text(src)
    r = runner.invoke(cli, ["build", "--root", "./roots.c", "-o", "ca.pem"])
    assert r.exit_code == 2, r.output
    assert "0x1ff does not fit in a byte, after 40 bytes" in r.stderr
    assert "8883" not in r.stderr and "1000" not in r.stderr
    assert sorted(p.name for p in Path().iterdir()) == ["roots.c"]
    assert Path("roots.c").read_text() == src
    # the same file with the typo fixed builds, the tables beside it ignored
    Path("roots.c").write_text(src.replace("0x1ff", f"0x{x2().der[40]:02x}"))
    r = runner.invoke(cli, ["build", "--root", "./roots.c", "-o", "ca.pem"])
    assert r.exit_code == 0, r.output
    assert load_certificate_file(Path("ca.pem")) == (x1(), x2())
