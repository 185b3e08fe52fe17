"""Wrong argument types from a library caller get a clear error naming the argument and
the form it takes (ArgumentTypeError: an InputError and a TypeError), not a failure
deep inside ("unknown root 'm'")."""

from __future__ import annotations

from pathlib import Path

import pytest

from esp_cabundle.bundle import BundleSpec
from esp_cabundle.certs import load_certificate_file
from esp_cabundle.errors import ArgumentTypeError, InputError
from esp_cabundle.gate import CaSource, gate_ca


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
    ca = gate_ca(CaSource.build(BundleSpec(roots=(x1,))), at=AT)  # type: ignore[arg-type]
    assert [c.subject for c in ca.certificates] == [c.subject for c in load_certificate_file(x1)]
