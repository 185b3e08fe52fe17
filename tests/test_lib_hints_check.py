"""The check's hints name the caller's knobs: a script is told of ``until=``,
``load_trust_set``, ``load_chain_file`` and ``device=``, never of ``--until``,
``--bundle``, ``--chain`` or ``--device``; the CLI, passing CLI_SPELLING, keeps its texts
word for word (the second half, texts taken from the CLI before the change)."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.bundle import BundleSpec, resolve_bundle
from esp_cabundle.catalog import Catalog
from esp_cabundle.chains import load_chain_file
from esp_cabundle.check import CheckItem, check_items, default_trust_set, target_items
from esp_cabundle.errors import EspCabundleError, InputError, VerdictError
from esp_cabundle.formats import render
from esp_cabundle.targets import Target
from esp_cabundle.verify import TrustSet
from esp_cabundle.verify.forecast import forecast
from esp_cabundle.verify.profiles import parse_device_profile

LE = Path(__file__).parent / "data" / "letsencrypt"
FLAGS = ("--until", "--at", "--bundle", "--chain", "--host", "--device", "esp-cabundle")
CHAIN_HINT = (
    "give it as the trust set with load_trust_set(), and the server's chain with "
    "load_chain_file() (leaf first, as capture_chain returns it) or capture_chain()"
)


def _said(e: pytest.ExceptionInfo[EspCabundleError]) -> str:
    """The whole error as a script sees it, checked to name no CLI flag."""
    said = f"{e.value} {e.value.hint or ''}"
    assert not [f for f in FLAGS if f in said], said
    return said


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A server chain, a two-root CA bundle and an ESP-IDF bundle (dates stripped)."""
    shutil.copy(LE / "2024-r11.pem", tmp_path / "short.pem")
    roots = (LE / "isrgrootx1.pem").read_bytes() + (LE / "dst-root-ca-x3.pem").read_bytes()
    (tmp_path / "bundle.pem").write_bytes(roots)
    le = resolve_bundle(BundleSpec(presets=("letsencrypt",)), Catalog.load()).bundle
    (tmp_path / "x509_crt_bundle.bin").write_bytes(render("idf-bundle", le))
    return tmp_path


def _item(files: Path, device: str) -> CheckItem:
    return CheckItem("short", load_chain_file(files / "short.pem"), parse_device_profile(device))


def _trust(files: Path, name: str) -> TrustSet:
    from esp_cabundle.check import load_trust_set

    return load_trust_set(files / name)


# --- library: the Python parameter ---------------------------------------------------


def test_a_horizon_before_the_date_checked_names_until(files: Path) -> None:
    at, until = datetime(2030, 1, 1, tzinfo=timezone.utc), datetime(2029, 1, 1)
    with pytest.raises(InputError) as e:
        check_items(
            _trust(files, "bundle.pem"), [_item(files, "mbedtls-clock")], at=at, until=until
        )
    assert e.value.message == "until=2029-01-01 is before the date checked, 2030-01-01"
    _said(e)


def test_forecast_names_until_and_at(files: Path) -> None:
    chain = load_chain_file(files / "short.pem").certificates
    with pytest.raises(InputError) as e:
        forecast(
            _trust(files, "bundle.pem"),
            chain,
            parse_device_profile("mbedtls-clock"),
            at=datetime(2030, 1, 1),
            until=datetime(2029, 1, 1),
        )
    assert e.value.message == "until=2029-01-01 is before at=2030-01-01"
    _said(e)


def test_an_undated_trust_set_hints_at_load_trust_set_and_device(files: Path) -> None:
    trust = _trust(files, "x509_crt_bundle.bin")
    with pytest.raises(VerdictError, match="expiry cannot be judged") as e:
        check_items(trust, [_item(files, "mbedtls-clock")], at=datetime(2026, 6, 1))
    assert e.value.hint == (
        "check the ca.pem it was built from (load_trust_set('ca.pem')); a device verifying "
        "with the bundle itself is device=parse_device_profile('idf-bundle') "
        "(or idf-bundle-clock)"
    )
    _said(e)
    report = check_items(trust, [_item(files, "mbedtls-noclock")], at=datetime(2026, 6, 1))
    assert report.notes[-1].endswith(
        "an ESP-IDF device uses device=parse_device_profile('idf-bundle')"
    )


def test_a_ca_pem_that_is_no_file_hints_at_load_trust_set(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").mkdir()
    with pytest.raises(InputError, match="is a directory") as e:
        default_trust_set(None, cwd=tmp_path)
    assert "remove or rename it, or name one with load_trust_set()" in _said(e)
    assert list((tmp_path / "ca.pem").iterdir()) == []


def test_a_bundle_given_as_a_chain_hints_at_the_loaders(files: Path) -> None:
    with pytest.raises(InputError, match="a CA bundle, not a server's chain") as e:
        load_chain_file(files / "bundle.pem")
    assert e.value.hint == CHAIN_HINT
    _said(e)
    target = Target("api", chain=files / "bundle.pem")
    with pytest.raises(InputError, match=r"target 'api': .*: this is a CA bundle") as t:
        target_items([target], files)
    assert t.value.hint == CHAIN_HINT


# --- CLI: the flags, word for word ---------------------------------------------------


def _cli(runner: CliRunner, *args: str) -> tuple[int, str]:
    from esp_cabundle.cli import cli  # deferred: the library half never loads the CLI

    r = runner.invoke(cli, list(args))
    return r.exit_code, r.stderr + r.stdout


def test_the_cli_keeps_its_flags_in_the_check_hints(
    files: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(files)
    code, err = _cli(runner, "check", "--chain", "short.pem", "--at", "2030-01-01",
                     "--until", "2029-01-01")  # fmt: skip
    assert code == 2 and "Error: --until 2029-01-01 is before the date checked, 2030-01-01\n" in err
    hint = (
        "  hint: give it as the trust set with --bundle, and the server's chain with --chain "
        "(leaf first, as 'esp-cabundle chains pull' saves it) or --host\n"
    )
    for args in (("check", "--chain", "bundle.pem"), ("chains", "show", "bundle.pem")):
        code, err = _cli(runner, *args)
        assert code == 2 and hint in err, err
    (files / "cabundle.yaml").write_text("targets:\n  - name: api\n    chain: bundle.pem\n")
    code, err = _cli(runner, "check")
    assert code == 2 and "bundle.pem: this is a CA bundle" in err and hint in err, err
    (files / "cabundle.yaml").unlink()
    idf = ("check", "--chain", "short.pem", "--bundle", "x509_crt_bundle.bin", "--device")
    code, err = _cli(runner, *idf, "mbedtls-clock")
    assert (
        code == 1
        and (
            "  hint: check the ca.pem it was built from (--bundle ca.pem); a device verifying with "
            "the bundle itself is --device idf-bundle (or idf-bundle-clock)\n"
        )
        in err
    )
    code, out = _cli(runner, *idf, "mbedtls-noclock")
    assert code == 0 and "an ESP-IDF device uses --device idf-bundle." in " ".join(out.split())
    (files / "ca.pem").mkdir()
    code, err = _cli(runner, "check", "--chain", "short.pem")
    assert code == 2
    assert "when present: remove or rename it, or name one with --bundle\n" in err
