"""Trust sets from files, configs and bundles: what ``check`` judges a chain against.

Split from :mod:`.check` (which re-exports these names): reading a CA file, an ESP-IDF
bundle or a config's output into a :class:`~esp_cabundle.verify.TrustSet`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .arguments import require_bytes
from .bundle import BundleSpec, resolve_bundle
from .catalog import Catalog
from .certs import Certificate, load_certificates
from .clobber import same_file
from .errors import CertificateError
from .fileio import is_found, read_input
from .formats.idf_bundle import DAMAGED_BUNDLE_HINT, diagnose_bundle, read_idf_bundle
from .limits import MAX_CERT_INPUT, check_size
from .spelling import PYTHON, Spelling, bare
from .verify import TrustAnchor, TrustSet
from .verify.pem_read import device_view

if TYPE_CHECKING:
    from .config import Config

__all__ = [
    "default_bundle_path",
    "default_trust_set",
    "device_trust_set",
    "load_trust_set",
    "trust_set_from_bytes",
]


def load_trust_set(path: str | Path) -> TrustSet:
    """A CA file of any shape the tool reads (PEM, DER, C source) or an ESP-IDF
    ``x509_crt_bundle`` (v1 or v2: anchors with a name and a key, no dates); ``-`` is
    standard input."""
    p = Path(path)
    return trust_set_from_bytes(
        read_input(p, what="bundle file", max_bytes=MAX_CERT_INPUT, certificates=True, stdin=True),
        source=str(p),
    )


def trust_set_from_bytes(data: bytes, *, source: str = "CA file") -> TrustSet:
    """:func:`load_trust_set` for bytes already in hand (read off a unit, out of an
    image, from a firmware's C string); ``source`` is what errors and verdicts call it."""
    require_bytes(data, "trust_set_from_bytes", path_call="load_trust_set")
    check_size(len(data), MAX_CERT_INPUT, what="bundle file", path=source)
    bundle = read_idf_bundle(data)
    if bundle is not None:
        return TrustSet.from_key_entries(
            bundle.roots, source=f"{source} (ESP-IDF bundle {bundle.format})"
        )
    damaged = diagnose_bundle(data)  # a bundle cut short: say so, as inspect does
    if damaged is not None:
        raise CertificateError(damaged, path=source, hint=DAMAGED_BUNDLE_HINT)
    return device_trust_set(data, source=source)


def device_trust_set(data: bytes, *, source: str) -> TrustSet:
    """A CA file's roots as the unit's mbedTLS loads them (:mod:`.verify.pem_read`).

    The file is first read as the tool reads any input (keys refused, errors named). A
    PEM file that mbedTLS reads differently (a block it cannot decode, a BEGIN it stops
    at, a label it does not know) is then judged by what mbedTLS loads, with notes
    saying what differs; a file it reads as written is judged as read."""
    certs = load_certificates(data, source=source)
    view = device_view(data, certs, source=source)
    if view is None:
        return TrustSet.from_certificates(certs, source=source)
    loaded: list[Certificate] = []
    failures = view.failures
    for der in view.loaded:
        try:
            loaded.append(Certificate.from_der(der))
        except CertificateError:
            failures += 1  # the DER parse refuses it too: one more failed block
    return TrustSet(
        tuple(TrustAnchor.from_certificate(c) for c in loaded),
        source,
        file_failures=failures,
        notes=view.notes,
    )


# The output formats check reads back as a trust set (see load_trust_set).
_READABLE_OUTPUTS = ("pem", "der", "c", "idf-bundle")


def default_bundle_path(config: Config | None, *, cwd: Path | None = None) -> Path:
    """The file a check without ``--bundle`` reads first. A config that names CA
    outputs: the first that exists (else the first), never a ``ca.pem`` that is none of
    them (it never ships). Otherwise the ``ca.pem`` beside the config, where ``build -c``
    writes it (``-c fleet/cabundle.yaml`` judged a stray ./ca.pem instead of
    fleet/ca.pem), else in the working directory."""
    outputs = _ca_outputs(config)
    for _, out in outputs:
        if out.exists() or out.is_symlink():
            return out
    if outputs:
        return outputs[0][1]
    if config is not None and config.path is not None:
        return config.path.parent / "ca.pem"
    return (cwd or Path.cwd()) / "ca.pem"


def _ca_outputs(config: Config | None) -> list[tuple[str, Path]]:
    """The config's outputs check can read back: format and path (joined to its
    directory)."""
    if config is None:
        return []
    return [(o.format, o.path) for o in config.outputs if o.format in _READABLE_OUTPUTS]


def default_trust_set(
    config: Config | None, *, cwd: Path | None = None, spelling: Spelling = PYTHON
) -> TrustSet:
    """What a check without ``--bundle`` judges. A config that names CA outputs: the
    first that exists (``data/ca.pem``, ``x509_crt_bundle.bin``...: what the units get,
    even when the config changed since); a ``ca.pem`` beside it that is none of them is
    left out, with a note (CI passed on such a stray file while the firmware shipped the
    configured bundle). Otherwise the ``ca.pem`` beside the config (``./ca.pem`` without
    one), where build writes it. Else the bundle the config (or the default preset)
    resolves to: what ``build`` would write. ``spelling``: how the hints name the trust
    set given instead (see :mod:`~esp_cabundle.spelling`)."""
    given = bare(spelling.bundle)
    outputs = _ca_outputs(config)
    beside = config.path.parent if config is not None and config.path is not None else None
    pem = (beside or cwd or Path.cwd()) / "ca.pem"
    if not outputs:
        hint = f"check judges {pem} when present: remove or rename it, or name one with {given}"
        if is_found(pem, what="bundle file", hint=hint):  # a dangling link: reading says so
            return load_trust_set(pem)
    stray = outputs and pem.is_file() and not any(same_file(pem, out) for _, out in outputs)
    notes = (
        (f"{pem} is not one of the config's outputs: not judged (judge it with {given} {pem})",)
        if stray
        else ()
    )
    hint = f"check judges the file the config's build wrote: remove it, or use {given}"
    for form, path in outputs:
        if is_found(path, what=f"{form} output", hint=hint):
            trust = load_trust_set(path)
            return replace(trust, notes=(*trust.notes, *notes))
    spec = config.spec if config is not None else BundleSpec()
    bundle = resolve_bundle(spec, Catalog.load(), spelling).bundle
    where = f"roots resolved from {config.path}" if config and config.path else "default preset"
    return replace(TrustSet.from_bundle(bundle, source=where), notes=notes)
