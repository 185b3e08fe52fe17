"""``push``'s CA: through the write-path gate, with the servers the units connect
through, and never unjudged onto units in the field unless the user says so."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..check import CheckFailed
from ..errors import InputError
from .options import parse_at

if TYPE_CHECKING:
    from ..boards import Board
    from ..check import Target
    from ..gate import GatedCA
    from .ca_source import CaOptions

__all__ = ["PUSH_ALLOW", "UNJUDGED", "gated_ca"]

UNJUDGED = "unjudged"
# push's own --allow value, beside the policies (ca_options(allow=...)).
PUSH_ALLOW = ((UNJUDGED, "push a CA that no server or target judged"),)

_PUSH_SKIP_HINT = (
    "push never skips this check (--no-check is refused): list the server under targets: "
    "in cabundle.yaml for 'chains pull', or name the server the units really use with "
    "--server HOST[:PORT]"
)


def gated_ca(board: Board, servers: list[Target], opts: dict[str, Any]) -> GatedCA:
    """The CA file to push, gated for ``board`` like every write (esp_cabundle.gate):
    the link's ``servers`` are judged beside the config's targets, always (a push must
    never cut the connection it travels on, so --no-check is refused). A CA nothing
    judged (no server or target named, none judged, no connection of the board's firmware
    that reads the file) is refused unless ``--allow unjudged``: units in the field would get a file
    nobody showed to accept their server."""
    ca: CaOptions = opts["ca"]
    if ca.no_check:
        raise InputError(
            "push never skips the check of the servers units connect to (--no-check is refused)",
            hint="units reached through a connection the new CA file breaks would be lost (no "
            "push could reach them again); add the roots that server chains to "
            "(esp-cabundle check shows which)",
        )
    unjudged_allowed = UNJUDGED in ca.allow
    ca = replace(ca, allow=tuple(a for a in ca.allow if a != UNJUDGED))  # no bundle policy
    try:
        gated = ca.gate(
            board=board,
            at=parse_at(opts["at"]),
            command="push",
            targets=servers,
            skip_hint=_PUSH_SKIP_HINT,
        )
    except CheckFailed as e:
        raise CheckFailed(
            "the new CA file would not accept the chain of a server the units connect "
            "to: pushing it would cut the connection it travels on; nothing written",
            violations=e.violations,
            hint="add the roots that server chains to (esp-cabundle check shows which)",
            report=e.report,
        ) from e
    # A server named but left out (the firmware verifies it without the file: mDash
    # 1.2.16 and mdash.net) was asked for: the file cannot cut the units off it. Named
    # by --target as well as by --server: a --target mdash.net was refused as unjudged.
    judged = gated.report is not None and bool(gated.report.results)
    if not unjudged_allowed and not judged and not (servers or ca.targets):
        raise InputError(
            f"no server judged the CA ({gated.summary}): push would put a file "
            f"on {board.name} units in the field that nobody showed to accept the server "
            "they connect to; nothing written",
            hint="name the server the units connect to with --server HOST[:PORT] (its "
            "chain saved as chains/HOST.pem) or --target CHAIN-FILE, or list it under "
            "targets: in cabundle.yaml; or, knowing the file is right, add "
            "--allow unjudged",
        )
    return gated
