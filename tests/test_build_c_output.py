"""``build``'s c output: mDash's s_pem form and the array form, rendered, compiled and
linked as C and C++; the --c-name and --c-style flags, and their refusal without a c
output."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.tools import need

from esp_cabundle.certs import load_certificate_file, load_certificates
from esp_cabundle.cli import cli

LE = Path(__file__).parent / "data" / "letsencrypt"


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(cli, list(args))
    return r.exit_code, r.stdout, r.stderr


# --- library --------------------------------------------------------------------------


def test_mdash_vector_round_trips_through_c_output(data_dir: Path) -> None:
    vector = (data_dir / "mdash" / "mDash-1.2.16-s_pem.c").read_text()
    certs = load_certificate_file(data_dir / "mdash" / "mDash-1.2.16-s_pem.c")
    from esp_cabundle.bundle import Bundle
    from esp_cabundle.formats.c_source import render_c_source

    rendered = render_c_source(Bundle.from_certificates(certs), name="s_pem", style="s_pem")
    assert rendered.decode() == vector.rstrip("\n") + "\n"


def test_c_array_variant_compiles_shape() -> None:
    from esp_cabundle.bundle import Bundle
    from esp_cabundle.formats.c_source import render_c_source

    certs = load_certificate_file(LE / "isrgrootx1.pem")
    text = render_c_source(Bundle.from_certificates(certs), name="ca_pem", style="array").decode()
    assert "const char ca_pem[] =" in text and "const size_t ca_pem_len = sizeof(ca_pem);" in text
    assert load_certificates(text.encode()) == certs


@pytest.mark.parametrize("compiler", ["gcc", "g++"])
def test_c_array_is_definitions_include_it_once_and_declare_it_elsewhere(
    tmp_path: Path, compiler: str
) -> None:
    """What README says of the array form, compiled and linked as C (gcc) and as C++
    (g++, as an Arduino sketch is): included in two files the link fails ("multiple
    definition"); included in one, with ``extern`` declarations in the other, it links
    and the string is the PEM. In C++ a namespace-scope ``const`` is local to its file
    unless declared ``extern``: the form without that declaration linked as C and failed
    as C++ ("undefined reference to ca_pem_len")."""

    from esp_cabundle.bundle import Bundle
    from esp_cabundle.formats.c_source import render_c_source

    need(compiler)
    certs = load_certificate_file(LE / "isrgrootx1.pem")
    (tmp_path / "ca_pem.h").write_bytes(
        render_c_source(Bundle.from_certificates(certs), name="ca_pem", style="array")
    )
    (tmp_path / "a.c").write_text(
        '#include <stdio.h>\n#include "ca_pem.h"\nint other(void);\n'
        'int main(void) { printf("%zu %d\\n", ca_pem_len, other()); return 0; }\n'
    )
    (tmp_path / "twice.c").write_text('#include "ca_pem.h"\nint other(void) { return 1; }\n')
    (tmp_path / "extern.c").write_text(
        "#include <stddef.h>\nextern const char ca_pem[];\nextern const size_t ca_pem_len;\n"
        "int other(void) { return ca_pem[ca_pem_len - 1] == 0; }\n"
    )
    language = "c" if compiler == "gcc" else "c++"

    def link(second: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [compiler, "-Wall", "-Werror", "-x", language, "-o", "prog", "a.c", second],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    twice = link("twice.c")
    assert twice.returncode != 0 and "multiple definition" in twice.stderr, twice.stderr
    once = link("extern.c")
    assert once.returncode == 0, once.stderr
    run = subprocess.run([str(tmp_path / "prog")], capture_output=True, text=True, timeout=30)
    size = len(certs[0].pem()) + 1  # the PEM text and its NUL
    assert run.stdout.split() == [str(size), "1"], run.stdout


# --- CLI ------------------------------------------------------------------------------


def test_c_output_options(runner: CliRunner, in_tmp: Path) -> None:
    code, _, _ = run(
        runner,
        "build",
        "--preset",
        "mdash",
        "-f",
        "c",
        "--c-name",
        "my_ca",
        "-o",
        "src/ca.h",
        "--no-lock",
    )
    assert code == 0
    text = (in_tmp / "src" / "ca.h").read_text()
    assert text.startswith("static const char *my_ca =\n")
    assert not (in_tmp / "cabundle.lock").exists()
    code, _, err = run(runner, "build", "-f", "c", "--c-name", "1bad")
    assert code == 2 and "not a valid C identifier" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-f", "pem", "--c-name", "foo"], "--c-name applies to the c output only"),
        (["--c-style", "array"], "--c-style applies to the c output only"),
        (
            ["-f", "der", "--c-style", "array", "--c-name", "ca_pem"],
            "--c-name and --c-style apply to the c output only",
        ),
    ],
)
def test_c_options_without_a_c_output_are_refused(
    runner: CliRunner, in_tmp: Path, args: list[str], message: str
) -> None:
    """As --idf-version without an idf-bundle output is: they used to be dropped without a
    word, the PEM or DER written as if they had not been typed."""
    code, out, err = run(runner, "build", "--preset", "letsencrypt", *args)
    assert code == 2, out + err
    assert message in err and "hint: add -f c" in err
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize("name", ["class", "new", "namespace", "this", "template"])
def test_a_cpp_keyword_cannot_name_the_array(in_tmp: Path, name: str) -> None:
    """The array form is made for C++ too (an Arduino sketch includes it), where
    ``const char class[]`` fails the compile as ``int`` does in C."""
    r = CliRunner().invoke(
        cli, ["build", "--preset", "letsencrypt", "--no-lock", "-f", "c", "--c-style",
              "array", "--c-name", name, "-o", "ca_pem.h"],
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    assert f"'{name}' is a C++ keyword; it cannot name the CA variable" in r.stderr
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize("blank", ["", " "])
def test_an_empty_c_name_is_a_usage_error(in_tmp: Path, blank: str) -> None:
    """``--c-name ''`` (an unset shell variable) silently wrote ``s_pem``."""
    r = CliRunner().invoke(
        cli, ["build", "--preset", "letsencrypt", "--no-lock", "-f", "c", "--c-style",
              "array", "--c-name", blank, "-o", "ca_pem.h"],
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    assert "Error: bad --c-name: an empty value names no C variable" in r.stderr
    assert list(in_tmp.iterdir()) == []


# What <stddef.h> (which the array form includes) and <stdint.h> (which Arduino.h and
# ESP-IDF's headers include) define: the header declaring the CA under one of them
# failed to compile, though C keywords were refused up front.
HEADER_NAMES = [("size_t", "<stddef.h>"), ("ptrdiff_t", "<stddef.h>"), ("NULL", "<stddef.h>"),
                ("offsetof", "<stddef.h>"), ("uint8_t", "<stdint.h>"), ("SIZE_MAX", "<stdint.h>"),
                ("int_fast16_t", "<stdint.h>"), ("UINT64_C", "<stdint.h>")]  # fmt: skip


@pytest.mark.parametrize(("name", "header"), HEADER_NAMES)
@pytest.mark.parametrize("style", ["array", "s_pem"])
def test_a_name_the_headers_define_cannot_name_the_ca(
    in_tmp: Path, name: str, header: str, style: str
) -> None:
    r = CliRunner().invoke(
        cli, ["build", "--preset", "letsencrypt", "--no-lock", "-f", "c", "--c-style", style,
              "--c-name", name, "-o", "ca_pem.h"],
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    assert f"Error: '{name}' is a name {header} defines, which " in r.stderr, r.stderr
    assert "; it cannot name the CA variable\n" in r.stderr and "--c-name s_pem" in r.stderr
    assert list(in_tmp.iterdir()) == []


def test_a_configs_c_name_the_headers_define_is_refused(in_tmp: Path) -> None:
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\noutputs:\n  - {format: c, path: ca.h, name: size_t}\n"
    )
    r = CliRunner().invoke(cli, ["build", "--no-lock"])
    assert r.exit_code == 2, r.output
    assert "'size_t' is a name <stddef.h> defines, which the generated header includes" in (
        r.stderr
    ), r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("name", "[a, b]", "outputs[0].name: expected a C identifier, got a list"),
        ("name", "{x: 1}", "outputs[0].name: expected a C identifier, got a mapping"),
        ("style", "[array]", "unknown C style '['array']'"),
    ],
)
def test_a_configs_c_option_that_is_no_string_is_refused(
    in_tmp: Path, key: str, value: str, said: str
) -> None:
    """A list or map where a name goes was a TypeError traceback (exit 1)."""
    (in_tmp / "cabundle.yaml").write_text(
        f"preset: letsencrypt\noutputs:\n  - {{format: c, path: ca.h, {key}: {value}}}\n"
    )
    r = CliRunner().invoke(cli, ["build", "--no-lock"])
    assert r.exit_code == 2, r.output
    assert said in r.stderr and "Traceback" not in r.output, r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]


@pytest.mark.parametrize("name", ["size_t", "ptrdiff_t", "NULL", "uint8_t", "SIZE_MAX"])
def test_the_names_refused_do_break_the_compile(tmp_path: Path, name: str) -> None:
    """The collision is the compiler's, not ours: gcc refuses the declaration the array
    form would write under that name once the headers are included."""
    need("gcc")
    src = tmp_path / "a.c"
    src.write_text(f'#include <stddef.h>\n#include <stdint.h>\nconst char {name}[] = "x";\n')
    r = subprocess.run(["gcc", "-fsyntax-only", str(src)], capture_output=True, timeout=60)
    assert r.returncode != 0, r.stderr


def test_a_configs_board_that_is_no_string_names_its_line_once(in_tmp: Path) -> None:
    """The type error was wrapped again: 'board: cabundle.yaml:2: board: expected ...'."""
    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\nboard: [x]\n")
    r = CliRunner().invoke(cli, ["build", "--no-lock"])
    assert r.exit_code == 2, r.output
    assert r.stderr.count("board:") == 1, r.stderr
    assert "cabundle.yaml:2: board: expected a non-empty string, got a list" in r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]
