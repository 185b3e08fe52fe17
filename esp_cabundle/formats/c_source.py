"""C source forms of a bundle.

``s_pem`` reproduces the shape of mDash's ``static const char *s_pem`` (one string literal
per PEM line, each ending in ``\\n``, four-space indent), so it can be pasted over the
declaration in ``src/mDash.c``; as there, it is ``static``: seen only by the file that
includes it. ``array`` gives ``const char NAME[]`` plus a length that includes the
terminating NUL, which ``mbedtls_x509_crt_parse`` requires for PEM input. The array
and its length are declared ``extern`` before they are defined: in C++ (an Arduino
sketch) a ``const`` at namespace scope is otherwise local to its file, and another
file's ``extern`` declaration of it fails to link.
"""

from __future__ import annotations

from .._patterns import lazy_re
from ..bundle import Bundle
from ..errors import InputError
from ..spelling import PYTHON, Spelling, set_to
from ..text import comment_text, plural

__all__ = [
    "CPP_KEYWORDS",
    "C_HEADER_NAMES",
    "C_KEYWORDS",
    "C_STYLES",
    "check_c_option",
    "render_c_source",
]

C_STYLES = ("s_pem", "array")
# C23's keywords (and C11's spellings of them), which no variable may be named.
C_KEYWORDS = frozenset(
    [
        "alignas",
        "alignof",
        "auto",
        "bool",
        "break",
        "case",
        "char",
        "const",
        "constexpr",
        "continue",
        "default",
        "do",
        "double",
        "else",
        "enum",
        "extern",
        "false",
        "float",
        "for",
        "goto",
        "if",
        "inline",
        "int",
        "long",
        "nullptr",
        "register",
        "restrict",
        "return",
        "short",
        "signed",
        "sizeof",
        "static",
        "static_assert",
        "struct",
        "switch",
        "thread_local",
        "true",
        "typedef",
        "typeof",
        "typeof_unqual",
        "union",
        "unsigned",
        "void",
        "volatile",
        "while",
        "_Alignas",
        "_Alignof",
        "_Atomic",
        "_BitInt",
        "_Bool",
        "_Complex",
        "_Decimal128",
        "_Decimal32",
        "_Decimal64",
        "_Generic",
        "_Imaginary",
        "_Noreturn",
        "_Static_assert",
        "_Thread_local",
    ]
)
# C++20's keywords that C lacks: the array form is made for C++ too (an Arduino sketch),
# where a variable named ``class`` or ``new`` fails the compile as ``int`` does in C.
CPP_KEYWORDS = frozenset(
    [
        "and",
        "and_eq",
        "asm",
        "bitand",
        "bitor",
        "catch",
        "char8_t",
        "char16_t",
        "char32_t",
        "class",
        "co_await",
        "co_return",
        "co_yield",
        "compl",
        "concept",
        "const_cast",
        "consteval",
        "constinit",
        "decltype",
        "delete",
        "dynamic_cast",
        "explicit",
        "export",
        "friend",
        "mutable",
        "namespace",
        "new",
        "noexcept",
        "not",
        "not_eq",
        "operator",
        "or",
        "or_eq",
        "private",
        "protected",
        "public",
        "reinterpret_cast",
        "requires",
        "static_cast",
        "template",
        "this",
        "throw",
        "try",
        "typeid",
        "typename",
        "using",
        "virtual",
        "wchar_t",
        "xor",
        "xor_eq",
    ]
)
# What the standard headers the CA variable meets define (C23 7.21, 7.22): <stddef.h>,
# which the array form includes, and <stdint.h>, which the file including it does
# (Arduino.h, esp_system.h, mbedtls): ``const char size_t[]`` fails the compile as
# ``int`` does, and a macro (NULL, SIZE_MAX) rewrites the declaration.
_STDDEF_NAMES = frozenset(
    ["ptrdiff_t", "size_t", "max_align_t", "nullptr_t", "wchar_t", "NULL", "offsetof",
     "unreachable", "__STDC_VERSION_STDDEF_H__"]
)  # fmt: skip
_BITS = ("8", "16", "32", "64")
_STDINT_NAMES = frozenset(
    [
        *(f"{u}int{b}_t" for u in ("", "u") for b in _BITS),
        *(f"{u}int_{k}{b}_t" for u in ("", "u") for k in ("least", "fast") for b in _BITS),
        *("intptr_t", "uintptr_t", "intmax_t", "uintmax_t"),
        *(
            f"{u}INT{k}{b}_{m}"
            for u in ("", "U")
            for k in ("", "_LEAST", "_FAST")
            for b in _BITS
            for m in ("MAX", "WIDTH")
        ),
        *(f"INT{k}{b}_MIN" for k in ("", "_LEAST", "_FAST") for b in _BITS),
        *(f"{u}INT{b}_C" for u in ("", "U") for b in (*_BITS, "MAX")),
        *(f"{u}INT{t}_{m}" for u in ("", "U") for t in ("PTR", "MAX") for m in ("MAX", "WIDTH")),
        *("INTPTR_MIN", "INTMAX_MIN", "SIZE_MAX", "SIZE_WIDTH"),
        *(f"{t}_{m}" for t in ("PTRDIFF", "SIG_ATOMIC", "WCHAR", "WINT") for m in ("MIN", "MAX")),
        *(f"{t}_WIDTH" for t in ("PTRDIFF", "SIG_ATOMIC", "WCHAR", "WINT")),
        "__STDC_VERSION_STDINT_H__",
    ]
)
# Each such name, and where the refusal says it comes from.
C_HEADER_NAMES = {
    **{n: "<stdint.h> defines, which the files including it include (Arduino.h, ESP-IDF)"
       for n in _STDINT_NAMES},
    **{n: "<stddef.h> defines, which the generated header includes" for n in _STDDEF_NAMES},
}  # fmt: skip
_IDENT = lazy_re(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _literal_lines(bundle: Bundle) -> list[str]:
    lines: list[str] = []
    for e in bundle.entries:
        for line in e.certificate.pem().splitlines():
            lines.append(f'    "{line}\\n"')
    return lines


def _kind(value: object) -> str:
    """A value's kind as the config's type errors say it (a list, a mapping)."""
    if isinstance(value, list):
        return "a list"
    return "a mapping" if isinstance(value, dict) else f"{type(value).__name__} {value!r}"


def check_c_option(key: str, value: object, spelling: Spelling = PYTHON) -> None:
    """The C output's ``name`` (a C identifier) and ``style`` (``s_pem``, ``array``),
    as a config or a flag gives them; InputError otherwise, its hint naming ``name`` as
    ``spelling`` does (see :mod:`~esp_cabundle.spelling`)."""
    if key == "name":
        if not isinstance(value, str):  # a config's list or map: unhashable, not a name
            raise InputError(
                f"expected a C identifier, got {_kind(value)}",
                hint=f"e.g. {set_to(spelling.c_name, 's_pem')} or ca_pem",
            )
        keyword = value in C_KEYWORDS or value in CPP_KEYWORDS
        header = C_HEADER_NAMES.get(value)
        if not _IDENT().match(value) or keyword or header:
            what = (
                "a C keyword"
                if value in C_KEYWORDS
                else "a C++ keyword"
                if value in CPP_KEYWORDS
                else f"a name {header}"
                if header
                else "not a valid C identifier"
            )
            raise InputError(
                f"'{value}' is {what}; it cannot name the CA variable",
                hint=f"e.g. {set_to(spelling.c_name, 's_pem')} or ca_pem",
            )
    elif key == "style" and (not isinstance(value, str) or value not in C_STYLES):
        raise InputError(f"unknown C style '{value}'", hint=f"styles: {', '.join(C_STYLES)}")


def render_c_source(
    bundle: Bundle, *, name: str = "s_pem", style: str = "s_pem", spelling: Spelling = PYTHON
) -> bytes:
    check_c_option("name", name, spelling)
    check_c_option("style", style, spelling)
    lines = _literal_lines(bundle)
    if style == "s_pem":
        body = "\n".join(lines)
        return f"static const char *{name} =\n{body};\n".encode("ascii")
    labels = ", ".join(comment_text(e.label) for e in bundle.entries).replace("*/", "* /")
    header = [
        "/* CA bundle generated by esp-cabundle; do not edit. */",
        f"/* {plural(len(bundle), 'root')}: {labels[:180]} */",
        "/* Definitions: include this file in one source file; elsewhere declare them. */",
        "#include <stddef.h>",
        "",
        "/* extern first: in C++ a const would otherwise be local to the including file. */",
        f"extern const char {name}[];",
        f"extern const size_t {name}_len;",
        "",
        f"const char {name}[] =",
    ]
    footer = [
        "",
        "/* Includes the terminating NUL, as mbedtls_x509_crt_parse() needs for PEM. */",
        f"const size_t {name}_len = sizeof({name});",
    ]
    text = "\n".join(header) + "\n" + "\n".join(lines) + ";\n" + "\n".join(footer) + "\n"
    return text.encode("utf-8")
