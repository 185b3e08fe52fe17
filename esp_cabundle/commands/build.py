"""``esp-cabundle build``."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import click

from .._stdin import names_stdout
from ..build import LOCK_NAME, BuildResult, build_bundle, dry_run_build, write_build
from ..clobber import same_file
from ..config import (
    CONFIG_NAME,
    Config,
    OutputSpec,
    config_above,
    config_misnamed,
    find_config,
    leads_outside,
    outputs_outside,
)
from ..depfile import MAX_DEPFILE, is_depfile, render_depfile
from ..errors import EspCabundleError, InputError
from ..file_kinds import shell_join, shell_word
from ..fileio import PUBLIC, refuse_output_under_a_file
from ..formats import FORMATS, IMAGE_FORMATS, implied_format
from ..formats.manifest import bundle_to_dict
from ..spelling import Spelling
from ..text import closest, plural, printable, suggest
from ..ui import (
    Column,
    echo,
    emit_json,
    format_table,
    note,
    shown_path,
    stdout_carries_output,
    table_width,
    warn,
)
from ._usage import Refused, example_line, gives, options_end, split_option, typed_words
from .ca_source import CaOptions, announce, ca_options
from .options import (
    CLI_SPELLING,
    Name,
    at_option,
    file_option,
    json_option,
    output_path,
    parse_at,
    quiet_option,
    wide_option,
)

# Expiry and fingerprint stay; on a narrow terminal names are cut, the source left out.
_ROOT_COLUMNS = (
    Column("root", cut=True, least=16),
    "key",
    "not after",
    "sha256",
    Column("source", hide=1),
)


def _no_board_option(typed: list[str], board: str | None) -> InputError:
    """``build --board X`` got click's bare "No such option", and ``build --board``
    "needs a value" (the mended line was then refused): build reads the board from
    cabundle.yaml's ``board:`` (as check and pack do without --board), which init
    writes; the hint is that step (with an example board if none was typed), then the
    line typed without --board."""
    words, _ = split_option(typed, ["--board"], takes_value=board is not None)
    typed_config = any(gives(w, f) for w in words for f in ("-c", "--config"))
    config = typed_config or find_config() is not None
    build = example_line(words).removeprefix("e.g. ")
    name = board if board is not None else "mdash-arduino"  # init's example board
    meant = _board_meant(name)
    if isinstance(meant, EspCabundleError):  # the steps would fail on it too
        return InputError(
            f"build has no --board, and {meant.message.removesuffix('.')} (build takes "
            "the board from board: in cabundle.yaml, which init --board BOARD writes)",
            hint=meant.hint,
        )
    said = f"did you mean '{meant}'? " if meant != name else ""
    hint = said + (
        f"add 'board: {meant}' to the config, then: {build}"
        if config
        else f"e.g. esp-cabundle init --board {shell_word(meant)} --yes (a cabundle.yaml "
        f"with that board), then {build}"
    )
    return InputError(
        "build has no --board: it takes the board from board: in cabundle.yaml (--board "
        "is an option of check, pack, flash, update-dump and push)",
        hint=hint,
    )


def _lock_spelling(overriding: bool) -> Spelling:
    """The build a --locked refusal sends the user to (a lock that differs, or none): the
    line typed, without --locked or --dry-run, so the lock it writes is the one this line
    pins. "run 'esp-cabundle build'" wrote another: the working directory's config (not
    -c FILE's) or, with none, the default preset's; ``overriding``: the line changes the
    selection its config describes, which leaves the lock as it is unless --lock."""
    words = typed_words()
    for flags, takes_value in ((["--locked"], False), (["--dry-run"], False)):
        words = split_option(words, flags, takes_value=takes_value)[0]
    if overriding and "--lock" not in words[: options_end(words)]:
        words.insert(options_end(words), "--lock")
    line = shell_join(["esp-cabundle", *words]) if words else "esp-cabundle build"
    return CLI_SPELLING._replace(build=f"run '{line}'")


def _board_meant(name: str) -> str | EspCabundleError:
    """The board a refused ``build --board NAME`` meant, for the steps its hint gives
    (``init --board``, ``board:``), which would fail on a mistyped name: NAME when it
    loads, else the one shipped board near it, else why it does not load."""
    from ..boards import board_names, load_board  # deferred: only this refusal reads boards

    try:
        load_board(name)
    except EspCabundleError as e:
        near = closest(name, board_names()) if "@" not in name else ()
        return near[0] if len(near) == 1 else e
    return name


@click.command()
@ca_options(
    bundle=False,
    budget="each output: its file, a c output's string, an image's CA file (not json)",
)
@click.option(
    "--board",
    cls=Refused,
    refusal=_no_board_option,
    help="Refused with the way build takes a board (board: in cabundle.yaml).",
)
@click.option(
    "-f",
    "--format",
    "formats",
    multiple=True,
    metavar="FORMAT",
    help="Output format: pem, der, c, json, ... (repeatable; replaces the config's outputs).",
)
@click.option(
    "-o",
    "--output",
    "output_paths",
    multiple=True,
    type=output_path(allow_dash=True),
    help="Output path (with a single --format; - for standard output; missing "
    "directories are made). Without -f, a .der, .h/.c (.hpp, .cpp, .ino) or .json name "
    "picks that format, "
    "x509_crt_bundle.bin idf-bundle (also over the config's outputs).",
)
@click.option(
    "--c-name",
    default=None,
    type=Name("C variable"),
    metavar="IDENT",
    help="Variable name for C output (default s_pem).",
)
@click.option(
    "--c-style",
    type=click.Choice(["s_pem", "array"]),
    default=None,
    help="C output shape: mDash 's_pem' pointer or 'array' with a length.",
)
@click.option(
    "--idf-version",
    metavar="VERSION",
    help="ESP-IDF (5.4) or arduino-X.Y version the idf-bundle output is for: picks v1 or v2.",
)
@file_option(
    "--idf-filter",
    metavar="CSV",
    help="Keep only roots named in ESP-IDF's cmn_crt_authorities.csv (column 2).",
)
@click.option(
    "--locked", is_flag=True, help="Fail if the roots differ from cabundle.lock (for CI)."
)
@click.option(
    "--lock/--no-lock",
    default=None,
    help="Write cabundle.lock, or leave it as it is. Default: write it, unless --preset, "
    "--root, --exclude or --idf-filter change the selection the config describes.",
)
@click.option("--dry-run", is_flag=True, help="Resolve and check, but write nothing.")
@click.option(
    "--depfile",
    type=output_path(),
    help="Also write a make/Ninja dependency file: the outputs, then every file the "
    "build read (config, chains, root files, board, Mozilla store).",
)
@click.option(
    "--allow-outside",
    is_flag=True,
    help="Let the config's outputs be written outside its directory (absolute or '..').",
)
@at_option
@json_option
@wide_option
@quiet_option
def build(
    ca: CaOptions,
    formats: tuple[str, ...],
    output_paths: tuple[Path, ...],
    c_name: str | None,
    c_style: str | None,
    idf_version: str | None,
    idf_filter: Path | None,
    locked: bool,
    lock: bool | None,
    dry_run: bool,
    depfile: Path | None,
    allow_outside: bool,
    at: datetime | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Build a curated CA bundle from named roots and write it in the formats firmware uses.

    Without a config or flags, writes ./ca.pem from the default preset and a
    cabundle.lock that pins the roots' SHA-256 fingerprints (with -c FILE and no outputs
    in it, both beside FILE). --preset, --root, --exclude or --idf-filter changing a
    config's selection leave its lock as it is (--lock writes it). Nothing is written if any
    policy is violated (expired root, root expiring before --service-until, not a CA,
    over --max-bytes, not parseable by mbedTLS). With board: in the config, that board's
    rules judge the targets and its firmware's connections must accept the CA, as in
    'check' and 'pack --board'.

    \b
    Examples:
      esp-cabundle build
      esp-cabundle build --preset letsencrypt --root amazon-root-ca-1
      esp-cabundle build -f c --c-name s_pem -o src/ca_pem.h
      esp-cabundle build -c cabundle.yaml --locked        # CI: fail on drift
      esp-cabundle build --service-until 2036-01-01 --max-bytes 16384 \\
          --dry-run --allow expires-before-service-end
      esp-cabundle build -f idf-bundle --idf-version 5.4 -o x509_crt_bundle.bin
      esp-cabundle build -c cabundle.yaml --depfile build/cabundle.d
    """
    when = parse_at(at)
    config = ca.config()
    spec = ca.spec(config)
    # Run from a project's subdirectory, a plain build would make the default preset's
    # ca.pem and lock here, stray files beside the sources: refuse, naming the config
    # above. A selection or an output given on the command line says what is wanted.
    explicit = ca.presets or ca.roots or formats or output_paths
    misnamed = config_misnamed() if config is None and not explicit else None
    if misnamed is not None:
        raise InputError(
            f"no cabundle.yaml here, and {misnamed.name} is not read; nothing written",
            hint=f"rename it to cabundle.yaml, or pass -c {misnamed.name}; or give "
            "--preset, --root, -f or -o to build here without it",
        )
    above = config_above() if config is None and not explicit else None
    if above is not None:
        shown = os.path.relpath(above)
        raise InputError(
            f"no cabundle.yaml here, and {shown} above is not read; nothing written",
            hint=f"run from {above.parent} (cd {os.path.dirname(shown)}), or pass -c {shown}; "
            "or give --preset, --root, -f or -o to build here without it",
        )
    labels = config.section("idf_filter") if config is not None else None
    if idf_filter is not None:
        from ..formats.idf_filter import load_cmn_filter  # deferred: csv, for this flag only

        labels = load_cmn_filter(idf_filter, CLI_SPELLING)
    if labels is not None:
        spec = replace(spec, only_labels=labels)

    outputs = config.outputs if config is not None else ()
    if formats:
        unknown = [f for f in formats if f not in FORMATS]
        if unknown:
            raise InputError(
                f"unknown format '{unknown[0]}'",
                hint=suggest(unknown[0], FORMATS, f"formats: {', '.join(FORMATS)}"),
            )
        outputs = tuple(OutputSpec(f, Path(FORMATS[f].default_path)) for f in formats)
    if not outputs:
        # A config's default output goes beside it, as its lock does and as the paths
        # inside it are read: `-c fleet/cabundle.yaml` writes fleet/ca.pem.
        outputs = (OutputSpec("pem", _config_dir(config) / "ca.pem"),)
    if output_paths:
        configured = not formats and config is not None and bool(config.outputs)
        outputs = _with_output_path(
            outputs, output_paths, explicit=bool(formats), configured=configured
        )
    if c_name or c_style:
        if not any(o.format == "c" for o in outputs):
            given = [f for f, v in (("--c-name", c_name), ("--c-style", c_style)) if v]
            raise InputError(
                f"{' and '.join(given)} appl{'y' if len(given) > 1 else 'ies'} to the c "
                "output only",
                hint="add -f c, e.g. -f c --c-style array --c-name ca_pem -o ca_pem.h",
            )
        opts = {k: v for k, v in (("name", c_name), ("style", c_style)) if v}
        outputs = tuple(_with_options(o, opts) if o.format == "c" else o for o in outputs)

    if idf_version:
        if not any(o.format == "idf-bundle" for o in outputs):
            raise InputError(
                "--idf-version applies to the idf-bundle output only",
                hint="add -f idf-bundle",
            )
        outputs = tuple(
            _with_options(o, {"idf_version": idf_version}) if o.format == "idf-bundle" else o
            for o in outputs
        )

    if any(names_stdout(o.path) for o in outputs):  # a config's 'path: -' too
        _refuse_binary_at_terminal(outputs)
        stdout_carries_output()  # the report, and --json, go to stderr (ui decides by it)
    lock_path = _config_dir(config) / LOCK_NAME
    overriding = _overriding(ca, idf_filter) if config is not None else []
    lock_note = None
    if lock is None and overriding and config is not None and not locked:
        lock = False  # the lock pins what the config says, which this build is not
        change = "change" if len(overriding) > 1 else "changes"
        lock_note = (
            f"{shown_path(lock_path)} left as it is: {' and '.join(overriding)} {change} "
            f"the selection {shown_path(config.path or Path(CONFIG_NAME))} describes (--lock "
            "writes it)"
        )
    no_lock = lock is False and not locked
    if config is not None and not allow_outside:
        _refuse_outside(config, outputs, None if no_lock else lock_path)
    for out in (o for o in outputs if not names_stdout(o.path)):  # a config's path: too
        refuse_output_under_a_file(out.path)  # exit 2 now, not 3 once the build is done
    result = build_bundle(
        spec,
        outputs,
        at=when,
        lock_path=None if no_lock else lock_path,
        kept_lock=lock_path if no_lock else None,
        locked=locked,
        config=config,
        targets=ca.extra_targets(),
        check_targets=not ca.no_check,
        spelling=_lock_spelling(bool(overriding)) if locked else CLI_SPELLING,
        also_read=[("label filter", idf_filter)] if idf_filter is not None else (),
        also_written=[("dependency file", depfile)] if depfile and _last_depfile(depfile) else (),
    )
    announce(result.ca, quiet=quiet, as_json=as_json)
    for board_ca in result.boards:  # image outputs for a board: its rules, its connections
        announce(board_ca, quiet=quiet, as_json=as_json, images_of=board_ca.board)
    if not as_json:
        if lock_note is not None:
            note(f"note: {lock_note}", quiet=quiet, wrap=True)
        for n in result.dir_notes:
            note(f"note: {printable(n)}", quiet=quiet)
        for w in result.dir_warnings:
            warn(printable(w))
    extra = _depfile(depfile, result)
    done = (
        dry_run_build(result, extra)
        if dry_run
        else write_build(result, extra, spelling=CLI_SPELLING, stamp=bool(extra))
    )

    if as_json:
        doc = bundle_to_dict(result.bundle)
        doc.update(
            {
                "ok": True,
                "outputs": [
                    {"format": o.format, "path": str(o.path), "bytes": len(d)}
                    for o, d in result.outputs
                ],
                "lock": str(result.lock_path) if result.lock_path else None,
                "notes": [*result.notes, *result.dir_notes, *([lock_note] if lock_note else [])],
                "warnings": list(result.dir_warnings),
                "allowed_violations": [v.message for v in result.violations if v.allowed],
                # a dry run writes nothing: what it would write is under would_write
                "written": [] if dry_run else [str(p) for p in done.written],
                "would_write": [str(p) for p in done.written] if dry_run else [],
                "unchanged": [str(p) for p in done.unchanged],
                "gate": result.ca.to_dict(),
                "board_gates": [g.to_dict() for g in result.boards],
            }
        )
        emit_json(doc)
        return
    if not quiet:  # -q shows none of it: measuring every cell of 150 rows is not free
        _roots_table(result)
    sizes = {o.path: f"{shown_path(o.path)} ({len(d):,} bytes)" for o, d in result.outputs}
    if result.lock_path is not None:
        sizes[result.lock_path] = shown_path(result.lock_path)
    sizes.update({p: shown_path(p) for p, _, _ in extra})
    if dry_run and done.written:
        echo(f"Would write {', '.join(sizes[p] for p in done.written)}", quiet=quiet, wrap=True)
    elif done.written:
        echo(f"Wrote {', '.join(sizes[p] for p in done.written)}", quiet=quiet, wrap=True)
    if done.unchanged:
        # left as they were (same inode and mtime): make rebuilds nothing that includes them
        kept = ", ".join(sizes[p] for p in done.unchanged)
        echo(f"unchanged: {kept} (already these bytes; not rewritten)", quiet=quiet, wrap=True)


# Outputs that are bytes, not text: at a terminal they garble it and are kept nowhere.
_BINARY_FORMATS = frozenset({"der", "idf-bundle", *IMAGE_FORMATS})


def _refuse_binary_at_terminal(outputs: tuple[OutputSpec, ...]) -> None:
    """``-o -`` of DER, an ESP-IDF bundle or an image when standard output is a terminal
    (a forgotten ``> file``): refused before anything is written, lock included, as gzip
    and openssl refuse to write binary there; a pipe or a redirect takes the bytes."""
    stdout = sys.stdout
    if stdout is None or not stdout.isatty():
        return
    for o in outputs:
        if names_stdout(o.path) and o.format in _BINARY_FORMATS:
            name = Path(FORMATS[o.format].default_path).name
            raise InputError(
                f"-o {o.path}: standard output is a terminal, and the {o.format} output is "
                "binary; nothing written",
                hint=f"redirect it (-o - > {name}, or | xxd) or name a file: -o {name}",
            )


def _overriding(ca: CaOptions, idf_filter: Path | None) -> list[str]:
    """The flags that change the selection a config describes: a lock written from them
    would pin roots the config does not name, and the next ``build --locked`` fails."""
    given = (
        ("--preset", ca.presets),
        ("--root", ca.roots),
        ("--exclude", ca.excludes),
        ("--idf-filter", idf_filter is not None),
    )
    return [flag for flag, value in given if value]


def _roots_table(result: BuildResult) -> None:
    """The bundle's roots, one a row, and where they came from."""
    echo(
        f"{plural(len(result.bundle), 'root')} from {result.ca.source} "
        f"(Mozilla store: certifi {result.bundle.mozilla_version})"
    )
    rows = [
        (
            e.label,
            e.certificate.key_description,
            e.certificate.not_after.date().isoformat(),
            e.certificate.sha256[:16],
            e.source,
        )
        for e in result.bundle.entries
    ]
    echo(format_table(_ROOT_COLUMNS, rows, indent=2, width=table_width()))


def _depfile(path: Path | None, result: BuildResult) -> list[tuple[Path, bytes, int]]:
    """The dependency file ``--depfile`` asks for, written with the outputs (all or
    none). Its targets are the files written (the lock too); with every output on
    standard output (``-``, ``/dev/stdout``), the dependency file itself."""
    if path is None:
        return []
    outs = [o.path for o, _ in result.outputs if not names_stdout(o.path)]
    outs += [result.lock_path] if result.lock_path is not None else []
    # As files, not names: build/../ca.pem is build's ca.pem before either exists.
    real = os.path.realpath(path)
    if any(same_file(path, p) or os.path.realpath(p) == real for p in (*outs, *result.inputs)):
        raise InputError(
            f"--depfile {path} names a file the build reads or writes; nothing written",
            hint="name a file of its own, e.g. build/cabundle.d",
        )
    return [(path, render_depfile(outs or [path], result.inputs), PUBLIC)]


def _last_depfile(path: Path) -> bool:
    """Whether ``path`` holds a dependency file (an earlier run's): in a ``from_dir``,
    it is left out of the image as the outputs are. Any other file there is packed, and
    so refused as a file the build reads."""
    try:
        small = os.path.isfile(path) and path.stat().st_size <= MAX_DEPFILE
        return small and is_depfile(path.read_bytes())
    except OSError:
        return False


def _config_dir(config: Config | None) -> Path:
    """Where a config's own files go (its lock, its default output): its base_dir, beside
    it as typed (:func:`~esp_cabundle.file_kinds.base_dir_of`)."""
    return config.base_dir if config is not None else Path(".")


def _refuse_outside(config: Config, outputs: tuple[OutputSpec, ...], lock: Path | None) -> None:
    """The config's outputs (and the lock beside it) must stay in its directory, symlinks
    followed, unless --allow-outside."""
    named = [(f"output {o.path}", o.path) for o in outputs_outside(config) if o in outputs]
    if lock is not None and leads_outside(config.base_dir, lock):
        named.append((f"lock file {lock}", lock))
    if named:
        what, path = named[0]
        real = os.path.realpath(path)
        leads = "" if real == os.path.abspath(path) else f" (it leads to {real})"
        raise InputError(
            f"{what} of {config.path} is outside the config's directory{leads}; nothing written",
            hint="pass --allow-outside if it is meant to go there",
        )


def _with_output_path(
    outputs: tuple[OutputSpec, ...], paths: tuple[Path, ...], *, explicit: bool, configured: bool
) -> tuple[OutputSpec, ...]:
    """The one output ``-o`` names. Its extension picks the format when no -f asked for
    one (``-o ca.der``: DER), also over a config's outputs (``configured``: they are the
    project's, not asked for on this line; one of that format keeps its options), and
    must not contradict one that was (``-f pem -o ca.der``)."""
    if len(paths) > 1:
        raise InputError(
            f"-o/--output given {len(paths)} times ({', '.join(map(str, paths))}); "
            "it names the one output file",
            hint="for several outputs, list them under outputs: in cabundle.yaml",
        )
    path = paths[0]
    implied = implied_format(path) if str(path) != "-" else None
    if configured:
        return (_configured_output(outputs, path, implied),)
    if len(outputs) != 1:  # several -f (a default or config output is one, or configured)
        given = ", ".join(o.format for o in outputs)
        formats = list(dict.fromkeys(o.format for o in outputs))
        # the lines that run: a path whose extension says a format takes that one only
        fits = [f for f in formats if implied in (None, f)]
        one = " or ".join(shell_join(["-f", f, "-o", str(path)]) for f in fits)
        # a format given twice would write its default file twice: that build refuses
        own = ", ".join(str(o.path) for o in outputs) if len(formats) == len(outputs) else ""
        raise InputError(
            f"-o/--output needs exactly one output format, and -f gave {len(outputs)} ({given})",
            hint="use -f FORMAT -o PATH"
            + (f" ({one})" if one else "")
            + (f", or leave -o out to write each to its default file ({own})" if own else ""),
        )
    out = outputs[0]
    if implied is None and not explicit and path.suffix.lower() == ".bin":
        raise InputError(
            f"-o {path}: a .bin name says a binary output, and no format was given; "
            "nothing written",
            hint="pass -f idf-bundle for an ESP-IDF certificate bundle (or -f pem to "
            "write PEM text there); file-system images are listed under outputs: in "
            "cabundle.yaml, or made once with 'esp-cabundle pack --fs littlefs|spiffs'",
        )
    if implied is None or implied == out.format:
        return (replace(out, path=path),)
    if not explicit:
        return (OutputSpec(implied, path),)
    raise InputError(
        f"-o {path} names a {implied} file, but the output format is {out.format}",
        hint=f"pass -f {implied}, or name the file for {out.format} "
        f"(e.g. {Path(FORMATS[out.format].default_path).name})",
    )


def _configured_output(
    outputs: tuple[OutputSpec, ...], path: Path, implied: str | None
) -> OutputSpec:
    """``-o path`` without -f in a project whose config lists ``outputs``: the format
    the name says (the config's output of that format, path replaced, keeps its
    options), else the config's one output; a name saying none among several is
    refused, naming them."""
    same = [o for o in outputs if o.format == (implied or outputs[0].format)]
    if implied is not None:
        return replace(same[0], path=path) if same else OutputSpec(implied, path)
    if len(outputs) == 1:
        return replace(outputs[0], path=path)
    formats = ", ".join(dict.fromkeys(o.format for o in outputs))
    example = f"-f pem -o {shell_word(str(path))}"
    raise InputError(
        f"-o {path}: the name says no format, and the config lists {len(outputs)} outputs "
        f"({formats}); nothing written",
        hint=f"pass the format, e.g. {example}",
    )


def _with_options(out: OutputSpec, given: dict[str, str]) -> OutputSpec:
    """``out`` with the flags' options over its own, judged first with the hints naming
    the flags (OutputSpec judges them again, naming the library's parameters)."""
    options = {**out.options, **given}
    check = FORMATS[out.format].check
    if check is not None:
        for key, value in options.items():
            check(key, value, options, CLI_SPELLING)
    return replace(out, options=options)
