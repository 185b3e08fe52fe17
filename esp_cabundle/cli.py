"""The ``esp-cabundle`` command line: a thin click layer over the library.

Commands live in ``esp_cabundle/commands/`` and are imported only when run, so
``--help`` and ``build`` never import esptool or littlefs. Exit codes are mapped here,
once: 0 ok, 1 negative verdict, 2 bad input or usage, 3 device or I/O failure,
130 interrupted.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from . import __version__
from .errors import EspCabundleError, LockMismatchError
from .redact import known as known_secrets
from .redact import redact

__all__ = ["COMMANDS", "cli", "main"]

# name -> ("module:attribute", one-line help shown by --help without importing the module)
COMMANDS: dict[str, tuple[str, str]] = {
    "build": (
        "esp_cabundle.commands.build:build",
        "Build ca.pem, C source and other outputs from named roots.",
    ),
    "inspect": (
        "esp_cabundle.commands.inspect:inspect",
        "Show the certificates in files, images, dumps or units.",
    ),
    "roots": ("esp_cabundle.commands.roots:roots", "List or search the root catalog and presets."),
    "check": (
        "esp_cabundle.commands.check:check",
        "Will devices accept their servers' chains, now and until when? (forecast)",
    ),
    "chains": (
        "esp_cabundle.commands.chains:chains",
        "Capture servers' chains as sent and save them for offline checks.",
    ),
    "boards": (
        "esp_cabundle.commands.boards:boards",
        "List board profiles, or show where one keeps its CA and how it verifies.",
    ),
    "update-dump": (
        "esp_cabundle.commands.update_dump:update_dump",
        "Replace the CA file in a whole-flash dump, offline (only its FS partitions change).",
    ),
    "pack": (
        "esp_cabundle.commands.pack:pack",
        "Make a LittleFS or SPIFFS image holding the bundle (and a directory's files).",
    ),
    "fs": (
        "esp_cabundle.commands.fs:fs",
        "List, read, put and remove files in an image or a dump's partition, offline.",
    ),
    "read": (
        "esp_cabundle.commands.read:read",
        "Save a unit's partition or whole flash to a file (a backup, or a dump).",
    ),
    "flash": (
        "esp_cabundle.commands.flash:flash",
        "Replace the CA file on units in place (only changed sectors; resumable; many ports).",
    ),
    "push": (
        "esp_cabundle.commands.push:push",
        "Put the CA file on units in the field (mDash, MQTT, HTTP) as a resumable campaign.",
    ),
    "restore": (
        "esp_cabundle.commands.restore:restore",
        "Put back what 'flash' replaced on a unit, from the local journal.",
    ),
    "journal": (
        "esp_cabundle.commands.journal:journal",
        "List or prune the local journal of updates (it holds sectors of units' files).",
    ),
    "init": (
        "esp_cabundle.commands.init:init",
        "Write a commented cabundle.yaml: board, servers, service life, preset.",
    ),
}


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
        assert isinstance(cmd, click.Command)
        _accept_debug(cmd)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else None
        if name is not None and name not in COMMANDS and not name.startswith("-"):
            import difflib  # deferred: only for a mistyped command

            close = difflib.get_close_matches(name, list(COMMANDS), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise click.UsageError(f"No such command '{name}'.{hint}", ctx)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EspCabundleError as e:
            if ctx.obj and ctx.obj.get("debug"):
                import traceback  # deferred: only for --debug

                traceback.print_exc()
            click.echo(redact(f"Error: {e.message}"), err=True)
            # A lock diff's lines carry their own +/- marks; other lists get a bullet.
            bullet = "" if isinstance(e, LockMismatchError) else "- "
            for v in getattr(e, "violations", ()):
                click.echo(redact(f"  {bullet}{v}"), err=True)
            if e.hint:
                click.echo(redact(f"  hint: {e.hint}"), err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception:
            if not known_secrets():
                raise
            # A bug while a secret is held: its traceback, with the secret masked.
            import traceback  # deferred: only for an internal error

            click.echo(redact(traceback.format_exc()), err=True)
            click.echo("Error: internal error (a bug; secrets masked above)", err=True)
            ctx.exit(1)


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
    """Console-script entry point."""
    try:
        cli.main(args=argv, prog_name="esp-cabundle", standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - raised outside command invocation
        click.echo("Interrupted.", err=True)
        sys.exit(130)
