"""Trust sets from files, configs and bundles: what ``check`` judges a chain against.

Split from :mod:`.check` (which re-exports these names): reading a CA file, an ESP-IDF
bundle or a config's output into a :class:`~esp_cabundle.verify.TrustSet`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .arguments import require_bytes, require_path
from .bundle import BundleSpec, resolve_bundle
from .catalog import Catalog
from .certs import Certificate, load_certificates
from .clobber import same_file
from .errors import CertificateError, EspCabundleError, ImageError
from .file_kinds import shell_path
from .fileio import is_found, read_input
from .formats import IMAGE_FORMATS
from .formats.idf_bundle import DAMAGED_BUNDLE_HINT, diagnose_bundle, read_idf_bundle
from .limits import MAX_CERT_INPUT, check_size
from .sniff import looks_binary
from .spelling import PYTHON, Spelling, bare
from .verify import TrustAnchor, TrustSet
from .verify.pem_read import device_view

if TYPE_CHECKING:
    from .config import Config, OutputSpec

__all__ = [
    "DefaultFile",
    "default_bundle_path",
    "default_file",
    "default_trust_set",
    "device_trust_set",
    "load_trust_set",
    "trust_set_from_bytes",
]


def load_trust_set(path: str | Path) -> TrustSet:
    """A CA file of any shape the tool reads (PEM, DER, C source) or an ESP-IDF
    ``x509_crt_bundle`` (v1 or v2: anchors with a name and a key, no dates); ``-`` is
    standard input."""
    require_path(path, "load_trust_set", data_call="trust_set_from_bytes")
    p = Path(path)
    data = read_input(
        p, what="bundle file", max_bytes=MAX_CERT_INPUT, certificates=True, stdin=True
    )
    _refuse_image(data, str(p))
    return trust_set_from_bytes(data, source=str(p))


def _refuse_image(data: bytes, source: str) -> None:
    """A LittleFS or SPIFFS image given as the trust set is refused naming its CA file
    and the commands that judge it: "binary data" sent users to inspect, which lists
    the files but not how to check one. The image is not judged itself: which of its
    files the units read is the board's (the profile's CA path is only its default)."""
    if data[:1] == b"\x30" or not looks_binary(data):
        return  # text or DER: the certificate reader judges it
    from .fs import detect_fs_type, open_image  # deferred: binary data only
    from .fs.inspect import CERT_SUFFIXES  # deferred: as .fs

    fs_type = detect_fs_type(data)
    if fs_type is None:
        return
    try:
        with open_image(data, fs_type=fs_type) as image:
            paths = [f.path for f in image.files()]
            ca_path = image.profile.ca_path
    except ImageError:
        return  # a broken image: "binary data", and inspect's hint
    img = shell_path(source)
    if ca_path not in paths:
        ca_path = next((f for f in paths if f.lower().endswith(CERT_SUFFIXES)), "")
    save = (
        f"save its CA file: esp-cabundle fs cat {img} {ca_path} -o ca.pem"
        if ca_path
        else f"list its files (esp-cabundle fs ls {img}), save the CA file: "
        f"esp-cabundle fs cat {img} PATH -o ca.pem"
    )
    raise CertificateError(
        f"a {fs_type} image ({len(paths)} file{'s' if len(paths) != 1 else ''}), not a CA "
        "file: check judges the CA file itself",
        path=source,
        hint=f"{save}; then check it: esp-cabundle check --bundle ca.pem, with this "
        "command's other options",
    )


def trust_set_from_bytes(data: bytes, *, source: str = "CA file") -> TrustSet:
    """:func:`load_trust_set` for bytes already in hand (read off a unit, out of an
    image, from a firmware's C string); ``source`` is what errors and verdicts call it."""
    require_bytes(data, "trust_set_from_bytes", path_call="load_trust_set")
    data = bytes(data)  # a memoryview has no bytes methods (decode, startswith)
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


# The output formats check reads back as a trust set (see load_trust_set); an image
# output is read for the CA file in it (:func:`_image_trust_set`). json is not a CA file.
_READABLE_OUTPUTS = ("pem", "der", "c", "idf-bundle")


@dataclass(frozen=True, slots=True)
class DefaultFile:
    """The file a check without ``--bundle`` reads (``path``; ``output``: the config's
    output that wrote it, None for a ``ca.pem`` found by name), or None to judge the
    roots the config resolves to; ``stray``: the note for a ``ca.pem`` left out. Worked
    out once by :func:`default_file` and handed to :func:`default_trust_set` by a caller
    that also needs the path (``check --report`` must not replace it)."""

    path: Path | None
    output: OutputSpec | None = None
    stray: tuple[str, ...] = ()


def default_file(
    config: Config | None, *, cwd: Path | None = None, spelling: Spelling = PYTHON
) -> DefaultFile:
    """The file a check without ``--bundle`` judges (see :func:`default_trust_set`);
    ``spelling``: how the hints name the trust set given instead."""
    return _default_file(config, cwd=cwd, given=bare(spelling.bundle))


def _default_file(config: Config | None, *, cwd: Path | None, given: str) -> DefaultFile:
    """The one rule for the file judged without ``--bundle``. A config that names
    outputs (any format: a json- or image-only config names its files too): the first
    CA output that is there, never a ``ca.pem`` that is none of them (it never ships;
    said by ``stray``). Otherwise the ``ca.pem`` beside the config, where ``build -c``
    writes it (``-c fleet/cabundle.yaml`` judged a stray ./ca.pem instead of
    fleet/ca.pem), else in the working directory. A directory, FIFO or device where the
    file should be is refused (:func:`~esp_cabundle.fileio.is_found`)."""
    beside = config.base_dir if config is not None and config.path is not None else None
    pem = (beside or cwd or Path.cwd()) / "ca.pem"
    if config is None or not config.outputs:
        hint = f"check judges {pem} when present: remove or rename it, or name one with {given}"
        # a dangling link is found: reading it says so
        return DefaultFile(pem if is_found(pem, what="bundle file", hint=hint) else None)
    outputs = _ca_outputs(config)
    stray = os.path.isfile(pem) and not any(same_file(pem, out.path) for out in outputs)
    notes = (
        (f"{pem} is not one of the config's outputs: not judged (judge it with {given} {pem})",)
        if stray
        else ()
    )
    hint = f"check judges the file the config's build wrote: remove it, or use {given}"
    for out in outputs:
        if is_found(out.path, what=f"{out.format} output", hint=hint):
            return DefaultFile(out.path, out, notes)
    return DefaultFile(None, None, notes)


def default_bundle_path(config: Config | None, *, cwd: Path | None = None) -> Path | None:
    """The file a check without ``--bundle`` reads (see :func:`default_trust_set`): the
    CA output that is there (an image output: the image), else the ``ca.pem`` found by
    name; None when there is none and the roots the config resolves to are judged."""
    return _default_file(config, cwd=cwd, given="--bundle").path


def _ca_outputs(config: Config | None) -> list[OutputSpec]:
    """The config's outputs check can read back (paths joined to its directory); an
    image output holds a CA file to read."""
    if config is None:
        return []
    readable = (*_READABLE_OUTPUTS, *IMAGE_FORMATS)
    return [o for o in config.outputs if o.format in readable]


def default_trust_set(
    config: Config | None,
    *,
    cwd: Path | None = None,
    spelling: Spelling = PYTHON,
    chosen: DefaultFile | None = None,
) -> TrustSet:
    """What a check without ``--bundle`` judges: the file :func:`_default_file` picks
    (``data/ca.pem``, ``x509_crt_bundle.bin``, the CA file in ``littlefs.bin``...: what
    the units get, even when the config changed since); a ``ca.pem`` beside a config
    naming outputs but not it is left out, with a note (CI passed on such a stray file
    while the firmware shipped the configured bundle). Else the bundle the config (or
    the default preset) resolves to: what ``build`` would write. ``spelling``: how the
    hints name the trust set given instead (see :mod:`~esp_cabundle.spelling`).
    ``chosen``: what :func:`default_file` said for ``config`` already (``cwd`` and the
    hints are then its), so the outputs are not looked at twice."""
    if chosen is None:
        chosen = default_file(config, cwd=cwd, spelling=spelling)
    notes = chosen.stray
    if chosen.output is not None and chosen.output.format in IMAGE_FORMATS:
        trust, why = _image_trust_set(chosen.output)
        if trust is not None:
            return replace(trust, notes=(*trust.notes, *notes))
        notes = (*notes, why)
    elif chosen.path is not None:
        trust = load_trust_set(chosen.path)
        return replace(trust, notes=(*trust.notes, *notes))
    spec = config.spec if config is not None else BundleSpec()
    bundle = resolve_bundle(spec, Catalog.load(), spelling).bundle
    where = f"roots resolved from {config.path}" if config and config.path else "default preset"
    return replace(TrustSet.from_bundle(bundle, source=where), notes=notes)


def _image_trust_set(out: OutputSpec) -> tuple[TrustSet | None, str]:
    """The CA file in the image output ``out`` built, as the units read it; else None
    and why it could not be read (the roots the config resolves to are judged instead)."""
    path = out.path
    image = out.image
    # deferred: the file systems load only for a config with an image output
    from .fs import get_profile, open_image

    try:
        if image is None:
            raise ImageError(f"{out.format} output has no image parameters")
        spec = image.spec
        ca_path = spec.ca_path or get_profile(spec.fs_type, spec.profile).ca_path
        data = read_input(path, what=f"{out.format} image")
        with open_image(
            data, fs_type=spec.fs_type, profile=spec.profile, platform=spec.platform
        ) as fs:
            content = fs.read(ca_path)
        return trust_set_from_bytes(content, source=f"{path}:{ca_path}"), ""
    except EspCabundleError as e:
        return None, f"{path}: its CA file cannot be read ({e.message}): judged the roots instead"
