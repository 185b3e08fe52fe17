"""Renderers that turn a :class:`~esp_cabundle.bundle.Bundle` into the bytes firmware uses.

``FORMATS`` maps a format name to its renderer and default file name; other modules add
their formats here (the ESP-IDF bundle, file-system images).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from ..bundle import Bundle
from ..errors import InputError
from ..spelling import PYTHON, Spelling
from .c_source import check_c_option, render_c_source
from .der import render_der
from .manifest import render_manifest
from .pem import render_pem

__all__ = ["FORMATS", "IMAGE_FORMATS", "IMAGE_OPTIONS", "OutputFormat", "implied_format", "render"]

# Output formats that are file-system images (``outputs:`` entries, ``pack --fs``); here,
# not in esp_cabundle.images, so that a build without images never imports that module.
IMAGE_FORMATS = ("littlefs", "spiffs")
# What an image entry of ``outputs:`` may say beside format and path.
IMAGE_OPTIONS = ("board", "profile", "size", "platform", "ca_path", "from_dir", "follow_symlinks")


# Never compared nor printed: no __eq__/__repr__ to generate at start-up (~0.15 ms).
@dataclass(frozen=True, slots=True, eq=False, repr=False)
class OutputFormat:
    """A named output: how to render it and where it goes by default."""

    name: str
    default_path: str
    description: str
    renderer: Callable[..., bytes]
    options: tuple[str, ...] = field(default=())
    # Judges one option's value (given the output's other options) when the config is
    # read, so a bad one is an error at its line rather than when rendering; its hints
    # name the options as the Spelling given does.
    check: Callable[[str, Any, Mapping[str, Any], Spelling], None] | None = None


def _pem(bundle: Bundle, **_: Any) -> bytes:
    return render_pem(bundle)


def _der(bundle: Bundle, **_: Any) -> bytes:
    return render_der(bundle)


def _c(
    bundle: Bundle,
    *,
    name: str = "s_pem",
    style: str = "s_pem",
    spelling: Spelling = PYTHON,
    **_: Any,
) -> bytes:
    return render_c_source(bundle, name=name, style=style, spelling=spelling)


def _check_c(key: str, value: Any, _options: Mapping[str, Any], spelling: Spelling) -> None:
    check_c_option(key, value, spelling)


def _check_idf_bundle(key: str, value: Any, options: Mapping[str, Any], spelling: Spelling) -> None:
    from .idf_bundle import check_bundle_option  # deferred: as for rendering

    check_bundle_option(key, value, options, spelling)


def _json(bundle: Bundle, **_: Any) -> bytes:
    return render_manifest(bundle)


def _idf_bundle(
    bundle: Bundle,
    *,
    idf_version: str | None = None,
    bundle_format: str | None = None,
    max_certs: int | None = 200,
    spelling: Spelling = PYTHON,
    **_: Any,
) -> bytes:
    from .idf_bundle import render_bundle_output  # deferred: only for -f idf-bundle (2 ms)

    return render_bundle_output(
        bundle.certificates,
        idf_version=idf_version,
        bundle_format=bundle_format,
        max_certs=max_certs,
        spelling=spelling,
    )


def _image(bundle: Bundle, **_: Any) -> bytes:
    raise InputError(
        "a file-system image is made from the gated CA, by build "
        "(esp_cabundle.images.render_image_output), not rendered from a bundle"
    )


FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat("pem", "ca.pem", "PEM file (ca.pem) for SPIFFS/LittleFS or setCACert", _pem),
        OutputFormat("der", "ca.der", "concatenated DER certificates", _der),
        OutputFormat(
            "c",
            "ca_pem.h",
            "C source: mDash-style s_pem string, or const char array",
            _c,
            ("name", "style"),
            _check_c,
        ),
        OutputFormat("json", "cabundle.json", "JSON manifest of the roots", _json),
        OutputFormat(
            "idf-bundle",
            "x509_crt_bundle.bin",
            "ESP-IDF certificate bundle (v1: IDF 4.x-5.3, v2: IDF 5.4+)",
            _idf_bundle,
            ("idf_version", "bundle_format", "max_certs"),
            _check_idf_bundle,
        ),
        # Parameters from a board (board: NAME) or given (profile, size, ...).
        *(
            OutputFormat(
                fs,
                f"{fs}.bin",
                f"{fs} image holding the CA file (board: NAME, or profile and size)",
                _image,
                IMAGE_OPTIONS,
            )
            for fs in IMAGE_FORMATS
        ),
    )
}


def render(
    fmt: str,
    bundle: Bundle,
    options: Mapping[str, Any] | None = None,
    *,
    spelling: Spelling = PYTHON,
) -> bytes:
    """Render ``bundle`` in format ``fmt``; options not used by the format are ignored.
    ``spelling``: how the hints name the options (see :mod:`~esp_cabundle.spelling`)."""
    return FORMATS[fmt].renderer(bundle, **dict(options or {}), spelling=spelling)


# Names whose extension says one format only (.crt and .cer hold PEM or DER, .bin many).
# C++ and Arduino names are C source too: PEM text in ca_pem.hpp or certs.ino fails the
# firmware's compile, and the c output is what compiles there (its array form is C++ too).
_C_SUFFIXES = (".h", ".c", ".hh", ".hpp", ".hxx", ".cc", ".cpp", ".cxx", ".ino")
_EXTENSION_FORMATS = {
    ".pem": "pem",
    ".der": "der",
    ".json": "json",
    **dict.fromkeys(_C_SUFFIXES, "c"),
}
# Names that say one format whole: the file ESP-IDF's bundle code embeds.
_NAME_FORMATS = {"x509_crt_bundle": "idf-bundle", "x509_crt_bundle.bin": "idf-bundle"}


def implied_format(path: PurePath) -> str | None:
    """The one format a file name says (``ca.der``: der, ``ca_pem.h``: c), or None when
    it says none: ``build -o`` takes it, and an output whose format contradicts it
    (PEM text in ``ca_pem.h`` that a firmware build then compiles) is refused."""
    return _NAME_FORMATS.get(path.name.lower()) or _EXTENSION_FORMATS.get(path.suffix.lower())
