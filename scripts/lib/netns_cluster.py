"""Hosts on a switch, on one machine, for MPI jobs: each rank in its own Linux network namespace,
joined to a private bridge by a veth pair whose two ends are shaped with tc (the rank's upload
and download), and mpirun in one more namespace, starting one OpenMPI daemon per rank namespace
as if each were a host (its remote shell is `ip netns exec`).

Every name starts with ``acb<pid>`` so that parallel runs never clash: namespaces
``acb<pid>r0``.. (ranks) and ``acb<pid>l`` (mpirun), the bridge ``acb<pid>br``, the root-side
veth ends ``acb<pid>h0``.. and ``acb<pid>hl``.  Addresses (10.231.0.0/24) exist inside the
namespaces only: the root namespace holds no address on the bridge, so nothing is routed between
the cluster and any other network, and IPv6 is off on every device the cluster adds.  Needs root
(CAP_NET_ADMIN) and iproute2; ``NamespacesRefused`` says why otherwise.

A link's delay is netem's on the rank's upload where the kernel has netem.  Where it has not,
the bridge gives way to a user-space switch with that delay (delay_relay.py, a child process
holding a raw socket on each root-side veth end, started by shape() and ended by remove()); the
tbf qdiscs shape the links as before.  `Shaping` says which was used.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

SUBNET = "10.231.0.0/24"
RELAY = Path(__file__).with_name("delay_relay.py")
PROBE = Path(__file__).with_name("link_probe.py")
LAUNCHER_ADDRESS = "10.231.0.254/24"
# The rank's queue on each shaped link: deep enough for TCP, short enough not to add latency.
QUEUE_MS = 10
# mpirun's remote shell: the "host" it names is the namespace to run the command in.  Every
# host gets its own OpenMPI session directory under the cluster's folder: the namespaces share
# the machine's hostname and /tmp, where daemons starting at once would race to create the same
# directories (a daemon that loses dies after it has detached, and mpirun waits for it forever).
AGENT = """#!/bin/sh
host=$1
shift
exec ip netns exec "$host" env OMPI_MCA_orte_tmpdir_base="{sessions}/$host" /bin/sh -c "$*"
"""


class NamespacesRefused(Exception):
    """This process may not create network namespaces (not root, no iproute2, ...)."""


@dataclass(frozen=True)
class Link:
    """One rank's link to the switch: `mbit` each way (None: unshaped), and `delay_ms` added to
    what the rank sends (so one way between two ranks takes delay_ms more)."""
    mbit: Optional[float]
    delay_ms: float = 0.0


@dataclass(frozen=True)
class Shaping:
    """What shape() applied: the delay, and how (None without one): "netem" (the kernel's qdisc,
    on the switch "bridge") or "userspace-relay" (the switch "relay", delay_relay.py)."""
    delay_ms: float
    delay_method: Optional[str]
    switch: str  # "bridge" or "relay"


@dataclass(frozen=True)
class Stream:
    """One TCP stream of link_probe.py: its rate at the receiver and whether every byte arrived
    as sent."""
    mbit: float
    bytes: int
    intact: bool


def _run(command: Sequence[str], namespace: Optional[str] = None) -> subprocess.CompletedProcess:
    full = ["ip", "netns", "exec", namespace, *command] if namespace else list(command)
    return subprocess.run(full, capture_output=True, text=True)


def _check(command: Sequence[str], namespace: Optional[str] = None) -> None:
    result = _run(command, namespace)
    if result.returncode != 0:
        where = f" (in namespace {namespace})" if namespace else ""
        raise RuntimeError(f"{' '.join(command)}{where} failed: {result.stderr.strip()}")


def _json_of(process: subprocess.Popen, timeout_s: float) -> dict:
    """The JSON object a link_probe.py process prints last."""
    output = process.communicate(timeout=timeout_s)[0]
    if process.returncode != 0 or not output.strip():
        raise RuntimeError(f"{' '.join(map(str, process.args))} failed ({process.returncode})")
    return json.loads(output.strip().splitlines()[-1])


def _tbf(device: str, mbit: float) -> list[str]:
    """tc arguments for a token bucket of `mbit` on device's egress.  Its burst is 1 ms at the
    line rate (two frames at least): a message bigger than that goes at the rate, as on a real
    link, while the kernel's timers still keep up at 1 Gbit/s."""
    burst = max(3000, int(mbit * 1e6 / 8 * 1e-3))
    return ["tc", "qdisc", "add", "dev", device, "root", "handle", "1:", "tbf", "rate",
            f"{mbit:g}mbit", "burst", str(burst), "latency", f"{QUEUE_MS}ms"]


class NetnsCluster:
    """`hosts` rank namespaces and the launcher namespace; a context manager that removes them
    all on exit (`remove()` may be called again)."""

    def __init__(self, hosts: int, workdir: Path, prefix: Optional[str] = None) -> None:
        self.prefix = prefix or f"acb{os.getpid()}"
        self.hosts = [f"{self.prefix}r{r}" for r in range(hosts)]
        self.launcher = f"{self.prefix}l"
        self.bridge = f"{self.prefix}br"
        self.agent = workdir / "netns_agent.sh"
        self.sessions = workdir / "sessions"  # OpenMPI's session directories, one per host
        self.relay_log = workdir / "delay_relay.log"
        self.netem_missing = False  # set when the kernel has no netem (the relay delays then)
        self._created: list[str] = []  # namespaces, in order of creation
        self._root_ends: list[str] = []  # the switch side of each veth pair
        self._relay: Optional[subprocess.Popen] = None  # the user-space switch, while it runs
        self._bridged = False  # whether the root ends are the bridge's ports
        self.relay_scheduling: Optional[str] = None  # what the relay got, e.g. "realtime"

    def __enter__(self) -> "NetnsCluster":
        try:
            self.create()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()

    # ---- set up and tear down ----

    def create(self) -> None:
        """NamespacesRefused when any step is (what it made so far stays for remove())."""
        # A name is listed before it is made, so that an interrupt in between leaves nothing
        # that remove() would not delete.
        self._created.append(self.launcher)
        try:
            first = subprocess.run(["ip", "netns", "add", self.launcher], capture_output=True,
                                   text=True)
        except FileNotFoundError as error:
            raise NamespacesRefused("iproute2's `ip` is not installed") from error
        if first.returncode != 0:
            raise NamespacesRefused(f"`ip netns add` failed: {first.stderr.strip()} "
                                    "(network namespaces need root or CAP_NET_ADMIN)")
        try:
            self._wire()
        except RuntimeError as error:
            raise NamespacesRefused(str(error)) from error

    def _wire(self) -> None:
        """The bridge, the rank namespaces, their links and mpirun's remote shell."""
        _check(["ip", "link", "add", self.bridge, "type", "bridge"])
        self._disable_ipv6(self.bridge)
        _check(["ip", "link", "set", self.bridge, "up"])
        self._attach(self.launcher, f"{self.prefix}hl", LAUNCHER_ADDRESS)
        for rank, host in enumerate(self.hosts):
            self._created.append(host)
            _check(["ip", "netns", "add", host])
            self._attach(host, f"{self.prefix}h{rank}", f"{self.address(rank)}/24")
        self._join_bridge(True)
        for host in [self.launcher, *self.hosts]:
            (self.sessions / host).mkdir(parents=True, exist_ok=True)
        self.agent.write_text(AGENT.format(sessions=self.sessions))
        self.agent.chmod(0o755)

    @staticmethod
    def _disable_ipv6(device: str, namespace: Optional[str] = None) -> None:
        """No IPv6 (and so no link-local neighbour discovery) on a device the cluster adds."""
        knob = f"/proc/sys/net/ipv6/conf/{device}/disable_ipv6"
        _check(["sh", "-c", f"[ ! -e {knob} ] || echo 1 > {knob}"], namespace)

    def _attach(self, namespace: str, root_end: str, address: str) -> None:
        """A veth pair from the switch (root_end) to `namespace` (eth0, with `address`)."""
        self._root_ends.append(root_end)
        _check(["ip", "link", "add", root_end, "type", "veth", "peer", "name", "eth0", "netns",
                namespace])
        self._disable_ipv6(root_end)
        # Off the bridge (when the relay switches), the root namespace's stack sees the frames:
        # it must neither route them nor answer their ARP requests.
        for knob, value in (("forwarding", 0), ("arp_ignore", 8)):
            _check(["sh", "-c", f"echo {value} > /proc/sys/net/ipv4/conf/{root_end}/{knob}"])
        _check(["ip", "link", "set", root_end, "up"])
        self._disable_ipv6("eth0", namespace)
        _check(["ip", "link", "set", "lo", "up"], namespace)  # OpenMPI's daemon and ranks use it
        _check(["ip", "addr", "add", address, "dev", "eth0"], namespace)
        _check(["ip", "link", "set", "eth0", "up"], namespace)

    def _join_bridge(self, joined: bool) -> None:
        """Makes the root ends the bridge's ports, or takes them off it (for the relay)."""
        if joined != self._bridged:
            for root_end in self._root_ends:
                _check(["ip", "link", "set", root_end, *(["master", self.bridge] if joined
                                                          else ["nomaster"])])
            self._bridged = joined

    def remove(self) -> None:
        """Ends the relay and what still runs in the namespaces (the job's daemons and ranks,
        which this process started), then deletes the veth pairs, the namespaces and the
        bridge.  The pairs go first and by name: a namespace's deletion takes its veths with it
        only later, in the kernel's own time, and a device must not outlive this call."""
        self._stop_relay()
        if shutil.which("ip") is None:  # nothing can have been made
            self._created.clear()
            self._root_ends.clear()
            return
        for root_end in self._root_ends:
            if Path(f"/sys/class/net/{root_end}").exists():
                _run(["ip", "link", "del", root_end])  # (both ends of the pair, at once)
        self._root_ends.clear()
        for namespace in reversed(self._created):
            pids = _run(["ip", "netns", "pids", namespace]).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            _run(["ip", "netns", "del", namespace])
        self._created.clear()
        if Path(f"/sys/class/net/{self.bridge}").exists():
            _run(["ip", "link", "del", self.bridge])
        self._wait_until_devices_are_gone()

    def _wait_until_devices_are_gone(self, seconds: float = 10.0) -> None:
        """Waits (briefly) for devices of ours that the kernel is still tearing down."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and any(
                name.startswith(self.prefix) for name in os.listdir("/sys/class/net")):
            time.sleep(0.05)

    # ---- links ----

    @staticmethod
    def address(rank: int) -> str:
        return f"10.231.0.{rank + 1}"

    def shape(self, link: Link) -> Shaping:
        """Shapes every rank's link (both ways) with tbf and adds link.delay_ms to what each
        rank sends: by netem, or where the kernel has none, by the relay in the bridge's
        place."""
        self._stop_relay()
        for rank, host in enumerate(self.hosts):
            for device, namespace in ((f"{self.prefix}h{rank}", None), ("eth0", host)):
                _run(["tc", "qdisc", "del", "dev", device, "root"], namespace)
                if link.mbit is not None:
                    _check(_tbf(device, link.mbit), namespace)
        if link.delay_ms <= 0:
            self._join_bridge(True)
            return Shaping(0.0, None, "bridge")
        if all(self._add_netem(host, link) for host in self.hosts):
            self._join_bridge(True)
            return Shaping(link.delay_ms, "netem", "bridge")
        self._join_bridge(False)
        self._start_relay(link.delay_ms)
        return Shaping(link.delay_ms, "userspace-relay", "relay")

    def _add_netem(self, host: str, link: Link) -> bool:
        """netem on the rank's upload (under its tbf when shaped); False without netem."""
        if self.netem_missing:
            return False
        parent = ["parent", "1:1"] if link.mbit is not None else ["root"]
        result = _run(["tc", "qdisc", "add", "dev", "eth0", *parent, "netem", "delay",
                       f"{link.delay_ms:g}ms", "limit", "100000"], host)
        if result.returncode == 0:
            return True
        if "unknown" not in result.stderr.lower():
            raise RuntimeError(f"tc netem in {host} failed: {result.stderr.strip()}")
        self.netem_missing = True
        return False

    def _start_relay(self, delay_ms: float, seconds: float = 10.0) -> None:
        """delay_relay.py on the root ends, a rank's port adding `delay_ms` (the launcher's
        none, as netem delays the ranks' uploads only); returns once its sockets are bound."""
        ports = [f"{self.prefix}h{rank}:{delay_ms:g}" for rank in range(len(self.hosts))]
        with open(self.relay_log, "w") as log:
            self._relay = subprocess.Popen(
                [sys.executable, str(RELAY), "--parent", str(os.getpid()), *ports,
                 f"{self.prefix}hl:0"], stdout=subprocess.PIPE, stderr=log, text=True)
        assert self._relay.stdout is not None
        ready = select.select([self._relay.stdout], [], [], seconds)[0]
        line = self._relay.stdout.readline() if ready else ""
        if not line.startswith("ready"):
            self._stop_relay()
            raise RuntimeError(f"the delay relay did not start: {line.strip()}"
                               f"{self.relay_log.read_text()[-2000:]}")
        self.relay_scheduling = line[len("ready"):].strip()

    def _stop_relay(self) -> None:
        if self._relay is None:
            return
        relay, self._relay = self._relay, None
        relay.terminate()
        try:
            relay.wait(timeout=5)
        except subprocess.TimeoutExpired:
            relay.kill()
            relay.wait()
        if relay.stdout is not None:
            relay.stdout.close()

    @property
    def relay_pid(self) -> Optional[int]:
        """The relay's process id while it runs."""
        return self._relay.pid if self._relay else None

    # ---- probes ----

    def ping(self, source: int, target: int, count: int = 10,
             interval_s: float = 0.01) -> list[float]:
        """Round trips in ms of ICMP echoes from rank `source` to rank `target` (link_probe)."""
        result = self._probe(source, ["ping", self.address(target), "--count", str(count),
                                      "--interval", str(interval_s)])
        return result["rtt_ms"]

    def streams(self, pairs: Sequence[tuple[int, int]], seconds: float = 1.0) -> list[Stream]:
        """TCP streams from rank a to rank b for each (a, b) of `pairs` at once."""
        receivers: list[subprocess.Popen] = []
        senders: list[subprocess.Popen] = []
        try:
            for index, (_, target) in enumerate(pairs):
                receivers.append(subprocess.Popen(self._probe_command(target, [
                    "receive", "--port", str(5001 + index)]), stdout=subprocess.PIPE, text=True))
                if receivers[-1].stdout.readline().strip() != "listening":
                    raise RuntimeError(f"link_probe.py receive in {self.hosts[target]} failed")
            for index, (source, target) in enumerate(pairs):
                senders.append(subprocess.Popen(self._probe_command(source, [
                    "send", self.address(target), "--port", str(5001 + index), "--seconds",
                    str(seconds)]), stdout=subprocess.PIPE, text=True))
            sent = [_json_of(sender, seconds + 60) for sender in senders]
            got = [_json_of(receiver, 60) for receiver in receivers]
        finally:
            for process in receivers + senders:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        return [Stream(mbit=8e-6 * b["bytes"] / b["seconds"] if b["seconds"] else 0.0,
                       bytes=b["bytes"], intact=b["intact"] and a["bytes"] == b["bytes"])
                for a, b in zip(sent, got)]

    def _probe_command(self, rank: int, arguments: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.hosts[rank], sys.executable, str(PROBE), *arguments]

    def _probe(self, rank: int, arguments: list[str]) -> dict:
        result = subprocess.run(self._probe_command(rank, arguments), capture_output=True,
                                text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"link_probe.py {arguments[0]} in {self.hosts[rank]} failed: "
                               f"{result.stderr.strip()[-2000:]}")
        return json.loads(result.stdout)

    # ---- mpirun ----

    def mpirun_command(self, mpirun: str, ranks: int) -> list[str]:
        """mpirun, in the launcher namespace, placing rank r in namespace r (one per "host"),
        over TCP on the cluster's subnet (its daemons too)."""
        if not 1 <= ranks <= len(self.hosts):
            raise ValueError(f"{ranks} ranks on a cluster of {len(self.hosts)} hosts")
        hosts = ",".join(f"{host}:1" for host in self.hosts[:ranks])
        # mpirun's session directory goes with the cluster's too (through TMPDIR, which unlike
        # an MCA setting it does not pass on to the daemons), also when mpirun is killed.
        tmpdir = f"TMPDIR={self.sessions / self.launcher}"
        return ["ip", "netns", "exec", self.launcher, "env", tmpdir, mpirun, "--allow-run-as-root",
                "-np", str(ranks), "--host", hosts, "--map-by", "node",
                "--mca", "plm_rsh_agent", str(self.agent), "--mca", "plm_rsh_no_tree_spawn", "1",
                "--mca", "oob_tcp_if_include", SUBNET,
                "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", SUBNET]
