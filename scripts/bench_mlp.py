#!/usr/bin/env python3
"""One training iteration of the MNIST MLP (784-H-H-10, ReLU + Dropout 0.5, batch 128, SGD with
momentum 0.9 and weight decay 5e-4): ApproxCaffe against PyTorch CPU, side by side.

Both run the same net, batch, thread count and update rule; the data is a fixed random batch
already in memory (no loading cost on either side).  Each iteration is forward + backward +
update; the figure is the median over --iterations rounds after --warmup rounds, measured in
interleaved rounds.  PyTorch is a benchmark dependency: `pip install torch` (bench only).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from lib import bench_common, mlp_nets

BATCH = 128
LR, MOMENTUM, DECAY = 0.01, 0.9, 5e-4


def caffe_step(caffe, hidden: int, data: np.ndarray, labels: np.ndarray, workdir: Path):
    net_path = workdir / f"mlp_{hidden}.prototxt"
    layers = [mlp_nets.HiddenLayer("standard", 0.5)] * 2
    net_path.write_text(mlp_nets.input_mlp([hidden, hidden], layers, BATCH))
    solver_path = workdir / f"solver_{hidden}.prototxt"
    solver_path.write_text(f'net: "{net_path}"\nbase_lr: {LR}\nmomentum: {MOMENTUM}\n'
                           f'weight_decay: {DECAY}\nlr_policy: "fixed"\nmax_iter: 1000000\n'
                           f'display: 0\nsnapshot_after_train: false\nsolver_mode: CPU\n'
                           f'random_seed: 1\n')
    solver = caffe.get_solver(str(solver_path))
    solver.net.blobs["data"].data[...] = data
    solver.net.blobs["label"].data[...] = labels
    return lambda: solver.step(1)


def torch_step(torch, hidden: int, data: np.ndarray, labels: np.ndarray):
    nn = torch.nn
    model = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(hidden, 10))
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=DECAY)
    inputs = torch.from_numpy(data)
    targets = torch.from_numpy(labels.astype(np.int64))
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        optimizer.zero_grad(set_to_none=False)
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads for both frameworks (default: all cores)")
    parser.add_argument("--iterations", type=int, default=30, help="timed rounds (>= 30)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--block", type=int, default=6,
                        help="calls per contender per round; the first of each is untimed")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    args = parser.parse_args(argv)

    # libgomp's default spin-waiting threads would steal both cores from our BLAS between calls.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    caffe = bench_common.import_caffe()
    try:
        import torch
    except ImportError:
        print("bench_mlp: PyTorch is not installed; run `pip install torch` (a benchmark-only "
              "dependency)", file=sys.stderr)
        return 1
    caffe.set_mode_cpu()
    caffe.set_blas_threads(args.threads)
    torch.set_num_threads(args.threads)
    print(bench_common.machine_summary(args.threads, caffe.blas_info()))
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"BLAS: {'MKL' if torch.backends.mkl.is_available() else 'other'}; "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}; {args.iterations} timed iterations "
          f"after {args.warmup} warm-up, in blocks of {args.block}, median\n")

    rng = np.random.default_rng(0)
    data = rng.random((BATCH, 784), dtype=np.float32)
    labels = rng.integers(0, 10, BATCH).astype(np.float32)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for hidden in args.hidden:
            medians = bench_common.medians(bench_common.time_side_by_side(
                {"ours": caffe_step(caffe, hidden, data, labels, Path(workdir)),
                 "torch": torch_step(torch, hidden, data, labels)},
                args.iterations, args.warmup, block=args.block))
            rows.append({"hidden": hidden, "ms_ours": round(medians["ours"], 3),
                         "ms_torch": round(medians["torch"], 3),
                         "ratio": round(medians["ours"] / medians["torch"], 3)})
    bench_common.print_table(["hidden", "ms_ours", "ms_torch", "ratio (ours/torch)"],
                             [[r["hidden"], r["ms_ours"], r["ms_torch"], r["ratio"]] for r in rows])
    bench_common.write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
