"""CA roadmaps: Let's Encrypt's chains with the dates of its announcements, built from
its real certificates; a roadmap that contradicts itself fails with file, line and key."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from esp_cabundle.certs import load_certificate_file
from esp_cabundle.chains import load_chain_file
from esp_cabundle.errors import ConfigError, InputError
from esp_cabundle.roadmaps import load_roadmap, parse_roadmap, roadmap_names, roadmap_server

LE = Path(__file__).parent / "data" / "letsencrypt"


def utc(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc)


def sha(name: str) -> str:
    (cert,) = load_certificate_file(LE / f"{name}.pem")
    return cert.sha256


def steps(server: str) -> list[tuple[str, str, str | None, list[str]]]:
    kind = load_roadmap("letsencrypt").server(server)
    return [
        (
            s.name,
            s.start.date().isoformat(),
            s.end.date().isoformat() if s.end else None,
            [c.sha256 for c in s.chain.certificates],
        )
        for s in kind.steps
    ]


def test_letsencrypt_dates_are_those_it_announced() -> None:
    r3, long = [sha("lets-encrypt-r3")], [sha("lets-encrypt-r3"), sha("isrg-root-x1-cross-signed")]
    gen_y = [sha("gen-y-int-yr1"), sha("gen-y-root-yr-by-x1")]
    # Default chain: long from 2021-05-04 ("Production Chain Changes"), short from
    # 2024-02-08 and R10-R14 from 2024-06-06 (posts of 2023-07-10 and 2024-04-12).
    assert steps("rsa-default") == [
        ("r3-by-dst", "2020-12-21", "2021-05-04", [sha("lets-encrypt-r3-cross-signed")]),
        ("long", "2021-05-04", "2024-02-08", long),
        ("r3", "2024-02-08", "2024-06-06", r3),
        ("r10-r14", "2024-06-06", "2026-05-28", [sha("2024-r11")]),
        ("gen-y-rsa", "2026-05-28", None, gen_y),
    ]
    # Servers that asked for the chain to DST Root CA X3 kept the long chain until the
    # API stopped offering it: June, not February.
    assert [s[:3] for s in steps("rsa-dst-preferred")][1:3] == [
        ("long", "2021-05-04", "2024-06-06"),
        ("r10-r14", "2024-06-06", "2026-05-28"),
    ]
    assert steps("ecdsa-default")[3] == (
        "e5-e9-by-x1", "2024-06-06", "2026-05-28", [sha("2024-e5-cross")]
    )  # fmt: skip
    assert steps("ecdsa-x2-preferred")[0][3] == [sha("2024-e5")]


def test_every_server_kind_sends_one_chain_at_a_time() -> None:
    roadmap = load_roadmap("letsencrypt")
    assert roadmap_names() == ("letsencrypt",) and roadmap.renewal_days == 90
    assert roadmap.switched_by(utc("2024-06-06")) == utc("2024-09-04")
    for kind in roadmap.servers:
        assert kind.steps[-1].end is None, kind.name
        for before, after in zip(kind.steps, kind.steps[1:], strict=False):
            assert before.end == after.start, kind.name
        for s in kind.steps:
            assert s.sources and all(ref in dict(roadmap.sources) for ref in s.sources)
    # The long chain was never sent past its cross-sign's expiry (2024-09-30), even by a
    # server renewing on the last day it was offered.
    cross = load_certificate_file(LE / "isrg-root-x1-cross-signed.pem")[0]
    for kind in roadmap.servers:
        for s in kind.steps:
            if s.name == "long":
                assert s.end is not None and roadmap.switched_by(s.end) < cross.not_after  # type: ignore[operator]
    kind = roadmap.server("rsa-dst-preferred")
    assert kind.step_at(utc("2024-03-01")).name == "long"  # type: ignore[union-attr]
    assert kind.step_at(utc("2024-06-06")).name == "r10-r14"  # type: ignore[union-attr]
    assert kind.step_at(utc("2019-01-01")) is None


def test_roadmap_server_references() -> None:
    roadmap, kind = roadmap_server("letsencrypt/rsa-dst-preferred")
    assert roadmap.name == "letsencrypt" and kind.name == "rsa-dst-preferred"
    with pytest.raises(InputError, match="has no server kind 'rsa-default-chain'"):
        roadmap_server("letsencrypt/rsa-default-chain")
    with pytest.raises(InputError, match="does not name a roadmap server"):
        roadmap_server("letsencrypt")
    with pytest.raises(InputError, match="unknown roadmap 'zerossl'"):
        roadmap_server("zerossl/default")


GOOD = """\
name: test
title: a test roadmap
sources: {a: somewhere}
chains:
  one: {description: R3, certificates: [lets-encrypt-r3.pem]}
  two: {description: R11, certificates: [2024-r11.pem]}
servers:
  - name: kind
    description: a kind of server
    sends:
      - {chain: one, from: 2021-01-01, until: 2022-01-01, source: a}
      - {chain: two, from: 2022-01-01, source: a}
"""


def test_a_good_roadmap_parses() -> None:
    r = parse_roadmap(GOOD, folder=LE, source="t.yaml")
    assert [s.name for s in r.servers[0].steps] == ["one", "two"]
    assert r.renewal_days is None and r.switched_by(utc("2022-01-01")) is None


@pytest.mark.parametrize(
    ("old", "new", "message", "line"),
    [
        ("until: 2022-01-01, source", "until: 2021-06-01, source", "gap or overlap", 12),
        ("until: 2022-01-01, source", "until: 2020-06-01, source", "not after it starts", 11),
        ("{chain: two, from", "{chain: three, from", "unknown chain 'three'", 12),
        ("source: a}\n      - {chain: two", "source: b}\n      - {chain: two", "'b' is not", 11),
        ("[2024-r11.pem]", "[2024-r99.pem]", "no certificate file '2024-r99.pem'", 6),
        ("[2024-r11.pem]", "[../2024-r11.pem]", "no certificate file", 6),
        ("      - {chain: one, from: 2021-01-01, until: 2022-01-01, source: a}\n", "", None, None),
        (
            "{chain: two, from: 2022-01-01, source: a}",
            "{chain: two, source: a}",
            "needs 'chain'",
            12,
        ),
        ("title: a test roadmap\n", "", "missing required key 'title'", 1),
        ("name: kind\n", "name: kind\n    colour: red\n", "unknown key 'colour'", 9),
        (GOOD[GOOD.index("    sends:") :], "    sends: []\n", "list at least one step", 10),
        ("chains:", "chains: [", "not valid YAML", None),
    ],
)
def test_bad_roadmaps_name_the_line(
    old: str, new: str, message: str | None, line: int | None
) -> None:
    text = GOOD.replace(old, new)
    assert text != GOOD
    if message is None:  # dropping the first step leaves a valid roadmap
        assert parse_roadmap(text, folder=LE, source="t.yaml").servers[0].steps[0].name == "two"
        return
    with pytest.raises(ConfigError, match=message) as e:
        parse_roadmap(text, folder=LE, source="t.yaml")
    assert e.value.path == "t.yaml"
    if line is not None:
        assert e.value.line == line


def test_a_server_kind_listed_twice_is_refused() -> None:
    twice = GOOD + GOOD[GOOD.index("  - name: kind") :]
    with pytest.raises(ConfigError, match="server kind 'kind' is listed twice"):
        parse_roadmap(twice, folder=LE, source="t.yaml")


EXAMPLES = Path(__file__).parent.parent / "examples"
_DEFAULT_FROM = re.compile(r"default (?:RSA )?chain (?:from|since) (\d{4}-\d\d-\d\d)")


def _default_step(path: Path) -> tuple[str, str | None]:
    """(start, end) of the letsencrypt ``rsa-default`` step that sends ``path``'s chain."""
    shas = [c.sha256 for c in load_chain_file(path).certificates]
    found = [(s[1], s[2]) for s in steps("rsa-default") if s[3] == shas]
    assert len(found) == 1, f"{path.name}: not a chain Let's Encrypt sent by default"
    return found[0]


@pytest.mark.parametrize(
    "path",
    sorted([*EXAMPLES.glob("chains/*.pem"), *EXAMPLES.glob("ci/chains/*.pem")]),
    ids=lambda p: p.relative_to(EXAMPLES).as_posix(),
)
def test_example_chain_headers_give_the_roadmap_dates(path: Path) -> None:
    """A chain file's header says from when servers sent it by default, as the roadmap
    does (R11 came on 2024-06-06; from 2024-02-08 the short chain was R3)."""
    head = "".join(line for line in path.read_text().splitlines(keepends=True)[:2])
    m = re.search(r"default from (\d{4}-\d\d-\d\d)(?: until (\d{4}-\d\d-\d\d))?", head)
    if m is None:
        assert "default" not in head, head
        return
    start, end = _default_step(path)
    assert m.group(1) == start, head
    assert m.group(2) in (None, end), head


def test_example_chains_readme_gives_the_roadmap_dates() -> None:
    text = (EXAMPLES / "chains" / "README.md").read_text()
    bullets = re.findall(r"^- `([^`]+\.pem)`:(.*?)(?=^- |^```|\Z)", text, re.M | re.S)
    dated = 0
    for name, body in bullets:
        m = _DEFAULT_FROM.search(" ".join(body.split()))
        if m is not None:
            dated += 1
            assert m.group(1) == _default_step(EXAMPLES / "chains" / name)[0], name
    assert dated >= 2
