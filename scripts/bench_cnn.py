#!/usr/bin/env python3
"""One training iteration of the vision models: ApproxCaffe against PyTorch CPU, side by side.

Nets (the models/ prototxts, TRAIN phase): lenet at batch 64, cifar10_quick at batch 100,
resnet18 and mobilenet (models/cifar10_resnet18, models/cifar10_mobilenet) at batch 32.  The
PyTorch peer is built from the same prototxt (scripts/lib/torch_peer.py: same layers, shapes and
wiring; BatchNorm + Scale as one affine BatchNorm2d).  Both sides run forward + backward + an SGD
update with momentum 0.9 and weight decay 5e-4, on the same fixed random batch already in memory,
at the same thread count; the figure is the median over --iterations interleaved rounds after
--warmup.  PyTorch is a benchmark dependency: `pip install torch` (bench only).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Tuple

import numpy as np

from lib import bench_common, torch_peer

try:  # the schema module of the build (imported once caffe is importable)
    from caffe.proto import caffe_pb2
except ImportError:  # reported by bench_common.import_caffe() in main
    caffe_pb2 = None

REPO_ROOT = Path(__file__).resolve().parents[1]
LR, MOMENTUM, DECAY = 0.01, 0.9, 5e-4


@dataclass(frozen=True)
class BenchNet:
    name: str
    model: str  # folder under models/
    batch: int
    image: Tuple[int, int, int]
    classes: int = 10


NETS = {net.name: net for net in (
    BenchNet("lenet", "lenet", 64, (1, 28, 28)),
    BenchNet("cifar10_quick", "cifar10_quick", 100, (3, 32, 32)),
    BenchNet("resnet18", "cifar10_resnet18", 32, (3, 32, 32)),
    BenchNet("mobilenet", "cifar10_mobilenet", 32, (3, 32, 32)),
)}


def prototxt(net: BenchNet) -> str:
    return str(REPO_ROOT / "models" / net.model / "train_val.prototxt")


def caffe_step(caffe: Any, net: BenchNet, data: np.ndarray, labels: np.ndarray,
               workdir: Path) -> Callable[[], None]:
    net_path = workdir / f"{net.name}.prototxt"
    net_path.write_text(torch_peer.input_net_text(caffe_pb2, prototxt(net),
                                                  net.batch, net.image))
    solver_path = workdir / f"{net.name}_solver.prototxt"
    solver_path.write_text(f'net: "{net_path}"\nbase_lr: {LR}\nmomentum: {MOMENTUM}\n'
                           f'weight_decay: {DECAY}\nlr_policy: "fixed"\nmax_iter: 1000000\n'
                           'display: 0\nsnapshot_after_train: false\nsolver_mode: CPU\n'
                           'random_seed: 1\n')
    solver = caffe.get_solver(str(solver_path))
    solver.net.blobs["data"].data[...] = data
    solver.net.blobs["label"].data[...] = labels
    return lambda: solver.step(1)


def torch_step(torch: Any, caffe: Any, net: BenchNet, data: np.ndarray,
               labels: np.ndarray) -> Callable[[], None]:
    model = torch_peer.build_torch_net(torch, caffe_pb2, prototxt(net), net.image)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=DECAY)
    inputs = torch.from_numpy(data)
    targets = torch.from_numpy(labels)

    def step() -> None:
        optimizer.zero_grad(set_to_none=False)
        model(inputs, targets).backward()
        optimizer.step()
    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="+", choices=sorted(NETS), default=list(NETS))
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads for both frameworks (default: all cores)")
    parser.add_argument("--iterations", type=int, default=30, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--block", type=int, default=3,
                        help="calls per contender per round; the first of each is untimed")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    args = parser.parse_args(argv)

    # libgomp's default spin-waiting threads would steal both cores from the other side.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    caffe = bench_common.import_caffe()
    try:
        import torch
    except ImportError:
        print("bench_cnn: PyTorch is not installed; run `pip install torch` (a benchmark-only "
              "dependency)", file=sys.stderr)
        return 1
    caffe.set_mode_cpu()
    caffe.set_blas_threads(args.threads)
    torch.set_num_threads(args.threads)
    print(bench_common.machine_summary(args.threads, caffe.blas_info()))
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, oneDNN "
          f"{'on' if torch.backends.mkldnn.is_available() else 'off'}; "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}; {args.iterations} timed iterations "
          f"after {args.warmup} warm-up, in blocks of {args.block}, median\n")

    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.nets:
            net = NETS[name]
            data = rng.standard_normal((net.batch, *net.image), dtype=np.float32)
            labels = rng.integers(0, net.classes, net.batch).astype(np.float32)
            medians = bench_common.medians(bench_common.time_side_by_side(
                {"ours": caffe_step(caffe, net, data, labels, Path(workdir)),
                 "torch": torch_step(torch, caffe, net, data, labels)},
                args.iterations, args.warmup, block=args.block))
            rows.append({"net": name, "batch": net.batch, "ms_ours": round(medians["ours"], 2),
                         "ms_torch": round(medians["torch"], 2),
                         "ratio": round(medians["ours"] / medians["torch"], 3)})
            print(f"  {name}: ours {rows[-1]['ms_ours']} ms, torch {rows[-1]['ms_torch']} ms",
                  flush=True)
    bench_common.print_table(["net", "batch", "ms_ours", "ms_torch", "ratio (ours/torch)"],
                             [[r["net"], r["batch"], r["ms_ours"], r["ms_torch"], r["ratio"]]
                              for r in rows])
    bench_common.write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
