"""What a new or hostile user tried next (tester's report, items 4, 6-9, 11-17): each bad
input is a clear error with its exit code and changes nothing; each surprise is either
gone or said out loud."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from esp_cabundle import check as check_module
from esp_cabundle.boards import boards_dir, load_board
from esp_cabundle.certs import load_certificates
from esp_cabundle.cli import cli
from esp_cabundle.errors import CertificateError, PartitionTableError
from esp_cabundle.partitions import read_partition_table
from tests.support import dumps
from tests.support.gate_cases import cases

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
X1 = DATA / "letsencrypt" / "isrgrootx1.pem"


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------------------------------
# 4. An explicit chain: is read, or the error says why; never captured live instead


@pytest.mark.parametrize(
    ("chain", "words"),
    [
        ("chains/missing.pem", "no such chain file"),
        ("/dev/null", "no certificate found"),
        ("/dev/zero", "over the 4 MiB limit"),
        ("chains", "is a directory"),
    ],
)
@pytest.mark.parametrize("command", [["check"], ["build", "--no-lock"]])
def test_an_explicit_chain_that_cannot_be_read_is_exit_2(
    in_tmp: Path,
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    chain: str,
    words: str,
    command: list[str],
) -> None:
    def no_capture(*args: object, **kwargs: object) -> None:
        raise AssertionError("captured live for a target with an explicit chain")

    monkeypatch.setattr(check_module, "capture_chain", no_capture)
    (in_tmp / "chains").mkdir()
    (in_tmp / "cabundle.yaml").write_text(
        f"preset: letsencrypt\ntargets:\n  - {{name: t, host: example.com, chain: {chain}}}\n"
    )
    before = _files(in_tmp)
    r = runner.invoke(cli, command)
    assert r.exit_code == 2, r.output
    assert "target 't'" in r.output and words in r.output, r.output
    assert Path(chain).name in r.output
    assert _files(in_tmp) == before


# ---------------------------------------------------------------------------------------
# 6 and 8. --json: one document on stdout, also on failure; with -o -, on stderr


def _json_stdout(r: Result) -> dict[str, object]:
    doc = json.loads(r.stdout)
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize(
    ("args", "code", "kind"),
    [
        (["build", "--service-until", "2037-01-01"], 1, "PolicyError"),
        (["build", "--root", "./nope.pem"], 2, "InputError"),
        (["pack", "--fs", "spiffs", "--size", "64K", "--bundle", "ca.pem", "-o", "x"], 2, None),
        (["inspect", "nope.pem"], 2, "InputError"),
        (["check", "--chain", "/dev/null"], 2, "CertificateError"),
    ],
)
def test_json_failure_is_one_document(
    in_tmp: Path, args: list[str], code: int, kind: str | None
) -> None:
    r = CliRunner().invoke(cli, [*args, "--json"])
    assert r.exit_code == code, r.output
    doc = _json_stdout(r)
    assert doc["ok"] is False and doc["exit_code"] == code and doc["error"]
    if kind:
        assert doc["kind"] == kind
    if code == 1:
        assert doc["violations"] and "2037-01-01" in str(doc["violations"])
    assert not (in_tmp / "ca.pem").exists() and not (in_tmp / "x").exists()


def test_check_json_verdict_is_not_followed_by_a_second_document(in_tmp: Path) -> None:
    r = CliRunner().invoke(
        cli,
        ["check", "--bundle", str(X1), "--chain", str(DATA / "letsencrypt" / "2024-e5.pem"),
         "--json"],
    )  # fmt: skip
    assert r.exit_code == 1
    doc = _json_stdout(r)
    assert doc["ok"] is False and "results" in doc


def test_build_to_stdout_puts_the_json_report_on_stderr(in_tmp: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "--no-lock", "-o", "-", "--json"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("# ISRG Root X1") and r.stdout.rstrip().endswith("-----")
    doc = json.loads(r.stderr[r.stderr.index("{") :])
    assert doc["ok"] is True and doc["count"] == 4
    r = runner.invoke(cli, ["build", "--root", "./nope.pem", "-o", "-", "--json"])
    assert r.exit_code == 2 and r.stdout == ""
    assert json.loads(r.stderr[r.stderr.index("{") :])["ok"] is False


# ---------------------------------------------------------------------------------------
# 7. Every reader refuses the same keys and reads the same UTF-16 text


KEY_CASES = {name: c for name, c in cases().items() if c.message == "private key material"}
READERS = {
    "inspect": ["inspect", "in.pem"],
    "check --bundle": ["check", "--bundle", "in.pem", "--roadmap", "letsencrypt"],
    "build --root": ["build", "--root", "./in.pem", "--no-lock", "-o", "out.pem"],
    "pack --bundle": ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "64K",
                      "--bundle", "in.pem", "-o", "out.bin"],
}  # fmt: skip


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("case", KEY_CASES)
def test_every_reader_refuses_every_key(
    in_tmp: Path, runner: CliRunner, reader: str, case: str
) -> None:
    c = KEY_CASES[case]
    (in_tmp / "in.pem").write_bytes(c.data)
    r = runner.invoke(cli, READERS[reader])
    assert r.exit_code == 2, r.output
    assert "private key material" in r.output
    if c.secret:
        assert c.secret.decode() not in r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["in.pem"]


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_every_reader_reads_utf16(in_tmp: Path, runner: CliRunner, reader: str, codec: str) -> None:
    (in_tmp / "in.pem").write_bytes(X1.read_text().encode(codec))
    r = runner.invoke(cli, READERS[reader])
    assert r.exit_code in (0, 1), r.output  # read: any verdict, never bad input
    if reader == "inspect":
        assert "1 certificate" in r.stdout and "read as UTF-16 text" in r.stdout


# ---------------------------------------------------------------------------------------
# 9. inspect says what unknown bytes look like, instead of reading them as PEM


def _inspect_error(runner: CliRunner, tmp: Path, data: bytes, name: str = "in.bin") -> str:
    (tmp / name).write_bytes(data)
    r = runner.invoke(cli, ["inspect", name])
    assert r.exit_code == 2, r.output
    assert "base64" not in r.stderr and "header-carrying" not in r.stderr
    return r.stderr


def test_inspect_describes_what_it_cannot_read(in_tmp: Path, runner: CliRunner) -> None:
    spiffs = (DATA / "spiffs" / "idf-64k.bin").read_bytes()
    # a SPIFFS cut short is said as fs ls says it (it was "binary data" to inspect alone)
    err = _inspect_error(runner, in_tmp, spiffs[: len(spiffs) // 2 + 100])
    assert (
        "only part of a SPIFFS: 32,868 bytes, where its first block carries the esp-idf "
        "magic of a 65,536-byte SPIFFS" in " ".join(err.split())
    ), err
    assert "pass exactly 65,536 bytes (the whole partition)" in " ".join(err.split()), err
    err = _inspect_error(runner, in_tmp, bytes(range(256)) * 20 + spiffs[:4096])
    assert "binary data (9,216 bytes), not a certificate file" in err
    assert "holds PEM text at byte offset" in err and "cut short" in err

    dump = bytearray(dumps.arduino_dump())
    dump[0x8000:0x9000] = b"\xff" * 0x1000
    err = _inspect_error(runner, in_tmp, bytes(dump))
    assert "a flash dump" in err and "no readable partition table" in err
    assert "--offset" in err

    err = _inspect_error(runner, in_tmp, bytes(8 << 20))
    assert "8,388,608 bytes, every one 0x00: blank or erased flash" in err


@pytest.mark.parametrize("fmt", ["v1", "v2"])
def test_inspect_names_a_cut_or_padded_idf_bundle(
    in_tmp: Path, runner: CliRunner, fmt: str
) -> None:
    bundle = (DATA / "idf-bundle" / f"small.{fmt}.bin").read_bytes()
    err = _inspect_error(runner, in_tmp, bundle[:-50])
    assert f"ESP-IDF certificate bundle ({fmt}) that is cut short" in err
    assert "lists 5 roots" in err and "runs past the end" in err
    err = _inspect_error(runner, in_tmp, bundle + b"\0" * 64)
    assert f"ESP-IDF certificate bundle ({fmt})" in err and "lists 5 roots" in err


def test_a_pem_block_without_its_end_line_is_named(in_tmp: Path, runner: CliRunner) -> None:
    lines = X1.read_text().splitlines()
    text = "\n".join(lines[:-1]) + "\n" + "\n".join(lines) + "\n"
    err = _inspect_error(runner, in_tmp, text.encode(), "cut.pem")
    assert (
        f"cut.pem:1: '-----BEGIN CERTIFICATE-----' has no END line before the next BEGIN "
        f"(line {len(lines)})" in err
    )


def test_a_dump_cut_inside_its_partition_table(tmp_path: Path) -> None:
    dump = dumps.arduino_dump()
    for end in (0x800F, 0x8010, 0x8040):
        with pytest.raises(PartitionTableError) as e:
            read_partition_table(dump[:end], check_size=False)
        assert f"is cut short: the file ends {end - 0x8000} bytes into it" in e.value.message
        assert e.value.hint and "truncated" in e.value.hint


# ---------------------------------------------------------------------------------------
# 11. C source read as the compiler reads it


def _c_lines(pem: str, name: str = "s_pem") -> list[str]:
    return [f"static const char *{name} ="] + [f'    "{line}\\n"' for line in pem.splitlines()]


def _x1_and(other: Path) -> tuple[str, str]:
    return X1.read_text(), other.read_text()


def test_if_0_blocks_are_not_read(in_tmp: Path) -> None:
    x1, r10 = _x1_and(DATA / "letsencrypt" / "2024-r10.pem")
    text = "\n".join(
        ["#if 0", *_c_lines(r10, "old"), ";", "#else", *_c_lines(x1), ";", "#endif", ""]
    )
    certs = load_certificates(text.encode(), source="ca.c")
    assert [c.label for c in certs] == ["ISRG Root X1"]
    only_old = "\n".join(["#if 0 /* retired */", *_c_lines(r10, "old"), ";", "#endif", ""])
    with pytest.raises(CertificateError, match="inside '#if 0' blocks"):
        load_certificates(only_old.encode(), source="old.c")


def test_other_conditionals_are_read_and_noted(in_tmp: Path, runner: CliRunner) -> None:
    x1, _ = _x1_and(X1)
    text = "\n".join(["#ifdef USE_ISRG", *_c_lines(x1), ";", "#endif", ""])
    (in_tmp / "ca.c").write_text(text)
    r = runner.invoke(cli, ["inspect", "ca.c"])
    assert r.exit_code == 0, r.output
    assert "1 certificate" in r.stdout
    assert "inside '#ifdef USE_ISRG' (line 1): read as if it held" in r.stdout


def test_adjacent_literals_are_joined_as_c_joins_them() -> None:
    lines = X1.read_text().splitlines()
    text = "\n".join(
        ["static const char *s_pem =", '    "-----BEG" "IN CERTIFICATE-----\\n"']
        + [f'    "{line}\\n"' for line in lines[1:]]
        + [";", ""]
    )
    assert [c.label for c in load_certificates(text.encode(), source="split.c")] == ["ISRG Root X1"]


def test_an_unknown_escape_is_a_clean_error_with_its_line(in_tmp: Path, runner: CliRunner) -> None:
    lines = _c_lines(X1.read_text())
    lines[5] = lines[5][:10] + "\\q" + lines[5][11:]
    (in_tmp / "q.c").write_text("\n".join(lines) + ";\n")
    r = runner.invoke(cli, ["inspect", "q.c"])
    assert r.exit_code == 2
    assert "ParseError" not in r.stderr and "kind:" not in r.stderr
    assert "q.c:2: not a valid X.509 certificate (malformed DER" in r.stderr
    assert "line 6 has '\\q', an escape C does not define" in r.stderr


# ---------------------------------------------------------------------------------------
# 12. Board files: every field as boards/README.md says


def _board_file(tmp: Path, name: str, change: tuple[str, str] = ("", "")) -> Path:
    text = (boards_dir() / "arduino-esp32-spiffs.yaml").read_text()
    text = text.replace("name: arduino-esp32-spiffs", f"name: {name}")
    if change[0]:
        assert change[0] in text
        text = text.replace(*change)
    path = tmp / f"{name}.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("", ""), "does not match the file name 'mine'"),
        (("flash_size: 4MB", "flash_size: 99999999999999999999999999"), "not a flash size"),
        (("flash_size: 4MB", "flash_size: 3MB"), "not a flash size ESP32 chips come with"),
        (("ca_path: /ca.pem", "ca_path: /../etc/passwd"), "'..' parts are not allowed"),
        (("ca_path: /ca.pem", "ca_path: /certs/./ca.pem"), "'..' parts are not allowed"),
    ],
)
def test_bad_board_fields_are_refused_on_load(
    tmp_path: Path, runner: CliRunner, change: tuple[str, str], words: str
) -> None:
    path = _board_file(tmp_path, "other" if not change[0] else "mine", change)
    if not change[0]:
        path = path.rename(tmp_path / "mine.yaml")
    r = runner.invoke(cli, ["boards", "show", str(path)])
    assert r.exit_code == 2, r.output
    assert words in r.stderr and "mine.yaml:" in r.stderr


def test_a_tab_in_a_board_layout(tmp_path: Path, runner: CliRunner) -> None:
    """gen_esp32part strips whitespace, tabs too; YAML indents with spaces only."""
    line = "    nvs,      data, nvs,     0x9000,  0x5000,"
    inner = _board_file(tmp_path, "inner", (line, "    nvs,\tdata,\tnvs,\t0x9000,\t0x5000,"))
    r = runner.invoke(cli, ["boards", "show", str(inner)])
    assert r.exit_code == 0, r.output
    leading = _board_file(tmp_path, "leading", (line, "\t" + line.strip()))
    r = runner.invoke(cli, ["boards", "show", str(leading)])
    assert r.exit_code == 2 and "YAML indents with spaces only" in r.stderr


# ---------------------------------------------------------------------------------------
# 13. Values that cannot be meant


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--service-until", "2020-01-01"], "end of service 2020-01-01 is not after"),
        (["-f", "c", "--c-name", "int", "-o", "x.h"], "'int' is a C keyword"),
        (["-f", "idf-bundle", "--idf-version", "99", "-o", "b.bin"], "ESP-IDF 99 is not"),
        (["-f", "idf-bundle", "--idf-version", "arduino-9.0", "-o", "b.bin"], "Arduino-ESP32 9"),
        (["-o", "a.pem", "-o", "b.pem"], "-o/--output given 2 times"),
        (["-f", "pem", "-o", "x.der"], "-o x.der names a der file, but the output format is pem"),
        (["-o", "fw.bin"], "pass -f idf-bundle"),
        (["-f", "pem", "-o", "x509_crt_bundle.bin"], "hint: pass -f idf-bundle"),
    ],
)
def test_build_refuses_values_that_cannot_be_meant(
    in_tmp: Path, runner: CliRunner, args: list[str], words: str
) -> None:
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "--no-lock", *args])
    assert r.exit_code == 2, r.output
    assert words in r.stderr
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(("name", "magic"), [("x.der", b"\x30\x82"), ("x.h", b"static const")])
def test_an_output_name_picks_its_format(
    in_tmp: Path, runner: CliRunner, name: str, magic: bytes
) -> None:
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "--no-lock", "-o", name])
    assert r.exit_code == 0, r.output
    assert (in_tmp / name).read_bytes().startswith(magic)


def test_the_idf_bundle_name_picks_idf_bundle(in_tmp: Path, runner: CliRunner) -> None:
    from esp_cabundle.formats.idf_bundle import detect_bundle_format

    r = runner.invoke(
        cli, ["build", "--preset", "letsencrypt", "--no-lock", "-o", "x509_crt_bundle.bin"]
    )
    assert r.exit_code == 0, r.output
    assert detect_bundle_format((in_tmp / "x509_crt_bundle.bin").read_bytes()) is not None


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["check", "--hostname", "", "--roadmap", "letsencrypt"], "is not a server name"),
        (["check", "--hostname", "a b", "--roadmap", "letsencrypt"], "is not a server name"),
        (["push", "--ledger", "", "status"], "an empty path names no file"),
    ],
)
def test_empty_or_spaced_values(
    in_tmp: Path, runner: CliRunner, args: list[str], words: str
) -> None:
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert words in r.stderr
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["build", "--preset", "letsencrypt", "--no-lock", "-o", "out/"],
        ["build", "--preset", "letsencrypt", "--no-lock", "-o", "out/."],
        ["pack", "--fs", "spiffs", "--profile", "esp-idf", "--size", "64K", "-o", "out/"],
        ["check", "--roadmap", "letsencrypt", "--report", "out/"],
        ["flash", "-p", "socket://127.0.0.1:1", "--board", "mdash-arduino", "--log", "out/"],
    ],
)
def test_a_path_that_names_a_directory_is_no_file(
    in_tmp: Path, runner: CliRunner, args: list[str]
) -> None:
    """``-o out/`` (no such directory yet) wrote a file called ``out``, and ``--log logs/``
    a log called ``logs``: pathlib drops the trailing slash. Refused, nothing written."""
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert "names a directory, not a file" in r.stderr
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("dest", "words", "example"),
    [
        ("", "names no file", "/hello wörld.txt"),
        ("/ca.pem/", "ends with '/'", "/ca.pem/hello wörld.txt"),
        # The folder given is kept: the example is where the user meant the file to go.
        ("/dir/", "ends with '/'", "/dir/hello wörld.txt"),
    ],
)
def test_fs_put_needs_a_file_name(
    in_tmp: Path, runner: CliRunner, dest: str, words: str, example: str
) -> None:
    image = in_tmp / "fs.bin"
    image.write_bytes((DATA / "littlefs" / "mongoose-lfs20-256k.bin").read_bytes())
    (in_tmp / "hello wörld.txt").write_text("hello")
    before = image.read_bytes()
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "hello wörld.txt", dest])
    assert r.exit_code == 2, r.output
    assert words in r.stderr
    assert f"e.g. {example}, or leave DEST out" in r.stderr, r.stderr
    assert image.read_bytes() == before


# ---------------------------------------------------------------------------------------
# 14. Messages in the user's terms


@pytest.mark.parametrize(
    ("lock", "words"),
    [
        ("[1, 2]", "a JSON list, not the object with 'lock_version' and 'roots'"),
        ('{"lock_version": 1, "roots": ["x"]}', "a field holds the wrong kind of value"),
        ('{"lock_version": 1}', "no 'roots' field"),
        ("repeat", "root 5 (ISRG Root X1) repeats root 1; a lock lists each root once"),
    ],
)
def test_lock_file_problems_in_words(
    in_tmp: Path, runner: CliRunner, lock: str, words: str
) -> None:
    assert runner.invoke(cli, ["build", "--preset", "letsencrypt"]).exit_code == 0
    path = in_tmp / "cabundle.lock"
    if lock == "repeat":
        doc = json.loads(path.read_text())
        doc["roots"].append(doc["roots"][0])
        lock = json.dumps(doc)
    path.write_text(lock)
    before = _files(in_tmp)
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "--locked"])
    assert r.exit_code == 2, r.output
    assert words in r.stderr and "object has no attribute" not in r.stderr
    assert "same roots, different order" not in r.stderr
    assert _files(in_tmp) == before


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("[]", "a field holds the wrong kind of value"),
        (
            '{"format": "esp-cabundle-journal/1", "status": "complete", "partitions": []}',
            "no 'id' field",
        ),
        ('"text"', "a field holds the wrong kind of value"),
    ],
)
def test_journal_entry_problems_in_words(
    tmp_path: Path, runner: CliRunner, entry: str, words: str
) -> None:
    folder = tmp_path / "j" / "240ac4000003"
    folder.mkdir(parents=True)
    (folder / "bad.json").write_text(entry)
    r = runner.invoke(cli, ["journal", "list", "--journal-dir", str(tmp_path / "j")])
    assert words in r.output, r.output
    for internal in ("object has no attribute", "string indices", "('"):
        assert internal not in r.output


def test_size_zero_and_unwritable_directories(in_tmp: Path, runner: CliRunner) -> None:
    image = in_tmp / "fs.bin"
    image.write_bytes((DATA / "littlefs" / "mongoose-lfs20-256k.bin").read_bytes())
    (in_tmp / "h.txt").write_text("hello")
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "h.txt", "--size", "0"])
    assert r.exit_code == 2 and "--size 0 names no partition" in r.stderr, r.output
    assert "runs past the end" not in r.stderr
    if Path("/proc/version").is_file():
        r = runner.invoke(
            cli, ["build", "--preset", "letsencrypt", "--no-lock", "-o", "/proc/version"]
        )
        assert r.exit_code == 3, r.output
        assert "no new file can be made in /proc" in r.stderr


def test_a_device_as_a_root_file_meets_the_certificate_limit(
    in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "cabundle.yaml").write_text("roots: [/dev/zero]\n")
    r = runner.invoke(cli, ["build", "--no-lock"])
    assert r.exit_code == 2, r.output
    assert "over the 4 MiB limit for certificate files" in r.stderr
    assert "256 MiB" not in r.stderr


# ---------------------------------------------------------------------------------------
# 16. What the text says a board covers is what its data covers


_RANGE = re.compile(r"mDash(?: library)? (\d+\.\d+\.\d+)-(\d+\.\d+\.\d+)")


def _versions_claimed(text: str) -> set[tuple[str, str]]:
    return set(_RANGE.findall(text))


def test_mdash_ranges_in_text_match_the_traced_releases() -> None:
    board = load_board("mdash-arduino")
    assert board.firmware is not None and board.firmware.versions == "1.2.12..1.2.14"
    texts = {
        "board": board.description + board.framework,
        "README.md": (REPO / "README.md").read_text(),
        "boards/README.md": (boards_dir() / "README.md").read_text(),
        "examples/make": (REPO / "examples" / "make" / "README.md").read_text()
        + (REPO / "examples" / "make" / "cabundle.yaml").read_text(),
    }
    for where, text in texts.items():
        assert _versions_claimed(text) <= {("1.2.12", "1.2.14")}, where
    readme = texts["README.md"]
    assert all("not" in line for line in readme.splitlines() if "1.2.11" in line)


@pytest.mark.parametrize("board", ["mdash-arduino@1.2.11", "mdash@1.2.11"])
def test_an_untraced_release_says_so(runner: CliRunner, board: str) -> None:
    r = runner.invoke(cli, ["boards", "show", board])
    assert r.exit_code == 2
    assert "mDash 1.2.11 is not among the releases whose code was traced" in r.stderr


# ---------------------------------------------------------------------------------------
# 17. A date gate on an input without dates does not pass


@pytest.mark.parametrize("flags", [["--fail-on", "expired"], ["--fail-within", "365"]])
def test_a_date_gate_on_an_idf_bundle_cannot_pass(runner: CliRunner, flags: list[str]) -> None:
    bundle = DATA / "idf-bundle" / "small.v2.bin"
    r = runner.invoke(cli, ["inspect", str(bundle), *flags])
    assert r.exit_code == 1, r.output
    assert "5 roots with no dates" in r.stderr and "expiry cannot be judged" in r.stderr
    assert "holds no dates" in r.stdout  # the report's note
    assert runner.invoke(cli, ["inspect", str(bundle), "--fail-on", "not-ca"]).exit_code == 0


def test_a_usage_error_under_json_is_a_json_document(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from esp_cabundle import cli as cli_module

    assert cli_module.run(["build", "--bogus", "--json"]) == 2
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["ok"] is False and doc["exit_code"] == 2 and "--bogus" in doc["error"]
    assert err == ""  # said once, by the document (tests/test_json_errors.py)
