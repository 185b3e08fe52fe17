"""``check --board NAME@VERSION`` judges the CA that firmware really uses, and
``boards`` shows it. The 2024 mDash case: the same DST-only ca.pem fails on mDash 1.2.13
units from the day mdash.net's chain changed and passes on 1.2.16 units, which never
read it; they break in turn when the Gen Y cross-sign expires."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle.boards import list_boards, load_board
from esp_cabundle.check import board_trust
from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.firmware import load_ca_set, load_firmware
from esp_cabundle.verify import TrustSet

DATA = Path(__file__).parent / "data"
LE = DATA / "letsencrypt"
CHAINS = Path(__file__).resolve().parent.parent / "examples" / "chains"


@pytest.fixture
def fleet(in_tmp: Path) -> Path:
    """The DST-only ca.pem mDash owners had, and the 2021 long chain."""
    shutil.copy(LE / "dst-root-ca-x3.pem", in_tmp / "ca.pem")
    shutil.copy(CHAINS / "letsencrypt-2021-long.pem", in_tmp / "long.pem")
    shutil.copy(CHAINS / "letsencrypt-2024-short.pem", in_tmp / "short.pem")
    return in_tmp


def check(runner: CliRunner, *args: str) -> tuple[int, dict[str, Any], str]:
    r = runner.invoke(cli, ["check", *args, "--json"])
    return r.exit_code, json.loads(r.stdout) if r.stdout.strip() else {}, r.stderr


def only(doc: dict[str, Any]) -> dict[str, Any]:
    (result,) = doc["results"]
    return result


def test_the_same_ca_pem_fails_on_1_2_13_and_passes_on_1_2_16(
    runner: CliRunner, fleet: Path
) -> None:
    window = ("--bundle", "ca.pem", "--at", "2023-06-01", "--until", "2025-01-01")
    code, doc, _ = check(runner, "--board", "mdash-arduino@1.2.13", *window)
    assert code == 1
    old = only(doc)
    assert old["name"] == "mdash.net (letsencrypt: rsa-dst-preferred)"
    assert old["verdict"]["ok"] and old["verdict"]["device"] == "board mdash-arduino@1.2.13"
    change = next(c for c in old["changes"] if not c["ok"])
    assert (change["date"], change["chain_change"]) == ("2024-06-06", True)
    assert change["verdict"]["error"] == "-0x2700"
    assert change["verdict"]["flag_names"] == ["NOT_TRUSTED"]

    code, doc, _ = check(runner, "--board", "mdash@1.2.16", *window)
    assert code == 0
    assert "mDash 1.2.16 does not read /spiffs/ca.pem for mdash.net; it trusts its built-in " \
           "ISRG Root X1" in doc["notes"][0]  # fmt: skip
    assert doc["trust"]["roots"] == 1 and "ISRG Root X1" in doc["trust"]["source"]
    new = only(doc)
    assert new["ok"] and not new["changes"]
    assert new["verdict"]["path"][-1]["label"] == "ISRG Root X1"


def test_when_1_2_16_units_break_in_turn(runner: CliRunner, fleet: Path) -> None:
    code, doc, _ = check(
        runner, "--board", "mdash@1.2.16", "--at", "2024-07-01", "--until", "2036-01-01"
    )
    assert code == 1 and "trusts its built-in ISRG Root X1 for mdash.net" in doc["notes"][0]
    (change,) = only(doc)["changes"]
    # mDash 1.2.16 waits for SNTP: with the clock, the Gen Y cross-sign's expiry breaks it.
    assert change["date"] == "2032-09-02" and not change["chain_change"]
    assert change["events"] == ["Root YR cross-signed by ISRG Root X1 expires"]
    assert change["verdict"]["flag_names"] == ["EXPIRED"]


def test_real_mbedtls_agrees_on_both_units() -> None:
    """mbedTLS 2.28 with each unit's CA and the chain mdash.net sent from 2024-06-06."""
    oracle = pytest.importorskip(
        "tests.support.mbedtls_oracle", reason="python-mbedtls is not installed"
    )
    if not oracle.HAVE_MBEDTLS or not oracle.x509_available():  # pragma: no cover
        pytest.skip("python-mbedtls's libmbedx509 not found")
    from esp_cabundle.certs import load_certificate_file
    from esp_cabundle.verify import EXPIRED, NOT_TRUSTED

    r11 = load_certificate_file(LE / "2024-r11.pem")[0].der
    (dst,) = load_ca_set("mdash-dst-root-ca-x3").certificates
    (x1,) = load_ca_set("mdash-s_pem-isrg-root-x1").certificates
    ret, flags = oracle.x509_verify([dst.der], [r11])
    assert ret == -0x2700 and flags & NOT_TRUSTED
    ret, flags = oracle.x509_verify([x1.der], [r11])
    assert flags & ~EXPIRED == 0  # a path to the built-in ISRG Root X1 (R11 dates aside)


def test_without_bundle_a_version_judges_what_its_file_holds(
    runner: CliRunner, fleet: Path
) -> None:
    (fleet / "ca.pem").unlink()
    code, doc, _ = check(
        runner, "--board", "mdash-arduino@1.2.14", "--chain", "short.pem", "--at", "2024-07-01"
    )
    assert code == 1
    assert doc["trust"]["source"].startswith("DST Root CA X3")
    assert "until replaced it holds DST Root CA X3" in doc["notes"][0]
    # Unversioned, the board still judges ./ca.pem (else the config's roots), and says
    # which version it assumed.
    shutil.copy(LE / "isrgrootx1.pem", fleet / "ca.pem")
    code, doc, _ = check(runner, "--board", "mdash-arduino", "--chain", "short.pem")
    assert code == 0 and doc["trust"]["source"].endswith("ca.pem")
    assert "taken to run mDash 1.2.13 (its default)" in doc["notes"][0]


def test_a_new_s_pem_is_judged_as_the_ca_of_rebuilt_firmware(
    runner: CliRunner, fleet: Path
) -> None:
    shutil.copy(DATA / "mdash" / "mDash-1.2.16-s_pem.c", fleet / "s_pem.c")
    code, doc, _ = check(
        runner, "--board", "mdash", "--bundle", "s_pem.c", "--chain", "short.pem",
        "--at", "2026-01-01",
    )  # fmt: skip
    assert code == 0 and doc["trust"]["source"].endswith("s_pem.c")
    assert any("judged as the CA of rebuilt firmware" in n for n in doc["notes"])


def test_the_esp_idf_version_changes_the_answer_for_the_long_chain(
    runner: CliRunner, fleet: Path
) -> None:
    """ESP-IDF kept DST Root CA X3 in its default bundle up to 5.4 for exactly this chain."""
    args = ("--chain", "long.pem", "--at", "2024-03-01")
    code, doc, _ = check(runner, "--board", "esp-idf-bundle@5.4.2", *args)
    assert code == 0 and doc["trust"]["roots"] == 152
    code, doc, _ = check(runner, "--board", "esp-idf-bundle@5.5", *args)
    assert code == 1 and only(doc)["verdict"]["error"] == "-0x3000"
    code, doc, _ = check(runner, "--board", "esp-idf-bundle@5.5", "--chain", "short.pem")
    assert code == 0


def test_mongoose_os_before_2_17_broke_with_the_default_chain(
    runner: CliRunner, fleet: Path
) -> None:
    window = ("--roadmap", "letsencrypt", "--at", "2023-06-01", "--until", "2025-01-01")
    code, doc, _ = check(runner, "--board", "mongoose-os-esp32@2.16.0", *window)
    results = {r["name"]: r for r in doc["results"]}
    change = next(c for c in results["letsencrypt: rsa-default"]["changes"] if not c["ok"])
    assert code == 1 and change["date"] == "2024-02-08"
    code, doc, _ = check(runner, "--board", "mongoose-os-esp32@2.17.0", *window)
    results = {r["name"]: r for r in doc["results"]}
    assert results["letsencrypt: rsa-default"]["ok"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--board", "mdash@1.2.13"], "board mdash does not run mDash 1.2.13"),
        (["--board", "mdash@1.2.99"], "does not run mDash 1.2.99"),
        (["--board", "esp-idf-spiffs@5.4", "--chain", "long.pem"], "has no firmware versions"),
        (["--board", "mdash@", "--chain", "long.pem"], "no version after '@' in 'mdash@'"),
        (["--board", "mdash-arduino@1.2.13", "--bundle", "nope.pem"], "no such bundle file"),
    ],
)
def test_bad_board_versions_exit_2(
    runner: CliRunner, fleet: Path, args: list[str], message: str
) -> None:
    r = runner.invoke(cli, ["check", *args])
    assert r.exit_code == 2, r.output
    assert message in r.stderr


def test_boards_lists_versions_and_shows_what_each_connection_trusts(runner: CliRunner) -> None:
    r = runner.invoke(cli, ["boards"])
    assert r.exit_code == 0
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("mdash-arduino "))
    assert line.rstrip().endswith("mDash 1.2.12-1.2.14 (default 1.2.13)")
    r = runner.invoke(cli, ["boards", "show", "mdash@1.2.16"])
    out = " ".join(r.stdout.split())
    assert r.exit_code == 0 and out.startswith("mdash@1.2.16:")
    assert "connection mdash.net trusts: a built-in ISRG Root X1" in out
    assert "/spiffs/ca.pem is not read" in out and "8bd6647" in out
    r = runner.invoke(cli, ["boards", "mdash-arduino@1.2.13"])
    out = " ".join(r.stdout.split())
    assert "the file /spiffs/ca.pem; until replaced it holds DST Root CA X3" in out
    assert "never a fallback" in out and "sets the server name to check: no" in out
    r = runner.invoke(cli, ["boards", "show", "esp-idf-bundle@4.4.8", "--json"])
    doc = json.loads(r.stdout)
    assert doc["version"] == "4.4.8" and doc["firmware"]["release"] == "4.4.2"
    assert doc["output"]["options"]["idf_version"] == "4.4.8"
    (conn,) = doc["connections"]
    assert (conn["trusts"], conn["ca_set"]) == ("bundle", "esp-idf-v4.4.2-full")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show"], "boards show needs a board name"),
        (["show", "mdash", "mdash-arduino"], "one board at a time"),
        (["mdash@2.0"], "does not run mDash 2.0"),
    ],
)
def test_boards_bad_input_exits_2(runner: CliRunner, args: list[str], message: str) -> None:
    r = runner.invoke(cli, ["boards", *args])
    assert r.exit_code == 2 and message in r.stderr


@pytest.mark.parametrize(
    ("board", "sets_name"),
    [
        ("mdash-arduino@1.2.12", False),
        ("mdash-arduino@1.2.13", False),
        ("mdash-arduino@1.2.14", False),
        ("mdash-arduino", False),
        ("mdash@1.2.15", True),
        ("mdash@1.2.16", True),
    ],
)
def test_mdash_before_1_2_15_never_sets_a_hostname(
    runner: CliRunner, in_tmp: Path, board: str, sets_name: bool
) -> None:
    """mDash 1.2.12-1.2.14 connect without mbedtls_ssl_set_hostname (data/firmware/
    mdash.yaml, ``hostname: false``): a server certificate for another name still
    passes; 1.2.15/1.2.16 pass mdash.net's name, so the same leaf fails CN_MISMATCH."""
    from esp_cabundle.boards import load_board
    from esp_cabundle.verify.profiles import profile_spec
    from tests.support.verify_pki import NOW, mint

    device = load_board(board).device_profile()
    assert device.sets_hostname is sets_name
    assert ("+no-hostname" in profile_spec(device)) is not sets_name  # init's device: line
    root = mint("Fleet Root")
    (in_tmp / "ca.pem").write_bytes(root.pem)
    (in_tmp / "leaf.pem").write_bytes(mint("other", root, ca=False, san="other.example").pem)
    at = NOW.isoformat()
    args = ("--board", board, "--bundle", "ca.pem", "--chain", "leaf.pem", "--at", at)
    code, doc, _ = check(runner, *args, "--hostname", "mdash.net")
    verdict = only(doc)["verdict"]
    if sets_name:  # 1.2.15+ also trust only their built-in s_pem, not ca.pem
        assert code == 1 and verdict["name"] == "mismatch"
        assert "CN_MISMATCH" in verdict["flag_names"]
    else:
        assert code == 0 and verdict["name"] == "not-set"
        assert verdict["flag_names"] == []


def test_a_project_judges_the_boards_server_over_time_beside_its_saved_chain(
    runner: CliRunner, in_tmp: Path
) -> None:
    """README's "Start a project" with mdash-arduino@1.2.13 and the 2021 long chain
    saved as chains/mdash.net.pem: the snapshot passes, but mdash.net's roadmap (what it
    sent over time) fails from 2024-06-06 with -0x2700, and the worse verdict counts,
    whether --board is given or taken from the board: key init wrote (with its
    version); outside a project the same check fails the same way."""
    r = runner.invoke(
        cli, ["init", "--board", "mdash-arduino@1.2.13", "--target", "mdash.net",
              "--service-until", "2034-12-31", "--yes"],
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    text = (in_tmp / "cabundle.yaml").read_text()
    assert 'board: "mdash-arduino@1.2.13"' in text and "--board mdash-arduino@1.2.13" in text
    (in_tmp / "chains").mkdir()
    shutil.copy(CHAINS / "letsencrypt-2021-long.pem", in_tmp / "chains" / "mdash.net.pem")
    window = ("--at", "2023-06-01", "--until", "2025-01-01")
    for board in (("--board", "mdash-arduino@1.2.13"), ()):
        code, doc, _ = check(runner, *board, *window)
        assert code == 1, doc
        verdicts = {r["name"]: r["ok"] for r in doc["results"]}
        assert verdicts == {"mdash.net": True, "mdash.net (letsencrypt: rsa-dst-preferred)": False}
        roadmap = doc["results"][1]
        change = next(c for c in roadmap["changes"] if not c["ok"])
        assert change["date"] == "2024-06-06" and change["verdict"]["error"] == "-0x2700"
        assert any("saved chain is one snapshot" in n for n in doc["notes"])
        assert doc["results"][0]["verdict"]["device"] == "board mdash-arduino@1.2.13"
    # --chain asks about that chain alone, as before.
    code, doc, _ = check(runner, "--chain", "chains/mdash.net.pem", *window)
    assert code == 0 and len(doc["results"]) == 1
    (in_tmp / "cabundle.yaml").unlink()
    # Without a config, the board's server is judged as every write path judges it: its
    # roadmap and its saved chains/mdash.net.pem (esp_cabundle.own_servers).
    code, doc, _ = check(runner, "--board", "mdash-arduino@1.2.13", *window)
    assert code == 1 and [r["ok"] for r in doc["results"]] == [False, True]


def test_a_bad_board_key_in_the_config_names_its_line(runner: CliRunner, in_tmp: Path) -> None:
    (in_tmp / "cabundle.yaml").write_text("preset: default\nboard: mdash-arduino@9.9\n")
    r = runner.invoke(cli, ["check", "--roadmap", "letsencrypt"])
    assert r.exit_code == 2 and "cabundle.yaml" in r.stderr and ":2" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def _versioned_boards() -> list[str]:
    """Every shipped board at every firmware release it runs."""
    specs = []
    for board in list_boards():
        if board.firmware is None:
            continue
        for release in load_firmware(board.firmware.name).releases:
            spec = f"{board.name}@{release.version}"
            try:
                load_board(spec)
            except InputError:
                continue  # a release of that firmware this board does not run
            specs.append(spec)
    return specs


_COUNT = re.compile(r"\((\d+) (?:roots?|certificates?)\b")


@pytest.mark.parametrize("spec", _versioned_boards())
def test_every_boards_trust_set_says_its_count_once(spec: str) -> None:
    """A CA set's title may carry its count ("... (152 roots)"): said once, and true."""

    def no_fallback() -> TrustSet:
        raise AssertionError(f"{spec}: a versioned board judges its firmware's own CA")

    trust, _ = board_trust(load_board(spec), None, fallback=no_fallback)
    assert _COUNT.findall(trust.describe()) == [str(len(trust))], trust.describe()


def test_the_trust_set_line_and_report_say_the_count_once(runner: CliRunner, fleet: Path) -> None:
    args = ["check", "--board", "esp-idf-bundle@5.4", "--chain", "short.pem"]
    r = runner.invoke(cli, [*args, "--report", "r.html"])
    assert r.exit_code == 0, r.output
    (line,) = [s for s in r.stdout.splitlines() if s.startswith("Trust set:")]
    assert line == (
        "Trust set: ESP-IDF v5.4.x default certificate bundle (152 roots) (firmware CA set "
        "esp-idf-v5.4-full)"
    )
    html = (fleet / "r.html").read_text()
    assert (
        '<p class="summary">Trust set: ESP-IDF v5.4.x default certificate bundle (152 roots) '
        "(firmware CA set esp-idf-v5.4-full).</p>" in html
    )
    r = runner.invoke(cli, ["check", "--board", "mdash-arduino@1.2.13", "--chain", "short.pem"])
    assert "Trust set: DST Root CA X3 (firmware CA set mdash-dst-root-ca-x3) (1 root)\n" in (
        r.stdout
    )
