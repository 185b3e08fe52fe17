"""Renderers that turn a :class:`~esp_cabundle.bundle.Bundle` into the bytes firmware uses.

``FORMATS`` maps a format name to its renderer and default file name; other modules add
their formats here (the ESP-IDF bundle, file-system images).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..bundle import Bundle

__all__ = ["FORMATS", "OutputFormat", "render"]


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """A named output: how to render it and where it goes by default."""

    name: str
    default_path: str
    description: str
    renderer: Callable[..., bytes]
    options: tuple[str, ...] = field(default=())


def _pem(bundle: Bundle, **_: Any) -> bytes:
    from .pem import render_pem

    return render_pem(bundle)


def _der(bundle: Bundle, **_: Any) -> bytes:
    from .der import render_der

    return render_der(bundle)


def _c(bundle: Bundle, *, name: str = "s_pem", style: str = "s_pem", **_: Any) -> bytes:
    from .c_source import render_c_source

    return render_c_source(bundle, name=name, style=style)


def _json(bundle: Bundle, **_: Any) -> bytes:
    from .manifest import render_manifest

    return render_manifest(bundle)


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
        ),
        OutputFormat("json", "cabundle.json", "JSON manifest of the roots", _json),
    )
}


def render(fmt: str, bundle: Bundle, options: Mapping[str, Any] | None = None) -> bytes:
    """Render ``bundle`` in format ``fmt``; options not used by the format are ignored."""
    return FORMATS[fmt].renderer(bundle, **dict(options or {}))
