"""Wording helpers: counts agree with their nouns."""

from __future__ import annotations

import re

from esp_cabundle.text import plural


def test_plural() -> None:
    assert plural(1, "root") == "1 root"
    assert [plural(n, "root") for n in (0, 2)] == ["0 roots", "2 roots"]
    assert plural(2, "policy", "policies") == "2 policies"


_COUNTED = re.compile(r"[a-z]\(s\)(?!://)")  # 'sector(s)', not 'http(s)://'


def test_no_message_counts_with_an_s_in_brackets() -> None:
    """Every string the package can print says '1 sector' or '3 sectors' (text.plural),
    never 'sector(s)'; docstrings may, as they talk about the code."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent / "esp_cabundle"
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = set()
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
                docs.add(id(body[0].value))
        for node in ast.walk(tree):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and id(node) not in docs and _COUNTED.search(text):
                found.append(f"{path.name}:{node.lineno}: {text!r}")
    assert not found, found
