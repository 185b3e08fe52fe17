"""``build_bundle`` given a board's name, a CaSource for its spec or one OutputSpec for
its outputs, and ``write_build`` given a path, failed deep inside (``'str' object has no
attribute 'read_files'``, ``'CaSource' object has no attribute 'files'``, ``'OutputSpec'
object is not iterable``, ``'str' object has no attribute 'lock_path'``). Now each is an
ArgumentTypeError whose hint is the call to make, raised before anything is read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

import esp_cabundle.build as build_module
from esp_cabundle.boards import load_board
from esp_cabundle.build import build_bundle, write_build
from esp_cabundle.bundle import BundleSpec
from esp_cabundle.config import OutputSpec
from esp_cabundle.errors import ArgumentTypeError
from esp_cabundle.gate import CaSource
from esp_cabundle.targets import Target

AT = datetime(2026, 6, 1, tzinfo=timezone.utc)
SPEC = BundleSpec(presets=("letsencrypt",))
PEM = OutputSpec("pem", Path("out/ca.pem"))
MDASH = Target("mdash.net", chain=Path("examples/ci/chains/mdash.net.pem"))


@pytest.mark.parametrize(
    ("call", "message", "hint"),
    [
        (
            lambda: build_bundle(SPEC, (PEM,), board="mdash-arduino", at=AT),  # type: ignore[arg-type]
            "build_bundle's board= takes a Board, not str 'mdash-arduino'",
            "load it first: board=load_board('mdash-arduino')",
        ),
        (
            lambda: build_bundle(CaSource.build(SPEC), (PEM,), at=AT),  # type: ignore[arg-type]
            "build_bundle takes a BundleSpec, not CaSource",
            "give the CaSource's spec: build_bundle(source.spec, outputs, ...)",
        ),
        (
            lambda: build_bundle(CaSource.finished("ca.pem", b"x"), (PEM,), at=AT),  # type: ignore[arg-type]
            "build_bundle takes a BundleSpec, not CaSource",
            "build_bundle builds a spec; a finished CA file is judged by "
            "gate_ca(source, board=board, at=now) and packed by pack_ca",
        ),
        (
            lambda: build_bundle("letsencrypt", (PEM,), at=AT),  # type: ignore[arg-type]
            "build_bundle takes a BundleSpec, not str 'letsencrypt'",
            "a preset: build_bundle(BundleSpec(presets=('letsencrypt',)), outputs, ...); "
            "a finished CA file: gate_ca(CaSource.from_file(Path('letsencrypt')), at=now)",
        ),
        (
            lambda: build_bundle(SPEC, PEM, at=AT),  # type: ignore[arg-type]
            "build_bundle's outputs takes a sequence of OutputSpec, not one OutputSpec",
            "give a tuple: build_bundle(spec, (output,), ...)",
        ),
        (
            lambda: build_bundle(SPEC, "out/ca.pem", at=AT),  # type: ignore[arg-type]
            "build_bundle's outputs takes a sequence of OutputSpec, not str",
            "give a tuple: build_bundle(spec, (OutputSpec('pem', Path('ca.pem')),), ...)",
        ),
        (
            lambda: build_bundle(SPEC, (Path("out/ca.pem"),), at=AT),  # type: ignore[arg-type]
            "build_bundle's outputs takes OutputSpec objects, not PosixPath",
            "make each with OutputSpec: (OutputSpec('pem', Path('out/ca.pem')),)",
        ),
        (
            lambda: build_bundle(SPEC, (PEM,), at=AT, config="cabundle.yaml"),  # type: ignore[arg-type]
            "build_bundle's config= takes a Config, not str 'cabundle.yaml'",
            "load it first: config=load_config('cabundle.yaml')",
        ),
        (
            lambda: build_bundle(SPEC, (PEM,), at=AT, targets=MDASH),  # type: ignore[arg-type]
            "build_bundle's targets= takes a sequence of Target, not one Target",
            "give a list: targets=[target]",
        ),
        (
            # failed in the gate: 'str' object has no attribute 'preset'
            lambda: build_bundle(SPEC, (PEM,), at=AT, catalog="cacert.pem"),  # type: ignore[arg-type]
            "build_bundle's catalog= takes a Catalog, not str 'cacert.pem'",
            "load it first: catalog=Catalog.load(mozilla_pem=Path('cacert.pem')), "
            "or leave catalog out (the installed one)",
        ),
        (
            # an empty one was taken for None: the installed catalog
            lambda: build_bundle(SPEC, (PEM,), at=AT, catalog={}),  # type: ignore[arg-type]
            "build_bundle's catalog= takes a Catalog, not dict",
            "catalog=Catalog.load(), or leave catalog out (the installed one)",
        ),
        (
            # failed in write_build, once built
            lambda: build_bundle(SPEC, (PEM,), at=AT, lock_path=b"cabundle.lock"),  # type: ignore[arg-type]
            "build_bundle's lock_path= takes a path \\(str or Path\\) or None, "
            "not bytes b'cabundle.lock'",
            "give it as a Path: lock_path=Path('cabundle.lock')",
        ),
        (
            # taken for a file descriptor, stdout: "True: is a FIFO (named pipe)"
            lambda: build_bundle(SPEC, (PEM,), at=AT, lock_path=True),  # type: ignore[arg-type]
            "build_bundle's lock_path= takes a path \\(str or Path\\) or None, not bool True",
            "lock_path=Path('cabundle.lock'), or None: no lock file",
        ),
        (
            lambda: build_bundle(SPEC, (PEM,), at=AT, kept_lock=3),  # type: ignore[arg-type]
            "build_bundle's kept_lock= takes a path \\(str or Path\\) or None, not int 3",
            "kept_lock=Path('cabundle.lock'), or None: no lock file",
        ),
    ],
)
def test_build_bundle_refuses_a_wrong_type_before_reading_anything(
    call: Callable[[], object], message: str, hint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[object] = []
    monkeypatch.setattr(build_module, "_inputs", lambda *a: read.append(a) or [])
    with pytest.raises(ArgumentTypeError, match=message) as e:
        call()
    assert e.value.hint == hint
    assert e.value.exit_code == 2
    assert read == []


@pytest.mark.parametrize(
    ("result", "message", "hint"),
    [
        (
            "x",
            "write_build takes a BuildResult, not str 'x'",
            "write_build writes what build_bundle made, to the outputs' own paths: "
            "write_build(build_bundle(spec, (OutputSpec('pem', Path('x')),), at=now))",
        ),
        (
            SPEC,
            "write_build takes a BuildResult, not BundleSpec",
            "write_build(build_bundle(spec, outputs, at=now))",
        ),
    ],
)
def test_write_build_refuses_what_is_no_build_result(
    result: object, message: str, hint: str
) -> None:
    with pytest.raises(ArgumentTypeError, match=message) as e:
        write_build(result)  # type: ignore[arg-type]
    assert e.value.hint == hint


def test_the_right_types_still_build_and_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list of outputs (not only a tuple) and a board still build, as before."""
    monkeypatch.chdir(tmp_path)
    board = load_board("mdash-arduino")
    outputs = [OutputSpec("pem", Path("out/ca.pem"))]
    result = build_bundle(SPEC, outputs, at=AT, board=board)  # type: ignore[arg-type]
    assert [out.path for out, _ in result.outputs] == [Path("out/ca.pem")]
    assert write_build(result).written == (Path("out/ca.pem"),)
    assert (tmp_path / "out/ca.pem").read_bytes() == result.ca.pem


def test_a_lock_path_given_as_str_is_written_as_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A str worked, but ``written`` held it as a str beside the outputs' Paths."""
    monkeypatch.chdir(tmp_path)
    result = build_bundle(SPEC, (PEM,), at=AT, lock_path="cabundle.lock")  # type: ignore[arg-type]
    assert write_build(result).written == (Path("out/ca.pem"), Path("cabundle.lock"))
    assert (tmp_path / "cabundle.lock").is_file()
