#!/usr/bin/env python3
"""Convolution engines side by side: engine CAFFE (im2col + BLAS) against the device's library
(oneDNN on the CPU, cuDNN with --gpu), forward and backward, on the layer shapes of LeNet,
cifar10_quick, ResNet-18 (CIFAR) and a MobileNet depthwise convolution.

Each shape becomes one net in which both contenders read the same input (one layer per engine,
each followed by Silence, force_backward on so that both compute all three gradients), timed by
`caffe time`: every timed iteration runs both contenders in one process, one after the other.
The figure is the median, over --repeats runs, of `caffe time`'s per-layer mean; the runs
alternate which contender goes first, so that neither always follows the other's threads.
This decides which engine `engine: DEFAULT` picks on the CPU (caffe/layers/base_conv_layer.cpp).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lib import bench_common


@dataclass(frozen=True)
class Shape:
    name: str
    batch: int
    channels: int
    size: int  # height = width
    num_output: int
    kernel: int
    pad: int = 0
    group: int = 1


SHAPES = [
    Shape("lenet.conv1", 64, 1, 28, 20, 5),
    Shape("lenet.conv2", 64, 20, 12, 50, 5),
    Shape("cifar10_quick.conv1", 100, 3, 32, 32, 5, pad=2),
    Shape("cifar10_quick.conv2", 100, 32, 16, 32, 5, pad=2),
    Shape("cifar10_quick.conv3", 100, 32, 8, 64, 5, pad=2),
    Shape("resnet18_cifar.64", 32, 64, 32, 64, 3, pad=1),
    Shape("resnet18_cifar.512", 32, 512, 4, 512, 3, pad=1),
    Shape("mobilenet.depthwise", 32, 128, 16, 128, 3, pad=1, group=128),
]
ENGINES = {"CAFFE": "caffe", "CUDNN": "library"}  # engine field -> column name


def net_prototxt(shape: Shape, layer_type: str, engine_order: list[str]) -> str:
    lines = [f'name: "bench_{shape.name}"', "force_backward: true",
             'layer { name: "data" type: "Input" top: "data" input_param { shape { '
             f"dim: {shape.batch} dim: {shape.channels} dim: {shape.size} dim: {shape.size} }} }} }}"]
    for engine in engine_order:
        lines.append(
            f'layer {{ name: "{ENGINES[engine]}" type: "{layer_type}" bottom: "data" '
            f'top: "{ENGINES[engine]}" convolution_param {{ num_output: {shape.num_output} '
            f"kernel_size: {shape.kernel} pad: {shape.pad} group: {shape.group} "
            f'engine: {engine} weight_filler {{ type: "gaussian" std: 0.01 }} }} }}')
        lines.append(f'layer {{ name: "{ENGINES[engine]}_sink" type: "Silence" '
                     f'bottom: "{ENGINES[engine]}" }}')
    return "\n".join(lines) + "\n"


LAYER_LINE = re.compile(r"^\s*(\S+)\s+(forward|backward): ([-+.\deE]+) ms\.")


def time_once(caffe: Path, model: Path, iterations: int, threads: int, gpu: bool) -> dict:
    """`caffe time` once: {(layer, 'forward'|'backward'): mean ms}."""
    command = [str(caffe), "time", f"--model={model}", f"--iterations={iterations}"]
    command += ["--gpu=0"] if gpu else [f"--threads={threads}"]
    result = subprocess.run(command, env=bench_common.caffe_tool_env(), capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"bench_conv: {' '.join(command)} failed:\n{result.stderr[-2000:]}")
    times = {}
    for line in result.stderr.splitlines():
        match = LAYER_LINE.match(line.split("] ", 1)[-1])
        if match:
            times[(match.group(1), match.group(2))] = float(match.group(3))
    return times


def measure(caffe: Path, shape: Shape, args: argparse.Namespace, workdir: Path) -> dict:
    runs = []
    for repeat in range(args.repeats):
        order = list(ENGINES) if repeat % 2 == 0 else list(reversed(ENGINES))
        model = workdir / f"{shape.name}_{repeat % 2}.prototxt"
        model.write_text(net_prototxt(shape, args.type, order))
        runs.append(time_once(caffe, model, args.iterations, args.threads, args.gpu))
    row = {"shape": shape.name}
    for column in ENGINES.values():
        for phase in ("forward", "backward"):
            row[f"{column}_{phase}_ms"] = round(
                statistics.median(run[(column, phase)] for run in runs), 3)
        row[f"{column}_total_ms"] = round(row[f"{column}_forward_ms"] +
                                          row[f"{column}_backward_ms"], 3)
    row["speedup"] = round(row["caffe_total_ms"] / row["library_total_ms"], 2)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path,
                        default=Path(os.environ.get("CAFFE_BUILD_DIR", "build")),
                        help="build folder with tools/caffe (default $CAFFE_BUILD_DIR, else build)")
    parser.add_argument("--type", choices=["Convolution", "Deconvolution"], default="Convolution",
                        help="the layer type to time (Deconvolution swaps the roles of the "
                             "passes; shapes are then read as its input)")
    parser.add_argument("--gpu", action="store_true",
                        help="time on GPU 0: CAFFE (im2col + cuBLAS) against cuDNN")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="CPU threads (caffe --threads: OpenBLAS and oneDNN; default all)")
    parser.add_argument("--iterations", type=int, default=10,
                        help="iterations per `caffe time` run (default 10)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="`caffe time` runs per shape; the median is reported (default 5)")
    parser.add_argument("--shapes", nargs="+", metavar="NAME",
                        help="only these shapes: " + ", ".join(s.name for s in SHAPES))
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    args = parser.parse_args(argv)

    caffe = args.build_dir / "tools" / "caffe"
    if not caffe.exists():
        parser.error(f"{caffe} not found (build the tool_caffe target, or pass --build-dir)")
    if args.threads < 1 or args.iterations < 1 or args.repeats < 1:
        parser.error("--threads, --iterations and --repeats must be at least 1")
    shapes = SHAPES
    if args.shapes:
        unknown = set(args.shapes) - {s.name for s in SHAPES}
        if unknown:
            parser.error(f"unknown shapes: {', '.join(sorted(unknown))}")
        shapes = [s for s in SHAPES if s.name in args.shapes]

    library = "cuDNN" if args.gpu else "oneDNN"
    print(f"{args.type}, CAFFE against {library}; device: "
          f"{'GPU 0' if args.gpu else bench_common.cpu_model()}, "
          f"{'' if args.gpu else f'{args.threads} thread(s), '}"
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}; median of "
          f"{args.repeats} runs of {args.iterations} iterations\n")
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for shape in shapes:
            rows.append(measure(caffe, shape, args, Path(workdir)))
    headers = ["shape", "caffe fwd", "caffe bwd", f"{library} fwd", f"{library} bwd",
               "caffe/lib"]
    bench_common.print_table(headers, [
        [r["shape"], r["caffe_forward_ms"], r["caffe_backward_ms"], r["library_forward_ms"],
         r["library_backward_ms"], r["speedup"]] for r in rows])
    print("\n(ms per pass; caffe/lib > 1: the library is faster)")
    bench_common.write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
