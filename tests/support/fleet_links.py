"""The links simulated units are reached through, all on 127.0.0.1.

- :class:`Mosquitto`: Debian's real broker, started on a free port with a temporary
  config (optionally a password file or a TLS listener); :func:`mosquitto_binary` says
  where it is (None: tests skip with that reason).
- The units' own links (MQTT; HTTP and WebSocket) are the package's:
  ``esp_cabundle.virtual.rpc_links``, what ``virtual-unit --rpc`` serves with.
- :class:`MdashStandIn`: the package's ``esp_cabundle.virtual.mdash_cloud.MdashCloud``,
  what ``virtual-unit --mdash`` serves: the documented subset of mDash's REST API
  (``GET /api/v2/devices`` with online state, ``POST /api/v2/devices/:id/rpc/:func``;
  Bearer or ``access_token`` auth: 401 without; 404 for an unknown device;
  ``fail_next`` queues 5xx answers) relaying ``params`` frames to simulated mDash units.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from esp_cabundle.virtual.mdash_cloud import MdashCloud as MdashStandIn
from esp_cabundle.virtual.rpc_links import MqttUnitHost

# The mDash API key of the push CLI tests' stand-in (conftest's ``mdash`` fixture).
MDASH_KEY = "k3y-for-cli-tests"

__all__ = [
    "MdashStandIn",
    "Mosquitto",
    "free_port",
    "mosquitto_binary",
    "refusing_ports",
    "started",
]


@contextlib.contextmanager
def started(factory: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """A fixture's ``start``: each call makes a server with ``factory``; every server
    made is closed on leaving, whatever the test did."""
    made: list[Any] = []

    def start(*args: Any, **kw: Any) -> Any:
        made.append(factory(*args, **kw))
        return made[-1]

    try:
        yield start
    finally:
        for server in made:
            server.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def refusing_ports() -> Iterator[Callable[[], int]]:
    """Each call gives a loopback port that refuses connections until the block ends.

    The port stays bound (never listening), so no other process can take it meanwhile:
    one bound and then released, as free_port gives, could be taken by a broker or server
    of a test running in parallel (CI runs the suite on several Pythons at once)."""
    held: list[socket.socket] = []

    def port() -> int:
        s = socket.socket()
        held.append(s)
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

    try:
        yield port
    finally:
        for s in held:
            s.close()


def _listening_pid_owns(pid: int, port: int) -> bool | None:
    """Whether process ``pid`` holds the socket listening on 127.0.0.1:``port``; None
    where /proc cannot say (not Linux), and then the caller trusts a connection."""
    try:
        table = Path("/proc/net/tcp").read_text().splitlines()[1:]
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    # /proc/net/tcp writes the address as the host's int in hex: 127.0.0.1 reads
    # 0100007F on a little-endian machine, 7F000001 on a big-endian one.
    host = int.from_bytes(socket.inet_aton("127.0.0.1"), sys.byteorder)
    wanted = f"{host:08X}:{port:04X}"
    rows = [row.split() for row in table]
    inodes = {f"socket:[{r[9]}]" for r in rows if r[1] == wanted and r[3] == "0A"}  # 0A: LISTEN
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                return True
    return False


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)),
        None,
    )


class Mosquitto:
    """A mosquitto broker on 127.0.0.1 for the length of a ``with`` block."""

    def __init__(
        self,
        *,
        users: dict[str, str] | None = None,
        tls: tuple[Path, Path, Path] | None = None,  # (CA, cert, key): adds an mqtts listener
    ) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise RuntimeError("mosquitto is not installed")
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="mosquitto-"))
        # Started as root, mosquitto drops to the "mosquitto" user: it must read its files.
        self.dir.chmod(0o755)
        # Errors only, to stderr: read when the broker exits (a port taken says so there).
        self.settings = ["persistence false", "log_dest stderr", "log_type error"]
        self.settings += ["max_inflight_messages 0", "max_queued_messages 100000"]
        if users:
            pw = self.dir / "passwd"
            pw.write_text("")
            for user, password in users.items():
                subprocess.run(
                    ["mosquitto_passwd", "-b", str(pw), user, password], check=True, timeout=30
                )
            pw.chmod(0o644)
            self.settings += ["allow_anonymous false", f"password_file {pw}"]
        else:
            self.settings.append("allow_anonymous true")
        self.tls_files = tuple(self._readable(p) for p in tls) if tls else None
        self.port = 0
        self.tls_port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    def _readable(self, path: Path) -> Path:
        """A copy the broker can read once it has dropped to its own user."""
        out = self.dir / path.name
        shutil.copyfile(path, out)
        out.chmod(0o644)
        return out

    def _configure(self) -> Path:
        """A config on ports free a moment ago (another process may take one first:
        __enter__ then tries again on others)."""
        self.port = free_port()
        lines = [f"listener {self.port} 127.0.0.1", *self.settings]
        if self.tls_files:
            self.tls_port = free_port()
            ca, cert, key = self.tls_files
            lines += [f"listener {self.tls_port} 127.0.0.1"]
            lines += [f"cafile {ca}", f"certfile {cert}", f"keyfile {key}"]
        conf = self.dir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def __enter__(self) -> Mosquitto:
        for _ in range(5):
            if self._start():
                return self
        raise RuntimeError("mosquitto found no free port in 5 tries")

    def _start(self) -> bool:
        """True once this broker listens on its ports; False when a port was taken."""
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self._configure())],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        ports = [p for p in (self.port, self.tls_port) if p]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = ""
                if self.proc.stderr is not None:
                    with self.proc.stderr:  # a retry starts another process: let this go
                        err = self.proc.stderr.read().decode()
                if "Address already in use" in err:
                    return False
                raise RuntimeError(f"mosquitto exited: {err}")
            owned = [_listening_pid_owns(self.proc.pid, p) for p in ports]
            if all(owned):  # every listener is this broker's, not another process's
                return True
            if None in owned:  # no /proc: a connection is the best sign there is
                with contextlib.suppress(OSError), socket.create_connection(self.address, 0.2):
                    return True
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)


_SERIAL = iter(range(1 << 30))


def unit_ids(prefix: str, k: int) -> list[str]:
    """``k`` unit ids unique across the session (the broker is shared by every test)."""
    base = next(_SERIAL)
    return [f"{prefix}{base}-{i}" for i in range(k)]


def unit_hosts(port: int) -> Iterator[Callable[[list[Any]], MqttUnitHost]]:
    """For a ``host`` fixture: a starter of units answering on the broker at ``port``,
    every host it started closed when the test ends."""
    hosts: list[MqttUnitHost] = []

    def start(units: list[Any]) -> MqttUnitHost:
        hosts.append(MqttUnitHost(port, units))
        return hosts[-1]

    yield start
    for h in hosts:
        h.close()
