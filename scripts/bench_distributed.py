#!/usr/bin/env python3
"""Data-parallel `caffe train` over a real (emulated) network: time per weight sync and per epoch
of the codecs none, fp16, fixed:8 and dynamic, at K = 2 and 4 ranks, on shaped links.

Topology "netns-bridge" (needs root): each rank in its own network namespace, joined to a
private Linux bridge by a veth pair whose two ends are shaped with tc (tbf at --links Mbit/s
each way), like hosts on a switch, plus --delay-ms on what a rank sends: netem's where the
kernel has netem, else the user-space switch of lib/delay_relay.py takes the bridge's place
(topology "netns-relay"; the rows' delay_method says which). mpirun starts one OpenMPI daemon
per namespace, over TCP only (`--mca btl tcp,self`: no shared memory; eager messages and the
ring allgather, see MPI_TUNING). Without the right to create namespaces the bench says so and
falls back to "loopback": every rank on the host's loopback (TCP, unshaped). Each row names its
topology and the link as measured once shaped: the median ping round trip between two ranks
and the rate of one TCP stream (link_rtt_ms, link_stream_mbit). --probe-links measures only
the links (round trips, one stream, and the ring's K streams at once, with and without the
delay) and trains nothing.

Nets: the paper's MLP 784-392-50-10 and a big one, 784-2048-2048-10 (tanh), with the paper's
solver (SGD, lr 0.1, momentum 0.9, L1 weight decay 3e-5, batch 32), on MNIST training images
(synthetic ones when MNIST is absent). What a sync costs depends on the weights: the dynamic
codec's bits follow their entropy, which falls as training spreads them. So one process first
trains each net for --pretrain-iterations (default: one epoch of MNIST), and every run starts
from those weights. A run trains 1 + --epochs epochs of --records images, a rank syncing once
per epoch of its shard (the trainer's default); the first sync, which opens the TCP connections,
is not counted.

Per sync, from rank 0's log: encode, transfer (the ring allgather once every rank has arrived)
and decode milliseconds; ms_sync is their sum, wall-clock. A thread decodes each rank's
packages as soon as they are in, during the transfers, so decode_ms is what is left after the
last transfer (the last message's decoding and the average); the decoding CPU time hidden behind
the transfers is apart (overlapped_decode_cpu_ms; codec_cpu_ms counts it). Where the ranks
share a machine's cores, the codec's wall time includes waiting for a core, so ms_sync_cpu puts
the codec's CPU time in its place (what a rank with cores of its own would take: encode, the
transfers, the decoding after them). Time spent waiting for slower ranks is apart (wait_ms);
ms_epoch is the time between two syncs: an epoch of training plus its sync.

Targets: at 100 Mbit/s with K = 4, the dynamic sync is >= 5x faster than none and >= 2.5x faster
than fp16, codec CPU time included. The dynamic codec runs at the paper's c = 5 unless --codec-c
says otherwise (rows: codec_c).
"""
from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Optional

import numpy as np
from tqdm import tqdm

import get_mnist
from lib import bench_common, mnist_weights
from lib.caffe_tools import ScriptError, find_tool
from lib.link_survey import LOOPBACK, LinkState, probe_links, report_probes, shape_and_probe
from lib.netns_cluster import Link, NamespacesRefused, NetnsCluster

NETS = {"paper": [392, 50], "big": [2048, 2048], "tiny": [32]}
CODECS = ["none", "fp16", "fixed:8", "dynamic"]
TARGETS = {"none": 5.0, "fp16": 2.5}  # dynamic's sync is this many times faster, 100 Mbit/s, K=4
# OpenMPI 4.1's TCP transport, tuned so that a sync runs at the links' rate whatever its size
# (the trainer's exchange is a ring of nonblocking point-to-point messages, one rank's packages
# each).  Measured here, 2 MB per rank at 100 Mbit/s: a message past the eager limit (64 KiB)
# goes by the rendezvous protocol, which moves an exchange in both directions at about half the
# rate (K = 2: 355 ms, 160 at the line rate): every message is sent eagerly instead (32 MiB
# covers the 23.3 MB of the big net's float32).
EAGER_BYTES = str(32 << 20)
MPI_TUNING = ["--mca", "btl_tcp_eager_limit", EAGER_BYTES, "--mca", "btl_tcp_rndv_eager_limit",
              EAGER_BYTES, "--mca", "btl_tcp_max_send_size", EAGER_BYTES]
SYNC_LINE = re.compile(
    r"^I(\d{8} \d{2}:\d{2}:\d{2}\.\d{6}).*Iteration (\d+), weight sync \(([^)]*)\): (\d+) bytes "
    r"sent, ([0-9.]+) bits/param quantized, ([0-9.]+) after Huffman \(([0-9.]+) with headers\), "
    r"compression ([0-9.]+)x, encode ([0-9.]+) ms, decode ([0-9.]+) ms, communication ([0-9.]+) "
    r"ms \(([0-9.]+) waiting for the ranks\), CPU time: encode ([0-9.]+) ms, decode ([0-9.]+) ms"
    r"(?: after the communication and ([0-9.]+) ms during it)?",
    re.MULTILINE)


@dataclass(frozen=True)
class Sync:
    """One weight sync as rank 0 logged it (milliseconds of wall-clock time unless _cpu)."""
    time: datetime
    bytes_sent: int
    bits_per_param: float  # on the wire (packages and framing)
    encode_ms: float
    decode_ms: float
    communication_ms: float
    wait_ms: float
    encode_cpu_ms: float
    decode_cpu_ms: float  # after the communication (the part of decoding it did not hide)
    overlapped_decode_cpu_ms: float  # the decoding thread's, during the communication

    @property
    def transfer_ms(self) -> float:
        return self.communication_ms - self.wait_ms

    @property
    def ms(self) -> float:
        return self.encode_ms + self.transfer_ms + self.decode_ms

    @property
    def ms_cpu(self) -> float:
        """The sync with the codec's CPU time in place of its wall time: what it takes when
        the rank has a core of its own."""
        return self.encode_cpu_ms + self.transfer_ms + self.decode_cpu_ms


def parse_syncs(log: str) -> list[Sync]:
    syncs = []
    for match in SYNC_LINE.finditer(log):
        stamp, _, _, sent, _, _, wire, _, *times = match.groups()
        syncs.append(Sync(datetime.strptime(stamp, "%Y%m%d %H:%M:%S.%f"), int(sent), float(wire),
                          *(float(ms or 0) for ms in times)))
    return syncs


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", metavar="FILE", help="write one row per (net, link, K, codec)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run for tests: K=2, the tiny net 784-32-10, codecs none "
                             "and dynamic, 100 Mbit/s only, 2 counted syncs")
    parser.add_argument("--nets", default="paper,big", help=f"of {', '.join(NETS)} (paper,big)")
    parser.add_argument("--ranks", default="2,4", help="process counts K (2,4)")
    parser.add_argument("--codecs", default=",".join(CODECS), help="codecs (%(default)s)")
    parser.add_argument("--codec-c", type=int, default=5,
                        help="c of the dynamic codec, N = round(H) + c (5: the paper's setting, "
                             "which its 3.55 bits/param are for; the trainer's default is 6)")
    parser.add_argument("--links", default="100,1000,0",
                        help="link rates in Mbit/s; 0 = unshaped (100,1000,0)")
    parser.add_argument("--delay-ms", type=float, default=0.5,
                        help="delay added to what each rank sends (0.5; netem's, or the "
                             "user-space relay's where the kernel has no netem)")
    parser.add_argument("--probe-links", action="store_true",
                        help="measure the shaped links only (no training): ping round trips, "
                             "one TCP stream and the ring's K streams, with and without the delay")
    parser.add_argument("--topology", choices=["auto", "loopback"], default="auto",
                        help="auto: netns-bridge where namespaces may be created, else loopback")
    parser.add_argument("--epochs", type=int, default=3, help="counted epochs (syncs) per run (3)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs of each configuration, codecs interleaved; with "
                             "--probe-links, probes of each link (1)")
    parser.add_argument("--records", type=int, default=1024,
                        help="training images of a run (1024)")
    parser.add_argument("--batch", type=int, default=32, help="batch per rank (32)")
    parser.add_argument("--pretrain-iterations", type=int, default=1875,
                        help="iterations of one process before the runs (1875: one epoch of "
                             "MNIST at batch 32; 0: the runs start from the fillers' weights)")
    parser.add_argument("--data-dir", type=Path, help="MNIST IDX files (default: the shared "
                        "data folder; synthetic images when absent)")
    parser.add_argument("--run-timeout", type=int, default=300,
                        help="seconds after which a run counts as hung (300)")
    parser.add_argument("--caffe-bin", type=Path, default=bench_common.REPO / "build" / "tools",
                        help="folder of the caffe tool (build/tools)")
    args = parser.parse_args(argv)
    if args.quick:
        args.nets, args.ranks, args.codecs, args.links = "tiny", "2", "none,dynamic", "100"
        args.epochs, args.repeats, args.records, args.batch = 2, 1, 256, 32
        args.pretrain_iterations = 20
    for name in args.nets.split(","):
        if name not in NETS:
            parser.error(f"--nets: unknown net '{name}' (use {', '.join(NETS)})")
    if args.epochs < 1 or args.repeats < 1 or args.records < 1 or args.batch < 1:
        parser.error("--epochs, --repeats, --records and --batch must be >= 1")
    if args.pretrain_iterations < 0:
        parser.error("--pretrain-iterations must be >= 0")
    return args


# ---- data, nets and solvers ----

def training_images(records: int, data_dir: Optional[Path]) -> tuple[np.ndarray, np.ndarray, str]:
    """The first `records` MNIST training images and labels, or synthetic ones."""
    if get_mnist.find_idx_files(data_dir or get_mnist.SHARED_MNIST) is not None:
        images, labels = mnist_weights.read_mnist_train(data_dir)
        return images[:records], labels[:records], "mnist"
    rng = np.random.default_rng(1)
    images = rng.random((records, 784), dtype=np.float32)
    return images, rng.integers(0, 10, records).astype(np.float32), "synthetic"


def write_hdf5(directory: Path, name: str, images: np.ndarray, labels: np.ndarray) -> Path:
    """An HDF5 file of the images and labels, and the list file HDF5Data reads."""
    import h5py

    with h5py.File(directory / f"{name}.h5", "w") as f:
        f["data"] = images
        f["label"] = labels
    (directory / f"{name}.txt").write_text(f"{directory / name}.h5\n")
    return directory / f"{name}.txt"


def net_name(hidden: list[int]) -> str:
    return "-".join(str(width) for width in [784, *hidden, 10])


def write_net(directory: Path, hidden: list[int], source: Path, batch: int) -> Path:
    """A tanh MLP 784-hidden-10 on HDF5 data, softmax loss."""
    text = (f'name: "mlp_{net_name(hidden)}"\n'
            f'layer {{ name: "data" type: "HDF5Data" top: "data" top: "label" '
            f'hdf5_data_param {{ source: "{source}" batch_size: {batch} }} }}\n')
    bottom = "data"
    for index, width in enumerate([*hidden, 10], start=1):
        text += (f'layer {{ name: "ip{index}" type: "InnerProduct" bottom: "{bottom}" '
                 f'top: "ip{index}" inner_product_param {{ num_output: {width} '
                 f'weight_filler {{ type: "xavier" }} }} }}\n')
        if index <= len(hidden):
            text += (f'layer {{ name: "tanh{index}" type: "TanH" bottom: "ip{index}" '
                     f'top: "ip{index}" }}\n')
        bottom = f"ip{index}"
    text += (f'layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "{bottom}" '
             f'bottom: "label" top: "loss" }}\n')
    path = directory / f"net_{net_name(hidden)}_{source.stem}.prototxt"
    path.write_text(text)
    return path


def params_of(hidden: list[int]) -> int:
    widths = [784, *hidden, 10]
    return sum(a * b + b for a, b in zip(widths, widths[1:]))


def iterations_per_epoch(records: int, ranks: int, batch: int) -> int:
    """The trainer's default sync interval: one epoch of a rank's shard."""
    return math.ceil(math.ceil(records / ranks) / batch)


def write_solver(net: Path, max_iter: int) -> Path:
    """The paper's solver (Øland & Raj: SGD, lr 0.1, momentum 0.9, L1 regularization 3e-5), with
    a snapshot at the end that the runs can start from."""
    path = net.with_name(f"solver_{net.stem}_{max_iter}.prototxt")
    path.write_text(f'net: "{net}"\nbase_lr: 0.1\nmomentum: 0.9\nlr_policy: "fixed"\n'
                    f'weight_decay: 3e-5\nregularization_type: "L1"\ndisplay: 0\n'
                    f'max_iter: {max_iter}\nsnapshot: 0\nsnapshot_after_train: true\n'
                    f'snapshot_prefix: "{path.with_suffix("")}"\nrandom_seed: 1\n'
                    f'solver_mode: CPU\n')
    return path


def pretrain(caffe: Path, net: Path, iterations: int) -> Optional[Path]:
    """Trains `net` alone for `iterations` and returns the weights (None for 0 iterations)."""
    if iterations == 0:
        return None
    solver = write_solver(net, iterations)
    result = subprocess.run([str(caffe), "train", f"--solver={solver}"], capture_output=True,
                            text=True, env=job_environment(1))
    weights = solver.with_name(f"{solver.stem}_iter_{iterations}.caffemodel")
    if result.returncode != 0 or not weights.exists():
        raise ScriptError(f"pretraining {net.name} failed:\n{result.stderr[-3000:]}")
    return weights


# ---- running jobs ----

@dataclass
class Launcher:
    """How mpirun is started: in the cluster's namespaces, or on the host's loopback."""
    mpirun: str
    cluster: Optional[NetnsCluster]
    timeout_s: int  # a run that takes longer is taken for hung

    def command(self, ranks: int) -> list[str]:
        if self.cluster:
            base = self.cluster.mpirun_command(self.mpirun, ranks)
        else:
            base = [self.mpirun, "--oversubscribe", "-np", str(ranks), "--mca", "btl", "tcp,self",
                    "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo"]
            if os.geteuid() == 0:
                base.insert(1, "--allow-run-as-root")
        # The ranks share the host's cores: a waiting rank yields its core to a computing one.
        return base + MPI_TUNING + ["--mca", "mpi_yield_when_idle", "1", "-x", "CAFFE_NUM_THREADS",
                                    "-x", "OMP_NUM_THREADS", "-x", "GLOG_minloglevel"]


def job_environment(ranks: int) -> dict[str, str]:
    threads = str(max(1, (os.cpu_count() or 1) // ranks))
    # PMIx's shared-memory store of job data logs an error when its clients run under
    # `ip netns exec` (a mount namespace of their own); its hash store does the job without.
    return {**bench_common.caffe_tool_env(), "CAFFE_NUM_THREADS": threads,
            "OMP_NUM_THREADS": threads, "PMIX_MCA_gds": "hash"}


def train(launcher: Launcher, caffe: Path, solver: Path, weights: Optional[Path], ranks: int,
          codec: str, codec_c: int) -> list[Sync]:
    """Rank 0's syncs of one job.  A job that fails before its first sync is started once more
    (a rare start-up failure of OpenMPI's daemons seen here; the note shows its output)."""
    command = launcher.command(ranks) + [str(caffe), "train", f"--solver={solver}",
                                         f"--codec={codec}", f"--codec_c={codec_c}"]
    if weights is not None:
        command.append(f"--weights={weights}")
    what = f"K={ranks} {codec}"
    result, syncs = _run_job(command, ranks, launcher.timeout_s, what)
    if result.returncode != 0 and not syncs:
        tqdm.write(f"{what}: the job failed before its first sync ({result.returncode}); "
                   f"starting it again.  Its output:\n{_output(result)}")
        result, syncs = _run_job(command, ranks, launcher.timeout_s, what)
    if result.returncode != 0 or not syncs:
        raise ScriptError(f"{what}: mpirun ended with status {result.returncode} after "
                          f"{len(syncs)} syncs:\n{_output(result)}")
    return syncs


def _run_job(command: list[str], ranks: int, timeout_s: int,
             what: str) -> tuple[subprocess.CompletedProcess, list[Sync]]:
    try:
        result = subprocess.run(command, capture_output=True, text=True,
                                env=job_environment(ranks), timeout=timeout_s)
    except subprocess.TimeoutExpired as error:
        log = error.stderr if isinstance(error.stderr, str) else ""
        raise ScriptError(f"{what}: no end after {timeout_s} s (--run-timeout):\n"
                          f"{log[-3000:]}") from error
    return result, parse_syncs(result.stderr)


def _output(result: subprocess.CompletedProcess) -> str:
    return f"{result.stdout[-2000:]}{result.stderr[-3000:]}"


@dataclass(frozen=True)
class Config:
    net: str
    link: Link
    ranks: int
    codec: str


@dataclass(frozen=True)
class Prepared:
    """What every run of a net uses: its net file and starting weights."""
    net: Path
    weights: Optional[Path]


def prepare(args: argparse.Namespace, caffe: Path,
            workdir: Path) -> tuple[dict[str, Prepared], str]:
    """The runs' data and each net with its pretrained weights; returns them and the data's
    origin ("mnist" or "synthetic")."""
    pretrain_records = min(60000, args.pretrain_iterations * args.batch)
    images, labels, origin = training_images(max(args.records, pretrain_records), args.data_dir)
    runs_data = write_hdf5(workdir, "runs", images[:args.records], labels[:args.records])
    pretrain_data = write_hdf5(workdir, "pretrain", images[:pretrain_records],
                               labels[:pretrain_records]) if pretrain_records else None
    prepared = {}
    for name in tqdm(args.nets.split(","), desc="pretraining", unit="net"):
        weights = None
        if pretrain_data is not None:
            weights = pretrain(caffe, write_net(workdir, NETS[name], pretrain_data, args.batch),
                               args.pretrain_iterations)
        prepared[name] = Prepared(write_net(workdir, NETS[name], runs_data, args.batch), weights)
    return prepared, origin


def parse_links(args: argparse.Namespace) -> list[Link]:
    return [Link(float(rate), args.delay_ms) if float(rate) > 0 else Link(None)
            for rate in args.links.split(",")]


def summarize(config: Config, syncs: list[Sync], per_run: int) -> dict:
    """One row: medians over the counted syncs (every run's first is dropped) and over the
    time between two syncs (an epoch)."""
    runs = [syncs[i:i + per_run] for i in range(0, len(syncs), per_run)]
    counted = [sync for run in runs for sync in run[1:]]
    epochs = [(b.time - a.time).total_seconds() * 1e3 for run in runs for a, b in zip(run, run[1:])]

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    hidden = NETS[config.net]
    return {"link_mbit": config.link.mbit, "K": config.ranks, "codec": config.codec,
            "net": net_name(hidden), "params": params_of(hidden),
            "ms_sync": median([s.ms for s in counted]),
            "bytes_per_sync": int(statistics.median(s.bytes_sent for s in counted)),
            "bits_per_param": median([s.bits_per_param for s in counted]),
            "ms_sync_cpu": median([s.ms_cpu for s in counted]),
            "encode_ms": median([s.encode_ms for s in counted]),
            "transfer_ms": median([s.transfer_ms for s in counted]),
            "decode_ms": median([s.decode_ms for s in counted]),
            "codec_cpu_ms": median([s.encode_cpu_ms + s.decode_cpu_ms + s.overlapped_decode_cpu_ms
                                    for s in counted]),
            "overlapped_decode_cpu_ms": median([s.overlapped_decode_cpu_ms for s in counted]),
            "wait_ms": median([s.wait_ms for s in counted]), "ms_epoch": median(epochs),
            "syncs": len(counted)}


def measure(args: argparse.Namespace, launcher: Launcher, caffe: Path, workdir: Path) -> list[dict]:
    prepared, origin = prepare(args, caffe, workdir)
    links = parse_links(args)
    if launcher.cluster is None:
        links = [Link(None)]  # the loopback is not shaped
    plan = [Config(net, link, int(ranks), codec) for net in args.nets.split(",") for link in links
            for ranks in args.ranks.split(",") for _ in range(args.repeats)
            for codec in args.codecs.split(",")]
    syncs: dict[Config, list[Sync]] = {}
    loads: dict[Config, list[float]] = {}  # the machine's 1-minute load as each run started
    states: dict[Link, LinkState] = {}
    shaped: Optional[Link] = None
    for config in tqdm(plan, desc="runs", unit="run"):
        if launcher.cluster and config.link != shaped:
            states[config.link] = shape_and_probe(launcher.cluster, config.link)
            shaped = config.link
        loads.setdefault(config, []).append(os.getloadavg()[0])
        iterations = iterations_per_epoch(args.records, config.ranks, args.batch)
        solver = write_solver(prepared[config.net].net, iterations * (args.epochs + 1))
        found = train(launcher, caffe, solver, prepared[config.net].weights, config.ranks,
                      config.codec, args.codec_c)
        if len(found) != args.epochs + 1:
            raise ScriptError(f"{config}: {len(found)} syncs in the log where "
                              f"{args.epochs + 1} were expected")
        syncs.setdefault(config, []).extend(found)
    context = {"data": origin, "pretrain_iterations": args.pretrain_iterations}
    rows = []
    for config, found in syncs.items():
        state = states.get(config.link, LOOPBACK)
        rows.append({"topology": state.topology, **context, "delay_ms": state.delay_ms,
                     "delay_method": state.delay_method, "link_rtt_ms": state.rtt_ms,
                     "link_stream_mbit": state.stream_mbit,
                     **summarize(config, found, args.epochs + 1),
                     "codec_c": args.codec_c if config.codec == "dynamic" else None,
                     "iterations_per_epoch": iterations_per_epoch(args.records, config.ranks,
                                                                  args.batch),
                     "load_1min": round(statistics.median(loads[config]), 2)})
    return rows


# ---- reporting ----

def report(rows: list[dict]) -> None:
    bench_common.print_table(
        ["net", "topology", "Mbit/s", "delay ms", "K", "codec", "ms/sync", "(CPU basis)",
         "bytes/sync", "bits/param", "encode ms", "transfer ms", "decode ms", "codec CPU ms",
         "wait ms", "ms/epoch"],
        [[r["net"], r["topology"], r["link_mbit"] or "unshaped", r["delay_ms"], r["K"], r["codec"],
          r["ms_sync"], r["ms_sync_cpu"], r["bytes_per_sync"], r["bits_per_param"],
          r["encode_ms"], r["transfer_ms"], r["decode_ms"], r["codec_cpu_ms"], r["wait_ms"],
          r["ms_epoch"]]
         for r in rows])
    print("(ms/sync: encode + transfer + decode, wall-clock; CPU basis: the codec's CPU time in "
          "place of its wall time, as on hosts whose cores the ranks do not share)\n")
    by_key = {(r["net"], r["link_mbit"], r["K"], r["codec"]): r for r in rows}
    for (net, link, ranks, codec), row in by_key.items():
        if codec != "dynamic":
            continue
        speedups = []
        for other, target in TARGETS.items():
            if (net, link, ranks, other) not in by_key:
                continue
            slower = by_key[(net, link, ranks, other)]
            ratio, ratio_cpu = (slower[key] / row[key] for key in ("ms_sync", "ms_sync_cpu"))
            verdict = ""
            if link == 100 and ranks == 4:
                verdict = f", target >= {target:g}x {'met' if ratio >= target else 'NOT met'}"
            speedups.append(f"{ratio:.2f}x as fast as {other} ({ratio_cpu:.2f}x on the CPU "
                            f"basis{verdict})")
        if speedups:
            print(f"{net}, {link or 'unshaped'} Mbit/s, K={ranks}: dynamic sync "
                  f"{', '.join(speedups)}")


# ---- main ----

def find_mpirun() -> str:
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        raise ScriptError("mpirun not found: install OpenMPI (Debian: apt-get install "
                          "openmpi-bin libopenmpi-dev; scripts/install.sh does) and build "
                          "caffe with it")
    return mpirun


def open_cluster(cluster: NetnsCluster) -> Optional[str]:
    """Creates the cluster's namespaces; returns why it cannot (None when it could)."""
    try:
        cluster.create()
    except NamespacesRefused as why:
        cluster.remove()
        return str(why)
    print(f"netns: {len(cluster.hosts)} rank namespaces {cluster.hosts[0]}.. on a switch: the "
          f"bridge {cluster.bridge}, or where a delay is asked and the kernel has no netem, the "
          f"user-space relay (lib/delay_relay.py)")
    return None


def make_launcher(args: argparse.Namespace, cluster: Optional[NetnsCluster]) -> Launcher:
    """Creates the cluster's namespaces, or says why it cannot and falls back to loopback."""
    mpirun = find_mpirun()
    if cluster is not None and (why := open_cluster(cluster)) is not None:
        print(f"network namespaces refused: {why}; falling back to plain loopback (unshaped; "
              f"rows marked topology=loopback)")
        cluster = None
    return Launcher(mpirun, cluster, args.run_timeout)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    # Ctrl-C is KeyboardInterrupt; a kill is made an exit too, so that the cleanup runs either
    # way: the namespaces (and the jobs in them) go before the folder the jobs write in.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        caffe = None if args.probe_links else find_tool(args.caffe_bin, "caffe")
        with tempfile.TemporaryDirectory(prefix="bench_distributed_") as workdir:
            cluster = None
            if args.topology == "auto":
                hosts = max(int(k) for k in args.ranks.split(","))
                cluster = NetnsCluster(hosts, Path(workdir))
            try:
                if caffe is not None:
                    rows = measure(args, make_launcher(args, cluster), caffe, Path(workdir))
                elif cluster is None:
                    raise ScriptError("--probe-links measures the namespaces' links: not with "
                                      "--topology loopback")
                elif (why := open_cluster(cluster)) is not None:
                    raise ScriptError(f"--probe-links needs network namespaces: {why}")
                else:
                    rows = probe_links(cluster, parse_links(args), args.repeats)
            finally:
                if cluster is not None:
                    cluster.remove()
    except ScriptError as error:
        print(f"bench_distributed: {error}")
        return 1
    except KeyboardInterrupt:
        print("bench_distributed: interrupted (the namespaces it made are removed)")
        return 130
    print(f"machine: {bench_common.cpu_model()}, {os.cpu_count()} logical cores shared by the "
          f"ranks (threads per rank: cores / K)")
    if args.probe_links:
        report_probes(rows)
    else:
        report(rows)
    bench_common.write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
