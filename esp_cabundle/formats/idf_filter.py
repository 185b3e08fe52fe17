"""ESP-IDF's "common CA" filter and curl-format input: what ``gen_crt_bundle.py
--filter`` keeps from ``cacrt_all.pem``, and the ``idf_filter:`` key of cabundle.yaml."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..certs import Certificate, load_certificates
from ..errors import InputError
from ..file_kinds import base_dir_of
from ..fileio import is_named, read_input
from ..limits import MAX_CSV_INPUT
from ..spelling import PYTHON, Spelling
from ..text import decoded_utf8
from ..yamlnodes import Node

__all__ = [
    "config_idf_filter",
    "curl_names",
    "filter_curl_bundle",
    "load_cmn_filter",
    "parse_cmn_filter",
    "read_curl_bundle",
]


def parse_cmn_filter(text: str, *, source: str = "cmn_crt_authorities.csv") -> frozenset[str]:
    """Column 2 of ESP-IDF's ``cmn_crt_authorities.csv`` (header skipped): root names."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise InputError("empty filter CSV", path=source)
    names = set()
    for n, row in enumerate(rows[1:], start=2):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) < 2:
            raise InputError(
                "expected 'Owner,Common Name or Certificate Name'", path=source, line=n
            )
        names.add(row[1])
    if not names:
        raise InputError("the filter CSV names no certificates", path=source)
    return frozenset(names)


def load_cmn_filter(path: str | Path, spelling: Spelling = PYTHON) -> frozenset[str]:
    """:func:`parse_cmn_filter` of a file; errors name it (and what takes it, as
    ``spelling`` does)."""
    p = Path(path)
    try:
        data = read_input(p, what="filter CSV", max_bytes=MAX_CSV_INPUT)
    except InputError as e:
        raise InputError(
            f"cannot read the filter CSV: {e.message}",
            hint=e.hint
            or f"{spelling.idf_filter} takes the path of ESP-IDF's cmn_crt_authorities.csv "
            "(components/mbedtls/esp_crt_bundle/), not on/off",
        ) from e
    text = decoded_utf8(data, what="the filter CSV", path=str(p))
    return parse_cmn_filter(text, source=str(p))


# A config's idf_filter value is read by the config key, which the hint then names.
_CONFIG_WORDS = PYTHON._replace(idf_filter="idf_filter:")


def config_idf_filter(node: Node) -> frozenset[str]:
    """``idf_filter: path/to/cmn_crt_authorities.csv`` in cabundle.yaml (path relative to
    the config file): keep only the roots whose label the CSV lists."""
    value = node.as_file_name()
    p = Path(value)
    if not p.is_absolute():
        p = base_dir_of(Path(node.where)) / p
    if not is_named(p):  # a link leading nowhere, a directory: reading it says so
        raise node.error(f"no such file: {p}")
    return load_cmn_filter(p, _CONFIG_WORDS)


def _curl_entries(text: str) -> list[tuple[str, str]]:
    """(name line, block) pairs as gen_crt_bundle.py add_with_filter() finds them: a
    name line, a ``====`` line, then the lines up to END CERTIFICATE. One pass over the
    lines (the pattern it used rescanned the rest of the file from every name line)."""
    lines = text.split("\n")
    out: list[tuple[str, str]] = []
    i = 0
    while i + 1 < len(lines):
        name, rule = lines[i], lines[i + 1]
        if not name or not rule or rule.strip("="):
            i += 1
            continue
        j = i + 1
        while j < len(lines) - 1 and "END CERTIFICATE-----" not in lines[j]:
            j += 1
        if j >= len(lines) - 1:  # no END line followed by a newline: no more entries
            break
        out.append((name, "\n".join(lines[i + 1 : j + 1]) + "\n"))
        i = j + 1
    return out


def read_curl_bundle(text: str, *, source: str = "cacert.pem") -> list[tuple[str, Certificate]]:
    """(name line, certificate) for each entry of a curl-format bundle (``cacrt_all.pem``).

    Line ends are read as gen_crt_bundle.py's ``open(..., 'r')`` reads them (universal
    newlines), so a CRLF copy of the file keeps its entries."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out: list[tuple[str, Certificate]] = []
    for name, block in _curl_entries(text):
        certs = load_certificates(block.encode("utf-8"), source=f"{source} ({name})")
        out.extend((name, c) for c in certs)
    return out


def filter_curl_bundle(
    text: str, names: frozenset[str] | set[str], *, source: str = "cacert.pem"
) -> list[Certificate]:
    """The certificates whose name line is in ``names``, in file order (what
    gen_crt_bundle.py ``--filter`` keeps from ``cacrt_all.pem``)."""
    return [c for name, c in read_curl_bundle(text, source=source) if name in names]


def curl_names(data: bytes, *, source: str) -> dict[str, frozenset[str]] | None:
    """SHA-256 -> the name lines a certificate sits under in a curl-format file, which is
    what ``gen_crt_bundle.py --filter`` matches; None when the file has no such entry
    (not in curl's format). A certificate outside every entry maps to no name."""
    if b"\n=" not in data and b"\r=" not in data:  # no underlined name line: not curl's
        return None
    entries = read_curl_bundle(data.decode("utf-8", errors="replace"), source=source)
    if not entries:
        return None
    out: dict[str, set[str]] = {}
    for name, cert in entries:
        out.setdefault(cert.sha256, set()).add(name)
    return {fp: frozenset(n) for fp, n in out.items()}
