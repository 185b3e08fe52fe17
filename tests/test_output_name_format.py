"""``-o NAME`` without ``-f`` picks the format the name says, in a project whose
config lists outputs too: those are the project's, not asked for on this line
(``build -o alt.h`` was "names a c file, but the output format is pem"; with two outputs,
``-o only.pem`` was "needs exactly one output format")."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli

ONE = "preset: letsencrypt\noutputs:\n  - {format: pem, path: ca.pem}\n"
TWO = ONE + "  - {format: c, path: inc/ca.h, name: my_ca, style: array}\n"


def _build(*argv: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, ["build", "--no-lock", "-q", *argv])
    return r.exit_code, r.stderr


@pytest.mark.parametrize("config", [ONE, TWO])
def test_the_name_picks_the_format_over_the_configs_outputs(in_tmp: Path, config: str) -> None:
    (in_tmp / "cabundle.yaml").write_text(config)
    code, err = _build("-o", "alt.h")
    assert code == 0, err
    assert "const char" in (in_tmp / "alt.h").read_text()
    code, err = _build("-o", "only.pem")
    assert code == 0, err
    assert (in_tmp / "only.pem").read_text().startswith("# ISRG Root X1")
    # only the output named: none of the config's is written
    assert not (in_tmp / "ca.pem").exists() and not (in_tmp / "inc").exists()


def test_the_configs_output_of_that_format_keeps_its_options(in_tmp: Path) -> None:
    (in_tmp / "cabundle.yaml").write_text(TWO)
    code, err = _build("-o", "alt.h")
    assert code == 0, err
    assert "my_ca_len" in (in_tmp / "alt.h").read_text()


def test_a_name_saying_no_format_takes_the_configs_one_output(in_tmp: Path) -> None:
    (in_tmp / "cabundle.yaml").write_text(ONE.replace("pem, path: ca.pem", "der, path: ca.der"))
    code, err = _build("-o", "ca.bin")
    assert code == 0, err
    assert (in_tmp / "ca.bin").read_bytes()[:1] == b"\x30"  # DER, as the config says


def test_a_name_saying_no_format_among_several_outputs_is_refused(in_tmp: Path) -> None:
    (in_tmp / "cabundle.yaml").write_text(TWO)
    code, err = _build("-o", "only.txt")
    assert code == 2
    assert "-o only.txt: the name says no format, and the config lists 2 outputs (pem, c)" in err
    assert "pass the format, e.g. -f pem -o only.txt" in err
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]


def test_f_still_contradicts_a_name(in_tmp: Path) -> None:
    (in_tmp / "cabundle.yaml").write_text(TWO)
    code, err = _build("-f", "pem", "-o", "alt.h")
    assert code == 2
    assert "-o alt.h names a c file, but the output format is pem" in err
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]


CPP_NAMES = ["ca_pem.hpp", "ca_pem.hh", "ca_pem.hxx", "ca.cpp", "ca.cc", "ca.cxx", "certs.ino"]


@pytest.mark.parametrize("name", CPP_NAMES)
def test_a_cpp_or_arduino_name_picks_c_source(in_tmp: Path, name: str) -> None:
    """``-o src/ca_pem.hpp`` wrote PEM text into a C++ header, which the firmware's
    compile then failed on; the name says C source as ``.h`` does."""
    code, err = _build("--preset", "letsencrypt", "-o", name)
    assert code == 0, err
    assert (in_tmp / name).read_text().startswith("static const char *s_pem =\n")


@pytest.mark.parametrize("name", ["ca_pem.hpp", "certs.ino"])
def test_pem_into_a_cpp_name_is_refused(in_tmp: Path, name: str) -> None:
    code, err = _build("--preset", "letsencrypt", "-f", "pem", "-o", name)
    assert code == 2
    assert f"-o {name} names a c file, but the output format is pem" in err
    assert list(in_tmp.iterdir()) == []
    (in_tmp / "cabundle.yaml").write_text(
        f"preset: letsencrypt\noutputs: [{{format: pem, path: {name}}}]\n"
    )
    code, err = _build()
    assert code == 2
    assert f"'{name}' names a c file, but the output format is pem" in err
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]


def test_pack_refuses_an_image_named_as_cpp_source(in_tmp: Path) -> None:
    r = CliRunner().invoke(
        cli, ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "64K",
              "--preset", "letsencrypt", "-o", "ca_pem.hpp"],
    )  # fmt: skip
    assert r.exit_code == 2
    assert "-o ca_pem.hpp: a .hpp name says C++ source, but pack writes" in r.stderr
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "said", "hint"),
    [
        (["-f", "pem", "-f", "c", "-o", "x"], "-f gave 2 (pem, c)",
         "use -f FORMAT -o PATH (-f pem -o x or -f c -o x), or leave -o out to write each "
         "to its default file (ca.pem, ca_pem.h)"),
        (["-f", "pem", "-f", "c", "-o", "alt.h"], "-f gave 2 (pem, c)",
         "use -f FORMAT -o PATH (-f c -o alt.h), or leave -o out"),
        (["-f", "pem", "-f", "pem", "-o", "x"], "-f gave 2 (pem, pem)",
         "use -f FORMAT -o PATH (-f pem -o x)\n"),
    ],
    ids=["two", "named-by-path", "twice"],
)  # fmt: skip
def test_several_formats_for_one_output_are_named(
    in_tmp: Path, argv: list[str], said: str, hint: str
) -> None:
    """It said "needs exactly one output format" and "use -f FORMAT -o PATH", naming
    none of the formats given; a line the hint offers runs (a .h path: c only; a format
    given twice: no default file twice, which build refuses)."""
    code, err = _build(*argv)
    assert code == 2, err
    assert f"Error: -o/--output needs exactly one output format, and {said}\n" in err, err
    assert f"hint: {hint}" in err, err
    assert list(in_tmp.iterdir()) == []
