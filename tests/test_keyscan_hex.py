"""Private keys pasted as hex text: dumps (xxd, hexdump, od) and bare hex (one string,
OpenSSL's colons, in C literals and comments) are refused wherever they stand in a CA
source, naming the file and the line; hex of certificates, fingerprints and serial
numbers is read past; hostile hex is scanned in bounded time and memory."""

from __future__ import annotations

import random
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.scan_bounds import clean_scan_peak, fill
from support.tools import need, run_tool

from esp_cabundle import keyscan_hex
from esp_cabundle.certs import load_certificates
from esp_cabundle.cli import cli
from esp_cabundle.errors import PrivateKeyError
from esp_cabundle.keyscan import _scan_der, find_private_key
from esp_cabundle.keyscan_hex import _HEX_RUN, _RUN_SPAN, _search_run, find_hex_text
from tests.support.gate_cases import X1_PEM, c_escaped, c_source
from tests.support.hex_text import TOOLS, hex_forms
from tests.support.key_vectors import key_vectors, no_key_data, openssh_key

DATA = Path(__file__).parent / "data"
# DER keys and key stores (not the CMS wrappers: their key is inside a ContentInfo the
# hex forms read the same way, and the vectors' count keeps the test short)
NAMES = sorted(n for n in key_vectors() if not n.endswith((".p7", ".p7s")))
X1_DER = load_certificates(X1_PEM)[0].der


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_the_dumps_are_what_the_tools_print(tool: str) -> None:
    """The forms below are the tools' own output, byte for byte, where a tool is here."""
    command, make = TOOLS[tool]
    need(command[0])
    rng = random.Random(1)
    for data in [rng.randbytes(n) for n in (1, 15, 17, 31, 33)] + [key_vectors()[n] for n in NAMES]:
        out = subprocess.run(command, input=data, capture_output=True, check=True, timeout=30)
        assert out.stdout == make(data), (tool, len(data))


@pytest.mark.parametrize("name", NAMES)
def test_a_key_in_hex_is_refused_in_every_form(name: str) -> None:
    """In a PEM bundle (after its roots and comments), the finding names the line
    holding the hex of the key's first byte; the message holds none of the key."""
    key = key_vectors()[name]
    head = X1_PEM + b"# the device key, for the record:\n"
    for form, text in hex_forms(key).items():
        with pytest.raises(PrivateKeyError, match="private key material") as e:
            load_certificates(head + text, source="ca.pem")
        found = find_private_key(head + text)
        assert found is not None, form
        assert "hex" in found.kind, (form, found.kind)
        assert str(e.value).startswith(f"ca.pem:{found.line}: "), (form, str(e.value))
        assert key.hex()[40:60] not in str(e.value).lower()
        # the offset (and so the line) is the hex of the key's first byte; in a dump of
        # little-endian groups, the first group of its line
        first = key[_der_offset(key)]
        spelt = (head + text)[found.offset :].lower()
        if "little-endian" in found.kind:
            assert f"{first:02x}".encode() in spelt.split(b"\n", 1)[0], form
        else:
            assert spelt.startswith(f"{first:02x}".encode()), (form, spelt[:20])


def _der_offset(key: bytes) -> int:
    found = _scan_der(key)
    assert found is not None
    return found[1]


def test_the_finding_points_at_the_keys_first_byte() -> None:
    """After other bytes in the same dump or string, the finding is the key's first byte
    (its line's groups for little-endian groups), not the dump's first."""
    key = key_vectors()["test-only-ec-pkcs8.der"]
    for form, text in hex_forms(X1_DER + key).items():
        found = find_private_key(text)
        assert found is not None, form
        low = text.lower()
        cert = low.find(X1_DER[:4].hex(":" if b":" in low else " ").encode()[:5])
        assert found.offset > max(cert, 0) + 10, (form, found)
        if "little-endian" not in found.kind:
            assert low[found.offset : found.offset + 2] == b"30", (form, found)
    found = find_private_key(b"x\n" + key.hex(":").encode())
    assert found is not None and (found.line, found.offset) == (2, 2)


def test_a_key_in_hex_in_a_c_file_is_refused() -> None:
    """A comment or a string literal beside mDash's s_pem: the C loader refuses it."""
    key = key_vectors()["test-only-rsa-pkcs1.der"]
    forms = hex_forms(key)
    for form in ("c literals", "c comment", "one string", "xxd"):
        src = c_source(X1_PEM) + b"\n" + forms[form]
        with pytest.raises(PrivateKeyError, match=r"hex"):
            load_certificates(src, source="certs.c")


def test_hex_out_of_step_after_an_odd_piece_is_read_from_its_second_digit() -> None:
    """Hex whose run opens with a word of even digits but holds a piece of odd ones (a
    label on the line before ending in hex digits, "pasted:", then "deadbeefabc" and the
    key): read from its second digit too, wherever the odd piece is."""
    key = key_vectors()["test-only-ec-pkcs8.der"]
    for head in (b"# pasted:\n", b"# added:\n", b"abc def\n", b"# pasted: abc "):
        for text in (b"deadbeefabc" + key.hex().encode(), b"abc\n" + key.hex().encode()):
            data = X1_PEM + head + text
            found = find_private_key(data)
            assert found is not None and found.kind == "DER PKCS#8 spelt in hex", (head, text)
            assert data[found.offset : found.offset + 4] == b"3081", (head, text)


def test_an_openssh_key_in_hex_is_refused_in_every_form() -> None:
    """OpenSSH's format is no DER: its magic (openssh-key-v1, a NUL) marks it. The key
    holds no 0x30 byte (key_vectors.openssh_key), so only the magic can find it, in
    every dump, bare hex with blanks or colons, and C arrays and strings."""
    key = openssh_key()
    forms = {
        **hex_forms(key),
        "c array": c_source(b"", key=key),
        "c escapes": c_escaped(X1_PEM, key),
        "python hex()": ("KEY = [" + ", ".join(hex(b) for b in key) + "]").encode(),
    }
    for form, text in forms.items():
        for data in (text, X1_PEM + b"# pasted:\n" + text):
            found = find_private_key(data)
            assert found is not None and found.kind.startswith("OpenSSH key"), (form, found)
        with pytest.raises(PrivateKeyError, match=r"private key material \(OpenSSH key"):
            load_certificates(X1_PEM + text, source="ca.pem")


def _c_string(data: bytes, octal: bool) -> str:
    """``data`` as a C string literal's body: printable ASCII as itself, other bytes as
    octal escapes (the shortest unless a digit follows: "\\0\\0\\0\\4none") or "\\x.."."""
    out = []
    for i, b in enumerate(data):
        if 0x20 <= b < 0x7F and b not in b'"\\?':
            out.append(chr(b))
        elif octal:
            digit_next = data[i + 1 : i + 2].isdigit()
            out.append(f"\\{b:03o}" if digit_next else f"\\{b:o}")
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


def test_an_openssh_key_as_c_string_text_is_refused() -> None:
    """A key file's bytes written as the text of a string literal (the magic in ASCII,
    its NUL an escape): C with octal or hex escapes, Python's repr; in a C file and in a
    file read as PEM. The escapes hold no "\\x30" run, the text no base64 of a key:
    only the magic marks it."""
    key = openssh_key()
    for form in (
        f'static const char key[] = "{_c_string(key, octal=True)}";\n',
        f'static const char key[] = "{_c_string(key, octal=False)}";\n',
        f"KEY = {key!r}\n",
        '{"key": "'
        + key.decode("latin-1").encode("unicode_escape").decode().replace("\\x00", "\\u0000")
        + '"}\n',
    ):
        text = form.encode()
        for data in (text, X1_PEM + b"# pasted:\n" + text):
            found = find_private_key(data)
            assert found is not None, form[:60]
            assert found.kind == "OpenSSH key magic in a string literal", found
            assert data[found.offset :].startswith(b"openssh-key-v1\\")
        with pytest.raises(PrivateKeyError, match=r"\(OpenSSH key magic in a string literal\)"):
            load_certificates(X1_PEM + text, source="ca.pem")


def test_openssh_in_prose_or_with_a_byte_other_than_nul_is_no_key() -> None:
    for text in (
        b"# keys in the openssh-key-v1 format are refused\n",
        b'const char *magic = "openssh-key-v1";\n',
        b'_OPENSSH_MAGIC = b"openssh-key-v1\\x00"\n',  # the magic alone: a scanner's source
        b'"openssh-key-v1\\0\\0\\0\\0"\n',  # no cipher name after it
        b'"openssh-key-v1\\01"\n',  # byte 1
        b'"openssh-key-v1\\x001"\n',  # C reads \\x001 as byte 1
        b'"openssh-key-v1\\n"\n',
    ):
        assert find_private_key(X1_PEM + text) is None, text
        assert len(load_certificates(X1_PEM + text, source="ca.pem")) == 1


def test_build_refuses_a_pasted_dump_and_writes_nothing(in_tmp: Path, runner: CliRunner) -> None:
    key = key_vectors()["test-only-ec-sec1.der"]
    dump = TOOLS["xxd"][1](key)
    (in_tmp / "mine.pem").write_bytes(X1_PEM + b"# pasted by mistake:\n" + dump)
    r = runner.invoke(cli, ["build", "--root", "./mine.pem", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 2, r.output
    line = X1_PEM.count(b"\n") + 2
    assert f"mine.pem:{line}: private key material (DER SEC1 EC in a hex dump)" in r.output
    assert not (in_tmp / "ca.pem").exists()
    assert sorted(p.name for p in in_tmp.iterdir()) == ["mine.pem"]


# od and hexdump print 16-, 32- and 64-bit words little-endian: the key's bytes swapped
# in each word. With offsets (od -x, hexdump) and without (od -An), and hexdump -x.
WORD_DUMPS = [
    ["od", "-x"],
    ["od", "-An", "-x"],
    ["od", "-An", "-tx2"],
    ["od", "-An", "-tx4"],
    ["od", "-An", "-tx8"],
    ["od", "-An", "-tx2", "-w8"],
    ["hexdump"],
    ["hexdump", "-x"],
]


@pytest.mark.parametrize("command", WORD_DUMPS, ids=" ".join)
def test_a_key_in_a_word_dump_is_refused(command: list[str]) -> None:
    """The real tools' output for keys made now (EC PKCS#8, SEC1 of odd length, RSA),
    alone, in a PEM comment and after the roots: refused naming the line of the word
    that holds the key's first byte."""
    for name in ("test-only-ec-pkcs8.der", "test-only-ec-sec1.der", "test-only-rsa-pkcs1.der"):
        key = key_vectors()[name]
        dump = run_tool(command, key)
        commented = b"".join(b"# " + line + b"\n" for line in dump.splitlines())
        for text in (dump, X1_PEM + dump, X1_PEM + b"# pasted:\n" + commented):
            found = find_private_key(text)
            assert found is not None and "little-endian" in found.kind, (name, found)
            assert found.line == text[: text.index(dump.split(b"\n", 1)[0][-20:])].count(b"\n") + 1
            with pytest.raises(PrivateKeyError, match="private key material") as e:
                load_certificates(text, source="ca.pem")
            assert str(e.value).startswith(f"ca.pem:{found.line}: "), str(e.value)


@pytest.mark.parametrize("command", WORD_DUMPS, ids=" ".join)
def test_certificates_in_a_word_dump_are_no_key(command: list[str]) -> None:
    """The same tools' words of certificate DER (one root, a chain of two, a PKCS#7 of
    certificates) are no key: the bundle around them loads."""
    p7b = (DATA / "pkcs7" / "x1-certs.p7b").read_bytes()
    for data in (X1_DER, X1_DER + X1_DER, p7b):
        dump = run_tool(command, data)
        assert find_private_key(X1_PEM + dump) is None
        commented = b"".join(b"# " + line + b"\n" for line in dump.splitlines())
        assert len(load_certificates(X1_PEM + commented, source="ca.pem")) == 1


def test_build_refuses_an_od_word_dump_and_writes_nothing(in_tmp: Path, runner: CliRunner) -> None:
    key = key_vectors()["test-only-ec-pkcs8.der"]
    dump = run_tool(["od", "-An", "-x"], key)
    (in_tmp / "mine.pem").write_bytes(X1_PEM + dump)
    r = runner.invoke(cli, ["build", "--root", "./mine.pem", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 2, r.output
    line = X1_PEM.count(b"\n") + 1
    assert (
        f"mine.pem:{line}: private key material (DER PKCS#8 spelt in hex, its 16-bit words "
        "little-endian)" in r.output
    )
    assert sorted(p.name for p in in_tmp.iterdir()) == ["mine.pem"]


# ---------------------------------------------------------------------------------------
# Hex that holds no key


def _no_key_data() -> dict[str, bytes]:
    return no_key_data(2)


@pytest.mark.parametrize("name", sorted(_no_key_data()))
def test_hex_of_certificates_is_no_key(name: str) -> None:
    data = _no_key_data()[name]
    for form, text in hex_forms(data).items():
        assert find_private_key(X1_PEM + text) is None, (name, form)


def test_fingerprints_serials_and_bundles_are_read() -> None:
    """certifi's comments (serials in decimal, MD5, SHA-1 and SHA-256 fingerprints),
    ESP-IDF's cacrt_all.pem, fingerprints OpenSSL prints; the bundle loads whole."""
    store = Path(__import__("certifi").where()).read_bytes()
    assert len(re.findall(rb"# SHA256 Fingerprint: (?:[0-9a-f]{2}:){31}", store)) > 100
    idf = (DATA / "idf-bundle" / "input" / "cacrt_all.pem").read_bytes()
    rng = random.Random(3)
    fingerprints = b"".join(
        f"# SHA256 Fingerprint={rng.randbytes(32).hex(':').upper()}\n".encode()
        + f"# sha1 {rng.randbytes(20).hex()}\n".encode()
        for _ in range(200)
    )
    for text in (store, idf, fingerprints + X1_PEM):
        assert find_private_key(text) is None
    assert len(load_certificates(fingerprints + X1_PEM, source="ca.pem")) == 1


# ---------------------------------------------------------------------------------------
# Bounded on hostile input


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "unit",
    [
        b"30 82 02 02 ",  # one run, its bytes apart by blanks
        b"3082020202",  # one continuous run
        b"30:",
        b"3082 0201 \n",
        b"00000000: 3082 0201  0.\n",  # xxd lines, one dump
        b"00000000  30 82 02 02  |0...|\n",
        b"aaaaaa ",  # a dump's marker, no dump
        b"0000000: ",
        b"deadbeef-",  # markers of runs too short to decode
        b"ab cd ef 01 x",
        b"30 82\n# ",  # a run over comment lines
        b"1234567890123",
        b" 8230 0201 0102\n",  # od -An -x words opening like DER, one run
        b"02823082 01000201 ",  # od -An -tx4
        b"0000000    8230    0201\n",  # hexdump -x lines
        b"6f 70 65 6e ",  # bare hex opening like OpenSSH's magic, one run
        b"6f 70 x",  # runs too short, each holding a "6f"
        b'"openssh-key-v1\\0\\0\\0\\0"\n',  # OpenSSH's magic as text, no cipher name
        b"openssh-key-v1\\",
    ],
)
def test_hostile_hex_is_scanned_in_bounded_time(unit: bytes) -> None:
    """Each marker costs bounded work and each run is read once (speed:
    benchmarks/bench_keyscan.py)."""
    data = fill(unit)
    assert find_private_key(data) is None
    assert find_private_key(data + b"\n" + data[:4096]) is None


@pytest.mark.parametrize(
    "unit", [b"30 ", b"3082", b"00000000: 3082 0201  0.\n", b" 8230 0201", b"0000000    8230"]
)
def test_one_long_hex_run_is_scanned_in_bounded_memory(unit: bytes) -> None:
    data = fill(unit)
    peak = clean_scan_peak(data)
    assert peak < 8 * len(data), peak


def _hex_run_searches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the searches for runs of bare hex (``_HEX_RUN().search``) from now on."""
    pattern, calls = keyscan_hex._HEX_RUN(), []

    class Counted:
        def search(self, *args: int | bytes) -> re.Match[bytes] | None:
            calls.append(1)
            return pattern.search(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(keyscan_hex, "_HEX_RUN", lambda: Counted())
    return calls


def test_runs_too_short_are_searched_once_not_at_every_marker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """od -An -tx1z's lines of four bytes each hold a marker and no run of seven: each
    marker searched the 170 bytes after it again (10,000 searches here, 0.7 s of a hostile
    512 KiB); bytes searched once find nothing the second time."""
    calls = _hex_run_searches(monkeypatch)
    text = b" 30 82 02 01  >0...<\n" * 10_000
    assert find_hex_text(text, _scan_der) is None
    assert len(calls) < 500


@pytest.mark.parametrize("seed", range(40))
def test_searches_skipping_known_bytes_find_what_a_plain_search_finds(seed: int) -> None:
    """_search_run, which skips bytes an earlier search found no run in, answers every
    call as ``_HEX_RUN().search(low, start, limit)`` does, for starts and limits rising
    as _find_runs's do, over text of hex pieces, separators and letters."""
    rng = random.Random(seed)
    pieces = [b"30 ", b"82", b" ", b"  ", b":", b"\n", b"  >0.<\n", b"x", b"0201", b"# ", b"ab"]
    low = b"".join(rng.choice(pieces) for _ in range(rng.randrange(50, 3000)))
    clear = [len(low) + 1, 0]
    start = 0
    while start < len(low):
        limit = start + rng.randrange(0, 60) + _RUN_SPAN
        run = _search_run(low, start, limit, clear)
        plain = _HEX_RUN().search(low, start, limit)
        assert (run and run.span()) == (plain and plain.span()), (start, limit)
        start += rng.choice((0, 1, 3, 20, 200)) if run is None else max(1, run.end() - start)
