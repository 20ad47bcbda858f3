#!/usr/bin/env python3
"""Sparse backward against dense backward: Convolution layers and whole training iterations.

Part `conv` (a): one Convolution backward at every distinct convolution shape of the CIFAR
AlexNet and ResNet-18 (models/cifar10_alexnet, models/cifar10_resnet18; the first convolution of
each reads the data, so it computes no input gradient, as in training), with a random top
gradient of each --densities value: the layer's dense engine (caffe.set_sparse_backward('never'))
against the sparse kernels ('always'), side by side in one process.  Rows
{shape, density, ms_dense, ms_sparse}; this measurement sets the crossover density of
caffe/util/sparse_backward.cpp.

Part `train` (b): one whole training iteration (forward, backward, SGD update) of
cifar10_alexnet, cifar10_resnet18 and cifar10_mobilenet.  Each net is first trained for
--warmup-iterations on real CIFAR-10 images (an LMDB made by scripts/get_cifar10.py, --data) so
that its ReLU gradients are as sparse as in training; then, starting from those weights and
batch, the baseline (the plain net, dense backward) is timed against the net with GradSparsify
layers at each --percentiles value (placed by `python -m caffe.grad_sparsify`) with the sparse
backward in 'auto', and against the plain net in 'auto' (p = 0).  Rows {net, p, density,
ms_baseline, ms_sparse, speedup}; density is the share of non-zeros in the top gradients of all
Convolution and InnerProduct layers together.

Timings are medians of --iterations calls measured in interleaved rounds
(scripts/lib/bench_common.py).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from google.protobuf import text_format
from tqdm import tqdm

from lib import bench_common, torch_peer

REPO = bench_common.REPO
CONV_MODELS = ("cifar10_alexnet", "cifar10_resnet18")
DENSITIES = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5)
IMAGE = (3, 32, 32)


# ----- (a) one Convolution backward -----

@dataclass(frozen=True)
class ConvShape:
    name: str            # model.layer of its first occurrence
    bottom: tuple        # N, C, H, W
    param: str           # convolution_param, as prototxt text
    input_gradient: bool  # False for a convolution that reads the data


def conv_shapes(caffe: Any, caffe_pb2: Any, batch: int) -> list[ConvShape]:
    """The distinct Convolution shapes (input shape + settings) of the CONV_MODELS."""
    shapes: dict[tuple, ConvShape] = {}
    for model in CONV_MODELS:
        prototxt = str(REPO / "models" / model / "train_val.prototxt")
        text = torch_peer.input_net_text(caffe_pb2, prototxt, batch, IMAGE)
        with tempfile.NamedTemporaryFile("w", suffix=".prototxt") as file:
            file.write(text)
            file.flush()
            net = caffe.Net(file.name, caffe.TRAIN)
        spec = caffe_pb2.NetParameter()
        text_format.Merge(text, spec)
        for layer in spec.layer:
            if layer.type != "Convolution":
                continue
            param = layer.convolution_param
            param.ClearField("weight_filler")
            param.ClearField("bias_filler")
            settings = text_format.MessageToString(param, as_one_line=True)
            bottom = tuple(net.blobs[layer.bottom[0]].data.shape)
            key = (bottom, settings, layer.bottom[0] != "data")
            if key not in shapes:
                shapes[key] = ConvShape(f"{model.removeprefix('cifar10_')}.{layer.name}", bottom,
                                        settings, layer.bottom[0] != "data")
    return list(shapes.values())


def conv_net_text(shape: ConvShape) -> str:
    dims = " ".join(f"dim: {d}" for d in shape.bottom)
    down = "" if shape.input_gradient else " propagate_down: false"
    return (f'name: "conv_bench" force_backward: true\n'
            f'layer {{ name: "data" type: "Input" top: "data" input_param {{ shape {{ {dims} }} }} }}\n'
            f'layer {{ name: "conv" type: "Convolution" bottom: "data" top: "conv"{down} '
            f'convolution_param {{ {shape.param} weight_filler {{ type: "msra" }} }} }}\n')


def sparse_values(rng: np.random.Generator, shape: tuple, density: float) -> np.ndarray:
    values = rng.standard_normal(shape, dtype=np.float32)
    values[rng.random(shape) >= density] = 0.0
    return values


def policy_step(caffe: Any, net: Any, policy: str) -> Callable[[], None]:
    def step() -> None:
        caffe.set_sparse_backward(policy)
        net._backward(1, 1)
    return step


def crossover(rows: list[dict]) -> float:
    """The density where sparse and dense cost the same (linear between the measured densities;
    0 when sparse loses at all of them, the largest density when it wins at all of them)."""
    previous = None
    for row in rows:
        ratio = row["ms_dense"] / row["ms_sparse"]
        if ratio < 1.0:
            if previous is None:
                return 0.0
            d0, r0 = previous
            return round(d0 + (row["density"] - d0) * (r0 - 1.0) / (r0 - ratio), 3)
        previous = (row["density"], ratio)
    return rows[-1]["density"]


def bench_conv(caffe: Any, caffe_pb2: Any, args: argparse.Namespace) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    shapes = conv_shapes(caffe, caffe_pb2, args.batch)
    runs = [(shape, density) for shape in shapes for density in args.densities]
    with tempfile.TemporaryDirectory() as workdir:
        for index, shape in enumerate(shapes):
            path = Path(workdir) / f"conv{index}.prototxt"
            path.write_text(conv_net_text(shape))
            net = caffe.Net(str(path), caffe.TRAIN)
            net.blobs["data"].data[...] = rng.standard_normal(shape.bottom, dtype=np.float32)
            net.forward()
            for density in args.densities:
                net.blobs["conv"].diff[...] = sparse_values(rng, net.blobs["conv"].diff.shape,
                                                            density)
                samples = time_side_by_side(
                    {"dense": policy_step(caffe, net, "never"),
                     "sparse": policy_step(caffe, net, "always")}, args)
                medians = bench_common.medians(samples)
                rows.append({"shape": shape.name, "bottom": list(shape.bottom),
                             "density": density, "ms_dense": round(medians["dense"], 3),
                             "ms_sparse": round(medians["sparse"], 3),
                             "spread_dense": spread(samples["dense"]),
                             "spread_sparse": spread(samples["sparse"])})
                runs_done = len(rows)
                tqdm.write(f"  {shape.name} {list(shape.bottom)} d={density}: dense "
                           f"{rows[-1]['ms_dense']} ms, sparse {rows[-1]['ms_sparse']} ms "
                           f"({runs_done}/{len(runs)})")
    caffe.set_sparse_backward("auto")
    bench_common.print_table(
        ["shape", "density", "ms_dense", "ms_sparse", "dense/sparse"],
        [[r["shape"], r["density"], r["ms_dense"], r["ms_sparse"],
          round(r["ms_dense"] / r["ms_sparse"], 2)] for r in rows])
    print("\ncrossover density (sparse cheaper below it):")
    for shape in shapes:
        print(f"  {shape.name:24s} {crossover([r for r in rows if r['shape'] == shape.name])}")
    return rows


def time_side_by_side(steps: dict[str, Callable[[], None]],
                      args: argparse.Namespace) -> dict[str, list[float]]:
    """bench_common.time_side_by_side on the wall clock, or on the process's CPU time with
    --clock cpu (what a call costs on an idle machine: the shared machine's wall clock also
    counts the time its threads wait for a core)."""
    if args.clock == "wall":
        return bench_common.time_side_by_side(steps, args.iterations, args.warmup,
                                              block=args.block)
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for round_index in range(args.warmup + args.iterations):
        for name, step in steps.items():
            start = time.process_time()
            step()
            if round_index >= args.warmup:
                samples[name].append((time.process_time() - start) * 1e3)
    return samples


def spread(values: list[float]) -> float:
    """Interquartile range over the median: the noise of a measurement."""
    if len(values) < 4:
        return 0.0
    quartiles = statistics.quantiles(values, n=4)
    return round((quartiles[2] - quartiles[0]) / statistics.median(values), 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--parts", nargs="+", choices=["conv", "train"],
                        default=["conv", "train"], help="which measurements (default both)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="CPU threads (BLAS, oneDNN and the sparse kernels; default all)")
    parser.add_argument("--batch", type=int, default=32, help="images per batch (default 32)")
    parser.add_argument("--densities", type=float, nargs="+", default=list(DENSITIES),
                        help="top-gradient densities of part conv")
    parser.add_argument("--iterations", type=int, default=7, help="timed calls per contender")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--block", type=int, default=2,
                        help="calls per contender per round; the first of each is untimed")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="time on the wall clock (default) or as the process's CPU time")
    parser.add_argument("--json", metavar="FILE",
                        help="write the rows as JSON ({part: rows}; parts not run are kept "
                             "from an existing FILE)")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.batch < 1 or args.iterations < 1:
        parser.error("--threads, --batch and --iterations must be at least 1")
    if any(not 0.0 < d <= 1.0 for d in args.densities):
        parser.error("--densities must lie in (0, 1]")

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    caffe = bench_common.import_caffe()
    from caffe.proto import caffe_pb2
    caffe.set_mode_cpu()
    caffe.set_blas_threads(args.threads)
    print(bench_common.machine_summary(args.threads, caffe.blas_info()))
    print(f"batch {args.batch}; median of {args.iterations} timed calls after {args.warmup} "
          f"warm-up rounds, {args.clock} clock\n")
    results: dict[str, list[dict]] = {}
    if "conv" in args.parts:
        results[f"conv_{args.clock}"] = bench_conv(caffe, caffe_pb2, args)
    write_results(args.json, results)
    return 0


def write_results(path: str | None, results: dict[str, list[dict]]) -> None:
    if not path:
        return
    merged: dict[str, Any] = {}
    if Path(path).exists():
        merged = json.loads(Path(path).read_text())
    merged.update(results)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(merged, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
