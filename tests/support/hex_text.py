"""Bytes as hex text, the ways tools print them and people paste them.

``TOOLS`` writes what xxd, hexdump and od print, byte for byte (tests/test_keyscan_hex.py
compares each with the tool where it is installed), so the tests need none of them;
``bare_forms`` spells bytes as hex without offsets (one string, OpenSSL's colons, in
C literals and comments).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["TOOLS", "bare_forms", "hex_forms"]


def _text_column(chunk: bytes) -> str:
    return "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)


def xxd(
    data: bytes, *, group: int = 2, cols: int = 16, little: bool = False, upper: bool = False
) -> bytes:
    """``xxd [-g group] [-c cols] [-e] [-u]``: -e is little-endian groups of 4 by default."""
    width = cols * 2 + cols // group
    lines = []
    for off in range(0, len(data), cols):
        chunk = data[off : off + cols]
        area = ""
        for g in range(0, cols, group):
            part = chunk[g : g + group]
            if little:
                text = part[::-1].hex().rjust(2 * group) if part else " " * 2 * group
            else:
                text = part.hex().ljust(2 * group)
            area += text + " "
        area = area.upper() if upper else area
        lines.append(f"{off:08x}: {area.ljust(width)} {_text_column(chunk)}")
    return "".join(line + "\n" for line in lines).encode()


def hexdump_c(data: bytes) -> bytes:
    """``hexdump -C`` (no line repeats its previous one in the data it is given)."""
    if not data:
        return b""
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        left = " ".join(f"{b:02x}" for b in chunk[:8])
        right = " ".join(f"{b:02x}" for b in chunk[8:])
        area = f"{left:<23}  {right:<23}"
        lines.append(f"{off:08x}  {area}  |{_text_column(chunk)}|")
    lines.append(f"{len(data):08x}")
    return "".join(line + "\n" for line in lines).encode()


def _words(chunk: bytes, size: int = 2) -> list[str]:
    """Words of ``size`` bytes, little-endian, the last one padded with zeros (as od)."""
    padded = chunk + b"\x00" * (-len(chunk) % size)
    return [padded[i : i + size][::-1].hex() for i in range(0, len(padded), size)]


def hexdump(data: bytes) -> bytes:
    """``hexdump`` (16-bit words, little-endian), as printed on a little-endian machine."""
    if not data:
        return b""
    lines = []
    for off in range(0, len(data), 16):
        area = " ".join(_words(data[off : off + 16]))
        lines.append(f"{off:07x} {area:<39}")
    lines.append(f"{len(data):07x}")
    return "".join(line + "\n" for line in lines).encode()


def hexdump_x(data: bytes) -> bytes:
    """``hexdump -x``: 16-bit words four blanks apart, the last line padded with blanks."""
    if not data:
        return b""
    lines = []
    for off in range(0, len(data), 16):
        area = "".join(f"    {w}" for w in _words(data[off : off + 16]))
        lines.append(f"{off:07x}{area:<64}")
    lines.append(f"{len(data):07x}")
    return "".join(line + "\n" for line in lines).encode()


def od(data: bytes, *, offsets: str = "o", words: bool = False, size: int = 2) -> bytes:
    """``od -tx1`` (``-x``, or ``-tx<size>``, with ``words``), offsets ``o`` octal, ``x``
    hex, ``n`` none (``-An``)."""
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        area = "".join(" " + w for w in _words(chunk, size)) if words else chunk.hex(" ", 1)
        area = area if words else " " + area
        lines.append({"o": f"{off:07o}", "x": f"{off:06x}", "n": ""}[offsets] + area)
    if offsets != "n":
        lines.append({"o": f"{len(data):07o}", "x": f"{len(data):06x}"}[offsets])
    return "".join(line + "\n" for line in lines).encode()


# name -> (the tool's command line, what it prints for some bytes)
TOOLS: dict[str, tuple[list[str], Callable[[bytes], bytes]]] = {
    "xxd": (["xxd"], xxd),
    "xxd -g1": (["xxd", "-g1"], lambda d: xxd(d, group=1)),
    "xxd -g4": (["xxd", "-g4"], lambda d: xxd(d, group=4)),
    "xxd -c32": (["xxd", "-c32"], lambda d: xxd(d, cols=32)),
    "xxd -u": (["xxd", "-u"], lambda d: xxd(d, upper=True)),
    "xxd -e": (["xxd", "-e"], lambda d: xxd(d, group=4, little=True)),
    "xxd -e -g8": (["xxd", "-e", "-g8"], lambda d: xxd(d, group=8, little=True)),
    "xxd -p": (
        ["xxd", "-p"],
        lambda d: b"".join(d[i : i + 30].hex().encode() + b"\n" for i in range(0, len(d), 30)),
    ),
    "hexdump -C": (["hexdump", "-C"], hexdump_c),
    "hexdump": (["hexdump"], hexdump),
    "od -tx1": (["od", "-tx1"], od),
    "od -An -tx1": (["od", "-An", "-tx1"], lambda d: od(d, offsets="n")),
    "od -Ax -tx1": (["od", "-Ax", "-tx1"], lambda d: od(d, offsets="x")),
    "od -x": (["od", "-x"], lambda d: od(d, words=True)),
    "hexdump -x": (["hexdump", "-x"], hexdump_x),
    "od -An -x": (["od", "-An", "-x"], lambda d: od(d, offsets="n", words=True)),
    "od -An -tx4": (["od", "-An", "-tx4"], lambda d: od(d, offsets="n", words=True, size=4)),
    "od -An -tx8": (["od", "-An", "-tx8"], lambda d: od(d, offsets="n", words=True, size=8)),
}


def bare_forms(data: bytes) -> dict[str, bytes]:
    """``data`` as hex without offsets, as people paste it."""
    text = data.hex()
    rows = [data[i : i + 15] for i in range(0, len(data), 15)]
    openssl = ":\n".join("    " + row.hex(":") for row in rows) + "\n"
    literals = "\n".join(f'    "{text[i : i + 64]}"' for i in range(0, len(text), 64))
    return {
        "one string": text.encode() + b"\n",
        "upper case": text.upper().encode(),
        "colons": data.hex(":").encode(),
        "blanks": data.hex(" ").encode(),
        "openssl": openssl.encode(),
        "after a word": b"key=" + text.encode(),
        "after a hex word": b"deadbeefabc" + text.encode(),  # odd: read from one digit on
        "json": b'{"key": "' + text.encode() + b'"}\n',
        "c literals": f"static const char k[] =\n{literals};\n".encode(),
        "c comment": b"/*\n"
        + b"".join(b" * " + line + b"\n" for line in xxd(data).splitlines())
        + b" */\n",
        "pem comment": b"".join(b"# " + line + b"\n" for line in hexdump_c(data).splitlines()),
    }


def hex_forms(data: bytes) -> dict[str, bytes]:
    """Every tool's dump and every bare form of ``data``."""
    return {**{name: make(data) for name, (_, make) in TOOLS.items()}, **bare_forms(data)}
