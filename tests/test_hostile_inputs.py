"""Hostile inputs seen in the field and in review: each is a clear error (exit 2) or a
valid result, in bounded time, never a traceback. Timeouts here catch hangs (the old
code took minutes); speed itself is measured by benchmarks/bench_parsers.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.fuzzing import ML_DSA_65_SPKI, bad_ec_point_spki, cert_with_spki, pem_of
from support.verify_pki import mint

from esp_cabundle.boards import parse_board
from esp_cabundle.certs import Certificate, load_certificates
from esp_cabundle.cli import cli
from esp_cabundle.config import parse_config
from esp_cabundle.errors import CertificateError, ConfigError, ImageError, InputError
from esp_cabundle.flash.journal import Journal
from esp_cabundle.fs import open_image
from esp_cabundle.fs.edit import pack_image
from esp_cabundle.limits import JsonTooDeep, loads_json
from esp_cabundle.lockfile import Lock

DATA = Path(__file__).parent / "data"
ISRG = (DATA / "letsencrypt" / "isrgrootx1.pem").read_text()


def _c_lines(pem: str, end: str = "\\n") -> str:
    return "".join(f'    "{line}{end}"\n' for line in pem.strip().splitlines())


# ---------------------------------------------------------------------------------------
# C source


@pytest.mark.timeout(30)
@pytest.mark.parametrize("n", [28, 40, 5000])
def test_c_byte_array_ending_in_char_literal_is_linear(n: int) -> None:
    # The old pattern (optional comma) backtracked exponentially: 28 items took minutes.
    text = "const unsigned char a[] = {" + ", ".join(["0x41"] * n) + ", '\\0'};\n"
    with pytest.raises(CertificateError, match="no certificate found in the C byte arrays"):
        load_certificates(text.encode())


@pytest.mark.timeout(30)
def test_c_array_of_der_with_trailing_nul_char() -> None:
    der = load_certificates(ISRG.encode())[0].der
    items = ", ".join(f"0x{b:02x}" for b in der)
    text = f"const unsigned char ca[] = {{\n  {items}, '\\0'\n}};\n"
    certs = load_certificates(text.encode(), source="ca.c")
    assert [c.label for c in certs] == ["ISRG Root X1"]


def test_c_array_of_pem_text_is_read_and_keys_refused() -> None:
    items = ", ".join(f"0x{b:02x}" for b in ISRG.encode())
    text = f"const char ca[] = {{ {items}, 0x00 }};\n"
    assert [c.label for c in load_certificates(text.encode())] == ["ISRG Root X1"]
    key = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    text = "const char k[] = {" + ", ".join(str(b) for b in key) + "};\n"
    with pytest.raises(CertificateError, match="private key"):
        load_certificates(text.encode(), source="k.c")


def test_c_array_value_out_of_range_names_line() -> None:
    with pytest.raises(CertificateError, match=r"k\.c:2: .*0x130 does not fit in a byte"):
        load_certificates(b"int x;\nconst char a[] = {0x30, 0x130};\n", source="k.c")


@pytest.mark.parametrize("end", ["\\r", "\\f", "\\v"])
def test_c_strings_ending_in_cr_or_ff_give_a_located_error(end: str) -> None:
    # The old line map counted only \n while the PEM reader split at \r and \f too: an
    # IndexError on the first error message.
    text = f'"x{end}" "-----BEGIN CERTIFICATE-----{end}" "AAAA{end}";\n'
    with pytest.raises(CertificateError, match=r"c\.h:1: "):
        load_certificates(text.encode(), source="c.h")


@pytest.mark.parametrize("end", ["\\r\\n", "\\n", "\\r"])
def test_c_strings_with_any_line_end_load(end: str) -> None:
    text = "static const char *s_pem =\n" + _c_lines(ISRG, end) + ";\n"
    assert len(load_certificates(text.encode())) == 1


def test_c_escapes_are_those_of_c() -> None:
    from esp_cabundle.c_literals import unescape_c

    assert unescape_c(r"a\fb\vc\101\x41\?\'\"\\") == "a\fb\vcAA?'\"\\"
    assert unescape_c("a\\\nb") == "ab"  # a line splice


def test_c_comments_and_quotes_do_not_confuse_the_reader() -> None:
    text = (
        '/* "-----BEGIN CERTIFICATE-----" in a comment */\n'
        "// '{0x30, 0x82}'\n"
        "static const char *s_pem =\n" + _c_lines(ISRG) + ";\n"
    )
    certs = load_certificates(text.encode(), source="m.c")
    assert len(certs) == 1


@pytest.mark.timeout(60)
def test_300000_literals_load_in_bounded_time() -> None:
    text = "static const char *s_pem =\n" + '"A"\n' * 300_000 + _c_lines(ISRG) + ";\n"
    assert 600_000 < len(text) < 4 << 20
    assert len(load_certificates(text.encode())) == 1


def test_oversized_certificate_file_is_refused_with_the_cap() -> None:
    data = b"const unsigned char a[] = {" + b"0x41, " * (15_000_000 // 6) + b"};"
    with pytest.raises(CertificateError, match=r"big\.c: .*over the 4 MiB limit"):
        load_certificates(data, source="big.c")


def test_cli_inspect_c_array_hang_is_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "a.c"
    f.write_text("const unsigned char a[] = {" + ", ".join(["0x41"] * 40) + ", '\\0'};\n")
    result = CliRunner().invoke(cli, ["inspect", str(f)])
    assert result.exit_code == 2, result.output
    assert "no certificate found" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# ---------------------------------------------------------------------------------------
# YAML: cabundle.yaml and board files

BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)

YAML_CASES = {
    "empty list item": ("roots:\n  -\n", r":2: roots\[0\]: expected a non-empty string"),
    "impossible date": (
        "service_until: 2035-02-30\n",
        r":1: service_until: '2035-02-30' is not a date",
    ),
    "python tag": ("preset: !!python/name:os.system\n", r":1: tag !!python/name:os.system is"),
    "int tag": ("max_bytes: !!int 16k\n", r":1: max_bytes: '16k' is not an integer"),
    "custom tag": ("preset: !custom x\n", r":1: tag !custom is not supported"),
    "set tag": ("preset: !!set {a: null}\n", r":1: tag !!set is not supported"),
    "recursive alias": ("roots: &a [*a]\n", r":1: roots\[0\]: recursive alias"),
    "billion laughs": (BILLION_LAUGHS, r":1: aliases expand to more than 10,000 values"),
    "deep nesting": ("roots: " + "[" * 100_000 + "]" * 100_000, r":1: not valid YAML: nested"),
    "oversized": ("roots: [" + "a, " * 100_000 + "]\n", r": YAML file is .* over the 256 KiB"),
    "nesting": ("roots: " + "[" * 40 + "]" * 40 + "\n", r":1: not valid YAML: nested deeper"),
    "long number": ("max_bytes: " + "9" * 5000 + "\n", r":1: number too long"),
    "nul": (
        "roots: letsen\0crypt\n",
        r":1: not valid YAML: control character U\+0000 at column 14 is",
    ),
    "bell": (
        "a: 1\nroots: x\x07\n",
        r":2: not valid YAML: control character U\+0007 at column 9 ",
    ),
    "noncharacter": (
        "roots: \ufffe\n",
        r":1: not valid YAML: character U\+FFFE at column 8 is not",
    ),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", sorted(YAML_CASES))
def test_hostile_config_yaml(case: str) -> None:
    text, message = YAML_CASES[case]
    with pytest.raises(ConfigError, match=r"cabundle\.yaml" + message):
        parse_config(text, path=Path("cabundle.yaml"))


# The same hostile values under a board profile's keys, the rest of a real profile kept.
_BOARD_KEYS = {"roots": "chips", "preset": "name", "service_until": "description"}
_BOARD_KEYS["max_bytes"] = "flash_size"


def _board_with(text: str) -> str:
    for old, new in _BOARD_KEYS.items():
        text = text.replace(f"{old}:", f"{new}:")
    used = {line.split(":")[0] for line in text.splitlines() if line[:1].isalpha()}
    board = (DATA.parent.parent / "esp_cabundle" / "data" / "boards" / "mdash.yaml").read_text()
    kept, skipping = [], False
    for line in board.splitlines(keepends=True):
        if line[:1].isalpha():
            skipping = line.split(":")[0] in used
        if not skipping:
            kept.append(line)
    return text + "".join(kept)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", sorted(YAML_CASES))
def test_hostile_board_yaml(case: str) -> None:
    text, message = YAML_CASES[case]
    for old, new in _BOARD_KEYS.items():
        message = message.replace(old, new)
    message = message.replace(":1:", r":\d+:")
    with pytest.raises(ConfigError, match=r"b\.yaml" + message):
        parse_board(_board_with(text), source="b.yaml")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"preset: letsen\0crypt\n",
            "c.yaml:1: not valid YAML: control character U+0000 at column 15",
        ),
        (
            b"a: 1\npreset: \xc3\xa9\xff\n",
            "c.yaml:2: cannot read config file: not UTF-8 at column 10",
        ),
    ],
)
def test_unreadable_characters_name_line_and_column(
    in_tmp: Path, data: bytes, message: str
) -> None:
    """PyYAML's reader errors carry no line and print its internals; the tool's do not."""
    (in_tmp / "c.yaml").write_bytes(data)
    result = CliRunner().invoke(cli, ["build", "-c", "c.yaml", "--dry-run"])
    assert result.exit_code == 2
    assert message in result.output
    assert "<unicode string>" not in result.output and "\\n" not in result.output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["c.yaml"]


def test_billion_laughs_is_387_bytes_and_refused_via_cli(in_tmp: Path) -> None:
    assert len(BILLION_LAUGHS) < 400
    (in_tmp / "cabundle.yaml").write_text(BILLION_LAUGHS)
    result = CliRunner().invoke(cli, ["build"])
    assert result.exit_code == 2
    assert "aliases expand to more than 10,000 values" in result.output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]


def test_a_few_aliases_still_work() -> None:
    # Shipped data (firmware/*.yaml) shares values through anchors; that stays possible.
    text = "roots: &r [isrg-root-x1, isrg-root-x2]\nexclude: *r\n"
    config = parse_config(text, path=Path("cabundle.yaml"))
    assert config.spec.excludes == config.spec.roots == ("isrg-root-x1", "isrg-root-x2")


def test_yaml_over_the_cap_is_refused_unread(tmp_path: Path) -> None:
    from esp_cabundle.config import load_config

    p = tmp_path / "cabundle.yaml"
    p.write_text("# " + "x" * (300 << 10) + "\n")
    with pytest.raises(ConfigError, match="over the 256 KiB limit"):
        load_config(p)


# ---------------------------------------------------------------------------------------
# Certificates whose key does not load


def _odd_certs() -> dict[str, bytes]:
    root = mint("Odd Issuer")
    return {
        "ml-dsa root": cert_with_spki("PQ Root", ML_DSA_65_SPKI, sig_oid="2.16.840.1.101.3.4.3.18"),
        "ml-dsa sub": cert_with_spki("PQ Sub", ML_DSA_65_SPKI, issuer=root),
        "bad ec point": cert_with_spki("Bad EC", bad_ec_point_spki()),
        "unknown oid": cert_with_spki("Odd Key", bytes.fromhex("300d300606042a03040503030000ff")),
    }


@pytest.mark.parametrize("case", ["ml-dsa root", "ml-dsa sub", "bad ec point", "unknown oid"])
def test_unloadable_key_is_named(case: str) -> None:
    cert = Certificate.from_der(_odd_certs()[case])
    assert cert.key_problem is not None
    expected = {
        "ml-dsa root": "ML-DSA-65 (unsupported, OID 2.16.840.1.101.3.4.3.18)",
        "ml-dsa sub": "ML-DSA-65 (unsupported, OID 2.16.840.1.101.3.4.3.18)",
        "bad ec point": "EC (invalid key)",
        "unknown oid": "unknown (unsupported, OID 1.2.3.4.5)",
    }[case]
    assert cert.key_description == expected
    assert cert.spki_der.startswith(b"\x30")
    if case == "ml-dsa root":
        assert cert.self_signed  # self-issued, taken as a root by its name


def test_unloadable_keys_through_inspect_build_and_check(in_tmp: Path) -> None:
    odd = _odd_certs()
    bundle = in_tmp / "odd.pem"
    bundle.write_bytes(b"".join(pem_of(d) for d in odd.values()))
    runner = CliRunner()
    result = runner.invoke(cli, ["inspect", str(bundle)])
    assert result.exit_code == 0, result.output
    assert "ML-DSA-65 (unsupported" in result.output
    assert "EC (invalid key)" in result.output
    assert "(PK - unknown key algorithm)" in result.output  # verify.parse's model
    assert "public key is not on the curve" in result.output

    result = runner.invoke(cli, ["build", "--root", str(bundle), "-o", "ca.pem"])
    assert result.exit_code == 1, result.output
    assert "not parseable by mbedTLS 2.28 (ML-DSA-65" in result.output
    assert not (in_tmp / "ca.pem").exists()

    root = mint("Chain Root")
    chain = in_tmp / "chain.pem"
    chain.write_bytes(mint("leaf", root, ca=False).pem + root.pem)
    result = runner.invoke(cli, ["check", "--bundle", str(bundle), "--chain", str(chain)])
    assert result.exit_code == 1, result.output  # refused, not crashed
    assert "Traceback" not in result.output


def test_unloadable_key_in_a_dump_scan(tmp_path: Path) -> None:
    from esp_cabundle.inspect import inspect_bytes

    image = pack_image(
        "littlefs", "esp-idf", 64 * 1024, [("/ca.pem", pem_of(_odd_certs()["ml-dsa root"]))]
    ).data
    report = inspect_bytes(image, source="fs.bin")
    keys = [f.key for f in report.all_findings()]
    assert keys == ["ML-DSA-65 (unsupported, OID 2.16.840.1.101.3.4.3.18)"]


# ---------------------------------------------------------------------------------------
# LittleFS with swapped blocks


def _swapped(data: bytes, i: int, j: int) -> bytes:
    b = bytearray(data)
    a_, b_ = slice(i * 4096, (i + 1) * 4096), slice(j * 4096, (j + 1) * 4096)
    b[a_], b[b_] = data[b_], data[a_]
    return bytes(b)


def test_littlefs_with_two_blocks_swapped_is_an_image_error(tmp_path: Path) -> None:
    base = (DATA / "littlefs" / "mongoose-lfs20-256k.bin").read_bytes()
    bad = _swapped(base, 0, 19)
    img = open_image(bad)  # mounts: the damage shows while counting blocks
    with pytest.raises(ImageError, match="LittleFS error while counting the used blocks"):
        img.describe()
    path = tmp_path / "swapped.bin"
    path.write_bytes(bad)
    runner = CliRunner()
    for args in (["fs", "ls", str(path)], ["inspect", str(path)]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert "LittleFS error" in result.output


# ---------------------------------------------------------------------------------------
# JSON: lock file and journal


def test_deep_lock_file_is_a_clear_error(in_tmp: Path) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(InputError, match="nests deeper than 32 levels"):
        Lock.from_bytes(deep)
    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\n")
    (in_tmp / "cabundle.lock").write_bytes(deep)
    result = CliRunner().invoke(cli, ["build", "--locked"])
    assert result.exit_code == 2, result.output
    assert "cabundle.lock: lock file nests deeper" in result.output


def test_json_too_deep_is_told_by_its_type_not_its_wording() -> None:
    """Nesting alone: a JsonTooDeep (an InputError, as callers catch); JSON that is bad,
    even with "nests deeper" in its message, is no JsonTooDeep."""
    with pytest.raises(JsonTooDeep, match="x nests deeper than 3 levels") as deep:
        loads_json(b"[[[[]]]]", what="x", path=None, cap=100, max_depth=3)
    assert isinstance(deep.value, InputError)
    long = b'{"nests deeper": 1' + b"1" * 5000 + b"}"
    with pytest.raises(InputError, match="nests deeper") as bad:
        loads_json(long, what="x", path=None, cap=10_000)
    assert not isinstance(bad.value, JsonTooDeep)
    with pytest.raises(ConfigError, match="nests deeper") as other:  # another error class
        loads_json(b"[[[[]]]]", what="x", path=None, cap=100, max_depth=3, error=ConfigError)
    assert not isinstance(other.value, JsonTooDeep)


def test_lock_file_bad_bytes_and_size() -> None:
    with pytest.raises(InputError, match="not UTF-8"):
        Lock.from_bytes(b"\xff\xfe{}")
    with pytest.raises(InputError, match="over the 4 MiB limit"):
        Lock.from_bytes(b" " * (5 << 20))


def test_deep_or_odd_journal_entry_is_a_clear_error(tmp_path: Path) -> None:
    unit = tmp_path / "30aea4001122"
    unit.mkdir()
    (unit / "20260101T000000000000Z-x.json").write_bytes(b"{" * 50_000)
    with pytest.raises(InputError, match="journal entry nests deeper"):
        Journal(tmp_path).entries("30:ae:a4:00:11:22")
    (unit / "20260101T000000000000Z-x.json").write_text(json.dumps([1, 2]))
    with pytest.raises(InputError, match="not a readable esp-cabundle journal entry"):
        Journal(tmp_path).entries("30:ae:a4:00:11:22")


# ---------------------------------------------------------------------------------------
# File names


@pytest.mark.parametrize("fs_type", ["spiffs", "littlefs"])
@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("/..", "parts are not allowed"),
        ("/a/../b", "parts are not allowed"),
        ("/a\nb", "control character"),
        ("/a\rb", "control character"),
        ("/a\0b", "NUL byte"),
        ("/ca.pem\r", "control character"),  # once trimmed silently to /ca.pem
        ("/ca.pem\n", "control character"),
        ("/ca.pem ", "starts or ends with a space"),
        (" /ca.pem", "starts or ends with a space"),
        ("/ ca.pem", "starts or ends with a space"),
        ("/certs\t/ca.pem", "control character"),
        ("/certs /ca.pem", "starts or ends with a space"),
        ("/ca.pem\u00a0", "starts or ends with a space"),
    ],
)
def test_hostile_names_are_refused_by_the_fs_api(fs_type: str, name: str, why: str) -> None:
    img = open_image(pack_image(fs_type, "esp-idf", 64 * 1024, [("/ca.pem", b"x")]).data)
    before = img.to_bytes()
    with pytest.raises(ImageError, match=why):
        img.write(name, b"data")
    assert img.to_bytes() == before
    with pytest.raises(ImageError, match=why):
        pack_image(fs_type, "esp-idf", 64 * 1024, [(name, b"x")])


@pytest.mark.parametrize("dest", ["/ca.pem\r", "/ca.pem ", " ca.pem"])
def test_fs_put_never_trims_a_name_into_another_file(
    tmp_path: Path, runner: CliRunner, dest: str
) -> None:
    """``/ca.pem\r`` (a CRLF line's name) is refused with a clear error, not written to
    /ca.pem past the gate nor beside it; reading such a name finds no file."""
    image = tmp_path / "fs.bin"
    image.write_bytes(pack_image("littlefs", "esp-idf", 64 * 1024, [("/ca.pem", b"x")]).data)
    src = tmp_path / "new.pem"
    src.write_text(ISRG)
    before = image.read_bytes()
    r = runner.invoke(cli, ["fs", "put", str(image), str(src), dest])
    assert r.exit_code == 2, r.output
    assert "invalid file name" in r.output and "Traceback" not in r.output
    assert image.read_bytes() == before
    r = runner.invoke(cli, ["fs", "cat", str(image), dest])
    assert r.exit_code == 2 and "no file" in r.output, r.output


def _run_cli(args: list[str], env_extra: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PYTHONIO"))}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "esp_cabundle", *args],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("fs_type", ["spiffs", "littlefs"])
@pytest.mark.parametrize("encoding", ["ascii:strict", "utf-8:strict", "latin-1:strict"])
def test_non_utf8_names_print_escaped_under_strict_encodings(
    tmp_path: Path, fs_type: str, encoding: str
) -> None:
    # U+2028 inside the name: at either end it counts as whitespace, refused by the packer
    files = [("/ca.pem", ISRG.encode()), ("/\udcff\udcfe.pem", ISRG.encode()), ("/x\u2028y", b"x")]
    image = tmp_path / "fs.bin"
    image.write_bytes(pack_image(fs_type, "esp-idf", 64 * 1024, files).data)
    env = {"PYTHONIOENCODING": encoding, "LANG": "C"}
    for args in (
        ["fs", "ls", str(image)],
        ["inspect", str(image)],
        ["inspect", "--json", str(image)],
    ):
        proc = _run_cli(args, env)
        assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
        assert b"Traceback" not in proc.stderr
        out = proc.stdout.decode("ascii", "replace")
        if "--json" in args:
            sources = [r["source"] for r in json.loads(proc.stdout)["reports"][0]["children"]]
            assert f"{image}:/\udcff\udcfe.pem" in sources
        else:
            assert "\\xff\\xfe.pem" in out
            assert "x\\u2028y" in out or "--json" in args


def test_non_utf8_names_in_a_directory_pack_to_littlefs(tmp_path: Path) -> None:
    src = tmp_path / "dir"
    src.mkdir()
    (src / os.fsdecode(b"\xff.txt")).write_bytes(b"odd")
    pem = tmp_path / "ca.pem"
    pem.write_text(ISRG)
    out = tmp_path / "fs.bin"
    args = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "64K"]
    args += ["--bundle", str(pem), "--from-dir", str(src), "-o", str(out)]
    proc = _run_cli(args, {"PYTHONIOENCODING": "ascii:strict"})
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    assert b"\\xff.txt" in proc.stdout
    names = [f.path for f in open_image(out.read_bytes()).files()]
    assert "/\udcff.txt" in names


# ---------------------------------------------------------------------------------------
# The remaining caps README lists


def test_journal_entry_over_64_mib_is_refused_unread(tmp_path: Path) -> None:
    unit = tmp_path / "30aea4001122"
    unit.mkdir()
    with (unit / "20260101T000000000000Z-x.json").open("wb") as f:
        f.truncate((64 << 20) + 1)  # sparse: refused from its size, never read
    with pytest.raises(InputError, match=r"journal entry is .* over the 64 MiB limit"):
        Journal(tmp_path).entries("30:ae:a4:00:11:22")


def test_any_file_over_256_mib_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "dump.bin"
    with big.open("wb") as f:
        f.truncate((256 << 20) + 1)
    result = CliRunner().invoke(cli, ["inspect", str(big)])
    assert result.exit_code == 2, result.output
    assert "over the 256 MiB limit" in result.output


def test_partition_csv_caps() -> None:
    from esp_cabundle.errors import PartitionTableError
    from esp_cabundle.partitions import PartitionTable

    with pytest.raises(PartitionTableError, match="over the 256 KiB limit"):
        PartitionTable.from_csv("# x\n" * 70_000)
    with pytest.raises(PartitionTableError, match=r"partitions\.csv:1: .*characters long"):
        PartitionTable.from_csv("nvs, data, nvs, 0x9000, " + "1" * 100_000 + "\n")


@pytest.mark.timeout(30)
def test_curl_bundle_without_end_lines_is_linear() -> None:
    from esp_cabundle.formats.idf_filter import read_curl_bundle

    # The old pattern rescanned the rest of the file from every name line: quadratic.
    assert read_curl_bundle("name\n===\nabc\n" * 40_000) == []


def test_chain_file_over_the_cap_is_refused_unread(tmp_path: Path) -> None:
    from esp_cabundle.chains import load_chain_file

    big = tmp_path / "chain.pem"
    with big.open("wb") as f:
        f.truncate((4 << 20) + 1)
    with pytest.raises(InputError, match="over the 4 MiB limit"):
        load_chain_file(big)


@pytest.mark.parametrize("fs_type", ["spiffs", "littlefs"])
def test_a_backslash_in_a_name_is_escaped_so_escapes_stay_unambiguous(
    tmp_path: Path, runner: CliRunner, fs_type: str
) -> None:
    """``/x\\u2028y`` (a backslash, then ``u2028``) and ``/x<U+2028>y`` are two files:
    text shows them apart (the backslash doubled), --json keeps both real names."""
    real, literal = "/x\u2028y", "/x\\u2028y"
    image = tmp_path / "fs.bin"
    image.write_bytes(
        pack_image(fs_type, "esp-idf", 64 * 1024, [(real, b"a"), (literal, b"b")]).data
    )
    result = runner.invoke(cli, ["fs", "ls", str(image)])
    assert result.exit_code == 0, result.output
    assert "/x\\u2028y " in result.output and "/x\\\\u2028y " in result.output
    result = runner.invoke(cli, ["inspect", str(image)])
    assert "file /x\\u2028y: 1 byte\n" in result.output
    assert "file /x\\\\u2028y: 1 byte\n" in result.output
    result = runner.invoke(cli, ["fs", "ls", str(image), "--json"])
    assert {f["path"] for f in json.loads(result.stdout)["files"]} == {real, literal}
    result = runner.invoke(cli, ["fs", "rm", str(image), literal])
    assert result.exit_code == 0 and "removed /x\\\\u2028y;" in result.output, result.output
