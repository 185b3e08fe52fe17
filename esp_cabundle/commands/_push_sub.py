"""Push's options against its subcommands (``push status``): one typed before the
subcommand would be silently dropped, and a subcommand typed after ``--mdash`` (whose URL
may be left out) was taken as that URL. Both are refused with the line mended."""

from __future__ import annotations

import click
from click.core import ParameterSource

from ._usage import split_option, takes_value, typed_words, usage_error

__all__ = ["refuse_options_before", "refuse_subcommand_as_url"]


def refuse_subcommand_as_url(ctx: click.Context, url: str | None) -> None:
    """``push --mdash status``: click took ``status`` as the mDash URL, and the run then
    asked for --board with ``--mdash status`` kept in its hint. Refused first: the line
    with ``status`` as the subcommand, or, when push's options that it has not got were
    typed too (a run was meant), with --mdash's URL left to its default."""
    group = ctx.command
    if url is None or not isinstance(group, click.Group) or url not in group.commands:
        return
    words, _ = split_option(typed_words(ctx), ("--mdash",), takes_value=True)
    shared = {o for p in group.commands[url].params for o in getattr(p, "opts", ())}
    others = [  # push's own options typed, which the subcommand has not got
        p
        for p in group.params
        if isinstance(p, click.Option)
        and p.name not in (None, "debug", "mdash_url")
        and not shared.intersection(p.opts)
        and ctx.get_parameter_source(p.name) is ParameterSource.COMMANDLINE
    ]
    if others:  # a run through mDash: its default URL
        mended, why = [*words[:1], "--mdash", *words[1:]], f"or push {url}, alone"
    else:
        mended, why = [*words[:1], url, *words[1:]], "or push --mdash URL ... to reach units"
    raise usage_error(
        f"--mdash takes the mDash API's URL, not '{url}' (a push subcommand): a subcommand "
        "comes right after push",
        mended,
        why=why,
    )


def refuse_options_before(ctx: click.Context, sub: str) -> None:
    """``push --ledger lan.db status`` would read ./cabundle-campaign.db, another
    campaign or none, and ``push --json status`` print text: push's own options are not
    the subcommand's, so one typed before it is refused rather than silently dropped
    (ESP_CABUNDLE_MQTT, an environment value, is not typed here)."""
    given = [
        p
        for p in ctx.command.params
        # --debug means the same wherever it is typed (cli._accept_debug), here too
        if isinstance(p, click.Option)
        and p.name not in (None, "debug")
        and ctx.get_parameter_source(p.name) is ParameterSource.COMMANDLINE
    ]
    if given:
        # Name what the subcommand takes: "put them after it" told `push --mdash URL
        # status` to move an option status has not got.
        cmd = ctx.command.get_command(ctx, sub) if isinstance(ctx.command, click.Group) else None
        options = [p for p in (cmd.params if cmd else ()) if isinstance(p, click.Option)]
        takes = [p.opts[0] for p in options if p.name not in (None, "debug") and p.opts]
        # The hint: the line as typed, push's options moved after sub if it takes them.
        words, moved = typed_words(ctx), []
        for p in given:
            words, taken = split_option(words, p.opts, takes_value=takes_value(ctx, p))
            if any(o in q.opts for o in p.opts for q in options):
                moved += taken
        at = words.index(sub) + 1 if sub in words else len(words)  # after it, past any --
        raise usage_error(
            f"{', '.join(p.opts[0] for p in given)} given before '{sub}': options there are "
            f"push's own, not {sub}'s, and would be ignored; {sub} takes "
            f"{', '.join(takes) or 'none'}, after it",
            [*words[:at], *moved, *words[at:]],
        )
