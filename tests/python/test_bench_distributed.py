"""scripts/bench_distributed.py --quick (K = 2, the tiny net 784-32-10, codecs none and dynamic):
the JSON rows it writes, that the network namespaces, veths, bridge and delay relay it creates
are gone when it ends, normally or by Ctrl-C, and what it says without mpirun.  And its cluster
(lib/netns_cluster.py) alone: the 0.5 ms delay of the user-space relay (what stands in for netem
where the kernel has none) and the frames it carries.  The namespace tests need root
(CAP_NET_ADMIN) and skip otherwise; the loopback topology runs for anyone with mpirun."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import BUILD_DIR, REPO
from lib.netns_cluster import Link, NamespacesRefused, NetnsCluster

SCRIPT = REPO / "scripts" / "bench_distributed.py"
needs_mpirun = pytest.mark.skipif(shutil.which("mpirun") is None,
                                  reason="mpirun not found: install Debian's openmpi-bin")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root "
                                "(CAP_NET_ADMIN); the bench falls back to loopback without it")
TIMEOUT = 600  # seconds: the quick run takes about 10
ROW_KEYS = {"topology", "link_mbit", "delay_ms", "delay_method", "link_rtt_ms",
            "link_stream_mbit", "K", "codec", "net", "params", "ms_sync", "ms_sync_cpu",
            "bytes_per_sync", "bits_per_param", "encode_ms", "transfer_ms", "decode_ms",
            "codec_cpu_ms", "overlapped_decode_cpu_ms", "wait_ms", "ms_epoch",
            "iterations_per_epoch", "syncs", "codec_c", "data", "pretrain_iterations",
            "load_1min"}
DELAY_MS = 0.5  # the bench's default


def start(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), "--quick", "--json",
                             str(tmp_path / "rows.json"), "--caffe-bin", str(BUILD_DIR / "tools"),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=REPO)


def finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, output[-4000:]
    return output


def processes_naming(prefix: str) -> list[str]:
    """The command lines that name a device or namespace `prefix`... (the delay relay's names
    its ports)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if entry.name.isdigit() and f" {prefix}" in command:
            found.append(f"{entry.name}: {command}")
    return found


def leftovers(pid: int, prefix: str = "") -> list[str]:
    """The namespaces, network devices and relay processes of the bench process `pid` (named
    acb<pid>...) or of a cluster's `prefix`."""
    prefix = prefix or f"acb{pid}"
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    names = [line.split()[0] for line in namespaces.splitlines() if line.strip()]
    return [name for name in names + os.listdir("/sys/class/net")
            if name.startswith(prefix)] + processes_naming(prefix)


def check_rows(rows: list[dict], topologies: tuple[str, ...], link_mbit: float | None) -> None:
    assert [(row["codec"], row["K"]) for row in rows] == [("none", 2), ("dynamic", 2)]
    params = 784 * 32 + 32 + 32 * 10 + 10
    for row in rows:
        assert set(row) == ROW_KEYS, row
        assert row["topology"] in topologies, row
        assert (row["link_mbit"], row["net"], row["params"]) == (link_mbit, "784-32-10", params)
        assert row["syncs"] == 2 and row["iterations_per_epoch"] == 4  # 128 records / 32
        assert row["ms_sync"] > 0 and row["ms_epoch"] > 0 and row["transfer_ms"] > 0
        assert row["codec_cpu_ms"] >= 0 and row["wait_ms"] >= 0
        assert row["bits_per_param"] == pytest.approx(8 * row["bytes_per_sync"] / params,
                                                      rel=1e-3)
    none, dynamic = rows
    assert (none["codec_c"], dynamic["codec_c"]) == (None, 5)  # the paper's c, the default
    assert 4 * params < none["bytes_per_sync"] < 4 * params + 1000
    assert dynamic["bits_per_param"] <= 12 and dynamic["bytes_per_sync"] < none["bytes_per_sync"]


@needs_mpirun
@needs_root
def test_quick_run_over_namespaces_writes_rows_and_removes_what_it_created(tmp_path: Path) -> None:
    process = start(tmp_path)
    output = finish(process)
    rows = json.loads((tmp_path / "rows.json").read_text())
    check_rows(rows, ("netns-bridge", "netns-relay"), 100.0)
    for row in rows:  # netem on the bridge, or the relay in its place: the delay is applied
        assert (row["topology"], row["delay_method"]) in {("netns-bridge", "netem"),
                                                          ("netns-relay", "userspace-relay")}
        assert row["delay_ms"] == DELAY_MS and row["link_rtt_ms"] >= 2 * DELAY_MS, row
        assert 0 < row["link_stream_mbit"] <= 100 and row["load_1min"] >= 0
    assert "dynamic sync" in output and "as fast as none" in output
    assert leftovers(process.pid) == []


def processes_in(namespace: str) -> list[str]:
    return subprocess.run(["ip", "netns", "pids", namespace], capture_output=True,
                          text=True).stdout.split()


@needs_mpirun
@needs_root
@pytest.mark.parametrize("moment", ["setup", "job"])
def test_ctrl_c_removes_the_namespaces(tmp_path: Path, moment: str) -> None:
    """SIGINT while the bench sets up its namespaces, or while a job runs in them (a process
    lives in the first rank's namespace): the bench stops with a message, ends the job and
    leaves none of its namespaces or devices behind."""
    process = start(tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not (leftovers(process.pid) if moment == "setup"
                   else processes_in(f"acb{process.pid}r0")):
            assert process.poll() is None and time.monotonic() < deadline, f"no {moment} seen"
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0
    assert "interrupted" in output, output[-3000:]
    assert leftovers(process.pid) == []


@needs_mpirun
def test_loopback_topology_writes_marked_rows(tmp_path: Path) -> None:
    finish(start(tmp_path, "--topology", "loopback"))
    rows = json.loads((tmp_path / "rows.json").read_text())
    check_rows(rows, ("loopback",), None)
    assert all((row["delay_ms"], row["delay_method"], row["link_rtt_ms"]) == (0.0, None, None)
               for row in rows)


def test_without_mpirun_it_says_how_to_get_it(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--caffe-bin",
                             str(BUILD_DIR / "tools")], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PATH": str(tmp_path)})
    assert result.returncode == 1
    assert result.stdout.strip() == (
        "bench_distributed: mpirun not found: install OpenMPI (Debian: apt-get install "
        "openmpi-bin libopenmpi-dev; scripts/install.sh does) and build caffe with it"), \
        result.stdout + result.stderr


@pytest.fixture
def relay_cluster(tmp_path: Path):
    """Two rank namespaces whose 100 Mbit/s links have the 0.5 ms delay of the user-space relay
    (forced, so that kernels with netem test it too); yields the cluster and its shaping."""
    cluster = NetnsCluster(2, tmp_path)
    try:
        with cluster:
            cluster.netem_missing = True
            yield cluster, cluster.shape(Link(100.0, DELAY_MS))
    except NamespacesRefused as why:
        pytest.skip(f"network namespaces refused: {why}")
    assert leftovers(0, cluster.prefix) == []


@needs_root
def test_relay_delays_every_frame_each_way(relay_cluster) -> None:
    """Each echo crosses the relay twice, each time after its port's 0.5 ms: no round trip can
    be shorter than 1 ms (load can only lengthen one)."""
    cluster, shaping = relay_cluster
    assert (shaping.delay_ms, shaping.delay_method, shaping.switch) == \
        (DELAY_MS, "userspace-relay", "relay")
    rtts = cluster.ping(0, 1, count=20)
    assert len(rtts) == 20 and min(rtts) >= 2 * DELAY_MS, rtts


@needs_root
def test_relay_carries_a_tcp_stream_intact_both_ways(relay_cluster) -> None:
    """Some MB each way at once (GSO super-frames, checksums left to the receiver), compared
    byte for byte with what was sent."""
    cluster, _ = relay_cluster
    streams = cluster.streams([(0, 1), (1, 0)], seconds=0.5)
    assert all(stream.intact and stream.bytes > 2e6 for stream in streams), streams


@needs_root
def test_relay_process_ends_with_the_cluster(tmp_path: Path) -> None:
    """The relay is a child of the cluster's process: remove() ends and reaps it (and it goes
    with the relay's switch when a link without delay brings the bridge back)."""
    try:
        with NetnsCluster(2, tmp_path) as cluster:
            cluster.netem_missing = True
            cluster.shape(Link(None, DELAY_MS))
            first = cluster.relay_pid
            assert first is not None and Path(f"/proc/{first}").exists()
            assert cluster.shape(Link(None)).switch == "bridge" and cluster.relay_pid is None
            assert not Path(f"/proc/{first}").exists()
            cluster.shape(Link(None, DELAY_MS))
            second = cluster.relay_pid
            assert cluster.ping(0, 1, count=1)
    except NamespacesRefused as why:
        pytest.skip(f"network namespaces refused: {why}")
    assert not Path(f"/proc/{second}").exists()
    assert leftovers(0, cluster.prefix) == []
