"""``check --target HOST|CHAIN``: what build's --target means (a saved chain file, or a
host whose chain saved under chains/ beside the config is read, else captured live),
judged through the path the config's targets take."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from tests.support.verify_pki import mint, tls_server

LE = Path(__file__).parent / "data" / "letsencrypt"
AT = ["--device", "mbedtls-noclock", "--at", "2024-07-01"]
NO_USER = "no-such-user-esp"


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr, with wrapped lines joined (reports wrap at 96)."""
    r = runner.invoke(cli, list(args))
    words = " ".join(r.stdout.split())
    return r.exit_code, r.stdout if "--json" in args else words, " ".join(r.stderr.split())


def _shape(value: Any) -> Any:
    """A JSON document's keys and value types, not its values."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


@pytest.fixture
def le_files(in_tmp: Path) -> Path:
    shutil.copy(LE / "dst-root-ca-x3.pem", in_tmp / "dst.pem")
    (in_tmp / "long.pem").write_bytes(
        (LE / "lets-encrypt-r3.pem").read_bytes()
        + (LE / "isrg-root-x1-cross-signed.pem").read_bytes()
    )
    shutil.copy(LE / "2024-r11.pem", in_tmp / "short.pem")
    return in_tmp


@pytest.mark.parametrize(("chain", "code"), [("long.pem", 0), ("short.pem", 1)])
def test_a_target_file_is_judged_as_the_same_chain_file(
    runner: CliRunner, le_files: Path, chain: str, code: int
) -> None:
    """``check --target chains/x.pem`` was "check has no --target option"."""
    by_chain = run(runner, "check", "--bundle", "dst.pem", "--chain", chain, *AT, "--json")
    by_target = run(runner, "check", "--bundle", "dst.pem", "--target", chain, *AT, "--json")
    assert by_chain[0] == by_target[0] == code, by_target
    a, b = json.loads(by_chain[1]), json.loads(by_target[1])
    assert _shape(a) == _shape(b)
    assert [r["verdict"] for r in a["results"]] == [r["verdict"] for r in b["results"]]
    code_text, out, _ = run(runner, "check", "--bundle", "dst.pem", "--target", chain, *AT)
    assert code_text == code and ("PASS" if code == 0 else "FAIL") in out


def test_a_target_host_reads_its_saved_chain_beside_the_config(
    runner: CliRunner, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--target HOST`` with fleet/chains/HOST.pem beside fleet/cabundle.yaml judges that
    file: never dialled (the host is unroutable, and the capture fails the test)."""

    def dialled(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"dialled {args}")

    monkeypatch.setattr("esp_cabundle.check.capture_chain", dialled)
    host = "saved.invalid"
    root = mint("Saved Root")
    inter = mint("Saved CA", root)
    leaf = mint(host, inter, ca=False, san=host)
    fleet = in_tmp / "fleet"
    (fleet / "chains").mkdir(parents=True)
    (fleet / "cabundle.yaml").write_text("preset: letsencrypt\ntargets:\n  - other.invalid\n")
    (fleet / "chains" / f"{host}.pem").write_bytes(leaf.pem + inter.pem)
    (in_tmp / "good.pem").write_bytes(root.pem)
    (in_tmp / "bad.pem").write_bytes(mint("Other Root").pem)
    base = ["check", "-c", "fleet/cabundle.yaml", "--target", host]
    code, out, err = run(runner, *base, "--bundle", "good.pem")
    # judged instead of the config's target (whose chain is not saved: it would be dialled)
    assert code == 0, out + err
    assert f"PASS {host}" in out and f"name {host} checked" in out and "1 pass, 0 fail" in out
    code, out, err = run(runner, *base, "--bundle", "bad.pem", "--json")
    doc = json.loads(out)
    assert code == 1 and [r["name"] for r in doc["results"]] == [host], out + err
    assert doc["results"][0]["verdict"]["flag_names"] == ["NOT_TRUSTED"]


def test_a_target_host_with_no_saved_chain_is_captured_live(
    runner: CliRunner, in_tmp: Path
) -> None:
    root = mint("Live Root")
    inter = mint("Live CA", root)
    leaf = mint("localhost", inter, ca=False)
    (in_tmp / "good.pem").write_bytes(root.pem)
    with tls_server([leaf, inter]) as port:
        target = f"127.0.0.1:{port}"
        code, out, err = run(runner, "check", "--bundle", "good.pem", "--target", target,
                             "--target", target, "--hostname", "localhost")  # fmt: skip
        assert code == 0, out + err
        assert f"PASS {target}" in out and "name localhost checked" in out
        assert f"--target {target} is given twice: judged once" in out
        # beside --host and --chain, each judged once
        shutil.copy(LE / "2024-r11.pem", in_tmp / "short.pem")
        code, out, err = run(runner, "check", "--bundle", "good.pem", "--host", target,
                             "--target", "short.pem", "--hostname", "localhost")  # fmt: skip
        assert code == 1 and "1 pass, 1 fail" in out, out + err
        assert f"PASS {target}" in out and "FAIL short" in out
    # the server gone, no saved chain: not captured (exit 3), and where to save it
    code, out, err = run(runner, "check", "--bundle", "good.pem", "--target", target,
                         "--timeout", "2")  # fmt: skip
    assert code == 3, out + err
    assert f"target '{target}' has no saved chain (chains/127.0.0.1_{port}.pem)" in err
    assert f"chains show --host {target} -o chains/127.0.0.1_{port}.pem" in err


@pytest.mark.parametrize(
    ("target", "said"),
    [
        ("no/such.pem", "no such chain file"),
        ("nosuch.pem", "no such chain file"),
        ("bad host", "bad target 'bad host': not a host name or IP address"),
        ("mdash.net:99999", "bad port"),
        # Path.expanduser's RuntimeError was a traceback
        (f"~{NO_USER}/c.pem", f"no user '{NO_USER}' for ~{NO_USER}/c.pem"),
    ],
)
def test_a_bad_target_is_refused_before_anything_is_done(
    runner: CliRunner, le_files: Path, target: str, said: str
) -> None:
    before = sorted(le_files.iterdir())
    code, out, err = run(runner, "check", "--bundle", "dst.pem", "--target", target,
                         "--report", "r.html", *AT)  # fmt: skip
    assert code == 2 and said in err and "Traceback" not in err, out + err
    code, out, _ = run(runner, "check", "--bundle", "dst.pem", "--target", target, *AT, "--json")
    doc = json.loads(out)
    assert code == 2 and doc["ok"] is False and said in doc["error"], doc
    assert sorted(le_files.iterdir()) == before


def test_the_report_never_replaces_a_targets_chain(runner: CliRunner, le_files: Path) -> None:
    before = (le_files / "long.pem").read_bytes()
    code, _, err = run(runner, "check", "--bundle", "dst.pem", "--target", "long.pem",
                       "--report", "long.pem", *AT)  # fmt: skip
    assert code == 2 and "long.pem" in err, err
    assert (le_files / "long.pem").read_bytes() == before


def test_build_refuses_a_target_of_an_unknown_users_home(runner: CliRunner, in_tmp: Path) -> None:
    """build's --target is read by the same parse_target: exit 2, not a traceback."""
    code, out, err = run(runner, "build", "--preset", "letsencrypt", "--target",
                         f"~{NO_USER}/c.pem")  # fmt: skip
    assert code == 2 and f"no user '{NO_USER}' for ~{NO_USER}/c.pem" in err, out + err
    assert list(in_tmp.iterdir()) == []


def test_a_target_in_no_home_directory_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """``~/c.pem`` with no HOME and no password entry: an InputError, not RuntimeError."""
    import pwd

    from esp_cabundle.errors import InputError
    from esp_cabundle.targets import parse_target

    def unknown(uid: int) -> None:
        raise KeyError(uid)

    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", unknown)
    with pytest.raises(InputError, match=r"no home directory for ~/c\.pem") as e:
        parse_target("~/c.pem")
    assert e.value.exit_code == 2 and "set HOME" in str(e.value)


def test_a_target_host_read_from_the_working_directorys_chains_says_so(
    runner: CliRunner, le_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reviewer item 3a: with no config, ``--target example.com`` judged
    ./chains/example.com.pem and never said a file was read; a note names it."""

    def dialled(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"dialled {args}")

    monkeypatch.setattr("esp_cabundle.check.capture_chain", dialled)
    (le_files / "chains").mkdir()
    shutil.copy(le_files / "short.pem", le_files / "chains" / "example.com.pem")
    code, out, err = run(runner, "check", "--bundle", "dst.pem", "--target", "example.com", *AT)
    assert code == 1 and "FAIL example.com" in out, out + err
    said = "--target example.com: judged on its saved chain chains/example.com.pem"
    assert f"{said} (no cabundle.yaml: the working directory's chains/), not captured live" in out
    code, out, _ = run(runner, "check", "--bundle", "dst.pem", "--target", "example.com", *AT,
                       "--json")  # fmt: skip
    assert any(n.startswith(said) for n in json.loads(out)["notes"]), out


@pytest.mark.parametrize("file", ["chains/example.com.pem", "./chains/example.com.pem"])
def test_a_host_and_its_saved_chain_file_are_judged_once(
    runner: CliRunner, le_files: Path, file: str
) -> None:
    """Reviewer item 3b: the same chain was judged twice under the same label."""
    (le_files / "chains").mkdir()
    shutil.copy(le_files / "long.pem", le_files / "chains" / "example.com.pem")
    for words in (["example.com", file], [file, "example.com"]):
        argv = [w for t in words for w in ("--target", t)]
        code, out, err = run(runner, "check", "--bundle", "dst.pem", *argv, *AT)
        assert code == 0 and "1 pass, 0 fail" in out, out + err
        assert out.count("PASS example.com") == 1, out
        assert f"--target {words[1]} is given twice (as --target {words[0]}): judged once" in out


@pytest.mark.parametrize(
    ("target", "hint"),
    [
        ("chains", "give a chain file in it (chains/example.com.pem), or that server with its "
         "port (chains:443)"),
        ("chains/", "give a chain file in it (chains/example.com.pem)"),
        ("empty", "give a chain file in it (empty/NAME.pem)"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", ["check", "build"])
def test_a_directory_target_is_refused_not_dialled(
    runner: CliRunner, le_files: Path, monkeypatch: pytest.MonkeyPatch, target: str, hint: str,
    command: str,
) -> None:  # fmt: skip
    """Reviewer item 3c: ``--target chains`` was dialled as the host 'chains'."""

    def dialled(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"dialled {args}")

    monkeypatch.setattr("esp_cabundle.check.capture_chain", dialled)
    (le_files / "chains").mkdir()
    (le_files / "empty").mkdir()
    shutil.copy(le_files / "long.pem", le_files / "chains" / "example.com.pem")
    before = sorted(le_files.rglob("*"))
    argv = ["--bundle", "dst.pem", *AT] if command == "check" else ["--preset", "letsencrypt"]
    code, out, err = run(runner, command, *argv, "--target", target)
    assert code == 2, out + err
    assert f"Error: {target}: is a directory, not a chain file; nothing was read" in err, err
    assert f"hint: {hint}" in err and "Traceback" not in err, err
    assert sorted(le_files.rglob("*")) == before


@pytest.mark.parametrize(
    ("word", "saved"),
    [
        ("LOCALHOST:8443", "localhost_8443.pem"),
        ("localhost.:8443", "localhost_8443.pem"),
        ("Example.COM.", "example.com.pem"),
        ("Example.COM", "Example.COM.pem"),  # saved under the spelling typed, alone there
    ],
)
def test_a_host_spelled_otherwise_reads_its_saved_chain(
    runner: CliRunner, le_files: Path, monkeypatch: pytest.MonkeyPatch, word: str, saved: str
) -> None:
    """``--target LOCALHOST:8443`` (or ``localhost.:8443``) passed over the saved
    chains/localhost_8443.pem and dialled: a host name is case-insensitive, and a
    trailing dot names the same host."""

    def dialled(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"dialled {args}")

    monkeypatch.setattr("esp_cabundle.check.capture_chain", dialled)
    (le_files / "chains").mkdir()
    shutil.copy(le_files / "short.pem", le_files / "chains" / saved)
    before = sorted(le_files.rglob("*"))
    code, out, err = run(runner, "check", "--bundle", "dst.pem", "--target", word, *AT)
    assert code == 1 and f"FAIL {word}" in out, out + err
    assert f"--target {word}: judged on its saved chain chains/{saved}" in out, out
    assert sorted(le_files.rglob("*")) == before
