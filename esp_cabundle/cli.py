"""The ``esp-cabundle`` command line: a thin click layer over the library.

Commands live in ``esp_cabundle/commands/`` and are imported only when run, so
``--help`` and ``build`` never import esptool or littlefs. Exit codes are mapped here,
once: 0 ok, 1 negative verdict, 2 bad input or usage, 3 device or I/O failure,
130 interrupted.
"""

from __future__ import annotations

import gc
import importlib
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import click

from . import __version__
from ._typed_line import (
    COMMANDS,
    before_end,
    command_at,
    options_in_a_row,
    options_may_repeat,
    wants_json,
    without_group_ends,
)
from .errors import EspCabundleError, InputError, LockMismatchError, OutOfMemory
from .redact import known as known_secrets
from .redact import redact, remember_typed

__all__ = ["COMMANDS", "cli", "interrupted", "main", "run"]


_COLLECTION = {"held": False}


def hold_collection() -> None:
    """Start-up (click, this module, the command's module) makes thousands of objects
    that live until exit, and the cycle collector would scan them again and again: a
    tenth of a short command's run. The console script turns collection off before its
    imports and says so here; :func:`release_collection` ends that."""
    _COLLECTION["held"] = not gc.isenabled()


def release_collection() -> None:
    """The command is imported: freeze what start-up made (collections skip it from now
    on) and collect as usual, so long runs (push --watch, stations) reclaim cycles."""
    if _COLLECTION["held"]:
        _COLLECTION["held"] = False
        gc.freeze()
        gc.enable()


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target[0].partition(":")
        cmd = getattr(importlib.import_module(module), attr)
        release_collection()
        assert isinstance(cmd, click.Command)
        _accept_debug(cmd)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # The command line as typed, for the hint of a missing option (run() gives it).
        ctx.ensure_object(dict).setdefault("argv", tuple(args))
        remember_typed(args)  # a hint shows the line typed: its URLs' passwords masked
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as e:
            # deferred: the error path only
            from .commands._unknown import (
                command_typo,
                misplaced_option,
                unknown_before_command,
                unknown_command,
            )

            argv = self._words(ctx)  # as typed (click took words off args), the tool's -- out
            typed = self._typed_in(ctx, argv)
            misplaced = self._misplaced(e.option_name, typed)
            # --json buidl: the command mistyped is said first, the option moved after it;
            # before --json (every command's) any word is that command: --json zzzz
            words = before_end(argv)
            typo = command_typo(words, COMMANDS, near=not misplaced) if typed is None else None
            if typo is not None:
                error = unknown_command(ctx, typo, argv)
            elif misplaced:
                error = misplaced_option(e.option_name, argv, typed)
            else:
                error = unknown_before_command(e.option_name, self, argv, typed)
            # a misplaced --json is the command's: its document is wanted
            self._report_unknown(ctx, error, None if misplaced else e.option_name)
            raise  # not reached: _report_unknown exits
        except click.BadOptionUsage as e:  # esp-cabundle --debug=1 build
            from .commands._missing import flag_value_error  # deferred: the error path only

            flag_error = flag_value_error(e, self._argv(ctx))
            if flag_error is None:
                raise
            self._report_unknown(ctx, flag_error, None)
            raise  # not reached: _report_unknown exits

    @staticmethod
    def _misplaced(option: str, typed: tuple[int, str, click.Command | None] | None) -> bool:
        """``esp-cabundle --json build``: an option of the command ``typed`` (None: no
        command typed, when every command but virtual-unit has --json) typed before it.
        Click would offer the nearest top-level option ('--version')."""
        if typed is None:
            return option == "--json"
        cmd = typed[2]
        shown = [p for p in cmd.params if not getattr(p, "hidden", False)] if cmd else []
        return option in {o for p in shown for o in p.opts}

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else None
        # (shell completion parses resiliently: past a typo it completes as click does)
        unknown = name is not None and name not in COMMANDS and not name.startswith("-")
        if name is not None and unknown and not ctx.resilient_parsing:
            raise _UnknownCommand(name, ctx)  # said in invoke, as a subcommand's typo is
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            self._refuse_swallowed_flag(ctx)
            self._refuse_repeated_option(ctx)
            result = super().invoke(ctx)
            ctx.ensure_object(dict)["finished"] = True
            return result
        except EspCabundleError as e:
            if ctx.obj and ctx.obj.get("debug"):
                import traceback  # deferred: only for --debug

                # masked as the error line below is: the traceback repeats the message
                click.echo(redact(traceback.format_exc()), err=True, nl=False)
            _report_error(ctx, e, e.exit_code)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt as e:
            _report_error(ctx, e, 130)
            ctx.exit(130)
        except click.MissingParameter as e:
            from .commands._missing import missing_error  # deferred: the error path only

            error = missing_error(e, ctx.obj.get("argv", ()) if ctx.obj else ())
            _report_error(ctx, error, error.exit_code)
            ctx.exit(error.exit_code)
        except click.BadParameter as e:  # a value its type refused: --size 12X
            from .commands._bad_value import bad_value  # deferred: the error path only

            argv = ctx.obj.get("argv", ()) if ctx.obj else ()
            path = e.ctx.command_path.partition(" ")[2] if e.ctx is not None else ""
            if e.ctx is not None and wants_json(e.ctx.command, self._words(ctx)):
                ctx.obj["json"] = True  # an eager --json after the value never ran
            error = bad_value(e, path, argv)
            _report_error(ctx, error, error.exit_code)
            ctx.exit(error.exit_code)
        except click.NoSuchOption as e:  # check --server x
            from .commands._unknown import unknown_option  # deferred: the error path only

            # push -- status --ledgr: status's
            self._report_unknown(ctx, unknown_option(e, self._words(ctx)), e.option_name)
        except click.BadOptionUsage as e:
            # deferred: the error path only
            from .commands._missing import end_dropped, flag_value_error, missing_value_error

            argv = self._words(ctx)  # push -- status --ledger: status's
            typed = self._typed_in(ctx, argv)
            _, path, cmd = (0, "", None) if typed is None else typed
            value_error = None if cmd is None else missing_value_error(e, cmd, path, argv)
            value_error = value_error or flag_value_error(e, argv)
            if value_error is None or cmd is None:
                raise
            # the mended line leaves out a -- given as a value: a --json after it is cmd's
            if wants_json(cmd, argv, anywhere=end_dropped(e.option_name, cmd, argv)):
                ctx.obj["json"] = True  # its callback never ran: parsing stopped before it
            _report_error(ctx, value_error, value_error.exit_code)
            ctx.exit(value_error.exit_code)
        except click.UsageError as e:
            if e.ctx is not None and e.message.startswith("Got unexpected extra argument"):
                from .commands._missing import extra_arguments  # deferred: the error path only

                extra = extra_arguments(e.ctx, self._argv(ctx))
                if extra is not None:
                    self._report_unknown(ctx, extra, None)
            # A command typo (buidl, push stauts): click 8.4's NoSuchCommand, or ours.
            name = getattr(e, "command_name", None)
            if not isinstance(name, str) or e.ctx is None:
                raise
            from .commands._unknown import unknown_command  # deferred: the error path only

            # push -- stauts, -- buidl: the line as click read it
            self._report_unknown(ctx, unknown_command(e.ctx, name, self._words(ctx)), None)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except MemoryError:
            if ctx.obj and ctx.obj.get("debug"):
                import traceback  # deferred: only for --debug

                click.echo(redact(traceback.format_exc()), err=True, nl=False)
            # Reported below, once the exception is gone: its traceback holds the frames,
            # and with them the memory that ran out.
        except Exception:
            if not known_secrets():
                raise
            # A bug while a secret is held: its traceback, with the secret masked.
            import traceback  # deferred: only for an internal error

            click.echo(redact(traceback.format_exc()), err=True)
            click.echo("Error: internal error (a bug; secrets masked above)", err=True)
            ctx.exit(1)
        memory = out_of_memory(self._command_words(ctx))
        _report_error(ctx, memory, memory.exit_code)
        ctx.exit(memory.exit_code)

    @staticmethod
    def _argv(ctx: click.Context) -> tuple[str, ...]:
        return tuple(ctx.obj.get("argv", ()) if ctx.obj else ())

    @staticmethod
    def _words(ctx: click.Context) -> tuple[str, ...]:
        """The line as typed without a ``--`` that ends only the tool's or a group's
        options (:func:`without_group_ends`), as click read it: each reading of the line
        takes these, read once (it was read anew by each, up to four times a run)."""
        obj = ctx.ensure_object(dict)
        words = obj.get("words")
        if words is None:
            words = obj["words"] = without_group_ends(obj.get("argv", ()))
        return words

    def _report_unknown(self, ctx: click.Context, error: InputError, typed: str | None) -> None:
        """Say an unknown option or command (its --json never ran: parsing stopped
        before it, unless --json itself is ``typed``, the option no command has) and
        exit 2."""
        if "--json" in before_end(self._words(ctx)) and typed != "--json":
            ctx.ensure_object(dict)["json"] = True
        _report_error(ctx, error, error.exit_code)
        ctx.exit(error.exit_code)

    def _refuse_swallowed_flag(self, ctx: click.Context) -> None:
        """``build --preset --json``: click would take --json for the preset's name (and
        print text). An option given one of its command's own options as its value was
        left without one: said as a value left out at the end of the line is."""
        argv = self._words(ctx)  # push -- status --ledger --json: status's
        if not options_in_a_row(argv):
            return  # the usual line: no second lookup of its command, no import
        typed = self._typed_in(ctx, argv)
        if typed is None:
            return
        at, _, cmd = typed
        if cmd is None:
            return
        from .commands._missing import swallowed_option  # deferred: a few checks of argv

        error = swallowed_option(cmd, argv[at + 1 :], ctx.help_option_names)
        if error is not None:
            raise error

    def _refuse_repeated_option(self, ctx: click.Context) -> None:
        """``pack -o a.bin -o b.bin``: click keeps the last value and says nothing; an
        option taking one value, given two, is a usage error (commands/_repeated.py)."""
        argv = self._words(ctx)  # push -- status --ledger a --ledger b: status's
        if not options_may_repeat(argv):
            return  # the usual line: no second lookup of its command, no import
        at = command_at(argv)
        cmd = None if at is None else self.get_command(ctx, argv[at])
        if at is None or cmd is None:
            return
        from .commands._repeated import repeated_option  # deferred: a few checks of argv

        found = repeated_option(cmd, argv[at + 1 :], argv[: at + 1], ctx.help_option_names)
        if found is None:
            return
        error, owner = found
        if wants_json(owner, argv):
            ctx.obj["json"] = True  # its callback never ran: parsing stops here
        raise error

    def _command_words(self, ctx: click.Context) -> str:
        """``fs put``: the command that ran, without its arguments (one may be a secret)."""
        name = ctx.invoked_subcommand
        if name is None:
            return ""
        args = list(ctx.obj.get("argv", ()) if ctx.obj else ())
        words, cmd = self._typed_command(
            ctx, name, args[args.index(name) + 1 :] if name in args else []
        )
        return words if cmd is not None else ""

    def _typed_in(
        self, ctx: click.Context, words: Sequence[str]
    ) -> tuple[int, str, click.Command | None] | None:
        """The command typed in ``words`` (the first word naming one: --debug may come
        before it): where it is, its words (``fs put``) and what they run; None if none."""
        at = command_at(words)
        if at is None:
            return None
        return at, *self._typed_command(ctx, words[at], list(words[at + 1 :]))

    def _typed_command(
        self, ctx: click.Context, name: str, rest: list[str]
    ) -> tuple[str, click.Command | None]:
        """Command ``name`` (``fs``), or its subcommand when the first word of ``rest``
        that is no option names one (``fs put``): the words and the command they run."""
        cmd = self.get_command(ctx, name)
        sub = next((a for a in rest if not a.startswith("-")), None)
        if isinstance(cmd, click.Group) and sub is not None and sub in cmd.commands:
            return f"{name} {sub}", cmd.commands[sub]
        return name, cmd


class _UnknownCommand(click.UsageError):
    """No command of that name (``buidl``), named as click 8.4's NoSuchCommand does."""

    def __init__(self, name: str, ctx: click.Context) -> None:
        super().__init__(f"No such command {name!r}.", ctx)
        self.command_name = name


def out_of_memory(command: str) -> OutOfMemory:
    """The error for a MemoryError, naming the ``command`` that ran out. Every output is
    written whole or not at all, so a command that ran out left its files as they were."""
    doing = f"running 'esp-cabundle {command}'" if command else "starting"
    return OutOfMemory(
        f"the machine ran out of memory {doing}",
        hint="free memory (close other programs) or raise the process's memory limit "
        "(ulimit -v), then run it again; no file was left half-written",
    )


def _report_interrupt_json(code: int, signal_name: str | None, *, stdout_taken: bool) -> None:
    """The ``--json`` document of an interrupt, with the ``signal`` that asked for it
    (``SIGTERM`` from ``timeout``; null when none is known): ``kind`` stays
    "KeyboardInterrupt" whatever the signal, as scripts read it. An interrupt that cut an
    import short can leave a module half made for the rest of the process (CPython
    3.13's ``pathlib`` package: re-importing it then raises NameError), so when importing
    the reporter fails, the same document is written from a fixed text instead of a
    traceback, on stderr when stdout carries the output (``emit_json`` decides so
    otherwise)."""
    said = "null" if signal_name is None else f'"{signal_name}"'  # a Signals name: A-Z
    try:
        from .ui import emit_json, error_document  # deferred: the error path only
    except Exception:
        stream = sys.stderr if stdout_taken else sys.stdout
        stream.write(
            '{\n  "ok": false,\n  "error": "interrupted",\n  "kind": "KeyboardInterrupt",\n'
            f'  "exit_code": {int(code)},\n  "violations": [],\n  "hint": null,\n'
            f'  "signal": {said}\n}}\n'
        )
        return
    doc = error_document(KeyboardInterrupt(), code)
    emit_json({**doc, "error": "interrupted", "signal": signal_name})


def _report_error(ctx: click.Context, e: BaseException, code: int) -> None:
    """``Error: ...`` on stderr, every line of it :func:`~esp_cabundle.text.printable`
    (file names, subjects and device fields are escaped, whichever message carries
    them). Under ``--json`` the failure is said once, by a JSON document (a script
    reads it, a person its ``error`` and ``hint``): the error document, or the report
    the command printed when it says ``"ok": false`` (check's, inspect's failed gate).
    Only a report that said ``"ok": true`` before the command failed gets the lines."""
    obj = ctx.obj or {}
    if isinstance(e, KeyboardInterrupt):
        click.echo("Interrupted.", err=True)
        # Cut before the command parsed its options (while it was being imported), the
        # command line says whether a script waits for a document, as for usage errors.
        wants = obj.get("json") or "--json" in obj.get("argv", ())
        if wants and not obj.get("json_printed"):
            name = getattr(e, "signal_name", None)
            _report_interrupt_json(code, name, stdout_taken=bool(obj.get("stdout_taken")))
        return
    from .text import printable  # deferred: the error path only
    from .ui import emit_json, error_document  # deferred: as above

    assert isinstance(e, EspCabundleError)
    if obj.get("json") and obj.get("json_printed") and obj.get("json_failed"):
        return
    if obj.get("json") and not obj.get("json_printed"):
        doc = error_document(e, code)
        doc["error"] = redact(doc["error"])
        doc["hint"] = redact(doc["hint"]) if doc["hint"] else doc["hint"]
        doc["violations"] = [redact(v) for v in doc["violations"]]
        emit_json(doc)  # on stderr when stdout carries the output, as ui decides
        return
    # Every line masked: a secret (push's API key) never reaches the terminal or a log.
    click.echo(redact(f"Error: {printable(e.message)}"), err=True)
    # A lock diff's lines carry their own +/- marks; other lists get a bullet.
    bullet = "" if isinstance(e, LockMismatchError) else "- "
    for v in getattr(e, "violations", ()):
        click.echo(redact(f"  {bullet}{printable(str(v))}"), err=True)
    if e.hint:
        click.echo(redact(f"  hint: {printable(e.hint)}"), err=True)


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(dict)["debug"] = True


def _accept_debug(cmd: click.Command) -> None:
    """Let ``--debug`` follow the command too (``esp-cabundle build --debug``), as users
    type it; it means the same as before the command."""
    if any(p.name == "debug" for p in cmd.params):
        return
    cmd.params.append(
        click.Option(
            ["--debug"],
            is_flag=True,
            expose_value=False,
            callback=_set_debug,
            help="Show tracebacks for errors.",
        )
    )
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            _accept_debug(sub)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="esp-cabundle")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Keep ESP32 fleets able to reach their servers: build, verify, pack and flash the
    CA bundle devices trust.

    \b
    Examples:
      esp-cabundle build                      # ./ca.pem from the default preset
      esp-cabundle build --preset letsencrypt --format c -o ca_pem.h
      esp-cabundle inspect ca.pem --fail-within 365
      esp-cabundle roots isrg

    Exit codes: 0 ok, 1 negative verdict (check failed, policy violated), 2 bad input
    or usage, 3 device or I/O failure, 130 interrupted.
    """
    from .ui import safe_streams  # deferred: it brings json, which --help never needs

    safe_streams()
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with its code (see :func:`run`)."""
    sys.exit(run(argv))


# What cryptography warns about a certificate being read (a DSA key; a name attribute
# longer than X.520's upper bound, which mbedTLS reads as it is) reached the user's
# stderr as Python warnings naming our source lines, though the tool judges such a
# certificate in its own words ("unparseable by mbedTLS"). --debug still shows them.
# Matched by message, as UserWarning (CryptographyDeprecationWarning's base): naming
# cryptography's class would import it on every start.
_INPUT_WARNINGS = (r"DSA is deprecated", r"Attribute's length must be")


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; return its exit code. Click's usage errors are shown as click shows
    them (exit 2); Ctrl-C anywhere, parsing the arguments included, is "Interrupted."
    and 130, whichever click version converts it to ``Abort``."""
    with warnings.catch_warnings():
        if "--debug" not in (sys.argv[1:] if argv is None else argv):
            for message in _INPUT_WARNINGS:
                warnings.filterwarnings("ignore", message, UserWarning)
        return _run(argv)


def _run(argv: list[str] | None) -> int:
    args = sys.argv[1:] if argv is None else argv
    state: dict[str, Any] = {"argv": tuple(args)}
    try:
        rv = cli.main(args=argv, prog_name="esp-cabundle", standalone_mode=False, obj=state)
    except click.exceptions.Abort as e:
        if isinstance(e.__cause__ or e.__context__, KeyboardInterrupt):
            return 0 if state.get("finished") else interrupted()
        click.echo("Aborted!", err=True)  # end of input at a prompt
        return 1
    except click.ClickException as e:
        if "--json" in args and not state.get("json_printed"):  # usage errors too, once
            from .ui import emit_json, error_document  # deferred: the error path only

            doc = {**error_document(e, e.exit_code), "error": e.format_message()}
            if isinstance(e, click.UsageError) and e.ctx is not None and doc["hint"] is None:
                # What click's own report adds below the usage line.
                doc["hint"] = f"Try '{e.ctx.command_path} --help' for help."
            emit_json(doc)
        else:
            e.show()
        return e.exit_code
    except KeyboardInterrupt:
        # After the command finished its work and said so, Ctrl-C changes nothing.
        return 0 if state.get("finished") else interrupted()
    return rv if isinstance(rv, int) else 0


def interrupted() -> int:
    """Say so, and give the shell's code for SIGINT."""
    click.echo("Interrupted.", err=True)
    return 130
