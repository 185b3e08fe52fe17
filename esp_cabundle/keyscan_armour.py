"""PEM armour naming a private key, found in any case and under mangling: the rule
:mod:`.keyscan` applies first, apart for its size (its patterns' reasons are most of it)."""

from __future__ import annotations

import re

__all__ = ["ARMOUR_AFTER", "find_armour", "header_start"]

# Armour is what a PEM reader finds: "-----BEGIN " + label + "-----". mbedTLS 2.28
# (pem.c: strstr of the exact header, anywhere in a line), OpenSSL (pem_lib.c: a line
# opening with "-----BEGIN "), cryptography (the pem crate) and OpenSSH read five dashes,
# BEGIN and a label ending in PRIVATE KEY ("RSA", "EC", "ENCRYPTED", "OPENSSH", OpenSSL's
# "X9.42 DH"); PuTTY also imports ssh.com's "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----",
# and GnuPG writes "PGP PRIVATE KEY BLOCK". The scanner is more tolerant than any of them
# in the bytes (any case, three dashes or more, separators of spaces, tabs, dashes, NUL or
# NBSP bytes: a mangled header still marks a key) and in the words (any one or two before
# PRIVATE: providers add labels such as "TSS2"), but not in the shape: BEGIN or END must
# stand right before the label, and dashes must run before the BEGIN or after the label.
# Prose about keys ("# ---- never add a private key ----", "# ---- END OF CERTIFICATES
# (no private key follows) ----") has no BEGIN or END right before the label.
#
# The label is "private" and "key" with up to 8 separator bytes (spaces, dashes, NUL, the
# two bytes of a UTF-8 NBSP) between them. Before it: dashes (three, then up to 8
# separators), "begin" or "end" as a word, 1 to 8 separators, and at most two words each
# followed by 1 to 8 separators. After it, if no dashes were before: at most one word
# and separators, then three dashes.
#
# These run over the bytes lower-cased once (ASCII only, as IGNORECASE on bytes is, and
# the same length, so offsets hold): IGNORECASE makes re up to 8x slower. What comes
# before the label is matched spelt backwards over the reversed text, so that each label
# is found by the literal "yek" (re's fast search for a literal prefix; a lookbehind
# first would make it try every byte) and looks a few bytes ahead for the rest, in C:
# per label in Python, text with "private key" on every line scanned at 1 MB/s.
_SEP = rb"[\x00\t\x0b\x0c\r \xa0\xc2_-]"
_BEGIN_BACKWARDS = (
    rb"(?:" + _SEP + rb"{1,8}[a-z0-9.]{0,15}[a-z0-9]){0,2}" + _SEP + rb"{1,8}(?:nigeb|dne)"
    rb"(?![a-z0-9])"
)
_LABEL_BACKWARDS = re.compile(
    rb"yek(?<![a-z0-9]yek)[^a-z0-9\n]{0,8}etavirp(?=" + _BEGIN_BACKWARDS + rb")"
)
# Dashes before the "begin" or "end" (any way _BEGIN_BACKWARDS matches), after a label.
_DASHES_BACKWARDS = re.compile(_BEGIN_BACKWARDS + _SEP + rb"{0,8}-{3}")
_BEGIN_BEFORE = re.compile(_BEGIN_BACKWARDS)  # where the "begin" or "end" is, no dashes
# The most bytes _DASHES_BACKWARDS can span: the window a header's start is looked for in.
_HEADER_REACH = 128
ARMOUR_AFTER = re.compile(rb"(?:" + _SEP + rb"{1,8}[a-z0-9]{1,16})?" + _SEP + rb"{0,8}-{3}")


def find_armour(low: bytes) -> int | None:
    """Where the first "private key" label in PEM armour starts (see _LABEL_BACKWARDS),
    or None; ``low`` is the input lower-cased."""
    rev, size, first = low[::-1], len(low), None
    for m in _LABEL_BACKWARDS.finditer(rev):  # the last label first
        if _DASHES_BACKWARDS.match(rev, m.end()) or ARMOUR_AFTER.match(low, size - m.start()):
            first = size - m.end()
    return first


def header_start(low: bytes, label: int) -> int:
    """Where the header whose "private key" label starts at ``label`` starts: its first
    dash, else its "begin" or "end" (the header's offset, not the label's 11 bytes in,
    is what a reader of ``-----BEGIN PRIVATE KEY-----`` looks for)."""
    before = low[max(0, label - _HEADER_REACH) : label][::-1]
    dashes = _DASHES_BACKWARDS.match(before)
    if dashes is None:
        word = _BEGIN_BEFORE.match(before)
        return label - word.end() if word else label
    start = label - dashes.end()
    while start and low[start - 1] == 0x2D:  # the pattern takes three of the run's dashes
        start -= 1
    return start
