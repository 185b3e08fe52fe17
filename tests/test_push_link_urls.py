"""``push``'s links given as URLs: --mqtt, --mdash and --rpc as typed, and the broker in
ESP_CABUNDLE_MQTT. A URL that cannot be split or used is refused (exit 2) before the CA
is judged and before any unit is tried, naming where it came from; a broker in the
environment is set aside for a typed link, and a URL is parsed once."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import ca_bytes, invoke, write_ca
from support.fleet_links import MDASH_KEY

from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.push.http import LanTransport
from esp_cabundle.push.mqtt import parse_mqtt_url
from esp_cabundle.spelling import CLI_SPELLING

KEY = MDASH_KEY  # the conftest mdash fixture's key


# urllib raises ValueError on these (an unclosed '[', a port that is no number, out of
# range) or keeps a host with a space: each must be exit 2 with a JSON error document,
# the URL's password unshown.
BAD_URLS = [
    (["--mqtt", "mqtt://[::1", "--device", "x"], {}, "--mqtt: the host"),
    (["--mqtt", "mqtt://h:0", "--device", "x"], {}, "--mqtt: the port"),
    (["--mdash", "http://[::1/api", "--device", "x"], {}, "--mdash: the host"),
    (["--mdash", "https://u:pw-in-url-1@[::1/api"], {}, "--mdash: the host"),
    (["--mdash", "http://h:abc/api"], {}, "--mdash: the port"),
    (["--rpc", "http://[::1/rpc"], {}, "--rpc: the host"),
    (["--rpc", "http://h/rpc", "--rpc", "ws://h:99999/rpc"], {}, "--rpc (URL 2 of 2): the port"),
    # a host urllib keeps but no resolver could find (it used to be looked up: exit 3)
    (["--mqtt", "mqtt:// 127.0.0.1", "--device", "x"], {}, "--mqtt: the host holds a space"),
    (["--mdash", "http://exa mple/api", "--device", "x"], {}, "--mdash: the host holds"),
    (["--rpc", "http://h/rpc", "--rpc", "ws://a|b/rpc"], {}, "--rpc (URL 2 of 2): the host"),
    (
        ["--device", "x"],
        {"ESP_CABUNDLE_MQTT": "mqtt://u:pw-in-url-1@[127.0.0.1"},
        "ESP_CABUNDLE_MQTT: the host",
    ),
]


@pytest.mark.parametrize(("args", "env", "message"), BAD_URLS)
def test_a_url_urllib_cannot_split_is_exit_2_with_a_json_error(
    mdash: Any, in_tmp: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    _s, units = mdash
    write_ca(in_tmp)
    r = CliRunner().invoke(
        cli,
        ["push", *args, "--board", "mongoose-os-esp32", "--bundle", "ca.pem", "--json"],
        env=env,
    )
    assert r.exit_code == 2 and not isinstance(r.exception, ValueError), r.output
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 2 and doc["error"].startswith(message)
    assert "pw-in-url-1" not in r.stdout + r.stderr and "Traceback" not in r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]
    assert all(u.calls == [] for u in units)


@pytest.mark.parametrize(
    ("link", "said"),
    [
        (["--rpc", "htp://127.0.0.1:1/rpc"], "--rpc 'htp://127.0.0.1:1/rpc' is not an http://"),
        (["--rpc", "http://127.0.0.1:1/rpc", "--rpc", "ws:///rpc"], "--rpc 'ws:///rpc' is not"),
        (["--rpc", "http://u:p@127.0.0.1:1/rpc"], "credentials in URLs are not supported"),
        (["--mdash", "htp://127.0.0.1:1"], "--mdash takes an http(s):// URL, not 'htp://"),
        (["--mdash", "https://127.0.0.1:1/api?x=1"], "without a query or fragment"),
    ],
)
def test_a_link_url_that_is_none_is_refused_before_the_ca_is_judged(
    in_tmp: Path, link: list[str], said: str
) -> None:
    """The tryout's ``push --rpc htp://...`` printed "CA: 4 roots; ..." before the URL
    error, as --mqtt's never did: the URL is refused first, whatever the CA, and
    nothing is made."""
    write_ca(in_tmp)
    board = "mdash-arduino" if link[0] == "--mdash" else "mongoose-os-esp32"
    argv = ["push", *link, "--board", board, "--bundle", "ca.pem"]
    for ca in (None, "not a certificate\n"):  # then a CA the gate refuses
        if ca is not None:
            (in_tmp / "ca.pem").write_text(ca)
        code, out = invoke(*argv)
        assert code == 2 and said in out and "CA:" not in out, out
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]


@pytest.mark.parametrize(
    ("url", "fixed"),
    [
        ("ftp://127.0.0.1:1", "http://127.0.0.1:1/rpc"),
        ("127.0.0.1:1/rpc", "http://127.0.0.1:1/rpc"),
        ("HTP://127.0.0.1:1/x/rpc", "http://127.0.0.1:1/x/rpc"),
    ],
)
def test_an_rpc_url_of_another_scheme_hints_the_line_with_the_typed_host(
    in_tmp: Path, url: str, fixed: str
) -> None:
    """``push --rpc ftp://1.2.3.4`` hinted the fragment "e.g. --rpc http://192.168.1.20/rpc
    or --rpc ws://192.168.1.20/rpc": now the line as typed, the URL over http:// to the
    host typed (the other --rpc kept), which runs when copied."""
    write_ca(in_tmp)
    ok = "http://127.0.0.1:2/rpc"
    for spelled in (["--rpc", url], [f"--rpc={url}"]):
        argv = ["push", "--rpc", ok, *spelled, "--board", "mongoose-os-esp32", "--bundle", "ca.pem",
                "--allow", "unjudged"]  # fmt: skip
        code, out = invoke(*argv)
        assert code == 2 and "is not an http://" in out and "CA:" not in out, out
        hint = out.partition("  hint: e.g. esp-cabundle ")[2]
        line, _, why = hint.partition(" (or ")
        given = ["--rpc", fixed] if len(spelled) == 2 else [f"--rpc={fixed}"]
        assert shlex.split(line) == [*argv[:3], *given, *argv[3 + len(spelled) :]], out
        assert why == f"ws://{fixed.removeprefix('http://')} over a WebSocket)\n", out
    code, out = invoke(*shlex.split(line), "--timeout", "1")  # copied: the units are tried
    assert code == 3 and "is not an http://" not in out, out


@pytest.mark.parametrize(
    ("given", "mended"),
    [
        # the path went after the query: http://127.0.0.1:1?x=1/rpc
        # (its query value masked, as every output shows it)
        (["--rpc", "ftp://127.0.0.1:1?x=1"], ["--rpc", "http://127.0.0.1:1/rpc?x=[redacted]"]),
        # a broker's URL: the line with --mqtt, which reaches units behind it
        (["--rpc", "mqtt://127.0.0.1:1883/x?y=1"],
         ["--mqtt", "mqtt://127.0.0.1:1883", "--device", "ID"]),
        (["--rpc=MQTTS://ops@127.0.0.1"], ["--mqtt=mqtts://ops@127.0.0.1", "--device", "ID"]),
        # no password in the line, masked or not: --mqtt takes it from MQTT_PASSWORD
        (["--rpc", "mqtt://ops:hunter2@127.0.0.1:1883"],
         ["--mqtt", "mqtt://ops@127.0.0.1:1883", "--device", "ID"]),
    ],
)  # fmt: skip
def test_an_rpc_url_with_a_query_or_a_brokers_is_mended_whole(
    in_tmp: Path, given: list[str], mended: list[str]
) -> None:
    write_ca(in_tmp)
    argv = ["push", *given, "--board", "mongoose-os-esp32"]
    code, out = invoke(*argv)
    assert code == 2 and "is not an http://" in out, out
    line = out.partition("  hint: e.g. esp-cabundle ")[2].partition(" (")[0]
    assert shlex.split(line) == ["push", *mended, "--board", "mongoose-os-esp32"], out
    assert ("--mqtt" in line) == ("by their device ids" in out), out
    assert "hunter2" not in out and "**" not in line, out
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]


def test_the_rpc_scheme_hint_shows_no_query_value(in_tmp: Path) -> None:
    """``--rpc ftp://HOST/rpc?session=VALUE`` was mended with the value in the hint (and
    another --rpc's too): no output shows a query value. Each is masked, and the hint
    says to put back the values first typed."""
    write_ca(in_tmp)
    for spelled in (["--rpc", "ftp://10.0.0.5/rpc?session=SECRET123"],
                    ["--rpc=ftp://10.0.0.5/rpc?session=SECRET123"],
                    ["--rpc", "mqtt://10.0.0.5"]):  # fmt: skip
        code, out = invoke("push", "--rpc", "http://127.0.0.1:2/rpc?k=OTHER456", *spelled,
                           "--board", "mongoose-os-esp32")  # fmt: skip
        assert code == 2 and "is not an http://" in out, out
        assert "SECRET123" not in out and "OTHER456" not in out, out
        line = out.partition("  hint: e.g. esp-cabundle ")[2]
        assert "--rpc 'http://127.0.0.1:2/rpc?k=[redacted]'" in line, out
        assert "each [redacted] replaced by the query value first typed)" in line, out
        if "ftp" in spelled[-1]:
            assert "http://10.0.0.5/rpc?session=[redacted]" in line, out
            assert "or ws://10.0.0.5/rpc?session=[redacted] over" in line, out
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]


def test_the_rpc_scheme_hint_follows_the_refusals_class_not_its_words(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mended line was given only when the message held "'URL' is not an": a
    reworded refusal lost it unsaid. The refusal's class (WrongScheme) and the URL it
    carries decide; another refusal keeps its own hint."""
    from esp_cabundle.commands import _push_links
    from esp_cabundle.push.http import checked_rpc_urls
    from esp_cabundle.push.urls import WrongScheme

    with pytest.raises(WrongScheme) as e:
        checked_rpc_urls(["http://127.0.0.1:2/rpc", "ftp://127.0.0.1:1"])
    assert e.value.url == "ftp://127.0.0.1:1"

    def reworded(urls: Any, spelling: Any) -> None:
        raise WrongScheme("--rpc: that scheme will not do", url="ftp://127.0.0.1:1", hint="x")

    monkeypatch.setattr(_push_links, "checked_rpc_urls", reworded)
    write_ca(in_tmp)
    code, out = invoke("push", "--rpc", "ftp://127.0.0.1:1", "--board", "mongoose-os-esp32")
    assert code == 2 and "that scheme will not do" in out, out
    assert "hint: e.g. esp-cabundle push --rpc http://127.0.0.1:1/rpc --board" in out, out
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]


def test_a_password_in_the_mqtt_url_is_refused_before_the_ca_is_judged(in_tmp: Path) -> None:
    """The refusal is the run's first word: before, the CA's verdict came first, and a
    CA that failed its gate hid that the URL would be refused anyway."""
    write_ca(in_tmp)
    argv = ["push", "--mqtt", "mqtt://u:pw@127.0.0.1:9", "--board", "mdash-arduino"]
    code, out = invoke(*argv, "--device", "a")
    assert code == 2 and "visible in the process list" in out, out
    assert "CA:" not in out and "pw" not in out.replace("MQTT_PASSWORD", ""), out
    (in_tmp / "ca.pem").write_text("not a certificate\n")  # a CA the gate refuses
    code, out = invoke(*argv, "--device", "a")
    assert code == 2 and "visible in the process list" in out, out


def test_a_broker_in_the_environment_is_set_aside_for_typed_links(mdash: Any, in_tmp: Path) -> None:
    """README puts a password URL in ESP_CABUNDLE_MQTT; kept in the shell, it made
    ``push --mdash --device dev1`` reach dev1 over that broker too (here: none there,
    exit 3), and ``push --rpc`` fail with "--mqtt needs the units' ids"."""
    s, units = mdash
    write_ca(in_tmp)
    env = {"ESP_CABUNDLE_MQTT": "mqtt://127.0.0.1:9"}
    code, out = invoke("push", "--mdash", s.url, "--board", "mdash-arduino", "--bundle",
                       "ca.pem", "--device", "dev1", env=env)  # fmt: skip
    assert code == 0, out
    assert "ESP_CABUNDLE_MQTT is set, but the units are reached with --mdash" in out
    assert units[0].files()["/ca.pem"] == ca_bytes()
    code, out = invoke("push", "--rpc", "http://127.0.0.1:9/rpc", "--board",
                       "mongoose-os-esp32", "--bundle", "ca.pem", "--timeout", "0.5",
                       "--ledger", "lan.db", "--allow", "unjudged", env=env)  # fmt: skip
    assert code == 3 and "--mqtt needs" not in out and "127.0.0.1:9/rpc" in out, out
    # alone, the environment's broker is push's --mqtt
    code, out = invoke("push", "--board", "mongoose-os-esp32", "--bundle", "ca.pem",
                       "--device", "dev1", "--ledger", "mq.db", "--allow", "unjudged",
                       env=env)  # fmt: skip
    assert code == 3 and "cannot reach the MQTT broker mqtt://127.0.0.1:9" in out, out
    # the hint names where the URL came from: no --mqtt was typed
    assert "check the host and port in ESP_CABUNDLE_MQTT" in out and "--mqtt host" not in out
    code, out = invoke("push", "--board", "mongoose-os-esp32", "--bundle", "ca.pem", "--device",
                       "dev1", "--ledger", "mq.db", "--mqtt", "mqtt://127.0.0.1:9",
                       "--allow", "unjudged")  # fmt: skip
    assert code == 3 and "check the host and port in --mqtt" in out, out


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mqtt://u:pw-9@127.0.0.1:1/x", "ESP_CABUNDLE_MQTT: a broker URL has no path"),
        ("mqtts://u:pw-9@127.0.0.1:99999", "ESP_CABUNDLE_MQTT: the port is not a number"),
        ("garbage:pw-9", "ESP_CABUNDLE_MQTT takes mqtt://"),
    ],
)
def test_a_bad_broker_url_in_the_environment_is_named_so(in_tmp: Path, url: str, said: str) -> None:
    """A bad ESP_CABUNDLE_MQTT said "--mqtt: ..." to a user who typed no --mqtt."""
    write_ca(in_tmp)
    code, out = invoke("push", "--board", "mongoose-os-esp32", "--bundle", "ca.pem",
                       "--device", "dev1", env={"ESP_CABUNDLE_MQTT": url})  # fmt: skip
    assert code == 2 and said in out and "pw-9" not in out, out
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]
    code, out = invoke("push", "--mqtt", "mqtt://127.0.0.1:1/x", "--board", "mongoose-os-esp32",
                       "--bundle", "ca.pem", "--device", "dev1")  # fmt: skip
    assert code == 2 and "--mqtt: a broker URL has no path" in out


@pytest.mark.parametrize("from_env", [False, True])
def test_the_broker_url_is_parsed_once(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, from_env: bool
) -> None:
    """--mqtt was parsed when checked for a password and again when the link opened (a
    third time from ESP_CABUNDLE_MQTT; an mqtts:// one for the gate's targets too)."""
    from esp_cabundle.commands import _push_links

    parsed: list[str] = []

    def counting(text: str, *spelling: Any) -> Any:
        parsed.append(text)
        return parse_mqtt_url(text, *spelling)

    monkeypatch.setattr(_push_links, "parse_mqtt_url", counting)
    write_ca(in_tmp)
    url = "mqtt://127.0.0.1:9"
    link = {"ESP_CABUNDLE_MQTT": url} if from_env else {}
    args = [] if from_env else ["--mqtt", url]
    code, out = invoke("push", *args, "--board", "mongoose-os-esp32", "--bundle", "ca.pem",
                       "--device", "dev1", "--ledger", "mq.db", "--allow", "unjudged",
                       env=link)  # fmt: skip
    assert code == 3 and "cannot reach the MQTT broker mqtt://127.0.0.1:9" in out, out
    assert parsed == [url]


def test_a_tls_broker_named_in_capitals_is_a_server_the_units_connect_to() -> None:
    """The gate's targets took a broker as TLS by ``startswith("mqtts://")``, the link
    by its parsed scheme: ``MQTTS://`` was a TLS link whose broker was never judged."""
    from esp_cabundle.commands._push_links import server_targets

    opts: dict[str, Any] = {"servers": (), "mdash_url": None}
    for url in ("mqtts://broker.example", "MQTTS://broker.example", " mqtts://broker.example"):
        (target,) = server_targets(opts, parse_mqtt_url(url))
        assert (target.host, target.port) == ("broker.example", 8883), url
    assert server_targets(opts, parse_mqtt_url("mqtt://broker.example")) == []


SECRET = "TOKSECRET-77"


@pytest.mark.parametrize(
    ("link", "hint"),
    [
        (["--rpc", f"http://127.0.0.1:1/rpc?token={SECRET}"], "no login is sent to a unit"),
        (["--rpc", f"ws://127.0.0.1:1/rpc?x=1&API_KEY={SECRET}"], "no login is sent to a unit"),
        # refused before the scheme's message quotes the URL
        (["--rpc", f"htp://127.0.0.1:1/rpc#access_token={SECRET}"], "no login is sent"),
        (["--mdash", f"http://127.0.0.1:1/api/v2?Token={SECRET}"], "key in MDASH_API_KEY"),
        (["--mdash", f"http://127.0.0.1:1/api/v2#x-api-key={SECRET}"], "key in MDASH_API_KEY"),
        (["--mqtt", f"mqtt://127.0.0.1:1?password={SECRET}", "--device", "a"], "MQTT_PASSWORD"),
    ],
)
def test_a_secret_in_a_link_urls_query_or_fragment_is_refused_unshown(
    in_tmp: Path, link: list[str], hint: str
) -> None:
    """``push --rpc 'http://unit/rpc?token=...' --json`` kept the token in the report's
    address and unit rows and several times in the ledger, while a user:pass@ URL was
    refused: a query or fragment key naming a secret is refused as that is, unshown."""
    write_ca(in_tmp)
    board = "mdash-arduino" if link[0] == "--mdash" else "mongoose-os-esp32"
    argv = ["push", *link, "--board", board, "--bundle", "ca.pem", "--ledger", "c.db", "--json"]
    r = CliRunner().invoke(cli, argv, env={"MDASH_API_KEY": KEY})
    assert r.exit_code == 2, r.output
    doc = json.loads(r.stdout)
    assert "in the URL" in doc["error"] and "visible in the process list" in doc["error"]
    assert hint in doc["hint"], doc
    assert SECRET not in r.stdout + r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]


def test_a_secret_in_a_typed_urls_query_is_masked_in_another_options_hint(in_tmp: Path) -> None:
    """A usage error shows the line as typed, mended: a ?token= in it was shown as is."""
    write_ca(in_tmp)
    code, out = invoke("push", "--rpc", f"http://127.0.0.1:1/rpc?token={SECRET}",
                       "--concurrency", "0", "--board", "mongoose-os-esp32")  # fmt: skip
    assert code == 2 and "--concurrency 1" in out, out
    assert SECRET not in out and "?token=[redacted]" in out, out


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("ws://127.0.0.1:1/rpc#frag", "--rpc ws://127.0.0.1:1/rpc: a unit's URL has no fragment"),
        ("http://127.0.0.1:1/rpc#", "a unit's URL has no fragment"),
        # the hint gave --rpc http://.../rpc?session=[redacted], which the next run refused
        (
            "http://127.0.0.1:1/rpc?session=S3cr#f",
            "  hint: give it again without the # part (everything from #)\n",
        ),
        ("http://127.0.0.1:1/r pc", "the path holds a space or a control character"),
    ],
)
def test_an_rpc_url_no_unit_could_answer_at_is_a_usage_error(
    in_tmp: Path, url: str, said: str
) -> None:
    """``--rpc ws://127.0.0.1:1/rpc#frag`` was tried and recorded in the ledger as an
    offline unit "(InvalidURI)", exit 3: a URL no call could go to is refused first."""
    write_ca(in_tmp)
    code, out = invoke("push", "--rpc", url, "--board", "mongoose-os-esp32", "--bundle",
                       "ca.pem", "--allow", "unjudged", "--ledger", "c.db", "--timeout",
                       "1")  # fmt: skip
    assert code == 2 and said in out and "CA:" not in out and "S3cr" not in out, out
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]


def test_a_broker_url_with_a_query_is_refused_saying_why() -> None:
    """paho takes no query or fragment: one was dropped unsaid, then refused without a
    reason. MQTT has no use for one (the broker is reached by host and port alone): the
    refusal says so and gives the URL without it, its user kept and its password not."""
    for url in ("mqtt://127.0.0.1:1/?x=1", "mqtt://127.0.0.1:1#x"):
        with pytest.raises(InputError, match="a broker URL has no query or fragment") as e:
            parse_mqtt_url(url)
        assert "by host and port alone" in e.value.message, e.value
        assert e.value.hint == "give it without that part: url='mqtt://127.0.0.1:1'"
    with pytest.raises(InputError) as e:
        parse_mqtt_url("mqtts://ops:pw-in-url-2@[::1]/?clean_session=0", CLI_SPELLING)
    assert "visible in the process list" not in e.value.message  # not the secret's refusal
    assert e.value.hint == "give it without that part: --mqtt mqtts://ops@[::1]:8883"


def test_a_broker_url_with_a_query_is_refused_on_the_command_line_too(in_tmp: Path) -> None:
    """The CLI passes the reason and the bare URL on, before the CA is judged."""
    write_ca(in_tmp)
    code, out = invoke("push", "--mqtt", "mqtt://127.0.0.1:1?keepalive=30", "--device", "a",
                       "--board", "mdash-arduino", "--bundle", "ca.pem")  # fmt: skip
    assert code == 2 and "by host and port alone" in out and "CA:" not in out, out
    assert "--mqtt mqtt://127.0.0.1:1" in out and "keepalive" not in out.partition("hint")[2]
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]


def test_an_http_rpc_urls_query_is_carried_to_the_unit() -> None:
    """``--rpc 'http://unit/rpc?x=1'`` posted to /rpc, its query dropped unsaid (ws://
    URLs are opened whole, and kept it): each request now goes to the URL as given."""
    import http.server
    import threading

    seen: list[str] = []

    class Unit(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.path)
            frame = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            body = json.dumps({"id": frame["id"], "result": {"id": "unit-q"}}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unit)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        for url, path in ((f"http://127.0.0.1:{port}/rpc?x=1&y=a%20b", "/rpc?x=1&y=a%20b"),
                          (f"http://127.0.0.1:{port}?x=2", "/?x=2")):  # fmt: skip
            t = LanTransport([url], timeout=5.0)
            assert [u.id for u in t.units()] == ["unit-q"]
            assert seen[-1] == path, seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "url",
    [
        f"https://127.0.0.1:1/api/v2?access_token={SECRET}",
        f"https://127.0.0.1:1/api/v2#X-Api-Key={SECRET}",
        f"https://{SECRET}@127.0.0.1:1/api/v2",
        f"https://user:{SECRET}@127.0.0.1:1/api/v2",
        f"htp://127.0.0.1:1/api/v2?token={SECRET}",  # refused before the scheme quotes it
    ],
)
def test_mdash_transport_refuses_a_key_in_its_base_url_as_the_cli_does(url: str) -> None:
    """``MdashTransport(key, base_url='https://.../api/v2?access_token=KEY')`` was taken
    (the query dropped, the key kept in ``base_url`` for every report), while the CLI
    refused --mdash so: the constructor now runs the CLI's one check, unshown."""
    from esp_cabundle.push.mdash import MdashTransport

    with pytest.raises(InputError) as e:
        MdashTransport(KEY, base_url=url)
    said = f"{e.value.message} {e.value.hint}"
    assert e.value.message.startswith("base_url: a key in the URL"), said
    assert "key in api_key=" in (e.value.hint or ""), said
    assert SECRET not in said
    with pytest.raises(InputError, match="base_url takes the API's base URL, without a query"):
        MdashTransport(KEY, base_url="https://127.0.0.1:1/api/v2?page=2")


def test_a_query_in_the_environments_broker_url_is_mended_there() -> None:
    """ESP_CABUNDLE_MQTT with a query was told "give it without that part: --mqtt
    mqtt://ops@HOST": pasted, that typed URL overrode the variable and left its password
    behind (the broker then refused the login). The hint names the variable, its user and
    password kept, and shows neither."""
    env = {"ESP_CABUNDLE_MQTT": "mqtt://ops:pw-in-url-3@127.0.0.1:1?x=1"}
    code, out = invoke("push", "--board", "mongoose-os-esp32", "--device", "dev1", env=env)
    assert code == 2 and "ESP_CABUNDLE_MQTT: a broker URL has no query" in out, out
    hint = out.partition("hint:")[2]
    assert "take that part out of ESP_CABUNDLE_MQTT" in hint and "--mqtt" not in hint, out
    assert "pw-in-url-3" not in out and "ops" not in out, out


def test_a_password_without_a_user_name_is_refused_not_dropped(in_tmp: Path) -> None:
    """paho sends a password only with a user name: one given while the URL named no
    user (MQTT_PASSWORD, --mqtt-password-file, ``mqtt://:pw@host``) was dropped unsaid,
    and the broker's "not authorised" sent the owner to check a password never sent. Each
    is refused (exit 2) before the CA is judged, the password unshown."""
    from esp_cabundle.push.mqtt import MqttTransport, MqttUrl

    write_ca(in_tmp)
    (in_tmp / "pw").write_text("pw-file-4\n")
    (in_tmp / "pw").chmod(0o600)
    base = ["push", "--board", "mongoose-os-esp32", "--bundle", "ca.pem", "--device", "dev1"]
    code, out = invoke(*base, "--mqtt", "mqtt://127.0.0.1:1", "--mqtt-password-file", "pw")
    assert code == 2 and "--mqtt-password-file pw gives an MQTT password" in out, out
    assert "--mqtt mqtt://USER@127.0.0.1:1" in out and "CA:" not in out, out
    code, out = invoke(*base, env={"ESP_CABUNDLE_MQTT": "mqtt://127.0.0.1:1",
                                   "MQTT_PASSWORD": "pw-env-5"})  # fmt: skip
    assert code == 2 and "ESP_CABUNDLE_MQTT names no user" in out and "pw-env-5" not in out
    code, out = invoke(*base, env={"ESP_CABUNDLE_MQTT": "mqtt://:pw-url-6@127.0.0.1:1"})
    assert code == 2 and "a password without a user name" in out and "pw-url-6" not in out
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem", "pw"]
    with pytest.raises(InputError, match="no user name"):
        MqttTransport(MqttUrl(False, "127.0.0.1", 1, password="pw-7"), ["dev1"])


def test_an_mdash_url_with_a_port_is_judged_on_that_port() -> None:
    """The gate's mDash server was the URL's host alone: ``https://HOST:8443/api/v2`` was
    judged as HOST:443 (another server, or none), and ``HTTPS://`` was not judged at all,
    though the link dials both over TLS. mdash.net's own URL keeps its target as it was."""
    from esp_cabundle.commands._push_links import server_targets

    def target(url: str) -> tuple[str, str, int]:
        (t,) = server_targets({"servers": (), "mdash_url": url}, None)
        return t.name, t.host, t.port

    assert target("https://mdash.example:8443/api/v2") == (
        "mdash.example:8443",
        "mdash.example",
        8443,
    )
    assert target("HTTPS://[::1]:8443/api/v2") == ("[::1]:8443", "::1", 8443)
    for url in ("https://mdash.net/api/v2", "https://mdash.net:443/api/v2"):
        assert target(url) == ("mdash.net", "mdash.net", 443), url
    assert server_targets({"servers": (), "mdash_url": "http://mdash.example/api"}, None) == []


def test_push_over_an_mdash_url_with_a_port_checks_that_port(
    in_tmp: Path, refused_port: int
) -> None:
    """The CLI's gate, offline (no chain saved): it names and dials HOST:PORT, never
    HOST:443, and asks for the chain saved under that port's name."""
    write_ca(in_tmp)
    url = f"https://127.0.0.1:{refused_port}/api/v2"
    code, out = invoke("push", "--board", "mdash-arduino", "--bundle", "ca.pem", "--mdash", url,
                       env={"MDASH_API_KEY": KEY})  # fmt: skip
    assert code == 3, out
    assert f"target '127.0.0.1:{refused_port}' has no saved chain" in out, out
    assert f"chains/127.0.0.1_{refused_port}.pem" in out and "127.0.0.1:443" not in out, out
