"""``inspect`` on certificate files: table, JSON, CI gates, device-specific warnings."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from esp_cabundle.cli import cli

LE = Path(__file__).parent / "data" / "letsencrypt"


def test_table_lists_each_certificate(runner: CliRunner) -> None:
    r = runner.invoke(
        cli,
        [
            "inspect",
            str(LE / "isrgrootx1.pem"),
            str(LE / "dst-root-ca-x3.pem"),
            "--at",
            "2026-01-01",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "ISRG Root X1" in r.stdout and "2035-06-04" in r.stdout and "3441" in r.stdout
    assert "DST Root CA X3" in r.stdout and "EXPIRED" in r.stdout
    assert "96bcec06264976f3" in r.stdout


def test_json_report_and_expired_gate(runner: CliRunner) -> None:
    r = runner.invoke(
        cli,
        [
            "inspect",
            str(LE / "dst-root-ca-x3.pem"),
            "--json",
            "--fail-on",
            "expired",
            "--at",
            "2026-01-01",
        ],
    )
    assert r.exit_code == 1
    failed = json.loads(r.stdout)
    assert failed["ok"] is False and "expired 2021-09-30" in failed["violations"][0]
    (doc,) = failed["reports"]
    (cert,) = doc["certificates"]
    assert cert["status"] == "EXPIRED" and cert["days_left"] < 0
    assert cert["sha256"].startswith("0687260331a72403")
    assert r.stderr == ""  # said by the document alone (tests/test_json_errors.py)


def test_same_file_passes_the_gate_before_its_expiry(runner: CliRunner) -> None:
    r = runner.invoke(
        cli,
        ["inspect", str(LE / "dst-root-ca-x3.pem"), "--fail-on", "expired", "--at", "2021-01-01"],
    )
    assert r.exit_code == 0


def test_intermediate_and_not_ca_are_labelled(runner: CliRunner) -> None:
    r = runner.invoke(cli, ["inspect", str(LE / "2024-r11.pem"), "--at", "2026-01-01"])
    assert r.exit_code == 0 and "intermediate" in r.stdout


def test_long_lines_warn_about_mongoose_fgets(runner: CliRunner, in_tmp: Path) -> None:
    pem = (LE / "isrgrootx1.pem").read_text()
    (in_tmp / "ca.pem").write_text("# " + "x" * 140 + "\n" + pem)
    r = runner.invoke(cli, ["inspect", "ca.pem"])
    assert r.exit_code == 0
    assert "line 1 is 142 bytes: Mongoose OS (fgets 128) silently skips it" in r.stdout


def test_missing_file_and_no_args(runner: CliRunner, in_tmp: Path) -> None:
    r = runner.invoke(cli, ["inspect", "nope.pem"])
    assert r.exit_code == 2 and "nope.pem: no such image or CA file" in r.stderr
    r = runner.invoke(cli, ["inspect"])
    assert r.exit_code == 2 and "nothing to inspect" in r.stderr


def test_roots_command(runner: CliRunner) -> None:
    r = runner.invoke(cli, ["roots", "isrg"])
    assert r.exit_code == 0 and "isrg-root-x1" in r.stdout and "isrg-root-yr" in r.stdout
    # The status column (the last) is whole, never cut mid-word, whatever the output is.
    yr = next(line for line in r.stdout.splitlines() if line.startswith("isrg-root-yr"))
    assert yr.endswith("default LE chains reach it via X1"), yr
    r = runner.invoke(cli, ["roots", "--json", "dst"])
    doc = json.loads(r.stdout)
    (dst,) = [x for x in doc["roots"] if x["alias"] == "dst-root-ca-x3"]
    assert dst["status"].startswith("expired 2021-09-30") and dst["source"] == "package"
    r = runner.invoke(cli, ["roots", "--presets"])
    assert "letsencrypt:" in r.stdout and "isrg-root-ye" in r.stdout


def test_the_roots_footer_says_where_the_whole_fingerprint_is(
    runner: CliRunner, in_tmp: Path
) -> None:
    """The table shows 16 hex digits; its last line sends the user to one that has all
    64, and a root given by that fingerprint builds."""
    r = runner.invoke(cli, ["roots", "--all", "certum"])
    assert "(roots QUERY --json)" in r.stdout.splitlines()[-1]
    (row,) = [line for line in r.stdout.splitlines() if "Certum Trusted Network CA 2" in line]
    (short,) = re.findall(r"\b[0-9a-f]{16}\b", row)
    doc = json.loads(runner.invoke(cli, ["roots", "--json", "--all", short]).stdout)
    (root,) = doc["roots"]
    assert len(root["sha256"]) == 64 and root["sha256"].startswith(short)
    built = runner.invoke(cli, ["build", "--root", root["sha256"], "-f", "pem", "-o", "-", "-q"])
    assert built.exit_code == 0 and "Certum Trusted Network CA 2" in built.stdout


def test_a_search_that_finds_no_root_exits_1(runner: CliRunner) -> None:
    """As grep does (tester's report, item 10), and --help says so."""
    r = runner.invoke(cli, ["roots", "zzzz"])
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr.startswith("Error: no root matches 'zzzz'\n  hint: ")
    r = runner.invoke(cli, ["roots", "zzzz", "--json"])
    doc = json.loads(r.stdout)
    assert r.exit_code == 1 and doc["ok"] is False and doc["exit_code"] == 1
    assert runner.invoke(cli, ["roots", "isrg-root-x1"]).exit_code == 0
    help_text = " ".join(runner.invoke(cli, ["roots", "--help"]).stdout.split())
    assert "matches no root exits 1" in help_text


def test_presets_query_picks_presets(runner: CliRunner) -> None:
    """'roots --presets QUERY' listed every preset, QUERY unread (new user's report): it
    picks the preset named, or those holding a matching root; none is exit 1."""
    r = runner.invoke(cli, ["roots", "--presets", "aws-iot", "--json"])
    assert r.exit_code == 0 and list(json.loads(r.stdout)["presets"]) == ["aws-iot"]
    r = runner.invoke(cli, ["roots", "--presets", "starfield", "--json"])
    assert list(json.loads(r.stdout)["presets"]) == ["aws-iot"]
    r = runner.invoke(cli, ["roots", "--presets", "zzzz"])
    assert r.exit_code == 1 and r.stdout == "" and "no preset" in r.stderr
    r = runner.invoke(cli, ["roots", "--presets", "--all"])
    assert r.exit_code == 2 and r.stdout == ""


def test_a_root_mbedtls_cannot_parse_is_not_ok_and_can_fail_the_gate(tmp_path: Path) -> None:
    from cryptography import x509 as cx509

    from tests.support import parse_corpus as pc
    from tests.support.verify_pki import Minted, mint

    root = mint("Parses Root")
    nc = pc.with_extensions(root, root.key, pc.ext("2.5.29.30", pc.NC, True))
    path = tmp_path / "ca.pem"
    path.write_bytes(root.pem + Minted(cx509.load_der_x509_certificate(nc), root.key).pem)
    before = path.read_bytes()
    runner = CliRunner()
    r = runner.invoke(cli, ["inspect", str(path), "--json"])
    assert r.exit_code == 0, r.stderr
    statuses = [c["status"] for c in json.loads(r.stdout)["reports"][0]["certificates"]]
    assert statuses == ["ok", "unparseable by mbedTLS 2.28 and 3.6"]
    r = runner.invoke(cli, ["inspect", str(path), "--fail-on", "unparseable"])
    assert r.exit_code == 1 and "#2" in r.stderr and "cannot parse it" in r.stderr, r.stderr
    assert "unparseable by mbedTLS" in r.stdout
    r = runner.invoke(cli, ["inspect", str(path), "--fail-on", "parse"])
    assert r.exit_code == 2 and "unparseable" in r.stderr
    assert path.read_bytes() == before


def test_json_of_a_failed_gate_says_not_ok_with_its_violations(tmp_path: Path) -> None:
    from tests.support.verify_pki import mint

    path = tmp_path / "ca.pem"
    path.write_bytes(mint("Soon Root").pem)
    r = CliRunner().invoke(cli, ["inspect", str(path), "--json", "--fail-within", "99999"])
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 1 and "failed the gate" in doc["error"]
    assert len(doc["violations"]) == 1 and "within 99999 days" in doc["violations"][0]
    assert doc["reports"][0]["certificates"][0]["label"] == "Soon Root"
    r = CliRunner().invoke(cli, ["inspect", str(path), "--json", "--fail-within", "1"])
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and doc["ok"] is True and isinstance(doc["reports"], list)


def test_the_gate_counts_what_failed_and_what_cannot_be_judged(runner: CliRunner) -> None:
    """An ESP-IDF bundle's undated roots are one violation, said as N roots that cannot
    be judged, not '1 certificate failed' (tester's report, item 5); expired
    certificates beside it are counted as certificates."""
    bundle = str(Path(__file__).parent / "data" / "idf-bundle" / "small.v1.bin")
    r = runner.invoke(cli, ["inspect", bundle, "--fail-within", "365"])
    assert r.exit_code == 1
    first = r.stderr.splitlines()[0]
    assert first == "Error: 5 roots with no dates: expiry cannot be judged", r.stderr
    args = ["inspect", str(LE / "dst-root-ca-x3.pem"), bundle, "--fail-on", "expired"]
    r = runner.invoke(cli, [*args, "--at", "2026-01-01"])
    assert r.exit_code == 1
    assert r.stderr.splitlines()[0] == (
        "Error: 1 certificate failed the gate; 5 roots with no dates: expiry cannot be judged"
    )


def test_dash_is_standard_input(runner: CliRunner, in_tmp: Path) -> None:
    """'... | esp-cabundle inspect -' reads the pipe (it said "no such image or CA file",
    then "read standard input as /dev/stdin"); what it holds is judged as a file's."""
    r = runner.invoke(cli, ["inspect", "-"], input="x")
    assert r.exit_code == 2
    assert r.stderr == (
        "Error: -: 1 bytes, every one 0x78: blank or erased flash, with no partition "
        "table, file system or certificate\n"
    )


def test_a_library_report_is_the_json_inspect_prints(runner: CliRunner) -> None:
    """``Report.to_dict`` is one of ``inspect --json``'s reports: a script using the
    library and one reading the CLI's JSON see the same fields and statuses."""
    from datetime import datetime, timezone

    import esp_cabundle as ecb

    path = str(LE / "dst-root-ca-x3.pem")
    r = runner.invoke(cli, ["inspect", path, "--json", "--at", "2026-01-01"])
    (printed,) = json.loads(r.stdout)["reports"]
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert ecb.inspect_path(path).to_dict(at) == printed
    assert printed["certificates"][0]["status"] == "EXPIRED"


def test_own_json_manifest_is_named_not_only_certificate_less(
    runner: CliRunner, in_tmp: Path
) -> None:
    """``build -f json`` writes a manifest of the roots, no certificates: inspect and
    check --bundle said only "no certificate found" of it, as of a broken bundle."""
    built = runner.invoke(cli, ["build", "--root", "isrg-root-x1", "-f", "json", "-o", "m.json"])
    assert built.exit_code == 0, built.output
    for args in (["inspect", "m.json"], ["check", "--bundle", "m.json", "--chain", "c.pem"]):
        r = runner.invoke(cli, args)
        assert r.exit_code == 2, r.output
        assert (
            "m.json: esp-cabundle's JSON manifest (build -f json): it lists 1 root but holds "
            "no certificates" in r.stderr
        )
        assert "esp-cabundle build -f pem -o ca.pem" in r.stderr and "roots" in r.stderr


def test_json_that_is_no_manifest_is_still_certificate_less(
    runner: CliRunner, in_tmp: Path
) -> None:
    Path("e.json").write_text('{"roots": [1], "der_bytes": 0}\n')
    r = runner.invoke(cli, ["inspect", "e.json"])
    assert r.exit_code == 2 and "e.json: no certificate found" in r.stderr


def test_own_lock_file_is_named_not_only_certificate_less(runner: CliRunner, in_tmp: Path) -> None:
    """``cabundle.lock`` pins roots by fingerprint and holds no certificates: inspect
    said only "no certificate found" of it, not what it is nor where the CA file is."""
    built = runner.invoke(cli, ["build", "--root", "isrg-root-x1", "-o", "ca.pem", "--lock"])
    assert built.exit_code == 0, built.output
    for args in (["inspect", "cabundle.lock"], ["check", "--bundle", "cabundle.lock"]):
        r = runner.invoke(cli, args)
        assert r.exit_code == 2, r.output
        assert (
            "cabundle.lock: esp-cabundle's lock file: it pins 1 root by "
            "SHA-256 fingerprint but holds no certificates" in r.stderr
        )
        assert "--locked -f pem -o ca.pem" in r.stderr and "esp-cabundle roots" in r.stderr
        assert "-c cabundle.yaml" not in r.stderr  # this lock's build had no config


def test_json_with_a_lock_version_but_no_pinned_roots_is_still_certificate_less(
    runner: CliRunner, in_tmp: Path
) -> None:
    Path("e.json").write_text('{"lock_version": 1, "roots": [1]}\n')
    r = runner.invoke(cli, ["inspect", "e.json"])
    assert r.exit_code == 2 and "e.json: no certificate found" in r.stderr
