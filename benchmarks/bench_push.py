"""A fleet push through a real broker: 1,000 simulated Mongoose OS units behind Debian's
mosquitto on 127.0.0.1, an 8 KB CA file, the campaign as ``esp-cabundle push --mqtt``
runs it (the library, with its SQLite ledger).

The units run in a second process (tests/support: LittleFS images of 64 KiB, the
rpc-service-fs handlers, answers on ``<src>/rpc``), so the campaign and the units each
have a core of this 2-core machine, with mosquitto between them. After the campaign the
unit process mounts every unit's image anew and checks it file by file.

Prints: units per second (wall clock of the campaign, listing to last record), bytes of
RPC frames per unit (both ways, base64 included), the ledger's size, and how many units
were verified. Goal: >= 50 units/s and every unit verified.

Then ``push status`` of a ledger of ``--status-units`` units (2,000,000: a large
fleet's campaign, 10% verified, some failed): wall time and peak memory (the process's
max RSS) of the text, of ``--json`` and of ``--csv``, each written to /dev/null. Goal:
each under 200 MB and 10 s (the text took 32 s and 1.5 GB when status held every row;
--json then held the whole document: about 10 GB; then --json took 18 s and --csv 13 s
encoding a value at a time; then 12, 20 and 17 s, 9 s of each the rows' check, mostly a
GLOB per SHA-256: now 2.4 s, and SQLite writes each unit's JSON). Run:
    python benchmarks/bench_push.py [--units 1000] [--concurrency 64] [--status-units N]
    python benchmarks/bench_push.py --status-only
    python benchmarks/bench_push.py --offline-only [--offline 400]

And a fleet mostly off (``--offline`` ids no unit answers, beside 20 that do, at
``--timeout 1`` and the default ``--concurrency 8``): the campaign's wall time. Goal:
about one timeout for the silent ids, whatever their number: each cost a whole timeout,
8 at a time (400 silent ids: 53.3 s; now one probe round, 5.4 s). With 3000 silent ids
the probe takes 3 s (1000 ids a round), but recording them took 63 s: ``Ledger.row``
(read by ``claim``) reads every row to return one, 8 ms at 3000 rows, twice per unit.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from support.fleet_links import Mosquitto  # noqa: E402

from esp_cabundle.boards import load_board  # noqa: E402
from esp_cabundle.bundle import BundleSpec  # noqa: E402
from esp_cabundle.dates import now  # noqa: E402
from esp_cabundle.fs import create_image, open_image  # noqa: E402
from esp_cabundle.gate import CaSource, gate_ca  # noqa: E402
from esp_cabundle.push.campaign import CampaignOptions, PushFile, run_campaign  # noqa: E402
from esp_cabundle.push.ledger import Ledger  # noqa: E402
from esp_cabundle.push.mqtt import MqttTransport, parse_mqtt_url  # noqa: E402
from esp_cabundle.virtual.rpc import MongooseUnit  # noqa: E402
from esp_cabundle.virtual.rpc_links import MqttUnitHost  # noqa: E402

LFS = ROOT / "tests" / "data" / "serial" / "mongoose-lfs20-256k.bin"


def template() -> bytes:
    """A 64 KiB Mongoose OS LittleFS with the vendor image's small files and its ca.pem."""
    vendor = open_image(LFS.read_bytes())
    image = create_image("littlefs", "mongoose-os", 16 * 4096)
    for f in vendor.files():
        if f.size < 4096:
            image.write(f.path, vendor.read(f.path))
    return image.to_bytes()


def serve(port: int, n: int, ready: Any, done: Any, result: Any, ca: bytes) -> None:
    base = template()
    units = [MongooseUnit(f"bench-{i:04d}", open_image(base)) for i in range(n)]
    host = MqttUnitHost(port, units, workers=4)
    ready.set()
    done.wait()
    host.close()
    expected = {f.path: open_image(base).read(f.path) for f in open_image(base).files()}
    expected["/ca.pem"] = ca
    ok = sum(1 for u in units if u.files() == expected)
    result.put(ok)


def make_ledger(path: Path, n: int) -> None:
    """An ``n``-unit ledger as a campaign leaves it: 10% verified, 1% failed out of
    space, the rest offline (made in its own process, whose memory is not the figure's)."""
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256="ab" * 32, board="mongoose-os-esp32", ca_path="ca.pem")
        ledger.set_meta("goes_dark:" + "cd" * 32, "2027-06-06T00:00:00+00:00")
        ledger.enroll((f"esp32-{i:08d}", "mqtt", None) for i in range(n))
    db = sqlite3.connect(path)
    with db:
        db.execute(
            "UPDATE units SET state = CASE WHEN rowid % 10 = 0 THEN 'verified' "
            "WHEN rowid % 100 = 1 THEN 'failed' ELSE 'offline' END, "
            "old_sha256 = ?, new_sha256 = ?, last_seen = updated_at, "
            "last_error = CASE WHEN rowid % 100 = 1 THEN 'unit x: out of space' END",
            ("cd" * 32, "ab" * 32),
        )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def status_run(path: Path, extra: list[str]) -> tuple[float, float, int]:
    """Seconds, peak RSS (MB) and exit code of ``push status`` with ``extra``, to /dev/null."""
    argv = [sys.executable, "-m", "esp_cabundle", "push", "status", "--ledger", str(path)]
    t0 = time.perf_counter()
    with open(os.devnull, "w") as sink:
        proc = subprocess.Popen([*argv, *extra], stdout=sink, cwd=path.parent)
        _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - t0, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def status_figures(n: int) -> None:
    """``push status`` of an ``n``-unit ledger: seconds and peak RSS per output, beside
    those of a 10-unit ledger (Python and the CLI's imports)."""
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        small, path = Path(tmp) / "small.db", Path(tmp) / "fleet.db"
        t0 = time.perf_counter()
        for p, k in ((small, 10), (path, n)):
            proc = ctx.Process(target=make_ledger, args=(p, k))
            proc.start()
            proc.join()
        size = path.stat().st_size
        print(f"\npush status of {n:,} units (ledger {size / 2**20:,.0f} MiB, made in "
              f"{time.perf_counter() - t0:.0f} s):")  # fmt: skip
        for extra in ([], ["--json"], ["--csv"]):
            _, base, _ = status_run(small, extra)
            elapsed, rss, code = status_run(path, extra)
            ok = rss < 200 and code == 3 and elapsed < 10  # 3: units offline, not finished
            name = " ".join(extra) or "(text)"
            goal = "< 10 s, < 200 MB"
            print(f"  status {name:8} {elapsed:5.1f} s, peak {rss:4.0f} MB ({base:.0f} MB for "
                  f"10 units), exit {code}; goal {goal}: {'met' if ok else 'NOT met'}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--status-units", type=int, default=2_000_000)
    ap.add_argument("--status-only", action="store_true", help="only the push status figure")
    ap.add_argument("--offline", type=int, default=400, help="silent ids of the offline figure")
    ap.add_argument("--offline-only", action="store_true", help="only the offline figure")
    args = ap.parse_args()
    if args.offline_only:
        offline_figure(args.offline)
        return
    if not args.status_only:
        campaign(args)
        offline_figure(args.offline)
    if args.status_units:
        status_figures(args.status_units)


def campaign(args: argparse.Namespace) -> None:
    spec = BundleSpec(presets=("letsencrypt",), roots=("amazon-root-ca-1", "amazon-root-ca-3"))
    push = PushFile(gate_ca(CaSource.build(spec), board=load_board("mongoose-os-esp32"), at=now()))
    ca = push.data
    ctx = mp.get_context("spawn")
    with Mosquitto() as broker, tempfile.TemporaryDirectory() as tmp:
        ready, done, result = ctx.Event(), ctx.Event(), ctx.Queue()
        proc = ctx.Process(target=serve, args=(broker.port, args.units, ready, done, result, ca))
        proc.start()
        if not ready.wait(300):
            raise SystemExit("the unit process did not start")
        ids = [f"bench-{i:04d}" for i in range(args.units)]
        transport = MqttTransport(parse_mqtt_url(broker.url), ids)
        ledger_path = Path(tmp) / "campaign.db"
        options = CampaignOptions(concurrency=args.concurrency, timeout=30.0)
        with Ledger(ledger_path) as ledger:
            t0 = time.perf_counter()
            report = run_campaign([transport], push, ledger, options)
            elapsed = time.perf_counter() - t0
        transport.close()
        done.set()
        checked = result.get(timeout=600)
        proc.join(60)
        counts = report.counts()
        size = sum(p.stat().st_size for p in Path(tmp).glob("campaign.db*"))
        per_unit = (transport.traffic.sent + transport.traffic.received) / args.units
        print(f"units: {args.units}, CA file {len(ca)} bytes, concurrency {args.concurrency}")
        print(f"campaign: {elapsed:.1f} s, {args.units / elapsed:.1f} units/s")
        print(f"RPC frames per unit: {per_unit:,.0f} bytes ({transport.traffic.sent:,} sent, "
              f"{transport.traffic.received:,} received in all)")  # fmt: skip
        print(f"ledger: {size:,} bytes ({size / args.units:.0f} per unit)")
        print(f"states: {counts}")
        print(f"verified on the units (images mounted, every file checked): {checked}")
        ok = checked == args.units and counts.get("verified") == args.units
        goal = args.units / elapsed >= 50
        print(f"goal >= 50 units/s: {'met' if goal else 'NOT met'}; every unit verified: {ok}")


def offline_figure(silent: int, answering: int = 20, timeout: float = 1.0) -> None:
    """A fleet mostly off: ``silent`` ids no unit answers and ``answering`` units, with
    the CLI's default concurrency (8). The silent ones should cost one timeout in all."""
    spec = BundleSpec(presets=("letsencrypt",))
    push = PushFile(gate_ca(CaSource.build(spec), board=load_board("mongoose-os-esp32"), at=now()))
    base = template()
    units = [MongooseUnit(f"on-{i:04d}", open_image(base)) for i in range(answering)]
    ids = [u.unit_id for u in units] + [f"off-{i:05d}" for i in range(silent)]
    with Mosquitto() as broker, tempfile.TemporaryDirectory() as tmp:
        host = MqttUnitHost(broker.port, units, workers=4)
        transport = MqttTransport(parse_mqtt_url(broker.url), ids)
        options = CampaignOptions(timeout=timeout)  # concurrency 8, as the CLI's default
        try:
            with Ledger(Path(tmp) / "campaign.db") as ledger:
                t0 = time.perf_counter()
                report = run_campaign([transport], push, ledger, options)
                elapsed = time.perf_counter() - t0
        finally:
            transport.close()
            host.close()
    counts = report.counts()
    print(
        f"\noffline fleet: {silent} silent ids + {answering} answering units, timeout "
        f"{timeout:g} s, concurrency {options.concurrency}: {elapsed:.1f} s; states {counts}"
    )
    ok = counts.get("offline") == silent and counts.get("verified") == answering
    goal = elapsed < 4 * timeout + answering * 0.5
    print(f"goal: the silent ids cost about one timeout ({4 * timeout + answering * 0.5:.0f} s "
          f"bound): {'met' if goal and ok else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
