"""Writing the CA file onto one unit, verified, and the reboot after it: steps 3 and 4
of :mod:`.campaign`'s per-unit procedure.

3. ``writing``: put the file to ``<ca>.new`` in frames that fit, read it back and
   compare SHA-256, then ``FS.Rename`` it onto the CA path (LittleFS replaces
   atomically; SPIFFS removes then renames); a unit without ``FS.Rename`` gets the CA
   path written directly (one frame when it fits). The CA path is read back and
   compared; a mismatch is retried once at once while the unit is connected. A failed
   write removes ``<ca>.new`` again (best effort, recorded), so a full file system is
   left as it was. But a rename can fail after the firmware removed the CA path (mDash
   ``rpc_fs_rename`` and ``vfs-fs-spiffs`` remove ``dst`` first; ``SPIFFS_rename`` then
   wants a free page and runs no clean-up): then ``<ca>.new`` is the unit's only CA, so
   the CA path is written directly (the old file's pages are reclaimable), else the old
   file back, else ``<ca>.new`` is kept and the error says the CA path is gone
   (:meth:`UnitWriter.target_lost`); the rerun, finding ``<ca>.new`` holding the file,
   renames it as it is (:meth:`UnitWriter.staged_copy`);
4. ``verified``; with ``reboot``: ``Sys.Reboot``, ``rebooted``, then wait until the
   unit answers again from a new boot and still holds the file: ``reconnected``.

Apart from :mod:`.campaign` (which picks units, holds their leases and watches), so that
the engine's module stays small enough to read; what it needs of a run is the file, the
ledger, the options, the stop event and the progress callback.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import UnitRpcError, UnitUnreachable
from .campaign_types import CampaignOptions, PushFile
from .files import UnitFiles, UnitInfo
from .ledger import Ledger
from .refusals import Mismatch, missing, out_of_space
from .room import in_place_may_fit, in_place_room
from .rpc import is_unknown_method
from .transport import LinkLost

__all__ = ["TargetLost", "UnitWriter"]

log = logging.getLogger(__name__)

_REBOOT_POLL = 1.0


class TargetLost(UnitRpcError):
    """A failed ``FS.Rename`` left the unit without its CA file, which could not be
    written again: the staged copy is its only CA and must stay."""


class OldWrittenBack(UnitRpcError):
    """A failed ``FS.Rename`` left the unit without its CA file, and the old one was
    written back: the staged copy is removed, the error kept as it says (not reworded
    as the staged copy out of space)."""


@dataclass
class UnitWriter:
    """A campaign's writes to its units: ``emit(unit, state, text, final=...)`` reports
    progress as the campaign's own events."""

    push: PushFile
    ledger: Ledger
    options: CampaignOptions
    stop: threading.Event
    emit: Callable[..., None]

    def write_verified(
        self, files: UnitFiles, old: bytes | None = None, *, staged: bool = False
    ) -> str | None:
        """Stage, read back, rename (then check the renamed file's size and tail); a
        unit that turns out to have no ``FS.Rename`` (or ``in_place``) is written in
        place and read back whole. Every firmware examined has ``FS.Rename``, so it is
        tried first. ``old``: the unit's CA file before (what :meth:`target_lost` may
        write back); ``staged``: ``<ca>.new`` already holds the file, read back
        (:meth:`staged_copy`), so it is renamed first, not written again. Returns a note
        on how the file was written when it is not the usual way, else None."""
        push = self.push
        use_rename = staged or not self.options.in_place
        reused = (
            f"{push.temp_name}, left on the unit by an earlier run, renamed onto {push.name}"
            if staged
            else None
        )
        tries = 0
        while True:
            tries += 1
            if use_rename:
                if not staged:
                    files.put(push.temp_name, push.data)
                if staged or files.get(push.temp_name) == push.data:
                    staged = False  # a second try writes it again
                    self.ledger.renew(files.unit_id)
                    try:
                        files.rename(push.temp_name, push.name)
                    except UnitRpcError as e:
                        if not is_unknown_method(e):
                            return self.target_lost(files, e, old)
                        use_rename = False  # no FS.Rename: write in place
                        self.forget_temp(files)
                        tries -= 1
                        continue
                    if files.ends_with(push.name, push.data):
                        return reused
                    reused = None
            else:
                files.put(push.name, push.data)
                if files.get(push.name) == push.data:
                    return None
            if tries >= 2:
                raise Mismatch(
                    f"unit {files.unit_id}: the file read back differs from the file written, "
                    "twice",
                    hint="the unit's file system may be failing; update it on the bench",
                )
            log.info("unit %s: read-back mismatch; writing again", files.unit_id)
            self.ledger.renew(files.unit_id)

    def staged_copy(self, files: UnitFiles, state: str, current: bytes | None) -> bool:
        """Whether ``<ca>.new`` already holds the file, where a run before may have left
        it (the row not pending, or the CA path missing or empty): a rename that failed
        after the firmware removed the CA path keeps it as the unit's only copy of the
        new CA, and a rerun that wrote it again (truncating it first) needed the room the
        unit lacked, then removed it on failing. Renamed as it is, no second copy needs room. In
        place, a unit that holds a CA file is written in place as asked (a refused
        rename would have its intact file written back)."""
        if current and (state == "pending" or self.options.in_place):
            return False
        return files.holds(self.push.temp_name, self.push.data)  # unreadable: written

    def after_failed_write(
        self, files: UnitFiles, e: UnitRpcError, old: bytes | None, free: int | None
    ) -> UnitRpcError:
        """A write the unit refused: remove the staged copy, or (in place) write the old
        file back, which fitted before, so the unit is not left with a cut one (best
        effort, said in the error the ledger keeps); say plainly when it is out of space."""
        push = self.push
        if isinstance(e, TargetLost):
            return e  # <ca>.new is the unit's only CA: kept, and said so
        tidy = ""
        if self.options.in_place and old is not None:
            try:
                files.put(push.name, old)
                tidy = f"; the old {push.name} written back"
            except (UnitRpcError, UnitUnreachable) as again:
                tidy = f"; {push.name} may be left cut short (writing it back: {again.message})"
        elif not self.options.in_place:
            try:
                files.remove(push.temp_name)
                tidy = f"; {push.temp_name} removed again"
            except UnitRpcError as gone:
                if not missing(gone):
                    tidy = f"; {push.temp_name} could not be removed ({gone.message})"
            except UnitUnreachable:
                tidy = f"; {push.temp_name} may be left on the unit (it stopped answering)"
        if out_of_space(e) and not isinstance(e, OldWrittenBack):
            said = e.message.removeprefix(f"unit {files.unit_id}: ")
            return UnitRpcError(
                f"unit {files.unit_id}: out of space on the unit writing "
                f"{push.name if self.options.in_place else push.temp_name} ({said})" + tidy,
                hint=self.room_hint(old, free),
                code=e.code,
            )
        return UnitRpcError(e.message + tidy, hint=e.hint, code=e.code)

    def target_lost(self, files: UnitFiles, e: UnitRpcError, old: bytes | None) -> str:
        """A refused ``FS.Rename``: if the unit still has the CA path, raise ``e`` (the
        staged copy is then removed as after any failed write). If the firmware removed
        it first, ``<ca>.new`` must not be removed: write the CA path directly, read it
        back, then remove the staged copy (returns the note saying so); failing that,
        write the old file back and raise; failing both, raise :class:`TargetLost`,
        which keeps ``<ca>.new``. A unit that stops answering meanwhile keeps it too (no
        tidying follows), and its error says the CA path may be gone."""
        try:
            return self._target_lost(files, e, old)
        except LinkLost:
            raise  # the broker, not the unit: the pass stops, and the rerun renames
        except UnitUnreachable as gone:
            # The row stays "writing", read as "holds its old or its new file whole":
            # here it may hold neither at the CA path, so say so where status shows it.
            push = self.push
            said = e.message.removeprefix(f"unit {files.unit_id}: ")
            raise UnitUnreachable(
                f"{gone.message}, after FS.Rename {push.temp_name} -> {push.name} failed "
                f"({said}), which may have removed {push.name}: the new CA is in "
                f"{push.temp_name}, kept on the unit; it must not restart before the next "
                f"run renames {push.temp_name} onto {push.name}"
            ) from None

    def _target_lost(self, files: UnitFiles, e: UnitRpcError, old: bytes | None) -> str:
        push, uid = self.push, files.unit_id
        said = e.message.removeprefix(f"unit {uid}: ")
        try:
            there = files.get(push.name) is not None
        except UnitRpcError as unknown:
            asked = unknown.message.removeprefix(f"unit {uid}: ")
            raise self.lost(
                files, said, f"asking for it then failed: {asked}", had=bool(old), sure=False
            ) from None
        if there:
            raise e
        self.ledger.renew(uid)
        log.warning("unit %s: FS.Rename failed, leaving no %s; writing it", uid, push.name)
        why = self.put_verified(files, push.data)
        if why is None:
            self.forget_temp(files)
            # "after removing" only where there was a file to remove (a rerun's unit
            # may have none left, or an empty one, from the run before)
            after = f" after removing {push.name}" if old else ""
            return (
                f"FS.Rename {push.temp_name} -> {push.name} failed{after} ({said}); "
                f"{push.name} written directly and read back"
            )
        if old and self.put_verified(files, old) is None:  # an empty file is no CA
            full = out_of_space(why)
            raise OldWrittenBack(
                f"unit {uid}: FS.Rename {push.temp_name} -> {push.name} failed after "
                f"removing {push.name} ({said}), and writing the new {push.name} failed"
                f"{', out of space' if full else ''} ({why}); the old {push.name} written back",
                # not --in-place: that writes the CA path directly, as was just refused
                hint=(
                    "free space on the unit (remove files it does not need), or push a "
                    "smaller CA bundle"
                    if full
                    else None
                ),
                code=e.code,
            )
        raise self.lost(files, said, f"writing it directly failed: {why}", had=bool(old))

    def put_verified(self, files: UnitFiles, data: bytes) -> str | None:
        """Write the CA path with ``data`` and read it back, written again at once if it
        differs (as every write of the push): None if it holds it, else why not."""
        name, uid = self.push.name, files.unit_id
        for _ in range(2):
            self.ledger.renew(uid)
            try:
                files.put(name, data)
                if files.get(name) == data:
                    return None
            except UnitRpcError as failed:
                return failed.message.removeprefix(f"unit {uid}: ")
            log.info("unit %s: read-back mismatch; writing again", uid)
        return "it read back different, twice"

    def lost(
        self, files: UnitFiles, said: str, why: str, *, had: bool, sure: bool = True
    ) -> TargetLost:
        """``had``: the unit held a CA file before the rename (else none says it
        removed one); ``sure``: the unit said it has none now."""
        push = self.push
        gone = "is gone" if sure else "may be gone"
        rename = f"FS.Rename {push.temp_name} -> {push.name}"
        if had and sure:
            rename += f" removed it, then failed ({said})"
        else:
            rename += f" failed ({said})" + (", which may have removed it" if had else "")
        return TargetLost(
            f"unit {files.unit_id}: its {push.name} {gone}: {rename}; {why}. The new CA is "
            f"only in {push.temp_name}, kept on the unit",
            hint=(
                f"the unit must not restart before this is fixed (without {push.name} it "
                "cannot connect to its server): push again to it (the rerun renames "
                f"{push.temp_name} onto {push.name} as it is, writing no second copy), or "
                "fix it on the bench"
            ),
        )

    def room_hint(self, current: bytes | None, free: int | None) -> str:
        """What to do for a unit out of space: free some, or (staged) write in place, but
        only where in place may fit (the hint's words are what the ledger's status reads
        back as "--in-place would help": none of them when it would not)."""
        if self.options.in_place:
            return (
                "free space on the unit (remove files it does not need), or push a smaller "
                "CA bundle"
            )
        if not in_place_may_fit(self.push, current, free):
            return (
                f"{self.push.name} cannot fit even written over the old one: free space on "
                "the unit (remove files it does not need), or push a smaller CA bundle"
            )
        return (
            "free space on the unit (remove files it does not need), or push again with "
            f"{self.options.spelling.in_place}, which may fit: "
            f"{in_place_room(self.push, current, free)} (in place, a unit cut off mid-write "
            "holds a partial file until the next run)"
        )

    def forget_temp(self, files: UnitFiles) -> None:
        with contextlib.suppress(UnitRpcError):  # absent: nothing to tidy
            files.remove(self.push.temp_name)

    def reboot(self, files: UnitFiles, before: UnitInfo) -> str:
        uid = files.unit_id
        self.emit(uid, "rebooted", "rebooting")
        started = time.monotonic()
        with contextlib.suppress(UnitUnreachable):  # gone at once: rebooting
            files.reboot()
        self.ledger.record(uid, state="rebooted")
        gone = False
        while True:
            if self.stop.is_set():
                raise UnitUnreachable(f"unit {uid}: interrupted while waiting for it to reconnect")
            time.sleep(_REBOOT_POLL)
            elapsed = time.monotonic() - started
            try:
                info = files.info()
            except LinkLost:
                raise  # the broker, not the unit: it says nothing of the reboot
            except UnitUnreachable:
                gone = True
                if elapsed > self.options.reconnect_timeout:
                    raise UnitUnreachable(
                        f"unit {uid}: did not reconnect within "
                        f"{self.options.reconnect_timeout:g} s of the reboot"
                    ) from None
                self.ledger.renew(uid)
                continue
            new_boot = (
                info.uptime is not None
                and before.uptime is not None
                and info.uptime < before.uptime + elapsed - 1
            )
            if gone or new_boot:
                break
            if elapsed > self.options.reconnect_timeout:
                raise UnitUnreachable(f"unit {uid}: answered but never rebooted")
        if files.get(self.push.name) != self.push.data:
            raise Mismatch(f"unit {uid}: after the reboot the CA file is not the one written")
        self.ledger.record(uid, state="reconnected", fw_version=info.fw_version, seen=True)
        self.emit(uid, "reconnected", final=True)
        return "reconnected"
