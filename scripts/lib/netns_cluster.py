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
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

SUBNET = "10.231.0.0/24"
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


def _run(command: Sequence[str], namespace: Optional[str] = None) -> subprocess.CompletedProcess:
    full = ["ip", "netns", "exec", namespace, *command] if namespace else list(command)
    return subprocess.run(full, capture_output=True, text=True)


def _check(command: Sequence[str], namespace: Optional[str] = None) -> None:
    result = _run(command, namespace)
    if result.returncode != 0:
        where = f" (in namespace {namespace})" if namespace else ""
        raise RuntimeError(f"{' '.join(command)}{where} failed: {result.stderr.strip()}")


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
        self.netem_missing = False  # set when the kernel has no netem (no delay possible)
        self._created: list[str] = []  # namespaces, in order of creation
        self._root_ends: list[str] = []  # the bridge side of each veth pair

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
            self._attach(host, f"{self.prefix}h{rank}", f"10.231.0.{rank + 1}/24")
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
        """A veth pair from the bridge (root_end) to `namespace` (eth0, with `address`)."""
        self._root_ends.append(root_end)
        _check(["ip", "link", "add", root_end, "type", "veth", "peer", "name", "eth0", "netns",
                namespace])
        self._disable_ipv6(root_end)
        _check(["ip", "link", "set", root_end, "master", self.bridge])
        _check(["ip", "link", "set", root_end, "up"])
        self._disable_ipv6("eth0", namespace)
        _check(["ip", "link", "set", "lo", "up"], namespace)  # OpenMPI's daemon and ranks use it
        _check(["ip", "addr", "add", address, "dev", "eth0"], namespace)
        _check(["ip", "link", "set", "eth0", "up"], namespace)

    def remove(self) -> None:
        """Ends what still runs in the namespaces (the job's daemons and ranks, which this
        process started), then deletes the veth pairs, the namespaces and the bridge.  The pairs
        go first and by name: a namespace's deletion takes its veths with it only later, in the
        kernel's own time, and a device must not outlive this call."""
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

    def shape(self, link: Link) -> float:
        """Shapes every rank's link (both ways) and returns the delay applied: link.delay_ms, or
        0 when the kernel has no netem (self.netem_missing)."""
        delay = 0.0
        for rank, host in enumerate(self.hosts):
            for device, namespace in ((f"{self.prefix}h{rank}", None), ("eth0", host)):
                _run(["tc", "qdisc", "del", "dev", device, "root"], namespace)
                if link.mbit is not None:
                    _check(_tbf(device, link.mbit), namespace)
            if link.delay_ms > 0 and self._add_delay(host, link):
                delay = link.delay_ms
        return delay

    def _add_delay(self, host: str, link: Link) -> bool:
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
