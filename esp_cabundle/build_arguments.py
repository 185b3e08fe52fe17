"""The types of :func:`~esp_cabundle.build.build_bundle`'s and
:func:`~esp_cabundle.build.write_build`'s arguments, checked at their entry: a board's
name, a CaSource where the spec goes, one OutputSpec where a sequence of them goes or a
path where the result goes failed deep inside (``'str' object has no attribute
'read_files'``, ``'OutputSpec' object is not iterable``). Each refusal is an
:class:`~esp_cabundle.errors.ArgumentTypeError` whose hint is the call to make."""

from __future__ import annotations

import os
from pathlib import Path

from .arguments import ca_source_call, fspath_or, require_items, require_type
from .bundle import BundleSpec
from .config import Config, OutputSpec
from .errors import ArgumentTypeError
from .gate import CONFIG_BOARD, CaSource
from .gate_arguments import check_catalog, check_targets

__all__ = ["check_build_arguments", "check_build_result", "lock_arg"]


def check_build_arguments(
    spec: object,
    outputs: object,
    board: object,
    config: object,
    targets: object,
    catalog: object,
) -> tuple[OutputSpec, ...]:
    """build_bundle's arguments, before anything is read: ``outputs`` as a tuple (a
    generator is read once, here)."""
    require_type(spec, BundleSpec, "build_bundle takes a BundleSpec", _spec_hint(spec))
    check_catalog(catalog, "build_bundle")
    if board is not CONFIG_BOARD and board is not None:
        # deferred: a build with no board loads no board model (as gate_arguments)
        from .board_model import check_board

        check_board(board, "build_bundle")
    if config is not None:
        hint = (
            f"load it first: config=load_config({fspath_or(config)!r})"
            if isinstance(config, str | os.PathLike)
            else "config=load_config('cabundle.yaml')"
        )
        require_type(config, Config, "build_bundle's config= takes a Config", hint)
    check_targets(targets, "build_bundle")
    return _outputs(outputs)


def lock_arg(value: object, name: str) -> Path | None:
    """build_bundle's ``lock_path=`` or ``kept_lock=`` (``name``): None, or a path (str
    or Path) made a Path. A str was written back as a str (``written`` mixed the two);
    bytes failed in write_build, after the build; an int or a bool was taken for a file
    descriptor (``True``: stdout, "is a FIFO, not a lock file")."""
    if value is None:
        return None
    if isinstance(value, str | os.PathLike):
        return Path(value)
    if isinstance(value, bytes | bytearray):
        hint = f"give it as a Path: {name}=Path({os.fsdecode(bytes(value))!r})"
    else:
        hint = f"{name}=Path('cabundle.lock'), or None: no lock file"
    shown = f"{type(value).__name__} {value!r}" if isinstance(value, int | bytes) else None
    raise ArgumentTypeError(
        f"build_bundle's {name}= takes a path (str or Path) or None, "
        f"not {shown or type(value).__name__}",
        hint=hint,
    )


def _spec_hint(spec: object) -> str:
    """The call a CaSource, a preset's name or a CA file given as the spec stands for."""
    if isinstance(spec, CaSource):
        if spec.file_data is None:
            config = ", config=source.config" if spec.config is not None else ""
            return f"give the CaSource's spec: build_bundle(source.spec, outputs{config}, ...)"
        return (
            "build_bundle builds a spec; a finished CA file is judged by "
            "gate_ca(source, board=board, at=now) and packed by pack_ca"
        )
    wrap = ca_source_call(spec)
    if isinstance(spec, str):
        return (
            f"a preset: build_bundle(BundleSpec(presets=({spec!r},)), outputs, ...); "
            f"a finished CA file: gate_ca({wrap}, at=now)"
        )
    if wrap is not None:
        return f"a finished CA file: gate_ca({wrap}, at=now)"
    return "build_bundle(BundleSpec(presets=('letsencrypt',)), outputs, ...)"


def _outputs(outputs: object) -> tuple[OutputSpec, ...]:
    return require_items(
        outputs,
        OutputSpec,
        "build_bundle's outputs",
        one_hint="give a tuple: build_bundle(spec, (output,), ...)",
        hint="give a tuple: build_bundle(spec, (OutputSpec('pem', Path('ca.pem')),), ...)",
        item_hint=lambda out: (
            f"make each with OutputSpec: (OutputSpec('pem', Path({fspath_or(out)!r})),)"
            if isinstance(out, str | os.PathLike)
            else "make each with OutputSpec: (OutputSpec('pem', Path('ca.pem')),)"
        ),
    )


def check_build_result(result: object, result_type: type) -> None:
    """write_build's ``result``: ``result_type`` is :class:`~esp_cabundle.build.BuildResult`
    (build imports this module)."""
    if isinstance(result, result_type):
        return
    if isinstance(result, str | os.PathLike):
        hint = (
            "write_build writes what build_bundle made, to the outputs' own paths: "
            "write_build(build_bundle(spec, (OutputSpec('pem', "
            f"Path({fspath_or(result)!r})),), at=now))"
        )
    else:
        hint = "write_build(build_bundle(spec, outputs, at=now))"
    require_type(result, result_type, "write_build takes a BuildResult", hint)
