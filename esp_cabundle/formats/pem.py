"""``ca.pem`` as devices read it.

Each root gets a short comment header (label, subject, not-after, SHA-256) and a
64-column PEM block. Every line stays under 128 bytes because Mongoose OS reads the CA
file with ``fgets(buf, 128, f)`` and silently skips longer lines; mbedTLS ignores the
text between blocks.

A label or subject comes from the certificate, so from whoever made it: the comment
carries it escaped (:func:`~esp_cabundle.text.comment_text`: no newline, no escape
sequence, nothing that reads as PEM armour), and the rendered bytes are read back before
they are returned, so a file that does not hold exactly the bundle's certificates is
never handed to a writer.
"""

from __future__ import annotations

from ..bundle import Bundle
from ..certs import load_certificates
from ..errors import CertificateError, PolicyError, PrivateKeyError
from ..text import comment_text

__all__ = ["MAX_LINE_BYTES", "render_pem"]

# Mongoose OS's fgets buffer is 128 bytes including the newline and the NUL.
MAX_LINE_BYTES = 126


def _clip(line: str) -> str:
    data = line.encode("utf-8")
    if len(data) <= MAX_LINE_BYTES:
        return line
    clipped = data[: MAX_LINE_BYTES - 3].decode("utf-8", errors="ignore")
    return clipped + "..."


def _comment(text: str, *, scan: bool) -> str:
    """One ``#`` comment line holding ``text`` escaped; with ``scan``, withheld when, even
    escaped, it reads like a private-key header (a subject naming one after the word that
    opens PEM armour): every reader of the file would refuse it as holding a key."""
    line = _clip(f"# {comment_text(text)}")
    if scan:
        from ..keyscan import find_private_key  # deferred: only when a key-like name was seen

        if find_private_key(line.encode("utf-8")) is not None:
            return "# (name not shown: it reads like a private-key header)"
    return line


def render_pem(bundle: Bundle) -> bytes:
    """Comment-headed PEM; deterministic for the same bundle.

    Raises :class:`~esp_cabundle.errors.PolicyError` if the bytes, read back, do not
    hold exactly the bundle's certificates in order (a guard: it cannot happen with the
    escaping above)."""
    data = _render(bundle, scan=False)
    # The read-back scans the whole file for keys once; only a file where it finds one
    # is rendered again, each comment judged on its own line, and read back again.
    if _check_round_trip(data, bundle, retry_keys=True):
        data = _render(bundle, scan=True)
        _check_round_trip(data, bundle)
    return data


def _render(bundle: Bundle, *, scan: bool) -> bytes:
    out: list[str] = []
    for e in bundle.entries:
        c = e.certificate
        name = e.label + (f" ({e.alias})" if e.alias else "")
        out.append(_comment(name, scan=scan))
        out.append(_comment(f"Subject: {c.subject}", scan=scan))
        when = f"Not after: {c.not_after:%Y-%m-%d}  Key: {c.key_description}"
        out.append(_comment(when, scan=scan))
        out.append(f"# SHA-256: {c.sha256}")
        out.append(c.pem().rstrip("\n"))
        out.append("")
    return ("\n".join(out)).encode("utf-8")


def _check_round_trip(data: bytes, bundle: Bundle, *, retry_keys: bool = False) -> bool:
    """``data`` read back as every reader of the tool reads a CA file must give the
    bundle's certificates, no more, no fewer, in order. With ``retry_keys``, a file
    refused as holding a private key returns True (render it judging each comment)."""
    if not bundle.entries:
        return False
    try:
        back = tuple(c.sha256 for c in load_certificates(data, source="ca.pem as rendered"))
    except PrivateKeyError as e:
        if retry_keys:
            return True
        back, why = (), e.message
    except CertificateError as e:
        back, why = (), e.message
    else:
        why = "it reads back as other certificates"
    if back != tuple(e.sha256 for e in bundle.entries):
        raise PolicyError(
            f"the rendered ca.pem does not read back as the bundle's "
            f"{len(bundle.entries)} roots ({why}); nothing written",
            hint="report this: a certificate's name defeated the comment escaping",
        )
    return False
