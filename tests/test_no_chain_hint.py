"""A target with no saved chain that cannot be captured: the hint names the command that
saves it where the tool reads it. ``chains pull`` saves only a config's targets; a target
given without one (``build --target``) is saved by ``chains show --host ... -o FILE``,
FILE the chain file the target is read from (an IPv6 address spelled with dashes)."""

from __future__ import annotations

import shlex
import shutil
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.dumps import DATA

from esp_cabundle.cli import cli


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _build(runner: CliRunner, *args: str) -> str:
    r = runner.invoke(cli, ["build", "--no-lock", "-o", "ca.pem", *args])
    assert r.exit_code != 0, r.output
    return r.stderr + r.stdout


@pytest.mark.parametrize(
    ("host", "stem"), [("[::1]:{}", "0--1_{}"), ("127.0.0.1:{}", "127.0.0.1_{}")]
)
def test_without_a_config_the_hint_is_chains_show(
    in_tmp: Path, runner: CliRunner, host: str, stem: str
) -> None:
    port = _closed_port()
    target, file = host.format(port), f"chains/{stem.format(port)}.pem"
    out = _build(runner, "--target", target)
    command = f"esp-cabundle chains show --host {shlex.quote(target)} -o {file}"
    assert f"hint: online, save it as {file} with: {command}; offline, put" in out, out
    assert "chains pull" not in out and list(in_tmp.iterdir()) == []
    # The command is the tool's: its options parse (the capture then finds no server)...
    r = runner.invoke(cli, shlex.split(command)[1:])
    assert r.exit_code == 3 and "Usage" not in r.output, r.output
    # ...and the file it names is the one build reads: saved there, it is judged.
    (in_tmp / "chains").mkdir()
    shutil.copy(DATA / "letsencrypt" / "isrgrootx1.pem", file)
    assert "no saved chain" not in _build(runner, "--target", target, "--at", "1999-01-01")


def test_a_configs_target_is_pulled_one_named_beside_it_shown(
    in_tmp: Path, runner: CliRunner
) -> None:
    port, other = _closed_port(), _closed_port() + 1
    (in_tmp / "cabundle.yaml").write_text(
        f"roots:\n  - isrg-root-x1\ntargets:\n  - 127.0.0.1:{port}\n"
    )
    out, chains = _build(runner), "chains"  # beside the config, as typed from here
    assert (
        f"hint: online, 'esp-cabundle chains pull' saves it as {chains}/127.0.0.1_{port}.pem" in out
    )
    assert "chains show" not in out
    out = _build(runner, "--target", f"[::1]:{other}")
    assert f"chains show --host '[::1]:{other}' -o {chains}/0--1_{other}.pem" in out, out
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]


@pytest.mark.parametrize(
    ("file", "host"),
    [
        ("chains/mdash.net.pem", "mdash.net"),
        ("chains/example.com_8443.pem", "example.com:8443"),
        ("chains/0--1_8443.pem", "'[::1]:8443'"),
        ("server.pem", "HOST"),  # a name that says no server: the placeholder
    ],
)
def test_a_missing_chain_file_without_a_config_is_shown_not_pulled(
    in_tmp: Path, runner: CliRunner, file: str, host: str
) -> None:
    """``--target FILE`` and ``check --chain FILE`` name the server the file's name
    says, saved by ``chains show`` where it is read; ``chains pull`` needs a config."""
    save = f"esp-cabundle chains show --host {host} -o {file}"
    out = _build(runner, "--target", file)
    assert f"hint: save one with: {save}; or export it leaf first as PEM" in out, out
    assert "chains pull" not in out
    r = runner.invoke(cli, ["check", "--chain", file])
    assert r.exit_code == 2 and f"hint: save one with: {save};" in r.output, r.output
    # with a config here, 'chains pull' is what saves its targets
    (in_tmp / "cabundle.yaml").write_text("roots:\n  - isrg-root-x1\n")
    out = _build(runner, "--target", file)
    assert "hint: save one with 'esp-cabundle chains pull'" in out and "chains show" not in out
