"""The output formats' hints and cabundle.yaml's in the caller's words: a script is told
of ``name=``, ``max_certs=``, an ``OutputSpec('pem', ...)``; a cabundle.yaml entry of its
keys (``name:``, ``format: pem``, ``profile:``, ``platform:``); ``build`` keeps its flags
word for word (the CLI half)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.catalog import Catalog
from esp_cabundle.cli import cli
from esp_cabundle.config import OutputSpec, load_config
from esp_cabundle.errors import EspCabundleError, InputError
from esp_cabundle.formats.c_source import check_c_option
from esp_cabundle.formats.idf_bundle import bundle_format_for, render_idf_bundle

FLAGS = ("--c-name", "--format", "--idf", "--profile", "--platform", "esp-cabundle")


def _said(e: pytest.ExceptionInfo[EspCabundleError]) -> str:
    """The hint as a script or a config's user sees it, checked to name no flag."""
    said = e.value.hint or ""
    assert not [f for f in FLAGS if f in said], said
    return said


def _certs() -> list:  # type: ignore[type-arg]
    catalog = Catalog.load()
    return [catalog.certificate(catalog.resolve(a)) for a in ("isrg-root-x1", "isrg-root-x2")]


def _config(tmp: Path, outputs: str) -> Path:
    path = tmp / "cabundle.yaml"
    path.write_text(f"roots:\n  - isrg-root-x1\n  - isrg-root-x2\noutputs:\n{outputs}")
    return path


# --- a script --------------------------------------------------------------------------


def test_a_bad_c_name_names_the_name_parameter(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="a C keyword") as e:
        OutputSpec("c", tmp_path / "ca.h", {"name": "int"})
    assert _said(e) == "e.g. name='s_pem' or ca_pem"
    with pytest.raises(InputError, match="not a valid C identifier") as e:
        check_c_option("name", "ca-pem")
    assert _said(e) == "e.g. name='s_pem' or ca_pem"


def test_a_release_without_bundles_names_the_pem_output() -> None:
    with pytest.raises(InputError, match="no certificate bundle support") as e:
        bundle_format_for("arduino-1.0.6")
    assert _said(e).endswith("(setCACert); use OutputSpec('pem', path)")
    with pytest.raises(InputError, match=r"arrived in 4\.0") as e:
        bundle_format_for("3.3")
    assert _said(e) == "use OutputSpec('pem', path) and load it with mbedtls_x509_crt_parse"
    with pytest.raises(InputError, match="not a release this tool knows") as e:
        bundle_format_for("99.1")
    assert _said(e).endswith("give the layout with bundle_format='v2'")


def test_too_many_roots_names_max_certs() -> None:
    with pytest.raises(InputError, match="exceed the ESP-IDF bundle maximum of 1") as e:
        render_idf_bundle(_certs(), bundle_format="v2", max_certs=1)
    assert _said(e).startswith("select fewer roots, or raise the limit (max_certs=) to match")


# --- a cabundle.yaml entry: its keys ----------------------------------------------------


def test_a_config_entry_is_told_of_its_keys(tmp_path: Path) -> None:
    cases = [
        ("  - {format: c, path: ca.h, name: int}\n", "e.g. name: s_pem or ca_pem"),
        (
            "  - {format: idf-bundle, path: b.bin, idf_version: arduino-1.0.6}\n",
            "Arduino-ESP32 1.0.x reads a PEM CA file (setCACert); use format: pem",
        ),
        (
            "  - {format: spiffs, path: s.bin, size: 64K, platform: arduino-3.1.0}\n",
            "give profile: (e.g. esp-idf), or name the board",
        ),
        ("  - {format: spiffs, path: s.bin, size: 64K}\n", "give the profile (profile:), e.g."),
        (
            "  - {format: littlefs, path: l.bin, size: 64K, profile: esp-idf, "
            "platform: arduino-3.1.0}\n",
            "give profile: arduino, or omit profile:",
        ),
    ]
    for outputs, hint in cases:
        with pytest.raises(InputError) as e:
            load_config(_config(tmp_path, outputs))
        assert _said(e).startswith(hint), (outputs, e.value.hint)
    assert [p.name for p in tmp_path.iterdir()] == ["cabundle.yaml"]


# --- the CLI: its flags, word for word --------------------------------------------------


def _cli(runner: CliRunner, *args: str) -> tuple[int, str]:
    r = runner.invoke(cli, list(args))
    return r.exit_code, r.stderr


def test_build_keeps_its_flags(in_tmp: Path, runner: CliRunner) -> None:
    roots = ("--root", "isrg-root-x1", "--root", "isrg-root-x2", "--no-lock")
    code, err = _cli(runner, "build", *roots, "-f", "c", "--c-name", "int")
    assert code == 2 and "hint: e.g. --c-name s_pem or ca_pem\n" in err
    code, err = _cli(runner, "build", *roots, "-f", "idf-bundle", "--idf-version", "3.3")
    assert code == 2
    assert "hint: use --format pem and load it with mbedtls_x509_crt_parse\n" in err
    code, err = _cli(runner, "build", *roots, "-f", "idf-bundle", "--idf-version", "arduino-1.0")
    assert code == 2 and "(setCACert); use --format pem\n" in err
    code, err = _cli(runner, "build", *roots, "-f", "idf-bundle", "--idf-version", "99.1")
    assert code == 2
    assert "give the layout with 'bundle_format: v2' on the output in cabundle.yaml\n" in err
    assert not list(in_tmp.iterdir())
    _config(in_tmp, "  - {format: idf-bundle, path: b.bin, max_certs: 1}\n")
    code, err = _cli(runner, "build", "--no-lock")
    assert code == 2, err
    assert (
        "hint: select fewer roots, or raise the limit (max_certs: on the idf-bundle output in "
        "cabundle.yaml) to match"
    ) in err
    assert [p.name for p in in_tmp.iterdir()] == ["cabundle.yaml"]
