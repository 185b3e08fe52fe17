"""``push --mdash`` against the REST stand-in, ``push --rpc`` over HTTP and WebSocket:
every transport drives the same campaign; images are checked file by file."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import assert_updated, ca_bytes, mdash_unit, mongoose_unit, write_ca
from support.fleet_links import Mosquitto, mosquitto_binary
from support.gated import canonical

from esp_cabundle.cli import cli
from esp_cabundle.push.ledger import Ledger
from esp_cabundle.virtual.rpc_links import LanUnitServer, MqttUnitHost

KEY = "mdash-key-0c1d2e3f4a5b"


def run(tmp: Path, *argv: str, board: str = "mdash-arduino") -> tuple[int, str]:
    write_ca(tmp)
    args = ["push", *argv, "--board", board, "--bundle", str(tmp / "ca.pem")]
    if board != "mdash-arduino":  # mdash.net judges its CA; nothing judges a LAN unit's
        args += ["--allow", "unjudged"]
    args += ["--ledger", str(tmp / "c.db"), "--timeout", "2"]
    r = CliRunner().invoke(cli, args)
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout + r.stderr


def states(tmp: Path) -> dict[str, str]:
    with Ledger(tmp / "c.db") as led:
        return {r.id: r.state for r in led.rows()}


def test_mdash_campaign_over_rest(stand_in: Any, tmp_path: Path) -> None:
    units = [mdash_unit("dev1"), mdash_unit("dev2"), mdash_unit("dev3", has_rename=False)]
    s = stand_in(units)
    code, out = run(tmp_path, "--mdash", s.url)
    assert code == 0, out
    ca = ca_bytes()
    for u in units:
        assert_updated(u, ca)  # the SPIFFS image mounts; mdash.cfg and the rest kept
        direct = u.count("FS.Put", filename="ca.pem", append=False)
        assert direct == (0 if u.has_rename else 1)
    # with FS.Rename: staged then renamed; without: written in place, one frame per 4 KiB
    assert units[0].count("FS.Rename", src="ca.pem.new", dst="ca.pem") == 1
    assert units[2].count("FS.Put", filename="ca.pem", append=True) >= 1  # 6 KiB: 3 frames
    # tried, refused as unknown (-32601), the staged copy removed, then written in place
    assert units[2].count("FS.Rename") == 1
    assert units[2].count("FS.Remove", filename="ca.pem.new") == 1
    assert all(a == "bearer" for _, _, a in s.requests)  # the key only ever in the header
    assert all("access_token" not in p and KEY not in p for _, p, _ in s.requests)
    assert set(states(tmp_path).values()) == {"verified"}


def test_stand_in_accepts_access_token_and_refuses_no_key(stand_in: Any) -> None:
    s = stand_in([mdash_unit("dev1")])
    with urllib.request.urlopen(f"{s.url}/devices?access_token={KEY}") as r:
        assert json.loads(r.read())[0] == {
            "id": "dev1",
            "name": "dev1",
            "online": True,
            "shadow": {"state": {"reported": {}}},
        }
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{s.url}/devices")
    assert e.value.code == 401


def test_mdash_wrong_key_is_exit_2_before_any_ledger(
    stand_in: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = stand_in([mdash_unit("dev1")])
    monkeypatch.setenv("MDASH_API_KEY", "wrong-key-value")
    code, out = run(tmp_path, "--mdash", s.url)
    assert code == 2 and "refused the API key (HTTP 401)" in out
    assert "wrong-key-value" not in out and not (tmp_path / "c.db").exists()


def test_a_refused_key_file_is_named_over_the_variable_it_overrides(
    stand_in: Any, tmp_path: Path
) -> None:
    """With MDASH_API_KEY set (to the right key) and --api-key-file naming a stale one,
    the 401's hint said "check MDASH_API_KEY or --api-key-file": an owner fixed the
    variable, which was never used. It now names the file the key came from."""
    s = stand_in([mdash_unit("dev1")])
    key = tmp_path / "old.key"
    key.write_text("stale-key-value\n")
    key.chmod(0o600)
    code, out = run(tmp_path, "--mdash", s.url, "--api-key-file", str(key))
    assert code == 2 and "refused the API key (HTTP 401)" in out, out
    flat = " ".join(out.split())
    assert f"check the key in --api-key-file {key} (used instead of MDASH_API_KEY)" in flat
    assert "check MDASH_API_KEY or --api-key-file" not in flat
    assert "stale-key-value" not in out and KEY not in out


def test_mdash_offline_unknown_and_5xx(stand_in: Any, tmp_path: Path) -> None:
    units = [mdash_unit("up"), mdash_unit("down", online_at=time.monotonic() + 600)]
    s = stand_in(units)
    code, out = run(tmp_path, "--mdash", s.url, "--device", "nope")
    assert code == 2 and "mDash lists no device nope" in out
    assert not (tmp_path / "c.db").exists()
    s.fail_next = [502]
    code, out = run(tmp_path, "--mdash", s.url, "--device", "up", "--device", "down")
    # the pre-flight listing took the 502: mDash unreachable is a device error
    assert code == 3 and "HTTP 502" in out
    code, out = run(tmp_path, "--mdash", s.url)
    assert code == 3
    st = states(tmp_path)
    assert st == {"up": "verified", "down": "offline"}
    assert units[1].calls == []  # listed offline: not even asked


def test_an_id_mdash_does_not_list_is_a_usage_error(stand_in: Any, tmp_path: Path) -> None:
    """A --device id the account does not list: exit 2 naming the devices it does list,
    the closest id for a typo, and how to list them all; no unit touched, no ledger."""
    units = [mdash_unit(f"unit-{n:02}") for n in range(7)]
    s = stand_in(units)
    code, out = run(tmp_path, "--mdash", s.url, "--device", "unit-01", "--device", "unit-1")
    assert code == 2, out
    assert "mDash lists no device unit-1: the account lists 7 devices: unit-00, " in out
    assert "unit-04 and 2 more; did you mean unit-01?" in out
    assert "without them, push --dry-run lists every device of the account" in out
    assert "units done" not in out and not (tmp_path / "c.db").exists()
    assert all(u.calls == [] for u in units)
    empty = stand_in([])
    code, out = run(tmp_path, "--mdash", empty.url, "--device", "unit-01")
    assert code == 2 and "the account lists no device at all" in out, out
    assert not (tmp_path / "c.db").exists()


def test_mdash_transient_5xx_leaves_unit_to_retry(stand_in: Any, tmp_path: Path) -> None:
    unit = mdash_unit("dev1")
    s = stand_in([unit])

    calls = {"n": 0}
    orig = s.serve

    def flaky(h: Any, verb: str) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # listing twice, then the first RPC gets a gateway error
            h.reply(503, b"")
            return
        orig(h, verb)

    s.serve = flaky
    code, _ = run(tmp_path, "--mdash", s.url)
    assert code == 3 and states(tmp_path) == {"dev1": "offline"}
    code, _ = run(tmp_path, "--mdash", s.url)
    assert code == 0 and states(tmp_path) == {"dev1": "verified"}
    assert_updated(unit, ca_bytes())


@pytest.mark.parametrize("scheme", ["http", "ws"])
def test_lan_units_over_http_and_websocket(tmp_path: Path, scheme: str) -> None:
    units = [mongoose_unit("lan-a"), mongoose_unit("lan-b")]
    servers = [LanUnitServer(u) for u in units]
    try:
        urls = [s.http_url if scheme == "http" else s.ws_url for s in servers]
        code, out = run(tmp_path, "--rpc", urls[0], "--rpc", urls[1], board="mongoose-os-esp32")
        assert code == 0, out
        for u in units:
            assert_updated(u, ca_bytes())
            assert max(c.size for c in u.calls) <= 4096
        with Ledger(tmp_path / "c.db") as led:
            assert {r.transport for r in led.rows()} == {scheme}
    finally:
        for s in servers:
            s.close()


def test_lan_units_of_both_protocols_are_recorded_as_reached(tmp_path: Path) -> None:
    """One --rpc transport with an http:// and a ws:// unit: each ledger row names the
    protocol its unit was reached by (the transport used to name them all "http")."""
    units = [mongoose_unit("lan-h"), mongoose_unit("lan-w")]
    servers = [LanUnitServer(u) for u in units]
    try:
        urls = [servers[0].http_url, servers[1].ws_url]
        code, out = run(tmp_path, "--rpc", urls[0], "--rpc", urls[1], board="mongoose-os-esp32")
        assert code == 0, out
        with Ledger(tmp_path / "c.db") as led:
            assert {r.id: r.transport for r in led.rows()} == {"lan-h": "http", "lan-w": "ws"}
    finally:
        for s in servers:
            s.close()


def test_lan_unit_that_drops_is_offline_then_finished(tmp_path: Path) -> None:
    unit = mongoose_unit("lan-c", drop_after=3, back_after=0.3)
    server = LanUnitServer(unit)
    try:
        code, _ = run(tmp_path, "--rpc", server.http_url, board="mongoose-os-esp32")
        assert code == 3 and set(states(tmp_path).values()) <= {"writing", "offline"}
        time.sleep(0.4)  # it comes back
        code, _ = run(tmp_path, "--rpc", server.http_url, board="mongoose-os-esp32")
        assert code == 0
        assert_updated(unit, ca_bytes())
    finally:
        server.close()


@pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed")
def test_mqtts_broker_checked_by_the_gate_and_verified_with_tls_ca(tmp_path: Path) -> None:
    """Over mqtts:// the units' own connection is the broker's TLS: a CA file without the
    broker's root is refused (its chain captured live on 127.0.0.1); with it, the push
    goes through a verified TLS link (--tls-ca)."""
    from support.pki import issue

    # Key identifiers: Python 3.13's default TLS context verifies strictly (it wants them).
    root = issue("Fleet Broker Test Root", key_ids=True)
    leaf = issue("localhost", issuer=root, ca=False, san="localhost", key_ids=True)
    (tmp_path / "root.pem").write_bytes(root.pem)
    (tmp_path / "leaf.pem").write_bytes(leaf.pem)
    (tmp_path / "leaf.key").write_bytes(leaf.key_pem())
    tls = (tmp_path / "root.pem", tmp_path / "leaf.pem", tmp_path / "leaf.key")
    unit = mongoose_unit(f"tls-{time.monotonic_ns()}")
    with Mosquitto(tls=tls) as broker:
        host = MqttUnitHost(broker.port, [unit])
        try:
            url = f"mqtts://localhost:{broker.tls_port}"
            base = ["--mqtt", url, "--device", unit.unit_id]
            base += ["--tls-ca", str(tmp_path / "root.pem")]
            code, out = run(tmp_path, *base, board="mongoose-os-esp32")
            assert code == 1 and "cut the connection it travels on" in out
            assert unit.calls == [] and not (tmp_path / "c.db").exists()
            mixed = tmp_path / "with-root.pem"
            mixed.write_bytes(ca_bytes() + root.pem)
            args = ["push", *base, "--board", "mongoose-os-esp32", "--bundle", str(mixed)]
            r = CliRunner().invoke(cli, [*args, "--ledger", str(tmp_path / "c.db")])
            assert r.exit_code == 0, r.output
            assert "accepted by localhost:" in r.output
            assert unit.files()["/ca.pem"] == canonical(mixed.read_bytes())  # as gated
            # Without --tls-ca the broker's certificate is not trusted: no link, exit 3.
            plain = [a for a in args if a not in ("--tls-ca", str(tmp_path / "root.pem"))]
            r = CliRunner().invoke(cli, [*plain, "--ledger", str(tmp_path / "d.db")])
            assert r.exit_code == 3 and "cannot reach the MQTT broker" in r.output
        finally:
            host.close()


@pytest.mark.parametrize("hostile", ["nested", "huge"])
@pytest.mark.parametrize("link", ["http", "ws", "mdash"])
def test_a_hostile_unit_fails_alone(stand_in: Any, tmp_path: Path, link: str, hostile: str) -> None:
    """A unit (or mDash relaying it) answering 100,000 brackets deep or 3 MiB is failed
    with the reason, by the capped JSON reader; the other unit is updated."""
    if link == "mdash":
        units = [mdash_unit("bad", hostile=hostile), mdash_unit("good")]
        code, out = run(tmp_path, "--mdash", stand_in(units).url, "--concurrency", "1")
    else:
        units = [mongoose_unit("bad", hostile=hostile), mongoose_unit("good")]
        servers = [LanUnitServer(u) for u in units]
        try:
            urls = [s.http_url if link == "http" else s.ws_url for s in servers]
            argv = ["--rpc", urls[0], "--rpc", urls[1], "--concurrency", "1"]
            code, out = run(tmp_path, *argv, board="mongoose-os-esp32")
        finally:
            for s in servers:
                s.close()
    assert code == 3, out
    with Ledger(tmp_path / "c.db") as led:
        by_state = {r.state: r for r in led.rows()}
    assert sorted(by_state) == ["failed", "verified"], out
    reason = "nests deeper than 32 levels" if hostile == "nested" else "byte limit"
    assert reason in (by_state["failed"].last_error or ""), by_state["failed"].last_error
    assert_updated(units[1], ca_bytes())


def test_an_mdash_device_list_over_its_cap_is_refused_unread(
    stand_in: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import esp_cabundle.push.mdash as mdash

    monkeypatch.setattr(mdash, "MAX_LISTING_BYTES", 200)  # three devices list ~270 bytes
    s = stand_in([mdash_unit("dev1"), mdash_unit("dev2"), mdash_unit("dev3")])
    code, out = run(tmp_path, "--mdash", s.url)
    assert code == 3 and "answered more than 200 bytes: refused unread" in out, out
    assert not (tmp_path / "c.db").exists()


def test_a_websocket_url_in_capitals_is_a_websocket_unit() -> None:
    """urlsplit reads a scheme in any case; so do the ledger's name and the channel (an
    upper-case WS:// unit was listed as ws, then opened over HTTP and refused)."""
    from esp_cabundle.push.http import LanTransport, _HttpChannel, _WsChannel

    t = LanTransport(["WS://127.0.0.1:1/rpc", "http://127.0.0.1:2/rpc"], timeout=1)
    assert isinstance(t.channel("a", "WS://127.0.0.1:1/rpc"), _WsChannel)
    assert isinstance(t.channel("b", "http://127.0.0.1:2/rpc"), _HttpChannel)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "empty file, not a CA file"),
        (lambda p: p.write_text("not a certificate\n"), "OpenSSL reads no CA certificate"),
        (lambda p: p.symlink_to(p.name), "is a symbolic link that loops"),
        (lambda p: None, "no such CA file"),
        (lambda p: __import__("os").mkfifo(p), "is a FIFO (named pipe)"),
    ],
    ids=["empty", "no-certificate", "loop", "missing", "fifo"],
)
def test_a_tls_ca_file_tls_cannot_use_is_refused_before_any_link(
    tmp_path: Path, make: Any, message: str
) -> None:
    """--tls-ca is read as every input is, then loaded as TLS will load it: exit 2 naming
    the file, before any link opens or any ledger is made (it was a traceback)."""
    ca = tmp_path / "broker-ca.pem"
    make(ca)
    code, out = run(
        tmp_path, "--rpc", "https://127.0.0.1:9/rpc", "--tls-ca", str(ca), board="mongoose-os-esp32"
    )
    assert code == 2, out
    assert message in out and "broker-ca.pem" in out
    assert "Traceback" not in out
    assert not (tmp_path / "c.db").exists()


def test_a_missing_tls_ca_says_what_it_is_and_how_to_get_it(tmp_path: Path) -> None:
    """``push --tls-ca nosuch.pem`` said only "no such CA file": which CA is meant (the
    one that signed the broker's certificate) and how to get it, for the host typed.
    chains show saves the chain as sent, seldom with its root: the hint says so."""
    missing = str(tmp_path / "nosuch.pem")
    board = "mongoose-os-esp32"
    code, out = run(tmp_path, "--mqtt", "mqtts://broker.example:8883", "--device", "d1",
                    "--tls-ca", missing, board=board)  # fmt: skip
    said = " ".join(out.split())
    assert code == 2 and "no such CA file" in said, out
    assert "the CA that signed the broker's certificate (mosquitto's cafile)" in said
    assert "esp-cabundle chains show --host broker.example:8883 -o broker-chain.pem" in said
    assert "the root its last certificate names as issuer" in said
    code, out = run(tmp_path, "--rpc", "https://[::1]:8443/rpc", "--tls-ca", missing, board=board)
    said = " ".join(out.split())
    assert code == 2 and "chains show --host '[::1]:8443' -o server-chain.pem" in said, out


@pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed")
@pytest.mark.timeout(60)
def test_a_wrong_password_from_the_environment_url_is_named_there(tmp_path: Path) -> None:
    """The password in ESP_CABUNDLE_MQTT's URL, refused by the broker: the hint named
    "MQTT_PASSWORD or --mqtt-password-file", which the user never set."""
    write_ca(tmp_path)
    with Mosquitto(users={"fleet": "right"}) as broker:
        args = ["push", "--device", "u1", "--board", "mongoose-os-esp32", "--allow", "unjudged"]
        args += ["--bundle", str(tmp_path / "ca.pem"), "--ledger", str(tmp_path / "c.db")]
        env = {"ESP_CABUNDLE_MQTT": f"mqtt://fleet:wrong@127.0.0.1:{broker.port}"}
        r = CliRunner().invoke(cli, args, env={**env, "MQTT_PASSWORD": None})
        assert r.exit_code == 2 and "refused the login" in r.output, r.output
        said = " ".join(r.output.split())
        assert "the password in ESP_CABUNDLE_MQTT" in said, said
        assert ":wrong@" not in said  # the URL's password is never shown
        # From MQTT_PASSWORD, the hint names MQTT_PASSWORD as before.
        r = CliRunner().invoke(cli, args, env={**env, "MQTT_PASSWORD": "also-bad"})
        said = " ".join(r.output.split())
        assert r.exit_code == 2 and "(MQTT_PASSWORD or --mqtt-password-file)" in said, said
        assert "in ESP_CABUNDLE_MQTT" not in said
        # No user at all: "check the user name" named one never given; the hint asks for it.
        r = CliRunner().invoke(cli, [*args, "--mqtt", f"mqtt://127.0.0.1:{broker.port}"],
                               env={"ESP_CABUNDLE_MQTT": None, "MQTT_PASSWORD": None})  # fmt: skip
        said = " ".join(r.output.split())
        assert r.exit_code == 2 and "refused the login" in said, said
        assert "the broker wants a login: a user name in --mqtt (mqtt://USER@HOST" in said, said


def test_a_device_id_with_an_escape_sequence_is_escaped_on_the_progress_line(
    stand_in: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mDash lists the ids: one holding ESC was drawn raw on the units bar (stderr, a
    terminal: no bar is drawn into a pipe) while the table beneath escaped it."""
    import esp_cabundle.commands._unit as unit_mod

    monkeypatch.setattr(unit_mod, "stderr_is_tty", lambda: True)  # rich: its last frame
    code, out = run(tmp_path, "--mdash", stand_in([mdash_unit("d\x1b[31mX")]).url)
    assert code == 0, out
    assert "\x1b" not in out
    assert "1/1 d\\x1b[31mX: verified" in out


def test_an_http_mdash_url_to_another_host_warns_that_the_key_goes_in_clear(
    stand_in: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--mdash http://HOST/api/v2`` sent ``Authorization: Bearer KEY`` unencrypted
    without a word: warned on stderr before the key is sent, and in --json's notes. The
    stand-in is on loopback, which stays quiet; here it stands for another host."""
    from esp_cabundle.push import mdash

    url = stand_in([mdash_unit("dev1")]).url
    code, out = run(tmp_path, "--mdash", url)
    assert code == 0 and "warning" not in out and "unencrypted" not in out, out  # loopback
    monkeypatch.setattr(mdash, "_loopback", lambda host: False)
    write_ca(tmp_path)
    argv = ["push", "--mdash", url, "--board", "mdash-arduino", "--bundle",
            str(tmp_path / "ca.pem"), "--ledger", str(tmp_path / "d.db"), "--json"]  # fmt: skip
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 0, r.output
    said = "the --mdash URL is plain http:// to 127.0.0.1: the API key is sent unencrypted"
    assert r.stderr.startswith(f"warning: {said}"), r.stderr
    assert any(n.startswith(said) for n in json.loads(r.stdout)["notes"]), r.stdout


def test_the_key_in_clear_warning_is_said_once_and_kept_in_every_json(
    stand_in: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The text said it twice (a warning before the key was sent, then the link's note
    after the run), and ``--dry-run --json`` left it out of its notes: once in text, a
    dry run's too, and in the notes of both JSON documents."""
    from esp_cabundle.push import mdash

    url = stand_in([mdash_unit("dev1")]).url
    monkeypatch.setattr(mdash, "_loopback", lambda host: False)
    said = "the --mdash URL is plain http:// to 127.0.0.1: the API key is sent unencrypted"
    for dry in ([], ["--dry-run"]):
        code, out = run(tmp_path, "--mdash", url, *dry)
        assert code == 0 and out.count("the API key is sent unencrypted") == 1, out
        assert f"warning: {said}" in out, out
        ca, ledger = str(tmp_path / "ca.pem"), str(tmp_path / "j.db")
        argv = ["push", "--mdash", url, "--board", "mdash-arduino", "--bundle", ca,
                "--ledger", ledger, "--json", *dry]  # fmt: skip
        r = CliRunner().invoke(cli, argv)
        assert r.exit_code == 0, r.output
        doc = json.loads(r.stdout)
        assert doc.get("dry_run", False) is bool(dry), doc
        assert [n for n in doc["notes"] if n.startswith(said)] != [], doc["notes"]
        assert r.stderr.count("unencrypted") == 1, r.stderr


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("http://mdash.example/api/v2", True),
        ("HTTP://10.0.0.5:8080/api/v2", True),
        ("https://mdash.example/api/v2", False),
        ("http://127.0.0.1:9/api/v2", False),
        ("http://[::1]:9/api/v2", False),
        ("http://localhost/api/v2", False),
    ],
)
def test_only_plain_http_beyond_this_machine_is_warned_of(url: str, warned: bool) -> None:
    from esp_cabundle.push.mdash import key_in_clear

    assert (key_in_clear(url) is not None) == warned
