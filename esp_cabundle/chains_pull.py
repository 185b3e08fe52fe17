"""``chains pull`` as a library: capture every target's chain, save the ones that came.

One server that is down must not cost a fleet owner the chains of the others, nor hide
which targets were never tried: every target is tried, each gets a :class:`PullResult`,
and the chains captured are saved together (all of them or, when a write fails, none).
A target that failed keeps its saved chain as it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .chains import DEFAULT_TIMEOUT, ServerChain, capture_chain
from .errors import EspCabundleError, InputError, combined_exit_code
from .file_kinds import shell_word
from .fileio import write_all_atomic
from .targets import Target
from .text import plural

__all__ = ["PullFailed", "PullResult", "combined_exit_code", "pull_chains"]

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class PullResult:
    """One target's capture: its chain (saved at ``path``), or why it could not be had
    (``path`` then left as it was)."""

    target: Target
    path: Path
    chain: ServerChain | None = None
    error: EspCabundleError | None = None

    def __post_init__(self) -> None:
        if (self.chain is None) == (self.error is None):
            raise ValueError("a pull result holds a chain or an error, not both or neither")

    @property
    def ok(self) -> bool:
        return self.chain is not None

    @property
    def exit_code(self) -> int:
        return 0 if self.error is None else self.error.exit_code

    def to_dict(self) -> dict[str, object]:
        c, e = self.chain, self.error
        return {
            "target": self.target.name,
            "address": self.target.address,
            "ok": self.ok,
            "path": str(self.path),
            "saved": c is not None,
            "captured_at": c.captured_at.isoformat() if c and c.captured_at else None,
            "chain": [x.label for x in c.certificates] if c else None,
            "error": e.message if e else None,
            "hint": e.hint if e else None,
            "exit_code": self.exit_code,
        }


class PullFailed(EspCabundleError):
    """Some targets could not be captured (the others were saved); ``violations`` names
    each with its reason. Its exit code is :func:`combined_exit_code` of the failures."""

    def __init__(
        self, message: str, *, violations: tuple[str, ...], exit_code: int, hint: str | None
    ) -> None:
        super().__init__(message, hint=hint)
        self.violations = violations
        self.exit_code = exit_code

    @classmethod
    def from_results(
        cls,
        results: Sequence[PullResult],
        *,
        again: str = "esp-cabundle chains pull",
        chosen: bool = False,
    ) -> PullFailed | None:
        """The error to end a pull with, or None when every target was captured;
        ``again`` is the command to run again: its hint adds the targets that failed,
        unless none was captured of targets the user did not pick (``chosen``: picked
        with ``--target``, which running ``again`` alone would not repeat)."""
        failed = [r for r in results if not r.ok]
        if not failed:
            return None
        saved = len(results) - len(failed)
        if saved:
            head = (
                f"{len(failed)} of {plural(len(results), 'target')} could not be captured; "
                f"the {plural(saved, 'other')} {'was' if saved == 1 else 'were'} saved"
            )
        else:
            head = f"no target could be captured ({len(results)} tried); nothing was saved"
        if saved or chosen:  # retry only the targets that failed
            again += "".join(f" --target {shell_word(r.target.name)}" for r in failed)
        return cls(
            head,
            violations=tuple(_failure_line(r) for r in failed),
            exit_code=combined_exit_code(r.exit_code for r in results),
            hint=f"a target that failed keeps its saved chain as it was; once it answers: {again}",
        )


def _failure_line(r: PullResult) -> str:
    assert r.error is not None
    line = f"{r.target.name}: {r.error.message}"
    return f"{line}; {r.error.hint}" if r.error.hint else line


def pull_chains(
    targets: Sequence[Target],
    base_dir: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
) -> list[PullResult]:
    """Try every target with a host, in order, and save each chain captured as PEM
    (leaf first, capture date in a comment); return one result per target tried.

    A server that cannot be reached does not stop the others. The chains captured are
    written together once every target was tried (all or none: a failed write leaves
    every file as it was, and raises); a target that failed keeps its saved chain.
    Ctrl-C while capturing writes nothing. Use :meth:`PullFailed.from_results` to turn
    the failures into an error.
    """
    live = [t for t in targets if t.host]
    if not live:
        raise InputError(
            "no target with a host to pull from", hint="add 'targets:' with hosts to cabundle.yaml"
        )
    _refuse_shared_files(live, base_dir)
    results = []
    for t in live:
        assert t.host is not None
        if progress:
            progress(f"capturing the chain of {t.address} ...")
        path = t.chain_path(base_dir)
        try:
            chain = capture_chain(t.host, t.port, server_name=t.sni_name, timeout=timeout)
        except EspCabundleError as e:
            if progress:
                progress(f"  {t.name}: failed: {e.message}")
            results.append(PullResult(t, path, error=e))
            continue
        results.append(PullResult(t, path, chain=chain))
    write_all_atomic([(r.path, r.chain.to_pem()) for r in results if r.chain is not None])
    return results


def _refuse_shared_files(targets: Sequence[Target], base_dir: Path) -> None:
    """Two servers' chains cannot be saved in one file (``a b`` and ``a_b`` both save to
    ``chains/a_b.pem``; two targets may name one ``chain:``): the last written would
    stand for both, and ``check`` judge one server by the other's chain."""
    seen: dict[str, Target] = {}
    for t in targets:
        path = t.chain_path(base_dir)
        first = seen.setdefault(os.path.realpath(path), t)
        if (first.host, first.port, first.sni_name) != (t.host, t.port, t.sni_name):
            raise InputError(
                f"targets '{first.name}' and '{t.name}' would both save their chain to "
                f"{path}; nothing captured",
                hint="give one of them its own 'chain:' path or 'name:' in the config",
            )
