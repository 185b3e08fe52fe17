"""Push's options against its subcommands (``push status``): one typed before the
subcommand would be silently dropped, and a subcommand typed after ``--mdash`` (whose URL
may be left out) or ``--mqtt`` was taken as that URL. Both are refused with the line
mended."""

from __future__ import annotations

import click
from click.core import ParameterSource

from ._usage import options_end, split_option, takes_value, typed_words, usage_error

__all__ = ["refuse_options_before", "refuse_subcommand_as_url"]


# Each option of push's whose value click would take a subcommand for: its
# parameter's name, what its value is, and the value a run's mended line gives it
# (--mdash's URL may be left out: its default).
_TAKES_URL = (
    ("mdash_url", "--mdash", "the mDash API's URL", ()),
    ("mqtt_url", "--mqtt", "the broker's URL", ("mqtt://broker.local",)),
)


def refuse_subcommand_as_url(ctx: click.Context, opts: dict[str, object]) -> None:
    """``push --mdash status`` (or ``--mqtt status``): click took ``status`` as the
    URL, and the run then asked for --board with ``--mdash status`` kept in its hint (or
    said --mqtt takes mqtt://...). Refused first: the line with ``status`` as the
    subcommand, or, when push's options that it has not got were typed too (a run was
    meant), with --mdash's URL left to its default (--mqtt given the help's)."""
    group = ctx.command
    if not isinstance(group, click.Group):
        return
    for name, flag, what, value in _TAKES_URL:
        url = opts.get(name)
        if not isinstance(url, str) or url not in group.commands:
            continue
        if ctx.get_parameter_source(name) is not ParameterSource.COMMANDLINE:
            continue  # ESP_CABUNDLE_MQTT=status is no word typed before a subcommand
        words, _ = split_option(typed_words(ctx), (flag,), takes_value=True)
        shared = {o for p in group.commands[url].params for o in getattr(p, "opts", ())}
        others = [  # push's own options typed, which the subcommand has not got
            p
            for p in group.params
            if isinstance(p, click.Option)
            and p.name not in (None, "debug", name)
            and not shared.intersection(p.opts)
            and ctx.get_parameter_source(p.name) is ParameterSource.COMMANDLINE
        ]
        if others:  # a run: --mdash's default URL, --mqtt the help's
            mended, why = [*words[:1], flag, *value, *words[1:]], f"or push {url}, alone"
        else:
            mended, why = [*words[:1], url, *words[1:]], f"or push {flag} URL ... to reach units"
        raise usage_error(
            f"{flag} takes {what}, not '{url}' (a push subcommand): a subcommand "
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
        rest = words[words.index(sub) + 1 :] if sub in words else []  # sub's own words
        if "--json" in rest[: options_end(rest)] and any("--json" in p.opts for p in options):
            # sub's --json (`push --ledger x.db status --json`), not parsed yet as this
            # refusal comes first: a script waits for one JSON document all the same
            ctx.find_root().ensure_object(dict)["json"] = True
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
