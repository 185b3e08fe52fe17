"""A --port URL pyserial cannot open, whatever the unit does, is the user's input: said in
words, exit 2, before anything is touched. pyserial's own words were a Python error
(``'<=' not supported between instances of 'int' and 'NoneType'`` for a URL with no
port, ``'debug|info|warning|error'`` for port 99999) told as a device failure (exit 3),
and ``tcp://`` a traceback from ``read`` and ``inspect``. ``loop://`` (pyserial's
loopback, which it opens but where no unit can be) is refused so too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import DeviceError
from esp_cabundle.flash.ports import port_error, url_error

BAD = [
    ("socket://127.0.0.1", "no port in the URL"),
    ("socket://127.0.0.1:99999", "a bad port in the URL"),
    ("socket://127.0.0.1:abc", "a bad port in the URL"),
    ("rfc2217://:4000", "no host in the URL"),
    ("tcp://127.0.0.1:5555", "pyserial knows no tcp:// port"),
    # was "link lost while connecting (fileno)", exit 3: a unit's failure
    ("loop://", "pyserial's loopback (what is sent comes back): no unit can answer there"),
    ("LOOP://", "pyserial's loopback"),
]


@pytest.mark.parametrize(("url", "said"), BAD)
def test_a_url_no_unit_can_answer_is_refused_first(
    runner: CliRunner, tmp_path: Path, url: str, said: str
) -> None:
    journal = tmp_path / "journal"
    out = tmp_path / "x.bin"
    for args in (
        ["flash", "--board", "mdash-arduino", "--preset", "letsencrypt",
         "--journal-dir", str(journal)],
        ["restore", "--journal-dir", str(journal)],
        ["read", "--partition", "spiffs", "-o", str(out)],
        ["inspect"],
    ):  # fmt: skip
        r = runner.invoke(cli, [*args, "--port", url])
        assert r.exit_code == 2, (args, r.output)
        assert r.exception is None or isinstance(r.exception, SystemExit), (args, r.exception)
        assert f"Error: {url}: {said}" in r.stderr, (args, r.stderr)
        assert "nothing was touched" in r.stderr and "socket://HOST:PORT" in r.stderr
        assert "Could not open port" not in r.output and "unexpected error" not in r.output
        r = runner.invoke(cli, [*args, "--port", url, "--json"])
        doc = json.loads(r.stdout)
        assert r.exit_code == 2 and doc["exit_code"] == 2 and doc["kind"] == "InputError"
        assert doc["error"].startswith(f"{url}: {said}"), doc
    assert not journal.exists() and not out.exists()


@pytest.mark.parametrize(
    "port",
    ["socket://127.0.0.1:5555", "rfc2217://bench-pi:4000", "SOCKET://127.0.0.1:1",
     "spy:///dev/ttyUSB0", "/dev/ttyUSB0", "COM3", "127.0.0.1:5555"],
)  # fmt: skip
def test_urls_pyserial_opens_pass(port: str) -> None:
    assert url_error(port) is None


def test_a_host_name_that_does_not_resolve_is_said_so() -> None:
    """Said "cannot open the port" and "check the cable and power", which no cable fixes."""
    detail = "Could not open port socket://nohost.invalid:1: [Errno -2] Name or service not known"
    error = port_error("socket://nohost.invalid:1", detail)
    assert isinstance(error, DeviceError)
    assert "host name does not resolve" in error.message
    assert error.hint is not None and "check the host name" in error.hint
