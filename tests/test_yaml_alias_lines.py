"""An error in a value written as an alias (``exclude: [*p]``) names the line the
alias is used on: PyYAML hands back the anchored node, whose line is the anchor's, so
the error pointed at ``&p`` (a line that may be right) instead of the use."""

from __future__ import annotations

from pathlib import Path

import pytest

from esp_cabundle.config import parse_config
from esp_cabundle.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "line", "path"),
    [
        ("service_until: &p 2030-01-01\nexclude: [*p]\n", 2, "exclude[0]"),  # a list item
        ("service_until: &p 2030-01-01\nexclude:\n  - isrg-root-x1\n  - *p\n", 4, "exclude[1]"),
        ("roots: &r [isrg-root-x1]\n\nservice_until: *r\n", 3, "service_until"),  # a value
    ],
)
def test_an_aliased_value_s_error_names_the_line_it_is_used_on(
    text: str, line: int, path: str
) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(text, path=Path("cabundle.yaml"))
    assert e.value.line == line, e.value
    assert e.value.reason.startswith(f"{path}: "), e.value.reason
    anchor = "p" if "&p" in text else "r"
    assert f"(alias *{anchor}: its value is written on line 1)" in e.value.reason


def test_a_value_written_out_names_no_alias() -> None:
    with pytest.raises(ConfigError) as e:
        parse_config("service_until: 2030-01-01\nexclude: [2030-01-01]\n", path=Path("c.yaml"))
    assert e.value.line == 2 and "alias" not in e.value.reason
