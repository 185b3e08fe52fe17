"""A saved chain's header lines read strictly, each refusal naming the file and line(s).

- A ``# server:`` line that cannot be read (empty, a bad port, a space inside) was
  ignored silently: the chain then named no server, or the next line's first word.
- Only the first ``# captured:`` (and ``# server:``) line was read: two that disagree
  are refused naming both lines; two that say the same thing are one.
- A capture date in the future (past now and a day's clock skew) was taken as it is,
  counting the certificates that expire before it as renewed by the server.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.chains import load_chain_file
from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from tests.support.doc_commands import freeze_clock
from tests.support.verify_pki import NOW, mint

DAY = timedelta(days=1)
ROOT = mint("Header Root", not_after=NOW + 3000 * DAY)
ISSUING = mint("Header R1", ROOT, path_length=0, not_after=NOW + 30 * DAY)
LEAF = mint("svc.example", ISSUING, ca=False, san="svc.example", not_after=NOW + 20 * DAY)
PEMS = LEAF.pem + ISSUING.pem


def _saved(tmp: Path, header: str) -> tuple[Path, bytes]:
    p = tmp / "c.pem"
    data = f"# esp-cabundle server chain: svc\n{header}".encode() + PEMS
    p.write_bytes(data)
    return p, data


def _refused(p: Path, data: bytes, line: int) -> InputError:
    with pytest.raises(InputError) as e:
        load_chain_file(p)
    assert e.value.exit_code == 2 and e.value.path == str(p) and e.value.line == line
    assert str(e.value).startswith(f"{p}:{line}: ")
    assert p.read_bytes() == data  # nothing changed
    return e.value


# ---------------------------------------------------------------------------------------
# 1. A '# server:' line that cannot be read


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "it is empty; expected HOST:PORT"),  # not the next line's first word
        ("   ", "it is empty; expected HOST:PORT"),
        ("svc.example:99999", "bad port '99999' in 'svc.example:99999' (a port is 1-65535)"),
        ("svc.example:abc", "bad port 'abc' in 'svc.example:abc'"),
        ("svc.example:0", "bad port '0'"),
        ("svc.example:", "bad port ''"),
        ("svc example:443", "a space inside; expected one HOST:PORT"),
        ("svc.example:443 backup", "a space inside"),
        ("[::1", "bad host '[::1': unclosed '['"),
        (":443", "bad host ':443'"),
    ],
)
def test_an_unreadable_server_line_is_refused_naming_its_line(
    tmp_path: Path, value: str, why: str
) -> None:
    p, data = _saved(tmp_path, f"# server: {value}\n# captured: 2026-01-31\n")
    e = _refused(p, data, 2)
    assert f"bad '# server:' address '{value.strip()}': {why}" in e.message, e.message
    assert e.hint is not None and "'# server: mdash.net:443'" in e.hint


@pytest.mark.parametrize(
    ("value", "host", "port"),
    [
        ("svc.example", "svc.example", 443),
        ("svc.example:8883", "svc.example", 8883),
        ("[::1]:8443", "::1", 8443),
        ("127.0.0.1:8443  ", "127.0.0.1", 8443),
    ],
)
def test_a_server_line_is_read_as_host_is(tmp_path: Path, value: str, host: str, port: int) -> None:
    p, _ = _saved(tmp_path, f"# server: {value}\r\n")
    chain = load_chain_file(p)
    assert (chain.host, chain.port) == (host, port)


# ---------------------------------------------------------------------------------------
# 2. Two lines that disagree


def test_two_captured_lines_that_disagree_are_refused_naming_both(tmp_path: Path) -> None:
    p, data = _saved(tmp_path, "# captured: 2026-01-31\n# note: x\n# captured: 2025-06-01\n")
    e = _refused(p, data, 2)
    assert e.message == (
        f"{p}:2: two '# captured:' lines disagree: this one says '2026-01-31', "
        f"{p}:4 says '2025-06-01'"
    )
    assert e.hint is not None and "keep the one line" in e.hint


def test_two_server_lines_that_disagree_are_refused_naming_both(tmp_path: Path) -> None:
    p, data = _saved(tmp_path, "# server: svc.example:443\n# server: svc.example:8883\n")
    e = _refused(p, data, 2)
    assert e.message == (
        f"{p}:2: two '# server:' lines disagree: this one says 'svc.example:443', "
        f"{p}:3 says 'svc.example:8883'"
    )
    p, data = _saved(tmp_path, "# server: svc.example\n# server: other.example\n")
    assert "'other.example'" in _refused(p, data, 2).message


def test_lines_that_say_the_same_thing_are_one(tmp_path: Path) -> None:
    """The same date or server written twice, however spelt, is not ambiguous."""
    p, _ = _saved(
        tmp_path,
        "# server: svc.example:443\n# captured: 2026-01-31 over TLS 1.2\n"
        "# server: SVC.example\n# captured: 2026-01-31T00:00:00Z\n",
    )
    chain = load_chain_file(p)
    assert (chain.host, chain.port) == ("svc.example", 443)
    assert chain.captured_at == datetime(2026, 1, 31, tzinfo=timezone.utc)


def test_an_unreadable_second_line_is_refused_too(tmp_path: Path) -> None:
    p, data = _saved(tmp_path, "# captured: 2026-01-31\n# captured: 2026-01-32\n")
    assert "bad '# captured:' date '2026-01-32'" in _refused(p, data, 3).message
    p, data = _saved(tmp_path, "# server: svc.example\n# server: svc.example:x\n")
    assert "bad '# server:' address 'svc.example:x'" in _refused(p, data, 3).message


@pytest.mark.parametrize(
    ("header", "line", "why"),
    [
        # empty: not the next line's first word ('# captured:' follows, one word)
        ("# server name:\nsvc.example\n", 2, "'': it is empty"),
        ("# server name:   \n# captured: 2026-01-31\n", 2, "'': it is empty"),
        ("# server name: svc example\n", 2, "'svc example': a space inside"),
        ("# server name: svc.example\n# server name: other.example\n", 2, "disagree"),
    ],
)
def test_an_unreadable_server_name_line_is_refused(
    tmp_path: Path, header: str, line: int, why: str
) -> None:
    """'# server name:' (the name the unit checks) read as '# server:' is: an empty one
    read the next line's first word, one with a space inside was ignored silently."""
    p, data = _saved(tmp_path, header)
    e = _refused(p, data, line)
    assert why in e.message, e.message
    assert e.hint is not None and "the name the unit checks" in e.hint


def test_a_server_name_line_keeps_its_case_and_agrees_without_it(tmp_path: Path) -> None:
    p, _ = _saved(
        tmp_path,
        "# server: Svc.Example:8883\n# server name: Svc.Example\n# server name: svc.example\n",
    )
    chain = load_chain_file(p)
    assert (chain.host, chain.server_name) == ("Svc.Example", "Svc.Example")


# ---------------------------------------------------------------------------------------
# 3. A capture date in the future


def test_a_capture_date_in_the_future_is_refused_naming_it_and_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    freeze_clock(monkeypatch, "2026-06-01")  # the project's clock, as tests pin it
    p, data = _saved(tmp_path, "# captured: 2026-06-03\n")
    e = _refused(p, data, 2)
    assert e.message == (
        f"{p}:2: the '# captured:' date '2026-06-03' is in the future: now is "
        "2026-06-01T00:00:00Z (UTC), and a chain cannot have been saved later than now"
    )
    assert e.hint is not None and "clock" in e.hint and "'# captured: YYYY-MM-DD'" in e.hint
    # Within a day's clock skew: read as it is.
    for stamp in ("2026-06-02", "2026-06-01T23:59:59+00:00", "2026-06-02T00:00:00Z"):
        _saved(tmp_path, f"# captured: {stamp}\n")
        assert load_chain_file(p).captured_at is not None
    _saved(tmp_path, "# captured: 2026-06-02T00:00:01Z\n")
    with pytest.raises(InputError, match="is in the future"):
        load_chain_file(p)


# ---------------------------------------------------------------------------------------
# The CLI: exit 2, --json's error and hint, nothing written


def _project(tmp: Path, header: str) -> Path:
    (tmp / "root.pem").write_bytes(ROOT.pem)
    (tmp / "cabundle.yaml").write_text(
        "preset: []\nroots: [root.pem]\ndevice: mbedtls-clock\ntargets:\n  - svc.example\n"
    )
    (tmp / "chains").mkdir()
    saved = tmp / "chains" / "svc.example.pem"
    saved.write_bytes(header.encode() + PEMS)
    return saved


FUTURE = (NOW + 3 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("header", "said", "hint"),
    [
        ("# server: svc.example:99999\n", "1: bad '# server:' address", "'# server: mdash"),
        (
            "# captured: 2026-01-31\n# captured: 2026-02-01\n",
            "1: two '# captured:' lines disagree: this one says '2026-01-31', ",
            "keep the one line",
        ),
        (f"# captured: {FUTURE}\n", f"1: the '# captured:' date '{FUTURE}' is in the", "clock"),
    ],
)
def test_the_cli_refuses_a_bad_header_and_writes_nothing(
    in_tmp: Path, runner: CliRunner, header: str, said: str, hint: str
) -> None:
    saved = _project(in_tmp, header)
    (in_tmp / "out.pem").write_bytes(b"kept")
    before = sorted(p.name for p in in_tmp.iterdir())
    r = runner.invoke(cli, ["check", "--report", "out.html"])
    assert r.exit_code == 2, r.output
    assert f"chains/svc.example.pem:{said}" in " ".join(r.stderr.split()), r.stderr
    r = runner.invoke(cli, ["check", "--json"])
    assert r.exit_code == 2, r.output
    doc = json.loads(r.stdout)
    assert doc["kind"] == "InputError" and doc["exit_code"] == 2
    assert f"svc.example.pem:{said}" in doc["error"] and hint in doc["hint"], doc
    if "disagree" in said:  # both lines named, each with its file
        assert doc["error"].endswith("chains/svc.example.pem:2 says '2026-02-01'"), doc
    r = runner.invoke(cli, ["check", "--chain", "chains/svc.example.pem"])
    assert r.exit_code == 2 and f"chains/svc.example.pem:{said[:2]}" in r.stderr, r.output
    r = runner.invoke(cli, ["build"])
    assert r.exit_code == 2 and said in " ".join(r.stderr.split()), r.output
    r = runner.invoke(cli, ["chains", "show", "chains/svc.example.pem", "-o", "out.pem"])
    assert r.exit_code == 2 and said[:2] in r.stderr, r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == before  # no ca.pem, no report
    assert (in_tmp / "out.pem").read_bytes() == b"kept"
    assert saved.read_bytes() == header.encode() + PEMS
