"""Private keys spelt as decimal bytes (C arrays, with suffixes and casts too, Python,
JavaScript and Java lists, od -tu1 and -td1) or octal bytes (C arrays of octal
constants, od -b, hexdump -b), and OpenSSH's magic in either, are refused wherever they
stand, naming the file and the line; the same forms of certificates are CA data, not
keys; hostile numbers are scanned in bounded time and memory."""

from __future__ import annotations

import random
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.scan_bounds import clean_scan_peak, fill
from support.tools import need, run_tool

from esp_cabundle.certs import load_certificates
from esp_cabundle.cli import cli
from esp_cabundle.errors import PrivateKeyError
from esp_cabundle.keyscan import _scan_der, find_private_key
from tests.support.gate_cases import X1_PEM
from tests.support.key_vectors import key_vectors, no_key_data, openssh_key

DATA = Path(__file__).parent / "data"
# DER keys and key stores, made at test time (the CMS wrappers' keys sit inside a
# ContentInfo, which the DER scan reads the same way whatever the spelling)
NAMES = sorted(n for n in key_vectors() if not n.endswith((".p7", ".p7s")))
X1_DER = load_certificates(X1_PEM)[0].der
OD = [
    ["od", "-An", "-tu1"],
    ["od", "-tu1"],
    ["od", "-td1"],
    ["od", "-An", "-td1"],
    ["od", "-Ax", "-tu1"],
    ["od", "-An", "-tu1", "-w12"],
]


def _signed(data: bytes) -> list[int]:
    return [b - 256 if b > 127 else b for b in data]


def _rows(values: Sequence[object], per: int, indent: str = "    ") -> str:
    return "".join(
        indent + ", ".join(map(str, values[i : i + per])) + ",\n"
        for i in range(0, len(values), per)
    )


def decimal_forms(data: bytes) -> dict[str, bytes]:
    """``data`` as decimal bytes, as firmware sources and scripts write it (od's forms:
    :func:`od_forms`)."""
    values = list(data)
    commented = "".join(
        f"    /* {i:#06x} */ " + ", ".join(map(str, values[i : i + 8])) + ", // row\n"
        for i in range(0, len(values), 8)
    )
    return {
        "c array one line": f"const uint8_t key[] = {{{', '.join(map(str, values))}}};\n".encode(),
        "c array rows": f"static const unsigned char key[] = {{\n{_rows(values, 16)}}};\n".encode(),
        "c array with comments": f"const uint8_t key[] = {{\n{commented}}};\n".encode(),
        "python list": f"KEY = bytes([\n{_rows(values, 12)}])\n".encode(),
        "python list no blanks": f"KEY=[{','.join(map(str, values))}]\n".encode(),
        "javascript": f"const key = new Uint8Array([{', '.join(map(str, values))}]);\n".encode(),
        "json": f'{{"key": [{", ".join(map(str, values))}]}}\n'.encode(),
        "java signed": f"byte[] key = {{{', '.join(map(str, _signed(data)))}}};\n".encode(),
        # C's integer suffixes and casts to a byte type; Java casts each signed byte
        "c array suffixed": f"uint8_t k[] = {{{', '.join(f'{v}U' for v in values)}}};".encode(),
        "c array cast": f"uint8_t k[] = {{{', '.join(f'(uint8_t){v}' for v in values)}}};".encode(),
        "java cast": f"byte[] k = {{{', '.join(f'(byte) {v}' for v in _signed(data))}}};".encode(),
        "pem comment": b"".join(
            b"# " + row.encode() + b"\n" for row in _rows(values, 16, "").splitlines()
        ),
    }


def od_forms(data: bytes) -> dict[str, bytes]:
    """What the real od prints for ``data`` (skips the test without od)."""
    need("od")
    out = {}
    for command in OD:
        run = subprocess.run(command, input=data, capture_output=True, check=True, timeout=30)
        out[" ".join(command)] = run.stdout
        if command == OD[0]:  # pasted into a PEM file's comment lines
            lines = run.stdout.splitlines()
            out["od -An -tu1 in a comment"] = b"".join(b"#" + line + b"\n" for line in lines)
    return out


def _all_forms(data: bytes) -> dict[str, bytes]:
    return {**decimal_forms(data), **od_forms(data)}


# od and hexdump print bytes in octal too: three digits, no leading 0 ("060 202")
OD_OCTAL = [["od", "-b"], ["od", "-An", "-b"], ["od", "-An", "-to1"], ["hexdump", "-b"]]


def octal_forms(data: bytes) -> dict[str, bytes]:
    """``data`` in octal as C writes it (a leading 0: ``printf("0%o")``, ``"%#04o"``,
    with suffixes) and as the real od and hexdump print it (skips without them)."""
    c_octal = [f"0{v:o}" for v in data]
    forms = {
        "c array": f"static const unsigned char k[] = {{{', '.join(c_octal)}}};\n".encode(),
        "c array padded": f"char k[] = {{\n{_rows([f'0{v:03o}' for v in data], 12)}}};".encode(),
        "c array %#o": f"char k[]={{{','.join(f'0{v:o}' if v else '0' for v in data)}}};".encode(),
        "c array suffixed": f"uint8_t k[] = {{{', '.join(o + 'u' for o in c_octal)}}};\n".encode(),
    }
    for command in OD_OCTAL:
        forms[" ".join(command)] = run_tool(command, data)
    commented = b"".join(b"# " + line + b"\n" for line in forms["od -b"].splitlines())
    forms["od -b in a comment"] = commented
    return forms


def _der_offset(key: bytes) -> int:
    found = _scan_der(key)
    assert found is not None
    return found[1]


@pytest.mark.parametrize("name", NAMES)
def test_a_key_in_decimal_is_refused_in_every_form(name: str) -> None:
    """After the roots of a PEM bundle: refused naming the line of the number of the
    key's first byte; the message holds none of the key."""
    key = key_vectors()[name]
    head = X1_PEM + b"# the device key, for the record:\n"
    first = str(key[_der_offset(key)]).encode()
    for form, text in _all_forms(key).items():
        for data in (text, head + text):
            found = find_private_key(data)
            assert found is not None and "decimal" in found.kind, (form, found)
            assert data[found.offset :].startswith(first), (form, data[found.offset :][:10])
        with pytest.raises(PrivateKeyError, match="private key material") as e:
            load_certificates(head + text, source="ca.pem")
        found = find_private_key(head + text)
        assert found is not None
        assert str(e.value).startswith(f"ca.pem:{found.line}: "), (form, str(e.value))
        assert ", ".join(map(str, key[20:30])) not in str(e.value)


def test_a_key_after_other_bytes_in_the_same_run_is_found() -> None:
    """Runs are decoded from openings like a SEQUENCE's only: a key after any bytes in
    the same run, or after a run broken off just before it, is found; the same bytes
    with the key's 48 changed are not a key."""
    key = key_vectors()["test-only-ec-sec1.der"]
    rng = random.Random(4)
    for _ in range(40):
        before = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        after = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        for form, text in decimal_forms(before + key + after).items():
            assert find_private_key(text) is not None, (form, before.hex())
        for form, text in decimal_forms(before + b"\x31" + key[1:] + after).items():
            found = find_private_key(text)
            # a SEQUENCE around the key may still be one: only "no 48 at the key" counts
            assert found is None or found.offset < text.find(b"49, "), form
    # a run is matched 1024 numbers at a time: a key across the seam is found
    seam = b"\x30\x01\x02" + b"\x01" * 1000 + key
    for text in decimal_forms(seam).values():
        assert find_private_key(text) is not None
    listed = ", ".join(map(str, key))
    # separators too long to join, a number no byte is: the key's run is searched alone
    for gap in (", " + " " * 50, " ;\n{", ", 256, ", ", 0x30, ", ", -129, "):
        text = ("{48, 1, 2, 3, 4, 5, 6, 7" + gap + listed + "}").encode()
        assert find_private_key(text) is not None, gap


def _no_key_data() -> dict[str, bytes]:
    return no_key_data(5)


@pytest.mark.parametrize("name", sorted(_no_key_data()))
def test_certificates_in_decimal_are_no_key(name: str) -> None:
    data = _no_key_data()[name]
    for form, text in _all_forms(data).items():
        assert find_private_key(text) is None, (name, form)
        assert find_private_key(X1_PEM + text) is None, (name, form)


def test_a_decimal_c_array_of_a_certificate_loads() -> None:
    """Firmware writes CA certificates as decimal C arrays too: the C loader reads them."""
    src = decimal_forms(X1_DER)["c array rows"]
    assert [c.der for c in load_certificates(src, source="ca.c")] == [X1_DER]


def test_numbers_that_are_no_bytes_are_read() -> None:
    """Tables of numbers, ports, years, versions and od's 16-bit words hold no key."""
    rng = random.Random(6)
    table = "\n".join(", ".join(str(rng.randrange(300)) for _ in range(20)) for _ in range(500))
    words = subprocess.run(
        ["od", "-An", "-tu2"], input=X1_DER, capture_output=True, check=True, timeout=30
    ).stdout
    for text in (
        table.encode(),
        b"ports = [48, 130, 4, 164, 2, 1, 0, 443, 8080]\n" * 100,
        b"48, 2, 1, 0, 2, 1, 0\n",  # a SEQUENCE of 2 bytes: nothing a key can be
        b"v1.48, 130, 4, 164, 2, 1, 0, 2, 130, 1, 1, 0\n",
        words,
    ):
        assert find_private_key(X1_PEM + text) is None


@pytest.mark.parametrize("name", NAMES)
def test_a_key_in_octal_is_refused_in_every_form(name: str) -> None:
    """C's octal constants and od's octal bytes, after the roots of a PEM bundle:
    refused naming the line of the number of the key's first byte."""
    key = key_vectors()[name]
    head = X1_PEM + b"# the device key, for the record:\n"
    first = key[_der_offset(key)]
    for form, text in octal_forms(key).items():
        for data in (text, head + text):
            found = find_private_key(data)
            assert found is not None and "spelt as octal bytes" in found.kind, (form, found)
            number = data[found.offset :].split(b",")[0].split()[0].rstrip(b"uU")
            assert int(number, 8) == first, (form, number)
        with pytest.raises(PrivateKeyError, match="private key material") as e:
            load_certificates(head + text, source="ca.pem")
        found = find_private_key(head + text)
        assert found is not None
        assert str(e.value).startswith(f"ca.pem:{found.line}: "), (form, str(e.value))


@pytest.mark.parametrize("name", sorted(_no_key_data_names := ["ISRG Root X1", "random"]))
def test_certificates_in_octal_are_no_key(name: str) -> None:
    data = no_key_data(5)[name]
    for form, text in octal_forms(data).items():
        assert find_private_key(X1_PEM + text) is None, (name, form)


def test_c_arrays_of_a_certificate_in_octal_or_suffixed_load() -> None:
    """The C loader reads octal constants and suffixes as a compiler does; a cast it does
    not read (a C array of casts is refused as such), but the key scan lets it be."""
    for form in ("c array", "c array padded", "c array suffixed"):
        src = octal_forms(X1_DER)[form]
        assert [c.der for c in load_certificates(src, source="ca.c")] == [X1_DER], form
    src = decimal_forms(X1_DER)["c array suffixed"]
    assert [c.der for c in load_certificates(src, source="ca.c")] == [X1_DER]
    for form in ("c array cast", "java cast"):
        assert find_private_key(decimal_forms(X1_DER)[form]) is None, form


def test_an_openssh_key_in_decimal_or_octal_is_refused() -> None:
    """Its magic, openssh-key-v1 and a NUL, in every decimal and octal form (no DER in
    it: the magic alone makes it a key), is found where its first number is."""
    key = openssh_key()
    octal = octal_forms(key)
    forms = {**_all_forms(key), **octal}
    for form, text in forms.items():
        for data in (text, X1_PEM + text):
            found = find_private_key(data)
            assert found is not None, form
            spelt = "octal" if form in octal else "decimal"
            assert found.kind == f"OpenSSH key spelt as {spelt} bytes", (form, found.kind)
            number = data[found.offset :].split(b",")[0].split()[0].rstrip(b"uU")
            assert number.lstrip(b"0") in (b"111", b"157"), (form, number)
        with pytest.raises(PrivateKeyError, match=r"private key material \(OpenSSH key"):
            load_certificates(X1_PEM + text, source="ca.pem")
    # the magic cut short, or one byte of it wrong, is no key
    magic = list(b"openssh-key-v1\x00")
    for values in (magic[:-1], [*magic[:5], 116, *magic[6:]]):
        assert find_private_key(", ".join(map(str, values)).encode()) is None
    # the magic right after a number that opens it too ("111, 111, 112, ..."), in both
    # bases: the opening tried first is not the key's, the next one is
    for text, base in ((", ".join(map(str, [111, *magic])), "decimal"),
                       (" ".join(f"{v:03o}" for v in [111, *magic]), "octal")):  # fmt: skip
        found = find_private_key(text.encode())
        assert found is not None and found.kind == f"OpenSSH key spelt as {base} bytes", text
        assert found.offset == 5 if base == "decimal" else found.offset == 4, found


def test_build_refuses_a_decimal_key_and_writes_nothing(in_tmp: Path, runner: CliRunner) -> None:
    key = key_vectors()["test-only-ec-sec1.der"]
    (in_tmp / "mine.pem").write_bytes(X1_PEM + decimal_forms(key)["pem comment"])
    r = runner.invoke(cli, ["build", "--root", "./mine.pem", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 2, r.output
    line = X1_PEM.count(b"\n") + 1
    assert f"mine.pem:{line}: private key material (DER SEC1 EC spelt as decimal bytes)" in r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["mine.pem"]
    (in_tmp / "keys.c").write_bytes(decimal_forms(key)["c array rows"])
    r = runner.invoke(cli, ["inspect", "keys.c"])
    assert r.exit_code == 2 and "keys.c:2: private key material" in r.output, r.output


# ---------------------------------------------------------------------------------------
# Bounded on hostile input


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "unit",
    [
        b"48, ",  # one run, decoded and searched once
        b"48, 130, 1, 1, 2, 1, 0, ",
        b"48,1,2,3,4,5,6;",  # a run of seven bytes at every fifteenth
        b"48,1,2,3,4,5;",  # openings too short to decode
        b"48, 1, 2 /* 3 */ ",
        b"48 /* never closes ",
        b"48, 1, 2 // x\n",
        b"\n0000000  48   1   2",
        b"48, -126, -1, -1, 2, ",
        b"148, 248, 480, ",
        b"48, " + b" " * 60,  # separators too long
        b"4848",
        b"48U, 130U, 1U, 1U, 2U, 1U, 0U, ",  # suffixes and casts
        b"(uint8_t)48, (uint8_t)",
        b"48, (byte) (char) (uint8_t) ",
        b"(unsigned char",
        b"060, 0202, 01, 01, 02, 01, 0, ",  # octal
        b"060 202 001 001 002 001 000\n0000020 ",
        b"060,01,02,03,04,05;",  # openings too short to decode
        b"0060 ",
        b"111, 112, 101, 110, 115, 115, 104, 45, ",  # most of OpenSSH's magic
        b"0157 0160 0145 0156 0163 0163 0150 055 ",
    ],
)
def test_hostile_numbers_are_scanned_in_bounded_time(unit: bytes) -> None:
    data = fill(unit)
    assert find_private_key(data) is None
    assert find_private_key(data + b"\n" + data[:4096]) is None


@pytest.mark.parametrize(
    "unit",
    [b"48, ", b"48,130,1,1,2,1,0,", b"48 -1 ", b"(uint8_t)48U, ", b"060, ", b"0060 0202 "],
)
def test_one_long_decimal_run_is_scanned_in_bounded_memory(unit: bytes) -> None:
    data = fill(unit)
    peak = clean_scan_peak(data)
    assert peak < 8 * len(data), peak
