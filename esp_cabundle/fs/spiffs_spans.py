"""Where each object index page is, kept between searches for it.

``spiffs_obj_lu_find_id_and_span`` walks the lookup table from the search cursor and
reads the header of every entry holding the object's id until one has the wanted span:
for a file of hundreds of index pages that is a hundred header reads per search, and
garbage collection searches once per data page it moves (a 12 MB write into a 15 MiB
image spent most of its seconds there). :class:`SpanIndex` files index-page entries
under (lookup id, header span) so a search reads only the pages that can match; the
volume marks entries whose id or header may have changed and they are filed again
before the next search. The answer is the walk's: of the pages passing SPIFFS's
checks, the first from the cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .spiffs_layout import (
    FLAG_DELET,
    FLAG_FINAL,
    FLAG_IXDELE,
    FLAG_USED,
    IX_FLAG,
    OBJ_ID_FREE,
    Geometry,
)

__all__ = ["SpanIndex"]

Header = Callable[[int], tuple[int, int, int]]  # a page's (id, span, flags)


class SpanIndex:
    """Index-page lookup entries by (id, span): a superset of the live ones.

    Each set holds every entry whose lookup id and header span are its key, and maybe
    entries that no longer match (checked, and dropped, when searched). Only entries
    whose id carries the index flag are filed: SPIFFS searches for index pages only.
    """

    def __init__(self, lu: list[int], header: Header, geo: Geometry) -> None:
        self.g = geo
        self.header = header
        self.by_key: dict[tuple[int, int], set[int]] = {}
        self.file(lu, (geo.pix(e) for e, oid in enumerate(lu) if oid & IX_FLAG))

    def file(self, lu: list[int], pages: Iterable[int]) -> None:
        """File the entries of ``pages`` under their current id and header span."""
        g = self.g
        ppb, lup, entry, header, by_key = (
            g.pages_per_block,
            g.lu_pages,
            g.entry,
            self.header,
            self.by_key,
        )
        for pix in pages:
            if pix % ppb < lup:
                continue  # a lookup page: its writes are lookup entries, marked apart
            e = entry(pix)
            oid = lu[e]
            if not oid & IX_FLAG or oid == OBJ_ID_FREE:
                continue
            key = (oid, header(pix)[1])
            found = by_key.get(key)
            if found is None:
                by_key[key] = {e}
            else:
                found.add(e)

    def find(self, lu: list[int], oid: int, spix: int, start: int) -> int | None:
        """The entry spiffs_obj_lu_find_id_and_span's walk from ``start`` stops at."""
        found = self.by_key.get((oid, spix))
        if not found:
            return None
        pix, header = self.g.pix, self.header
        total = len(lu)
        start %= total
        best: int | None = None
        best_dist = total
        stale = []
        for e in found:
            if lu[e] != oid:
                stale.append(e)  # filed again when its id or header changes
                continue
            ph_id, ph_spix, flags = header(pix(e))
            if ph_spix != spix:
                stale.append(e)
                continue
            if (
                ph_id == oid
                and flags & (FLAG_FINAL | FLAG_DELET | FLAG_USED) == FLAG_DELET
                and not (not flags & FLAG_IXDELE and ph_spix == 0)
            ):
                dist = (e - start) % total
                if dist < best_dist:
                    best, best_dist = e, dist
        found.difference_update(stale)
        return best
