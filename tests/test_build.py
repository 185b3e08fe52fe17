"""``build``: selection, policies, outputs, determinism, lock file; CLI exit codes and effects
(the c output's forms and flags: test_build_c_output.py)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.fresh_python import run_command_without
from support.no_skips import ROOT_READS_ANYTHING
from support.pki import NOW, issue

from esp_cabundle.build import build_bundle
from esp_cabundle.bundle import BundleSpec, Policy
from esp_cabundle.catalog import ALIASES, PRESETS
from esp_cabundle.certs import load_certificate_file, load_certificates
from esp_cabundle.cli import cli
from esp_cabundle.config import OutputSpec
from esp_cabundle.errors import PolicyError
from esp_cabundle.formats.pem import MAX_LINE_BYTES
from esp_cabundle.lockfile import Lock

LE = Path(__file__).parent / "data" / "letsencrypt"


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(cli, list(args))
    return r.exit_code, r.stdout, r.stderr


# --- library --------------------------------------------------------------------------


def test_default_build_uses_default_preset() -> None:
    result = build_bundle(BundleSpec(), (OutputSpec("pem", Path("ca.pem")),))
    assert result.bundle.fingerprints == tuple(ALIASES[a] for a in PRESETS["default"].aliases)
    ((_, data),) = result.outputs
    assert load_certificates(data) == result.bundle.certificates


def test_duplicates_dropped_with_a_note_and_excludes_applied() -> None:
    spec = BundleSpec(
        presets=("letsencrypt",),
        roots=("isrg-root-x1", ALIASES["amazon-root-ca-1"]),
        excludes=("isrg-root-ye",),
    )
    result = build_bundle(spec, ())
    labels = [e.label for e in result.bundle.entries]
    assert labels == ["ISRG Root X1", "ISRG Root X2", "Root YR", "Amazon Root CA 1"]
    assert any("duplicate dropped: ISRG Root X1" in n for n in result.notes)


def test_expired_root_violates_policy_unless_allowed() -> None:
    spec = BundleSpec(roots=("dst-root-ca-x3",))
    with pytest.raises(PolicyError) as e:
        build_bundle(spec, ())
    assert any("DST Root CA X3 expired on 2021-09-30" in v for v in e.value.violations)
    allowed = BundleSpec(roots=("dst-root-ca-x3",), policy=Policy(allow=frozenset({"expired"})))
    result = build_bundle(allowed, ())
    assert [v.policy for v in result.violations] == ["expired"] and result.violations[0].allowed


def test_service_until_and_budget_policies() -> None:
    from esp_cabundle.dates import parse_when

    spec = BundleSpec(
        presets=("letsencrypt",), policy=Policy(service_until=parse_when("2036-01-01"))
    )
    with pytest.raises(PolicyError) as e:
        build_bundle(spec, ())
    assert e.value.violations == (
        "ISRG Root X1 expires 2035-06-04, before the devices' end of service 2036-01-01",
    )
    tight = BundleSpec(presets=("letsencrypt",), policy=Policy(max_bytes=1000))
    with pytest.raises(PolicyError, match="1 policy violated by the CA from") as e2:
        build_bundle(tight, ())
    assert "over the budget of 1,000 bytes" in e2.value.violations[0]


def test_the_budget_holds_each_output_as_the_device_holds_it() -> None:
    """A build of only x509_crt_bundle.bin was refused as "ca.pem is N bytes, over the
    budget" though no ca.pem is written and the bundle fits. Each output is measured as
    written (a c output as the string it compiles to, NUL included), and named."""
    spec = BundleSpec(presets=("letsencrypt",))
    outputs = {
        f: OutputSpec(f, Path(p))
        for f, p in (
            ("pem", "ca.pem"),
            ("idf-bundle", "x509_crt_bundle.bin"),
            ("c", "ca_pem.h"),
            ("json", "cabundle.json"),
        )
    }
    built = {o.format: d for o, d in build_bundle(spec, tuple(outputs.values())).outputs}
    pem, idf = len(built["pem"]), len(built["idf-bundle"])
    assert idf < pem

    def violations(budget: int, *formats: str) -> tuple[str, ...]:
        tight = BundleSpec(presets=("letsencrypt",), policy=Policy(max_bytes=budget))
        try:
            build_bundle(tight, tuple(outputs[f] for f in formats))
        except PolicyError as e:
            return e.violations
        return ()

    assert violations(pem - 1, "idf-bundle") == ()
    assert violations(idf - 1, "idf-bundle") == (
        f"x509_crt_bundle.bin (idf-bundle) is {idf:,} bytes, over the budget of {idf - 1:,} bytes",
    )
    assert violations(pem - 1, "pem", "idf-bundle") == (
        f"ca.pem is {pem:,} bytes, over the budget of {pem - 1:,} bytes",
    )
    assert violations(pem, "pem", "c") == (
        f"the PEM string in ca_pem.h is {pem + 1:,} bytes, over the budget of {pem:,} bytes",
    )
    assert violations(1, "json") == ()  # no device reads the manifest


def test_not_a_ca_and_unparseable_by_mbedtls(tmp_path: Path) -> None:
    leaf = issue("device.example", ca=False)
    (tmp_path / "leaf.pem").write_bytes(leaf.pem)
    with pytest.raises(PolicyError) as e:
        build_bundle(BundleSpec(roots=("leaf.pem",), base_dir=tmp_path), ())
    assert any("not a CA certificate" in v for v in e.value.violations)

    pytest.importorskip("mbedtls", reason="python-mbedtls (extra 'verify') not installed")
    ed = issue("Ed25519 Root", key_kind="ed25519")
    (tmp_path / "ed.pem").write_bytes(ed.pem)
    with pytest.raises(PolicyError) as e:
        build_bundle(BundleSpec(roots=("ed.pem",), base_dir=tmp_path), ())
    assert any("not parseable by mbedTLS 2.28" in v for v in e.value.violations)


def test_pem_output_lines_fit_mongoose_fgets(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    attrs = [
        x509.NameAttribute(oid, ch * 60)
        for oid, ch in (
            (NameOID.COMMON_NAME, "C"),
            (NameOID.ORGANIZATION_NAME, "O"),
            (NameOID.ORGANIZATIONAL_UNIT_NAME, "U"),
        )
    ]
    long_name = issue(x509.Name(attrs))
    (tmp_path / "long.pem").write_bytes(long_name.pem)
    spec = BundleSpec(presets=("longlife",), roots=("long.pem",), base_dir=tmp_path)
    ((_, data),) = build_bundle(spec, (OutputSpec("pem", Path("ca.pem")),)).outputs
    assert max(len(line) for line in data.splitlines()) <= MAX_LINE_BYTES
    assert len(load_certificates(data)) == len(PRESETS["longlife"].aliases) + 1


# --- CLI ------------------------------------------------------------------------------


def test_build_without_config_writes_ca_pem_and_lock(runner: CliRunner, in_tmp: Path) -> None:
    code, out, _ = run(runner, "build")
    assert code == 0, out
    assert "8 roots from preset 'default'" in out and "Wrote ca.pem" in out
    certs = load_certificate_file(in_tmp / "ca.pem")
    assert [c.sha256 for c in certs] == [ALIASES[a] for a in PRESETS["default"].aliases]
    lock = Lock.from_bytes((in_tmp / "cabundle.lock").read_bytes())
    assert lock.fingerprints == tuple(c.sha256 for c in certs)


def test_build_twice_gives_identical_bytes(runner: CliRunner, in_tmp: Path) -> None:
    args = ["build", "-f", "pem", "-f", "c", "-f", "der", "-f", "json", "--preset", "longlife"]
    assert run(runner, *args)[0] == 0
    first = {p.name: p.read_bytes() for p in in_tmp.iterdir()}
    for p in in_tmp.iterdir():
        p.unlink()
    assert run(runner, *args)[0] == 0
    second = {p.name: p.read_bytes() for p in in_tmp.iterdir()}
    assert first == second
    assert set(first) == {"ca.pem", "ca_pem.h", "ca.der", "cabundle.json", "cabundle.lock"}


def test_locked_fails_after_selection_changes(runner: CliRunner, in_tmp: Path) -> None:
    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\n")
    assert run(runner, "build")[0] == 0
    assert run(runner, "build", "--locked")[0] == 0
    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\nroots: [amazon-root-ca-1]\n")
    before = (in_tmp / "ca.pem").read_bytes()
    code, _, err = run(runner, "build", "--locked")
    assert code == 1
    assert "differ from" in err and "\n  + Amazon Root CA 1 (" in err
    assert (in_tmp / "ca.pem").read_bytes() == before
    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\nexclude: [isrg-root-x2]\n")
    code, _, err = run(runner, "build", "--locked")
    # The diff line as such, not a bulleted "- - ISRG Root X2"; the hint comes last.
    assert code == 1 and "\n  - ISRG Root X2 (" in err and "- -" not in err
    assert err.rstrip().splitlines()[-1].startswith("  hint: run 'esp-cabundle build'")


def test_a_committed_service_until_fails_build_once_it_passes(
    runner: CliRunner, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README (Gate CI on it): a service_until: date in a committed cabundle.yaml turns
    every build into exit 2 once the date passes, saying where to move it; nothing is
    written."""
    from support.doc_commands import freeze_clock

    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\nservice_until: 2030-01-01\n")
    freeze_clock(monkeypatch, "2029-12-31")
    assert run(runner, "build")[0] == 0
    before = {p.name: p.read_bytes() for p in in_tmp.iterdir()}
    freeze_clock(monkeypatch, "2030-01-01")
    for args in (("build",), ("build", "--locked")):
        code, _, err = run(runner, *args)
        assert code == 2, err
        assert "end of service 2030-01-01 is not after the date judged (2030-01-01)" in err
        assert "service_until: in cabundle.yaml" in err
        # the line CI must change: the committed file's, at the key
        assert err.startswith(f"Error: {in_tmp / 'cabundle.yaml'}:2: service_until: "), err
        assert {p.name: p.read_bytes() for p in in_tmp.iterdir()} == before
    # a flag's date names no line of the config
    code, _, err = run(runner, "build", "--service-until", "2020-01-01", "--dry-run")
    assert code == 2 and err.startswith("Error: the devices' end of service 2020-01-01"), err


def test_locked_without_lock_file_is_usage_error(runner: CliRunner, in_tmp: Path) -> None:
    code, _, err = run(runner, "build", "--locked")
    assert code == 2 and "needs a lock file" in err
    assert not (in_tmp / "ca.pem").exists()


def test_locked_names_a_projects_lock_as_typed(runner: CliRunner, in_tmp: Path) -> None:
    """With a cabundle.yaml found here the lock was named by its absolute path
    (/home/me/fw/cabundle.lock) where, without one, it was cabundle.lock."""
    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\n")
    code, _, err = run(runner, "build", "--locked")
    assert code == 2
    assert "Error: --locked needs a lock file, and cabundle.lock does not exist" in err
    assert run(runner, "build")[0] == 0
    (in_tmp / "cabundle.yaml").write_text("preset: default\n")
    code, _, err = run(runner, "build", "--locked")
    assert code == 1 and "Error: the resolved roots differ from cabundle.lock\n" in err


def test_private_key_input_is_refused_and_nothing_written(runner: CliRunner, in_tmp: Path) -> None:
    root = issue("Key Leaking Root")
    (in_tmp / "mixed.pem").write_bytes(root.pem + root.key_pem())
    code, _, err = run(runner, "build", "--root", "mixed.pem")
    assert code == 2
    assert "mixed.pem:" in err and "private key" in err
    assert list(in_tmp.iterdir()) == [in_tmp / "mixed.pem"]


def test_policy_violation_exits_1_and_writes_nothing(runner: CliRunner, in_tmp: Path) -> None:
    code, _, err = run(runner, "build", "--root", "dst-root-ca-x3")
    assert code == 1 and "expired on 2021-09-30" in err and "--allow expired" in err
    assert list(in_tmp.iterdir()) == []
    code, _, err = run(runner, "build", "--root", "dst-root-ca-x3", "--allow", "expired")
    assert code == 0 and "allowed: DST Root CA X3 expired" in err


def test_service_until_flag(runner: CliRunner, in_tmp: Path) -> None:
    code, _, err = run(runner, "build", "--preset", "letsencrypt", "--service-until", "2036-01-01")
    assert code == 1 and "ISRG Root X1 expires 2035-06-04" in err
    code, _, err = run(runner, "build", "--service-until", "next year")
    assert code == 2 and "bad --service-until" in err


def test_unknown_preset_root_and_format(runner: CliRunner, in_tmp: Path) -> None:
    code, _, err = run(runner, "build", "--preset", "nope")
    assert code == 2 and "unknown preset 'nope'" in err and "letsencrypt" in err
    code, _, err = run(runner, "build", "--root", "isrg-root-x9")
    assert code == 2 and "unknown root 'isrg-root-x9'" in err
    code, _, err = run(runner, "build", "-f", "png")
    assert code == 2 and "unknown format 'png'" in err
    code, _, err = run(runner, "build", "-f", "pem", "-f", "c", "-o", "x")
    assert code == 2 and "exactly one output format" in err
    code, _, err = run(runner, "build", "--root", "missing/root.pem")
    assert code == 2 and "no such root file" in err
    assert list(in_tmp.iterdir()) == []


def test_max_bytes_in_a_project_of_only_an_idf_bundle(runner: CliRunner, in_tmp: Path) -> None:
    """The tryout: the bundle is a few KB, but --max-bytes was held to the size of a
    ca.pem the project never writes. It is held to the bundle, and the error names it as
    the config does (not the absolute path the config makes of it)."""
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\noutputs:\n  - {format: idf-bundle, path: x509_crt_bundle.bin}\n"
    )
    code, out, err = run(runner, "build", "--dry-run", "--json")
    assert code == 0, out + err
    doc = json.loads(out)
    (bundle,) = (o["bytes"] for o in doc["outputs"])
    pem = doc["gate"]["bytes"]
    assert bundle < pem
    code, out, err = run(runner, "build", "--max-bytes", str(pem - 1), "--dry-run")
    assert code == 0, out + err
    code, out, err = run(runner, "build", "--max-bytes", str(bundle - 1))
    assert code == 1, out + err
    assert (
        f"x509_crt_bundle.bin (idf-bundle) is {bundle:,} bytes, over the budget of {bundle - 1:,} "
        "bytes" in err
    )
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]


def test_config_outputs_are_relative_to_the_config(runner: CliRunner, in_tmp: Path) -> None:
    proj = in_tmp / "proj"
    proj.mkdir()
    (proj / "cabundle.yaml").write_text(
        "preset: letsencrypt\n"
        "service_until: 2034-01-01\n"
        "outputs:\n"
        "  - format: pem\n"
        "    path: data/ca.pem\n"
        "  - {format: c, path: include/ca_pem.h, name: s_pem, style: array}\n"
    )
    code, out, _ = run(runner, "build", "-c", "proj/cabundle.yaml")
    assert code == 0, out
    assert (proj / "data" / "ca.pem").is_file() and (proj / "include" / "ca_pem.h").is_file()
    assert (proj / "cabundle.lock").is_file()


def test_a_config_without_outputs_writes_ca_pem_beside_it(runner: CliRunner, in_tmp: Path) -> None:
    """Its lock goes beside it and its paths are read from there: so does the default
    output (it used to be ./ca.pem, with fleet/cabundle.lock)."""
    fleet = in_tmp / "fleet"
    fleet.mkdir()
    (fleet / "cabundle.yaml").write_text("preset: letsencrypt\n")
    code, out, err = run(runner, "build", "-c", "fleet/cabundle.yaml")
    assert code == 0, out + err
    assert sorted(p.name for p in fleet.iterdir()) == ["ca.pem", "cabundle.lock", "cabundle.yaml"]
    assert sorted(p.name for p in in_tmp.iterdir()) == ["fleet"]
    assert "Wrote fleet/ca.pem (" in out
    # -o is a command-line path: from the working directory, as typed.
    code, out, err = run(runner, "build", "-c", "fleet/cabundle.yaml", "-o", "here.pem")
    assert code == 0, out + err
    assert (in_tmp / "here.pem").read_bytes() == (fleet / "ca.pem").read_bytes()


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("preset: letsencrypt\nrootz: [x]\n", 2, "unknown key 'rootz'"),
        ("preset: letsencrypt\nmax_bytes: lots\n", 2, "is not a number"),
        ("preset: nope\n", 1, "'nope' is not one of"),
        ("service_until: someday\n", 1, "expected a date"),
        ("outputs:\n  - format: pem\n    colour: red\n", 3, "unknown key 'colour'"),
        ("outputs:\n  - path: x.pem\n", 2, "needs a 'format'"),
        ("allow: [everything]\n", 1, "'everything' is not one of"),
        ("preset: [letsencrypt\n", 2, "not valid YAML"),
        ("preset: a\npreset: b\n", 2, "duplicate key"),
    ],
)
def test_config_errors_name_file_and_line(
    runner: CliRunner, in_tmp: Path, text: str, line: int, message: str
) -> None:
    (in_tmp / "cabundle.yaml").write_text(text)
    code, _, err = run(runner, "build")
    assert code == 2, err
    assert f"cabundle.yaml:{line}:" in err and message in err
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]


def test_json_report(runner: CliRunner, in_tmp: Path) -> None:
    code, out, _ = run(runner, "build", "--preset", "aws-iot", "--json", "--dry-run")
    assert code == 0
    doc = json.loads(out)
    assert [r["label"] for r in doc["roots"]][:1] == ["Amazon Root CA 1"]
    assert doc["written"] == [] and list(in_tmp.iterdir()) == []


def test_every_command_has_help_with_examples(runner: CliRunner) -> None:
    from esp_cabundle.cli import COMMANDS

    for name in COMMANDS:
        r = runner.invoke(cli, [name, "--help"])
        assert r.exit_code == 0, name
        assert "Examples:" in r.output and f"esp-cabundle {name}" in r.output, name


def test_unknown_command_suggests(runner: CliRunner) -> None:
    r = runner.invoke(cli, ["biuld"])
    assert r.exit_code == 2 and "did you mean 'build'? e.g. esp-cabundle build" in r.output


@pytest.mark.parametrize(
    "argv",
    [
        ["--debug", "build", "--root", "nope"],
        ["build", "--root", "nope", "--debug"],
        ["fs", "ls", "nope.bin", "--debug"],
        ["fs", "--debug", "ls", "nope.bin"],
    ],
)
def test_debug_shows_a_traceback_before_or_after_the_command(
    runner: CliRunner, in_tmp: Path, argv: list[str]
) -> None:
    r = runner.invoke(cli, argv)
    assert r.exit_code == 2 and r.stderr.startswith("Traceback"), r.stderr
    assert "\nError: " in r.stderr
    quiet = runner.invoke(cli, [a for a in argv if a != "--debug"])
    assert quiet.exit_code == 2 and quiet.stderr.startswith("Error: ")


def test_python_m_smoke_and_fast_path_imports(tmp_path: Path) -> None:
    heavy = ("esptool", "littlefs", "serial", "mbedtls", "paho", "websockets", "sqlite3")
    r = run_command_without(["--help"], heavy, tmp_path, entry="python -m")
    assert r.returncode == 0, r.stderr
    assert "Commands:" in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "esp_cabundle", "build", "-q", "--no-lock"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ca.pem").is_file()


def test_expiring_soon_root_flags_in_inspect(runner: CliRunner, in_tmp: Path) -> None:
    soon = issue("Soon Root", not_after=NOW + timedelta(days=10))
    (in_tmp / "soon.pem").write_bytes(soon.pem)
    code, out, err = run(runner, "inspect", "soon.pem", "--fail-within", "30")
    assert code == 1 and "expires in" in out and "within 30 days" in err
    assert run(runner, "inspect", "soon.pem", "--fail-within", "5")[0] == 0


def test_unknown_mapping_key_is_reported_at_its_own_line(runner: CliRunner, in_tmp: Path) -> None:
    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\noutputz:\n  - format: pem\n")
    code, _, err = run(runner, "build")
    assert code == 2 and "cabundle.yaml:2: unknown key 'outputz'" in err
    assert "did you mean 'outputs'" in err


def test_a_root_repeated_thousands_of_times_is_one_note_with_a_count(
    runner: CliRunner, in_tmp: Path
) -> None:
    """Tester's report, item 4: one line per distinct root, not one per copy, in build
    (a root file), the gate of a finished file (pack --bundle) and inspect."""
    root = issue("My Test Root")
    (in_tmp / "big.pem").write_bytes(root.pem * 3000)
    r = runner.invoke(cli, ["build", "--root", "big.pem", "--root", "isrg-root-x1",
                            "--preset", "letsencrypt", "--no-lock"])  # fmt: skip
    assert r.exit_code == 0, r.output
    dup = [line for line in r.stderr.splitlines() if "duplicate dropped" in line]
    assert dup == [
        f"note: duplicate dropped: {root.certificate.label} (2,999 extra copies, requested "
        f"as '{in_tmp / 'big.pem'}')",
        "note: duplicate dropped: ISRG Root X1 (requested as 'isrg-root-x1')",
    ]
    r = runner.invoke(cli, ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size",
                            "256K", "--bundle", "big.pem", "-o", "fs.bin"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert r.output.count("duplicate dropped") == 1 and "(2,999 extra copies)" in r.output
    r = runner.invoke(cli, ["inspect", "big.pem"])
    notes = [line for line in r.output.splitlines() if "note:" in line]
    assert notes == [f"  note: {root.certificate.label} appears 3,000 times"]


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize(
    ("output", "words"),
    [
        ("ro/sub/ca.pem", "cannot create directory ro/sub: ro is a regular file, not a directory"),
        ("ro/a/b/ca.pem", "cannot create directory ro/a: ro is a regular file, not a directory"),
        ("ro/ca.pem", "cannot write into ro: ro is a regular file, not a directory"),
    ],
)
def test_output_under_a_file_names_the_file_in_the_way(
    in_tmp: Path, runner: CliRunner, output: str, words: str
) -> None:
    """``-o ro/sub/ca.pem`` with ``ro`` a file said "cannot write (Not a directory)" of
    the output: it names the directory that cannot be made and the file in its way
    (root hits this case too, unlike a read-only directory); nothing is written. The
    user's slip, refused before the build (exit 2; it was exit 3, after it)."""
    (in_tmp / "ro").write_text("a file\n")
    code, _, err = run(runner, "build", "--preset", "letsencrypt", "-o", output)
    assert code == 2, err
    assert f"Error: {output}: {words}; nothing was read or written" in err, err
    assert "move ro away" in err
    assert _listing(in_tmp) == ["ro"] and (in_tmp / "ro").read_text() == "a file\n"


def test_an_unwritable_parent_is_named(
    in_tmp: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory that cannot be made in ``ro`` (read-only): the error names ``ro`` and
    why, not ``ro/sub`` alone. mkdir is made to fail as it would for a user (root may
    write in a read-only directory); the real case is run below when not root."""
    (in_tmp / "ro").mkdir()

    def refuse(path: object, *args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr("esp_cabundle.fileio.os.mkdir", refuse)
    code, _, err = run(runner, "build", "--preset", "letsencrypt", "-o", "ro/sub/ca.pem")
    assert code == 3, err
    assert "ro/sub/ca.pem: cannot create directory ro/sub: ro is not writable" in err, err
    assert "(Permission denied); nothing written" in err
    assert _listing(in_tmp) == ["ro"]


@pytest.mark.skipif(os.geteuid() == 0, reason=ROOT_READS_ANYTHING)  # EACCES case above runs
def test_a_read_only_parent_is_named(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "ro").mkdir(mode=0o555)
    try:
        code, _, err = run(runner, "build", "--preset", "letsencrypt", "-o", "ro/sub/ca.pem")
    finally:
        (in_tmp / "ro").chmod(0o755)
    assert code == 3, err
    assert "cannot create directory ro/sub: ro is not writable (Permission denied)" in err
    assert _listing(in_tmp) == ["ro"]


def test_quiet_build_does_not_lay_out_the_roots_table_it_would_not_show(
    runner: CliRunner, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-q`` printed nothing, yet measured every cell of the roots table (150 rows for
    ESP-IDF's cacrt_all.pem: ~1 ms of the run). The same build without -q still shows
    it."""
    from esp_cabundle.commands import build as build_command
    from esp_cabundle.ui import format_table

    def no_table(*args: object, **kwargs: object) -> str:
        raise AssertionError("a quiet build laid out the roots table")

    monkeypatch.setattr(build_command, "format_table", no_table)
    code, out, err = run(runner, "build", "-q", "--preset", "letsencrypt", "--no-lock")
    assert (code, out, err) == (0, "", "")
    assert load_certificate_file(in_tmp / "ca.pem")  # it did build
    monkeypatch.setattr(build_command, "format_table", format_table)
    code, out, _ = run(runner, "build", "--preset", "letsencrypt", "--no-lock")
    assert code == 0 and "ISRG Root X1" in out
