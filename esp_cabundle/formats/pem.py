"""``ca.pem`` as devices read it.

Each root gets a short comment header (label, subject, not-after, SHA-256) and a
64-column PEM block. Every line stays under 128 bytes because Mongoose OS reads the CA
file with ``fgets(buf, 128, f)`` and silently skips longer lines; mbedTLS ignores the
text between blocks.
"""

from __future__ import annotations

from ..bundle import Bundle

__all__ = ["MAX_LINE_BYTES", "render_pem"]

# Mongoose OS's fgets buffer is 128 bytes including the newline and the NUL.
MAX_LINE_BYTES = 126


def _clip(line: str) -> str:
    data = line.encode("utf-8")
    if len(data) <= MAX_LINE_BYTES:
        return line
    clipped = data[: MAX_LINE_BYTES - 3].decode("utf-8", errors="ignore")
    return clipped + "..."


def render_pem(bundle: Bundle) -> bytes:
    """Comment-headed PEM; deterministic for the same bundle."""
    out: list[str] = []
    for e in bundle.entries:
        c = e.certificate
        name = e.label + (f" ({e.alias})" if e.alias else "")
        out.append(_clip(f"# {name}"))
        out.append(_clip(f"# Subject: {c.subject}"))
        out.append(f"# Not after: {c.not_after.strftime('%Y-%m-%d')}  Key: {c.key_description}")
        out.append(f"# SHA-256: {c.sha256}")
        out.append(c.pem().rstrip("\n"))
        out.append("")
    return ("\n".join(out)).encode("utf-8")
