"""``esp-cabundle check`` and ``chains``: exit codes, messages, then the effects through
the library (saved chains, JSON reports)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.chains import load_chain_file
from esp_cabundle.cli import cli
from tests.support.verify_pki import mint, tls_server

LE = Path(__file__).parent / "data" / "letsencrypt"


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr, with wrapped lines joined (reports wrap at 96)."""
    r = runner.invoke(cli, list(args))
    return r.exit_code, " ".join(r.stdout.split()), r.stderr


@pytest.fixture
def le_files(in_tmp: Path) -> Path:
    """DST/X1 bundles and the 2021/2024 chains (real certificates) in the working dir."""
    shutil.copy(LE / "dst-root-ca-x3.pem", in_tmp / "dst.pem")
    shutil.copy(LE / "isrgrootx1.pem", in_tmp / "x1.pem")
    (in_tmp / "long.pem").write_bytes(
        (LE / "lets-encrypt-r3.pem").read_bytes()
        + (LE / "isrg-root-x1-cross-signed.pem").read_bytes()
    )
    shutil.copy(LE / "2024-r11.pem", in_tmp / "short.pem")
    return in_tmp


def test_dst_bundle_long_chain_passes_short_fails(runner: CliRunner, le_files: Path) -> None:
    code, out, err = run(
        runner, "check", "--bundle", "dst.pem", "--chain", "long.pem", "--device",
        "mbedtls-noclock", "--at", "2024-03-01",
    )  # fmt: skip
    assert code == 0, err
    assert "PASS long.pem" in out and "1 pass, 0 fail" in out
    code, out, err = run(
        runner, "check", "--bundle", "dst.pem", "--chain", "long.pem", "--chain", "short.pem",
        "--device", "mbedtls-noclock", "--at", "2024-07-01",
    )  # fmt: skip
    assert code == 1
    assert "FAIL short.pem" in out and "'R11' is issued by 'ISRG Root X1'" in out
    assert "Error: 1 of 2 chains would fail" in err


def test_forecast_is_pointed_at_until(runner: CliRunner, le_files: Path) -> None:
    """The command list says "check ... (forecast)"; --forecast got "Did you mean
    '--host'?". It names --until, with or without a date after it."""
    for extra in ([], ["2035-01-01"]):
        r = runner.invoke(
            cli, ["check", "--bundle", str(le_files / "dst.pem"), "--forecast", *extra]
        )
        assert r.exit_code == 2, r.output
        assert "--until DATE" in r.output and "--host" not in r.output, r.output
    assert "--forecast" not in runner.invoke(cli, ["check", "--help"]).output


def test_a_chain_given_twice_is_judged_once(runner: CliRunner, le_files: Path) -> None:
    (le_files / "same.pem").symlink_to("short.pem")
    base = ["check", "--bundle", "dst.pem", "--device", "mbedtls-noclock", "--at", "2024-07-01"]
    code, out, err = run(runner, *base, "--chain", "long.pem", "--chain", "long.pem",
                         "--chain", "./long.pem")  # fmt: skip
    assert code == 0 and "1 pass, 0 fail" in out, out
    assert out.count("PASS long.pem") == 1
    assert out.count("Note: --chain long.pem is given twice: judged once.") == 2
    code, out, err = run(runner, *base, "--chain", "short.pem", "--chain", "same.pem", "--json")
    doc = json.loads(out)
    # The failure is said by the document alone (tests/test_json_errors.py).
    assert code == 1 and len(doc["results"]) == 1 and "would fail" not in err
    assert doc["notes"] == ["--chain same.pem is the same file as --chain short.pem: judged once"]
    code, out, _ = run(runner, "check", "--bundle", "x1.pem", "--at", "2024-07-01",
                       "--roadmap", "letsencrypt", "--roadmap", "letsencrypt")  # fmt: skip
    _, once, _ = run(runner, "check", "--bundle", "x1.pem", "--at", "2024-07-01",
                     "--roadmap", "letsencrypt")  # fmt: skip
    assert "--roadmap letsencrypt is given twice: judged once" in out
    assert out.count("PASS") == once.count("PASS") and out.count("FAIL") == once.count("FAIL")


def test_clock_device_fails_after_the_dst_expiry(runner: CliRunner, le_files: Path) -> None:
    code, out, _ = run(
        runner, "check", "--bundle", "dst.pem", "--chain", "long.pem", "--device",
        "mbedtls-clock", "--at", "2021-06-01", "--until", "2023-01-01", "--json",
    )  # fmt: skip
    assert code == 1
    doc = json.loads(out)
    assert (doc["ok"], doc["exit_code"]) == (False, code)  # as flash --json says it
    (result,) = doc["results"]
    assert result["verdict"]["ok"] is True and result["ok"] is False
    code, out, _ = run(
        runner, "check", "--bundle", "dst.pem", "--chain", "long.pem", "--device",
        "mbedtls-clock", "--at", "2021-06-01", "--json",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["exit_code"] == 0, out
    change = result["changes"][0]
    assert change["date"] == "2021-09-30" and change["events"] == ["DST Root CA X3 expires"]
    assert change["verdict"]["flag_names"] == ["EXPIRED"]
    assert change["verdict"]["error"] == "-0x2700"


def test_idf_board_fails_the_long_chain(runner: CliRunner, le_files: Path) -> None:
    code, out, _ = run(
        runner, "check", "--bundle", "x1.pem", "--chain", "long.pem", "--board",
        "esp-idf-bundle", "--at", "2023-01-01",
    )  # fmt: skip
    assert code == 1
    assert "-0x3000" in out and "'DST Root CA X3' is not in the bundle" in out
    code, out, _ = run(
        runner, "check", "--bundle", "x1.pem", "--chain", "long.pem", "--board",
        "esp-idf-bundle-cross-signed", "--at", "2023-01-01",
    )  # fmt: skip
    assert code == 0, out


def test_roadmap_shows_an_x1_only_bundle_breaking(runner: CliRunner, le_files: Path) -> None:
    code, out, _ = run(
        runner, "check", "--bundle", "x1.pem", "--roadmap", "letsencrypt", "--at",
        "2026-07-01", "--until", "2036-01-01", "--json",
    )  # fmt: skip
    assert code == 1
    results = {r["name"]: r for r in json.loads(out)["results"]}
    rsa = results["letsencrypt: rsa-default"]
    assert rsa["verdict"]["ok"] and rsa["what_if"].startswith("RSA certificates with the chain")
    assert rsa["sends"][-1] == {
        "chain": "gen-y-rsa", "from": "2026-05-28", "until": None,
        "description": rsa["sends"][-1]["description"],
        "certificates": ["YR1", "Root YR"],
    }  # fmt: skip
    assert rsa["changes"][0]["date"] == "2032-09-02" and not rsa["changes"][0]["chain_change"]
    assert rsa["changes"][0]["events"] == ["Root YR cross-signed by ISRG Root X1 expires"]
    assert not results["letsencrypt: rsa-ending-at-root-yr"]["verdict"]["ok"]
    # The letsencrypt preset (X1, X2, YR, YE) passes every announced chain, with any clock.
    (le_files / "cabundle.yaml").write_text("preset: letsencrypt\n")
    for device in ("mbedtls-noclock", "mbedtls-clock", "idf-bundle"):
        code, out, err = run(
            runner, "check", "--roadmap", "letsencrypt", "--device", device, "--at",
            "2026-07-01",
        )  # fmt: skip
        assert code == 0, device + out + err
    code, out, err = run(
        runner, "check", "--roadmap", "letsencrypt", "--device", "mbedtls-noclock", "--at",
        "2026-07-01", "--until", "2040-01-01",
    )  # fmt: skip
    assert code == 0, out + err
    assert "no date can break it" in out


def test_default_bundle_is_ca_pem_in_the_working_dir(runner: CliRunner, le_files: Path) -> None:
    shutil.copy(le_files / "dst.pem", le_files / "ca.pem")
    code, out, _ = run(runner, "check", "--chain", "short.pem", "--device", "mbedtls-noclock")
    assert code == 1 and "ca.pem (1 root)" in out
    (le_files / "ca.pem").unlink()
    code, out, _ = run(runner, "check", "--chain", "short.pem", "--device", "mbedtls-noclock")
    assert code == 0 and "default preset" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--chain", "short.pem", "--device", "mbedtls-nocloc"], "did you mean 'mbedtls-noclock'"),
        (["--chain", "short.pem", "--device", "x", "--board", "mdash"], "not both"),
        ([], "nothing to check"),
        (["--chain", "missing.pem"], "no such chain file"),
        (["--chain", "short.pem", "--at", "2030-01-01", "--until", "2029-01-01"], "before"),
        (["--chain", "short.pem", "--bundle", "nope.pem"], "no such bundle file"),
        (["--roadmap", "zerossl"], "unknown roadmap"),
        (["--chain", "short.pem", "--board", "no-such-board"], "unknown board"),
        (["--chain", "short.pem", "--until", "someday"], "bad --until date"),
    ],
)
def test_bad_input_exits_2(
    runner: CliRunner, le_files: Path, args: list[str], message: str
) -> None:
    code, out, err = run(runner, "check", *args)
    assert code == 2, out + err
    assert message in err
    assert "Traceback" not in err


def test_live_host(runner: CliRunner, in_tmp: Path) -> None:
    root = mint("Live Root")
    inter = mint("Live CA", root)
    leaf = mint("localhost", inter, ca=False)
    (in_tmp / "good.pem").write_bytes(root.pem)
    (in_tmp / "bad.pem").write_bytes(mint("Other Root").pem)
    with tls_server([leaf, inter]) as port:
        code, out, err = run(runner, "check", "--bundle", "good.pem", "--host",
                             f"127.0.0.1:{port}", "--hostname", "localhost")  # fmt: skip
        assert code == 0, out + err
        assert f"PASS 127.0.0.1:{port}" in out and "name localhost checked" in out
        code, out, err = run(runner, "check", "--bundle", "good.pem", "--host",
                             f"127.0.0.1:{port}", "--host", f"127.0.0.1:{port}", "--hostname",
                             "localhost")  # fmt: skip
        assert code == 0 and "1 pass, 0 fail" in out, out + err
        assert f"--host 127.0.0.1:{port} is given twice: judged once" in out
        # Without --hostname the device checks the host it dials: the leaf is for localhost.
        code, out, _ = run(runner, "check", "--bundle", "good.pem", "--host", f"127.0.0.1:{port}")
        assert code == 1 and "CN_MISMATCH" in out and "name 127.0.0.1 does not match" in out
        code, out, _ = run(runner, "check", "--bundle", "bad.pem", "--host", f"127.0.0.1:{port}",
                           "--hostname", "localhost")  # fmt: skip
        assert code == 1 and "'Live CA' is issued by 'Live Root', which is not in the bundle" in out
    code, _, err = run(runner, "check", "--bundle", "good.pem", "--host", f"127.0.0.1:{port}",
                       "--timeout", "2")  # fmt: skip
    assert code == 3 and "connection refused" in err


# ---------------------------------------------------------------------------------------
# chains pull / show, and check against configured targets


def _config(path: Path, port: int, *, extra: str = "") -> None:
    path.write_text(
        "preset: letsencrypt\n"
        "device: mbedtls-clock\n"
        "targets:\n"
        "  - name: local\n"
        "    host: 127.0.0.1\n"
        "    hostname: localhost  # the name the units check (the leaf is for localhost)\n"
        f"    port: {port}\n" + extra
    )


def test_pull_then_check_offline(runner: CliRunner, in_tmp: Path) -> None:
    root = mint("Pull Root")
    inter = mint("Pull CA", root)
    leaf = mint("localhost", inter, ca=False)
    (in_tmp / "ca.pem").write_bytes(root.pem)
    with tls_server([leaf, inter]) as port:
        _config(in_tmp / "cabundle.yaml", port)
        code, out, err = run(runner, "chains", "pull")
        assert code == 0, err
    saved = in_tmp / "chains" / "local.pem"
    assert "local: localhost <- Pull CA -> chains/local.pem" in out  # as typed from here
    chain = load_chain_file(saved)
    assert [c.der for c in chain.certificates] == [leaf.der, inter.der]
    assert chain.captured_at is not None and "# captured: " in saved.read_text()
    assert "# #1: localhost <- Pull CA" in saved.read_text()  # numbered as chains show does
    # The server is gone: the saved chain is used.
    code, out, err = run(runner, "check")
    assert code == 0, out + err
    assert "PASS local" in out
    (in_tmp / "ca.pem").write_bytes(mint("Unrelated").pem)
    r = runner.invoke(cli, ["check", "--json"])
    code, out = r.exit_code, r.stdout
    assert code == 1 and json.loads(out)["results"][0]["verdict"]["flag_names"] == ["NOT_TRUSTED"]


def test_pull_errors(runner: CliRunner, in_tmp: Path) -> None:
    code, _, err = run(runner, "chains", "pull")
    assert code == 2 and "no cabundle.yaml" in err
    _config(in_tmp / "cabundle.yaml", 443)
    code, _, err = run(runner, "chains", "pull", "--target", "nosuch")
    assert code == 2 and "unknown target 'nosuch'" in err and "targets: local" in err


def test_chains_show(runner: CliRunner, in_tmp: Path) -> None:
    root = mint("Show Root")
    leaf = mint("localhost", root, ca=False)
    with tls_server([leaf, root]) as port:
        code, out, err = run(runner, "chains", "show", "--host", f"127.0.0.1:{port}", "-o",
                             "saved.pem")  # fmt: skip
    assert code == 0, err
    assert "Show Root" in out and "Saved saved.pem" in out
    code, out, _ = run(runner, "chains", "show", "saved.pem", "--json")
    doc = json.loads(out)
    assert [c["subject"] for c in doc["certificates"]] == ["CN=localhost", "CN=Show Root"]
    code, _, err = run(runner, "chains", "show")
    assert code == 2 and "one of them" in err


def test_chains_show_numbers_and_judges_as_inspect_does(runner: CliRunner, in_tmp: Path) -> None:
    """#1 is the server's own certificate, as inspect numbers a file; each row says its
    days left and status (EXPIRED, not yet valid) today or at --at."""
    root = mint("Judged Root")
    inter = mint("Judged CA", root, not_before=datetime(2020, 1, 1, tzinfo=timezone.utc))
    leaf = mint("old.example", inter, ca=False,
                not_before=datetime(2020, 1, 1, tzinfo=timezone.utc),
                not_after=datetime(2021, 1, 1, tzinfo=timezone.utc))  # fmt: skip
    (in_tmp / "chain.pem").write_bytes(leaf.pem + inter.pem)
    r = runner.invoke(cli, ["chains", "show", "chain.pem"])
    assert r.exit_code == 0, r.output
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith("#")]
    assert rows[0][:3] == ["#", "subject", "issuer"] and rows[0][-1] == "status"
    assert [row[0] for row in rows[1:]] == ["#1", "#2"]
    assert rows[1][1] == "old.example" and rows[1][-1] == "EXPIRED"
    assert rows[2][-2:] == ["ok,", "intermediate"]
    inspected = runner.invoke(cli, ["inspect", "chain.pem"]).stdout
    assert "#1  old.example" in inspected and "EXPIRED" in inspected  # the same words
    r = runner.invoke(cli, ["chains", "show", "chain.pem", "--at", "2020-06-01"])
    first = next(line for line in r.stdout.splitlines() if line.startswith("#1 "))
    assert " 2021-01-01  214 " in first and first.endswith("ok, leaf"), r.stdout
    assert r.stdout.count("ok, leaf") == 1 and "ok, intermediate" in r.stdout
    r = runner.invoke(cli, ["chains", "show", "chain.pem", "--at", "2019-06-01", "--json"])
    doc = json.loads(r.stdout)
    assert doc["at"].startswith("2019-06-01")
    assert [(c["position"], c["location"], c["status"]) for c in doc["certificates"]] == [
        (0, "#1", "not yet valid"),
        (1, "#2", "not yet valid"),
    ]
    assert doc["certificates"][0]["days_left"] == 580


def test_build_refuses_a_bundle_that_breaks_a_target(runner: CliRunner, in_tmp: Path) -> None:
    """build runs the targets' checks before writing anything."""
    (in_tmp / "chains").mkdir()
    shutil.copy(LE / "2024-r11.pem", in_tmp / "chains" / "mdash.pem")
    other = mint("Private CA", path_length=0)
    (in_tmp / "chains" / "private.pem").write_bytes(other.pem)
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\n"
        "device: mbedtls-noclock\n"
        "targets:\n"
        "  - name: mdash\n"
        "    host: mdash.net\n"
        "  - name: private\n"
        "    chain: chains/private.pem\n"
    )
    code, _, err = run(runner, "build")
    assert code == 1
    assert "the CA would break 1 target; nothing written" in err
    assert "private: " in err and "'Private CA' is issued by 'Private CA'" in err
    assert not (in_tmp / "ca.pem").exists() and not (in_tmp / "cabundle.lock").exists()
    code, _, err = run(runner, "build", "--no-check")
    assert code == 0, err
    assert (in_tmp / "ca.pem").exists()
    # Drop the failing target: the check passes and build writes.
    (in_tmp / "ca.pem").unlink()
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\ndevice: mbedtls-noclock\ntargets:\n  - mdash.net\n"
    )
    (in_tmp / "chains" / "mdash.pem").rename(in_tmp / "chains" / "mdash.net.pem")
    code, _, err = run(runner, "build")
    assert code == 0, err
    assert (in_tmp / "ca.pem").exists()


def test_idf_bundle_file_as_trust_set(runner: CliRunner, le_files: Path) -> None:
    shutil.copy(Path(__file__).parent / "data" / "verify" / "small.v2.bin", "bundle.bin")
    code, out, _ = run(runner, "check", "--bundle", "bundle.bin", "--chain", "long.pem",
                       "--device", "idf-bundle-clock", "--at", "2023-01-01")  # fmt: skip
    assert code == 0 and "ESP-IDF bundle v2" in out and "(5 roots)" in out
    code, out, _ = run(runner, "check", "--bundle", "bundle.bin", "--chain", "short.pem",
                       "--device", "mbedtls-noclock")  # fmt: skip
    assert code == 0 and "Note: the trust set is an ESP-IDF bundle" in out


EXAMPLE_CHAINS = Path(__file__).resolve().parent.parent / "examples" / "chains"


@pytest.mark.parametrize("device", [["--device", "mbedtls-clock"], ["--device", "mbedtls3-clock"]])
def test_an_idf_bundle_under_clock_rules_is_not_judged_a_pass(
    runner: CliRunner, in_tmp: Path, device: list[str]
) -> None:
    """The bundle holds no dates, so ISRG Root X1's expiry (2035-06-04) is unknown to a
    device that checks dates: no PASS over a horizon past it, but exit 1 saying expiry
    cannot be judged, as inspect --fail-within says (tester's report, item 3); no report
    is written."""
    code, _, err = run(runner, "build", "--preset", "default", "-f", "idf-bundle", "-o",
                       "b.bin", "--no-lock")  # fmt: skip
    assert code == 0, err
    chain = str(EXAMPLE_CHAINS / "letsencrypt-2024-short.pem")
    args = ["check", "--bundle", "b.bin", *device, "--chain", chain, "--until", "2040-01-01"]
    code, out, err = run(runner, *args, "--report", "r.html")
    assert code == 1, out + err
    assert "PASS" not in out and "expiry cannot be judged" in err
    assert "hint: check the ca.pem it was built from" in err
    assert sorted(p.name for p in in_tmp.iterdir()) == ["b.bin"]
    code, out, _ = run(runner, *args, "--json")
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False and "expiry cannot be judged" in doc["error"]
    code, _, _ = run(runner, "inspect", "b.bin", "--fail-within", "365")
    assert code == 1  # the same verdict as the gate's
    # Under an ESP-IDF device's own rules a bundle root is never dated: judged (a chain
    # dated as saved while R11 was sent, so that R11 counts as renewed by the server).
    dated = in_tmp / "dated.pem"
    dated.write_bytes(b"# captured: 2026-01-01\n" + Path(chain).read_bytes())
    idf = ["--device", "idf-bundle-clock", "--chain", str(dated), "--until", "2040-01-01"]
    code, out, err = run(runner, "check", "--bundle", "b.bin", *idf)
    assert code == 0 and "1 pass" in out, out + err


def test_an_idf_bundle_with_no_device_named_is_judged_as_the_bundle_code_reads_it(
    runner: CliRunner, in_tmp: Path
) -> None:
    """Only ESP-IDF's bundle code reads a bundle, so with no --device (nor board, nor a
    config's device:) check judges it as idf-bundle-clock, and says so; it used to take
    the CA-list default (mbedtls-clock) and end "expiry cannot be judged"."""
    code, _, err = run(runner, "build", "--preset", "default", "-f", "idf-bundle", "-o",
                       "b.bin", "--no-lock")  # fmt: skip
    assert code == 0, err
    chain = str(EXAMPLE_CHAINS / "letsencrypt-2024-short.pem")
    code, out, err = run(runner, "check", "--bundle", "b.bin", "--chain", chain)
    assert code == 0 and "1 pass" in out, out + err
    assert "judged as idf-bundle-clock (no --device given" in out
    code, out, _ = run(runner, "check", "--bundle", "b.bin", "--chain", chain, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True
    assert doc["results"][0]["verdict"]["device"] == "idf-bundle-clock", doc["results"][0]
    # A config's device: is a device named: the bundle is judged as that device.
    (in_tmp / "cabundle.yaml").write_text("preset: default\ndevice: mbedtls-clock\n")
    code, _, err = run(runner, "check", "--bundle", "b.bin", "--chain", chain)
    assert code == 1 and "expiry cannot be judged" in err


# --- the CA file as the unit's mbedTLS reads it (verify/pem_read) ---------------------


def test_glued_blocks_are_all_trusted(runner: CliRunner, le_files: Path) -> None:
    """DST's END and X1's BEGIN on one line: mbedTLS loads both, and so does check (it
    used to judge with DST alone and fail the R11 chain)."""
    glued = (le_files / "dst.pem").read_bytes().rstrip(b"\n") + (le_files / "x1.pem").read_bytes()
    (le_files / "glued.pem").write_bytes(glued)
    code, out, err = run(
        runner, "check", "--bundle", "glued.pem", "--chain", "short.pem", "--device",
        "mbedtls-noclock", "--at", "2024-07-01",
    )  # fmt: skip
    assert code == 0, out + err
    assert "(2 roots)" in out and "Note:" not in out


def test_a_block_mbedtls_never_reaches_is_not_trusted(runner: CliRunner, le_files: Path) -> None:
    """Two spaces after X1's BEGIN: mbedTLS stops there, so the unit holds DST only; the
    tool's own reader takes X1, but the verdict is the unit's, with a note saying why."""
    x1 = (le_files / "x1.pem").read_bytes()
    x1 = x1.replace(b"-----BEGIN CERTIFICATE-----\n", b"-----BEGIN CERTIFICATE-----  \n")
    (le_files / "stop.pem").write_bytes((le_files / "dst.pem").read_bytes() + x1)
    code, out, _ = run(
        runner, "check", "--bundle", "stop.pem", "--chain", "short.pem", "--device",
        "mbedtls-noclock", "--at", "2024-07-01",
    )  # fmt: skip
    assert code == 1
    assert "(1 root)" in out and "FAIL short.pem" in out
    assert "mbedTLS stops reading the file at this BEGIN" in out
    assert "not loaded by the unit's mbedTLS, though the file holds them: ISRG Root X1" in out


def test_a_block_mbedtls_cannot_decode_fails_a_fatal_parse(
    runner: CliRunner, le_files: Path
) -> None:
    """DST's base64 lines indented: mbedTLS skips that block (-0x112C) and keeps X1. A
    firmware that takes any parse failure as fatal (mDash 1.2.13) loads nothing."""
    dst = (le_files / "dst.pem").read_bytes().split(b"\n")
    dst = [ln if ln.startswith(b"-----") or not ln else b"  " + ln for ln in dst]
    (le_files / "indent.pem").write_bytes(b"\n".join(dst) + (le_files / "x1.pem").read_bytes())
    args = ["check", "--bundle", "indent.pem", "--chain", "short.pem", "--at", "2024-07-01"]
    code, out, _ = run(runner, *args, "--device", "mbedtls-noclock")
    assert code == 0, out
    assert "cannot decode this certificate block (-0x112C" in out
    code, out, _ = run(runner, *args, "--device", "mbedtls-noclock+fatal-ca-parse")
    assert code == 1 and "FAIL short.pem" in out


def test_until_the_day_checked_names_the_times(runner: CliRunner, le_files: Path) -> None:
    """``--until`` today, run in the afternoon, said "--until 2026-12-02 is before
    2026-12-02": a date is its midnight, the date checked is now."""
    args = ["--chain", "short.pem", "--at", "2026-12-02T15:30:00", "--until", "2026-12-02"]
    code, out, err = run(runner, "check", *args)
    assert code == 2, out + err
    said = "--until 2026-12-02 00:00:00 UTC is before the date checked, 2026-12-02 15:30:00 UTC"
    assert said in err, err
    code, out, err = run(runner, "check", "--chain", "short.pem", "--at", "2030-01-01",
                         "--until", "2029-01-01")  # fmt: skip
    assert code == 2 and "--until 2029-01-01 is before the date checked, 2030-01-01" in err


def test_report_says_it_was_written(runner: CliRunner, le_files: Path) -> None:
    """``--report`` wrote the page without a word, where build and pack say "Wrote FILE
    (N bytes)": it says so too (its size the file's), not under -q, and --json gives the
    path in the document instead (tryout, item 4)."""
    args = ["check", "--bundle", "x1.pem", "--chain", "short.pem", "--at", "2024-07-01"]
    code, out, err = run(runner, *args, "--report", "r.html")
    assert code == 0, err
    size = (le_files / "r.html").stat().st_size
    assert f"Wrote r.html ({size:,} bytes)" in out
    code, out, err = run(runner, *args, "--report", "q.html", "-q")
    assert code == 0 and "Wrote" not in out + err and (le_files / "q.html").is_file()
    code, out, err = run(runner, *args, "--report", "j.html", "--json")
    assert code == 0 and json.loads(out)["report"] == "j.html" and "Wrote" not in err


def test_a_report_already_holding_the_page_is_said_unchanged(
    runner: CliRunner, le_files: Path
) -> None:
    """A second ``--report`` run left the file untouched (same inode and mtime) but said
    "Wrote FILE" and its --json had no word of it: it says "unchanged" as build and pack
    do, and --json lists the page under ``written`` or ``unchanged`` as build does."""
    args = ["check", "--bundle", "x1.pem", "--chain", "short.pem", "--at", "2024-07-01"]
    code, out, err = run(runner, *args, "--report", "r.html", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["report"], doc["written"], doc["unchanged"]) == ("r.html", ["r.html"], [])
    page = le_files / "r.html"
    before = page.stat()
    code, out, err = run(runner, *args, "--report", "r.html")
    assert code == 0, err
    size = before.st_size
    said = f"unchanged: r.html ({size:,} bytes, already these bytes; not rewritten)"
    assert said in out and "Wrote" not in out, out
    code, out, err = run(runner, *args, "--report", "r.html", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["report"], doc["written"], doc["unchanged"]) == ("r.html", [], ["r.html"])
    after = page.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # Without --report, nothing in either list.
    doc = json.loads(run(runner, *args, "--json")[1])
    assert (doc["written"], doc["unchanged"]) == ([], []) and "report" not in doc


@pytest.mark.parametrize("fs", ["littlefs", "spiffs"])
def test_an_image_as_bundle_names_the_commands_that_check_its_ca_file(
    runner: CliRunner, le_files: Path, fs: str
) -> None:
    """An image holding ca.pem was refused as "binary data" with a hint to inspect it;
    the refusal now names the image and the two commands that check its CA file, and
    those commands work as given."""
    packed = runner.invoke(
        cli,
        [
            *("pack", "--fs", fs, "--profile", "esp-idf", "--size", "256K"),
            *("--bundle", "x1.pem", "--no-check", "-o", "fs.bin"),
        ],
    )
    assert packed.exit_code == 0, packed.output
    code, _, err = run(runner, "check", "--bundle", "fs.bin", "--chain", "short.pem")
    assert code == 2, err
    assert f"fs.bin: a {fs} image (1 file), not a CA file" in err
    said = " ".join(err.split())
    assert "esp-cabundle fs cat fs.bin /ca.pem -o ca.pem" in said
    assert "esp-cabundle check --bundle ca.pem" in said
    assert run(runner, "fs", "cat", "fs.bin", "/ca.pem", "-o", "ca.pem")[0] == 0
    code, out, err = run(runner, "check", "--bundle", "ca.pem", "--chain", "short.pem")
    assert code == 0, out + err


def test_a_board_given_as_device_is_sent_to_board(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``check --device mdash-arduino`` said only "unknown device profile" and listed the
    profiles: a board's name there (as push, build and init take it) is refused saying
    so, the hint the line typed with --board, which runs. A mistyped profile is as before."""
    monkeypatch.chdir(tmp_path)  # no config of the repository's is read
    chain = str(EXAMPLE_CHAINS / "letsencrypt-2024-short.pem")
    base = ["check", "--chain", chain, "--at", "2026-12-01", "--until", "2027-01-01"]
    r = CliRunner().invoke(cli, [*base, "--device", "mdash-arduino@1.2.13"])
    assert r.exit_code == 2 and "--device mdash-arduino@1.2.13: a board, not a" in r.stderr
    assert f"hint: e.g. esp-cabundle check --chain {chain}" in r.stderr, r.stderr
    assert "--board mdash-arduino@1.2.13" in r.stderr, r.stderr
    pasted = CliRunner().invoke(cli, [*base, "--board", "mdash-arduino@1.2.13"])
    assert pasted.exit_code in (0, 1) and "Error: --" not in pasted.stderr, pasted.output
    r = CliRunner().invoke(cli, [*base, "--device", "mbedtls-noclck"])
    assert r.exit_code == 2 and "unknown device profile 'mbedtls-noclck'" in r.stderr


def test_a_host_that_is_a_path_or_holds_a_space_is_refused_not_dialled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``check --host chains/mdash.net.pem`` dialled the host 'chains' (the path cut at
    its '/') and ``--host 'bad host'`` sent the name to DNS: "cannot resolve host", exit
    3. Refused before anything is dialled (exit 2); a path is sent to --chain."""
    monkeypatch.chdir(tmp_path)
    for host, said in (
        ("chains/mdash.net.pem", "--host chains/mdash.net.pem: a server is HOST[:PORT]"),
        ("bad host", "--host 'bad host': not a host name or IP address"),
    ):
        r = CliRunner().invoke(cli, ["check", "--host", host])
        assert r.exit_code == 2 and said in r.stderr, r.output
        assert "capturing" not in r.output and "resolve" not in r.output, r.output
    assert "given with --chain FILE" in CliRunner().invoke(cli, ["check", "--host", "a/b"]).stderr
