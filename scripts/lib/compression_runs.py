"""One data-parallel training run of the Øland & Raj reproduction (scripts/reproduce_compression.py).

A run is `mpirun -np K caffe train` of the 784-392-50-10 tanh MLP (models/mnist_tanh_dist's
net on our LMDBs and batch size) with one weight codec: model averaging once per epoch of a
rank's shard, a test of rank 0's (averaged) model on the test set after every sync.  Its log
gives, per epoch, the test accuracy and the bits per parameter of rank 0's packages.
"""
from __future__ import annotations

import math
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from lib import bench_common, plot_log
from lib.caffe_tools import ScriptError

MODEL_NET = bench_common.REPO / "models" / "mnist_tanh_dist" / "train_val.prototxt"
MAX_TEST_BATCH = 500
SYNC_LINE = re.compile(r"Iteration (\d+), weight sync \([^)]*\): \d+ bytes sent, ([0-9.]+) "
                       r"bits/param quantized, ([0-9.]+) after Huffman \(([0-9.]+) with headers\)")
DYNAMIC = re.compile(r"c=(\d+),M=(\d+)")
FIXED = re.compile(r"fixed:(\d+)")


@dataclass(frozen=True)
class Setting:
    """A codec setting: "baseline" (no compression), "fixed:B" or "c=C,M=M" (dynamic)."""
    name: str

    def __post_init__(self) -> None:
        if self.name != "baseline" and not (FIXED.fullmatch(self.name)
                                            or DYNAMIC.fullmatch(self.name)):
            raise ValueError(f"unknown setting '{self.name}': use baseline, fixed:B or c=C,M=M")

    @property
    def dynamic(self) -> tuple[int, int] | None:
        """(c, M) of a dynamic setting, None otherwise."""
        match = DYNAMIC.fullmatch(self.name)
        return (int(match.group(1)), int(match.group(2))) if match else None

    @property
    def fixed_bits(self) -> int | None:
        match = FIXED.fullmatch(self.name)
        return int(match.group(1)) if match else None

    def codec_flags(self, fraction: float) -> list[str]:
        """The `caffe train` flags that select this codec (F = `fraction` for dynamic)."""
        if self.dynamic is not None:
            c, m = self.dynamic
            return ["--codec=dynamic", f"--codec_c={c}", f"--codec_M={m}", f"--codec_F={fraction}"]
        return ["--codec=none"] if self.name == "baseline" else [f"--codec={self.name}"]

    def encode_options(self, fraction: float) -> dict[str, object]:
        """caffe.compression.encode's keyword arguments for this codec."""
        if self.dynamic is not None:
            c, m = self.dynamic
            return {"mode": "dynamic", "c": c, "M": m, "F": fraction}
        return {"mode": "none" if self.name == "baseline" else self.name}


@dataclass(frozen=True)
class Schedule:
    """What every run trains: K ranks, SGD with exponential lr decay and L1 regularization."""
    ranks: int
    epochs: int
    batch: int
    base_lr: float
    lr_decay_per_epoch: float   # lr(epoch e) = base_lr * decay^e (per iteration: gamma^iter)
    momentum: float
    l1_decay: float             # weight_decay with regularization_type "L1"
    fraction: float             # F, the share of weights the dynamic codec samples
    train_records: int
    test_records: int

    @property
    def iterations_per_epoch(self) -> int:
        """One epoch of a rank's shard: the trainer's default sync interval."""
        return math.ceil(math.ceil(self.train_records / self.ranks) / self.batch)

    @property
    def gamma(self) -> float:
        return self.lr_decay_per_epoch ** (1.0 / self.iterations_per_epoch)

    @property
    def test_batch(self) -> int:
        """The largest batch up to MAX_TEST_BATCH that divides the test set (each image once)."""
        return max(b for b in range(1, min(MAX_TEST_BATCH, self.test_records) + 1)
                   if self.test_records % b == 0)


@dataclass
class EpochRecord:
    epoch: int
    accuracy: float
    bits_quantized: float       # rank 0's packages at this epoch's sync
    bits_huffman: float
    bits_with_headers: float


@dataclass
class RunResult:
    setting: str
    seed: int
    accuracy: float             # after the last epoch
    peak_accuracy: float
    epochs_to_peak: int         # the first epoch (1-based) whose test reached peak_accuracy
    bits_quantized: float       # means over the run's syncs
    bits_huffman: float
    bits_with_headers: float
    package_ratio: float        # the trained model's packages / its float32 bytes
    seconds: float
    epochs: list[EpochRecord] = field(default_factory=list)


def net_text(train_lmdb: Path, test_lmdb: Path, schedule: Schedule) -> str:
    """models/mnist_tanh_dist's net reading our LMDBs with our batch sizes."""
    text = MODEL_NET.read_text()
    replacements = [('source: "data/mnist/train_lmdb" batch_size: 64',
                     f'source: "{train_lmdb}" batch_size: {schedule.batch}'),
                    ('source: "data/mnist/test_lmdb" batch_size: 500',
                     f'source: "{test_lmdb}" batch_size: {schedule.test_batch}')]
    for old, new in replacements:
        if text.count(old) != 1:
            raise ScriptError(f"{MODEL_NET} no longer holds '{old}' once; update "
                              "scripts/lib/compression_runs.py")
        text = text.replace(old, new)
    return text


def solver_text(net: Path, prefix: Path, schedule: Schedule, seed: int) -> str:
    epoch = schedule.iterations_per_epoch
    return (f'net: "{net}"\n'
            f"test_iter: {schedule.test_records // schedule.test_batch}\n"
            f"test_interval: {epoch}\ntest_initialization: false\n"
            f"base_lr: {schedule.base_lr}\nlr_policy: \"exp\"\ngamma: {schedule.gamma:.10f}\n"
            f"momentum: {schedule.momentum}\n"
            f"weight_decay: {schedule.l1_decay}\nregularization_type: \"L1\"\n"
            f"display: 0\nmax_iter: {epoch * schedule.epochs}\n"
            f"snapshot: 0\nsnapshot_after_train: true\nsnapshot_prefix: \"{prefix}\"\n"
            f"solver_mode: CPU\nrandom_seed: {seed}\n")


def parse_run_log(text: str, iterations_per_epoch: int, epochs: int) -> list[EpochRecord]:
    """Test accuracy and rank 0's bits per parameter at each epoch's sync."""
    tests = plot_log.parse_log(text.splitlines()).test_outputs.get("accuracy", ([], []))
    accuracy = dict(zip(*tests))
    syncs = {int(m.group(1)): tuple(float(m.group(k)) for k in (2, 3, 4))
             for m in SYNC_LINE.finditer(text)}
    records = []
    for epoch in range(1, epochs + 1):
        iteration = epoch * iterations_per_epoch
        if iteration not in accuracy or iteration not in syncs:
            raise RuntimeError(f"the log lacks the test or the weight sync after epoch {epoch} "
                               f"(iteration {iteration})")
        records.append(EpochRecord(epoch, accuracy[iteration], *syncs[iteration]))
    return records


def package_ratio(caffemodel: Path, setting: Setting, fraction: float) -> float:
    """Bytes of the packages of every learnable blob of `caffemodel` (encoded with the
    setting's codec, headers and checksums included) over its float32 bytes."""
    from caffe import compression
    from caffe.proto import caffe_pb2
    import numpy as np

    model = caffe_pb2.NetParameter.FromString(caffemodel.read_bytes())
    package_bytes = float_bytes = 0
    for layer in model.layer:
        for blob in layer.blobs:
            values = np.asarray(blob.data, dtype=np.float32).reshape(tuple(blob.shape.dim))
            package_bytes += len(compression.encode(values, **setting.encode_options(fraction)))
            float_bytes += 4 * values.size
    if float_bytes == 0:
        raise RuntimeError(f"{caffemodel} holds no learnable blobs")
    return package_bytes / float_bytes


def summarize(setting: Setting, seed: int, records: list[EpochRecord], ratio: float,
              seconds: float) -> RunResult:
    accuracies = [record.accuracy for record in records]
    peak = max(accuracies)

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    return RunResult(setting.name, seed, accuracies[-1], peak, accuracies.index(peak) + 1,
                     mean([r.bits_quantized for r in records]),
                     mean([r.bits_huffman for r in records]),
                     mean([r.bits_with_headers for r in records]), ratio, seconds, records)


def train(run_dir: Path, setting: Setting, seed: int, schedule: Schedule, train_lmdb: Path,
          test_lmdb: Path, caffe: Path, keep_model: bool = False) -> RunResult:
    """Trains one run in `run_dir` (its net, solver and train.log) and returns its result."""
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        raise ScriptError("mpirun not found: install Debian's openmpi-bin (scripts/install.sh does)")
    run_dir.mkdir(parents=True, exist_ok=True)
    net, solver = run_dir / "train_val.prototxt", run_dir / "solver.prototxt"
    net.write_text(net_text(train_lmdb, test_lmdb, schedule))
    solver.write_text(solver_text(net, run_dir / "mlp", schedule, seed))
    log = run_dir / "train.log"
    # --oversubscribe: K ranks on fewer cores; --allow-run-as-root: CI and containers run as root.
    command = [mpirun, "--oversubscribe", "--allow-run-as-root", "-np", str(schedule.ranks),
               str(caffe), "train", f"--solver={solver}", "--threads=1",
               *setting.codec_flags(schedule.fraction), "--sync=model_average",
               f"--sync_interval={schedule.iterations_per_epoch}"]
    start = time.monotonic()
    with open(log, "w") as stream:
        status = subprocess.run(command, stdout=stream, stderr=subprocess.STDOUT,
                                env=bench_common.caffe_tool_env()).returncode
    seconds = time.monotonic() - start
    if status != 0:
        raise ScriptError(f"mpirun ... caffe train failed (exit {status}); see {log}")
    records = parse_run_log(log.read_text(), schedule.iterations_per_epoch, schedule.epochs)
    final = run_dir / f"mlp_iter_{schedule.iterations_per_epoch * schedule.epochs}"
    ratio = package_ratio(final.with_suffix(".caffemodel"), setting, schedule.fraction)
    if not keep_model:
        for suffix in (".caffemodel", ".solverstate"):
            final.with_suffix(suffix).unlink(missing_ok=True)
    return summarize(setting, seed, records, ratio, seconds)
