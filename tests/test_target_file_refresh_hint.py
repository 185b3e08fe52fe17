"""A chain file given as a target (``--target short.pem``, ``chain:`` in a config) has no
host: its refresh hint named the file's stem as one (``chains show --host short``), a
capture of a server that does not exist. A stem that reads as a server's name
(``mdash.net``, ``localhost_8443`` as chains pull names one) is that server; any other
stem is ``HOST`` to fill in, as ``--chain``'s hint says."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.spelling import PYTHON
from esp_cabundle.targets import Target, saving_hint

DATA = Path(__file__).parent / "data" / "letsencrypt"


@pytest.mark.parametrize(
    ("name", "host"),
    [("short", "HOST"), ("mdash.net", "mdash.net"), ("localhost_8443", "localhost:8443")],
)
def test_a_chain_files_refresh_names_the_server_its_name_says_or_host(
    in_tmp: Path, runner: CliRunner, name: str, host: str
) -> None:
    shutil.copy(DATA / "2024-r11.pem", in_tmp / f"{name}.pem")
    assert runner.invoke(cli, ["build", "--no-lock", "--root", "isrg-root-x1"]).exit_code == 0
    args = ["check", "--bundle", "ca.pem", "--target", f"{name}.pem", "--device", "mbedtls-clock"]
    r = runner.invoke(cli, [*args, "--at", "2028-01-01", "--json"])
    assert r.exit_code == 1, r.output
    hint = json.loads(r.output)["hint"]
    assert f"chains show --host {host} -o {name}.pem" in hint, hint


def test_a_scripts_hint_captures_host_not_the_stem() -> None:
    t = Target(name="short", chain=Path("short.pem"))
    said = saving_hint(t, Path("short.pem"), None, None, PYTHON)
    assert "capture_chain('HOST')" in said and "'short'" not in said, said


def test_a_scripts_hint_keeps_the_port_a_file_name_says() -> None:
    """``mdash.net_8443.pem`` (as chains pull names a target with a port): the script's
    line captured port 443 into the 8443 file, while the CLI's said mdash.net:8443."""
    t = Target(name="mdash.net_8443", chain=Path("mdash.net_8443.pem"))
    said = saving_hint(t, Path("mdash.net_8443.pem"), None, None, PYTHON)
    assert "capture_chain('mdash.net', 8443)" in said, said
