"""Wrong argument types from a library caller get a clear error naming the argument and
the form it takes (ArgumentTypeError: an InputError and a TypeError), not a failure
deep inside ("unknown root 'm'")."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from esp_cabundle.boards import load_board
from esp_cabundle.bundle import BundleSpec
from esp_cabundle.certs import load_certificate_file, load_certificates
from esp_cabundle.errors import ArgumentTypeError, InputError
from esp_cabundle.flash.offline import update_dump
from esp_cabundle.fs import open_image
from esp_cabundle.gate import CaSource, gate_ca
from esp_cabundle.inspect import inspect_bytes
from esp_cabundle.partitions import PartitionTable, read_partition_table
from esp_cabundle.trust_files import trust_set_from_bytes


@pytest.mark.parametrize(
    ("kwargs", "hint"),
    [
        ({"roots": "my-root.pem"}, "give a tuple: roots=('my-root.pem',)"),
        ({"presets": "letsencrypt"}, "give a tuple: presets=('letsencrypt',)"),
        ({"excludes": "dst-root-ca-x3"}, "give a tuple: excludes=('dst-root-ca-x3',)"),
        ({"roots": Path("my-root.pem")}, "give a tuple: roots=('my-root.pem',)"),
        ({"roots": [b"x"]}, "give roots as a tuple of str"),
        ({"presets": (Path("letsencrypt"),)}, "give presets as a tuple of str"),
    ],
)
def test_one_str_where_names_go_is_refused(kwargs: dict[str, object], hint: str) -> None:
    with pytest.raises(ArgumentTypeError, match="takes") as e:
        BundleSpec(**kwargs)  # type: ignore[arg-type]
    assert e.value.hint == hint
    assert isinstance(e.value, TypeError) and isinstance(e.value, InputError)


def test_a_root_file_may_be_a_path(tmp_path: Path) -> None:
    spec = BundleSpec(roots=[tmp_path / "my-root.pem", "isrg-root-x1"], base_dir=str(tmp_path))  # type: ignore[arg-type, list-item]
    assert spec.roots == (str(tmp_path / "my-root.pem"), "isrg-root-x1")
    assert spec.base_dir == tmp_path


def test_a_root_file_given_as_a_path_is_read() -> None:
    from tests.support.gated import AT

    x1 = Path(__file__).parent / "data/letsencrypt/isrgrootx1.pem"
    ca = gate_ca(CaSource.build(BundleSpec(roots=(x1,))), at=AT)
    assert [c.subject for c in ca.certificates] == [c.subject for c in load_certificate_file(x1)]


@pytest.mark.parametrize(
    ("call", "hint"),
    [
        (
            lambda: open_image(Path("x.bin")),
            "read the file first: open_image(Path('x.bin').read_bytes())",
        ),
        (
            lambda: load_certificates("-----BEGIN CERTIFICATE-----"),
            "encode the text first: load_certificates(text.encode())",
        ),
        (
            lambda: load_certificates(Path("ca.pem")),
            "for a file use load_certificate_file('ca.pem')",
        ),
        (lambda: inspect_bytes("dump.bin", source="x"), "for a file use inspect_path('dump.bin')"),
        (lambda: inspect_bytes(Path("dump.bin")), "for a file use inspect_path('dump.bin')"),
        (lambda: trust_set_from_bytes(Path("ca.pem")), "for a file use load_trust_set('ca.pem')"),
        (
            lambda: read_partition_table("dump.bin"),  # type: ignore[arg-type]
            "read the file first: read_partition_table(Path('dump.bin').read_bytes())",
        ),
        (
            lambda: PartitionTable.from_binary("x.bin"),  # type: ignore[arg-type]
            "read the file first: PartitionTable.from_binary(Path('x.bin').read_bytes())",
        ),
        (
            lambda: PartitionTable.from_binary(Path("x.bin")),  # type: ignore[arg-type]
            "read the file first: PartitionTable.from_binary(Path('x.bin').read_bytes())",
        ),
        (
            lambda: update_dump(Path("dump.bin"), load_board("mdash"), None),  # type: ignore[arg-type]
            "read the file first: update_dump(Path('dump.bin').read_bytes())",
        ),
    ],
)
def test_bytes_arguments_refuse_paths_and_text(call: Callable[[], object], hint: str) -> None:
    with pytest.raises(ArgumentTypeError, match="takes bytes, not") as e:
        call()
    assert e.value.hint == hint


def test_a_date_given_as_text_is_refused_with_the_call_to_make() -> None:
    with pytest.raises(ArgumentTypeError, match="a date or datetime is needed, not str") as e:
        gate_ca(CaSource.build(BundleSpec(presets=("letsencrypt",))), at="2026-01-01")  # type: ignore[arg-type]
    assert e.value.hint is not None and "date.fromisoformat('2026-01-01')" in e.value.hint


def test_readme_shows_inspect_bytes_signature() -> None:
    """README named inspect_bytes but never its keyword ``source``."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert 'inspect_bytes(data, source="dump.bin")' in readme
