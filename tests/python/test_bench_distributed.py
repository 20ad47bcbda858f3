"""scripts/bench_distributed.py --quick (K = 2, the tiny net 784-32-10, codecs none and dynamic):
the JSON rows it writes, that the network namespaces, veths and bridge it creates are gone
when it ends, normally or by Ctrl-C, and what it says without mpirun.  The namespace tests need
root (CAP_NET_ADMIN) and skip otherwise; the loopback topology runs for anyone with mpirun."""
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

SCRIPT = REPO / "scripts" / "bench_distributed.py"
needs_mpirun = pytest.mark.skipif(shutil.which("mpirun") is None,
                                  reason="mpirun not found: install Debian's openmpi-bin")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root "
                                "(CAP_NET_ADMIN); the bench falls back to loopback without it")
TIMEOUT = 600  # seconds: the quick run takes about 10
ROW_KEYS = {"topology", "link_mbit", "delay_ms", "K", "codec", "net", "params", "ms_sync",
            "ms_sync_cpu", "bytes_per_sync", "bits_per_param", "encode_ms", "transfer_ms",
            "decode_ms", "codec_cpu_ms", "overlapped_decode_cpu_ms", "wait_ms", "ms_epoch",
            "iterations_per_epoch", "syncs", "codec_c", "data", "pretrain_iterations"}


def start(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), "--quick", "--json",
                             str(tmp_path / "rows.json"), "--caffe-bin", str(BUILD_DIR / "tools"),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=REPO)


def finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, output[-4000:]
    return output


def leftovers(pid: int) -> list[str]:
    """The namespaces and network devices of the bench process `pid` (named acb<pid>...)."""
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    names = [line.split()[0] for line in namespaces.splitlines() if line.strip()]
    return [name for name in names + os.listdir("/sys/class/net")
            if name.startswith(f"acb{pid}")]


def check_rows(rows: list[dict], topology: str, link_mbit: float | None) -> None:
    assert [(row["codec"], row["K"]) for row in rows] == [("none", 2), ("dynamic", 2)]
    params = 784 * 32 + 32 + 32 * 10 + 10
    for row in rows:
        assert set(row) == ROW_KEYS, row
        assert (row["topology"], row["link_mbit"], row["net"], row["params"]) == \
            (topology, link_mbit, "784-32-10", params)
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
    check_rows(rows, "netns-bridge", 100.0)
    assert all(row["delay_ms"] in (0.0, 0.5) for row in rows)
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
    check_rows(json.loads((tmp_path / "rows.json").read_text()), "loopback", None)


def test_without_mpirun_it_says_how_to_get_it(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--caffe-bin",
                             str(BUILD_DIR / "tools")], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PATH": str(tmp_path)})
    assert result.returncode == 1
    assert result.stdout.strip() == (
        "bench_distributed: mpirun not found: install OpenMPI (Debian: apt-get install "
        "openmpi-bin libopenmpi-dev; scripts/install.sh does) and build caffe with it"), \
        result.stdout + result.stderr
