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
--warmup-iterations on real CIFAR-10 images (an LMDB made by scripts/get_cifar10.py, --data; on
every core, weights cached in --work-dir) so that its ReLU gradients are as sparse as in
training; then, starting from those weights and one real batch, the baseline (the plain net,
dense backward) is timed against the net with GradSparsify layers at each --percentiles value
(placed by `python -m caffe.grad_sparsify`) with the sparse backward in 'auto', and against the
plain net in 'auto' (p = 0).  The timed iterations use a learning rate of 1e-6, so that every
contender sees the same state.  Rows {net, p, density, ms_baseline, ms_sparse, speedup,
ms_gs_dense}; density is the share of non-zeros in the top gradients of all Convolution and
InnerProduct layers together, and ms_gs_dense times the net with GradSparsify on the dense
backward (what the GradSparsify layers cost by themselves).  A second list breaks the baseline,
p = 0 and p = 0.9 down into forward and backward of Convolution, InnerProduct and the rest.

Timings are medians of --iterations calls measured in interleaved rounds
(scripts/lib/bench_common.py).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

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
    """bench_common.time_side_by_side on --clock: in blocks of --block on the wall clock, one
    call at a time on the process's CPU time."""
    return bench_common.time_side_by_side(steps, args.iterations, args.warmup,
                                          block=args.block if args.clock == "wall" else 1,
                                          clock=args.clock)


def spread(values: list[float]) -> float:
    """Interquartile range over the median: the noise of a measurement."""
    if len(values) < 4:
        return 0.0
    quartiles = statistics.quantiles(values, n=4)
    return round((quartiles[2] - quartiles[0]) / statistics.median(values), 3)


# ----- (b) one training iteration -----

@dataclass(frozen=True)
class TrainNet:
    name: str
    model: str  # folder under models/
    # The warm-up's learning rate for a batch of 128: the model's solver's, except AlexNet's 0.05,
    # at which (scaled to batch 32) its ReLUs die within 200 iterations (gradient density 0.1%).
    base_lr: float


TRAIN_NETS = {net.name: net for net in (
    TrainNet("alexnet", "cifar10_alexnet", 0.01),
    TrainNet("resnet18", "cifar10_resnet18", 0.1),
    TrainNet("mobilenet", "cifar10_mobilenet", 0.1),
)}
PERCENTILES = (0.85, 0.9, 0.95, 0.995)
TIMING_LR = 1e-6  # timed iterations barely move the weights, so every contender sees one state


def model_prototxt(net: TrainNet) -> str:
    return str(REPO / "models" / net.model / "train_val.prototxt")


def solver_text(net_path: Path, base_lr: float) -> str:
    return (f'net: "{net_path}"\nbase_lr: {base_lr}\nmomentum: 0.9\nweight_decay: 5e-4\n'
            'lr_policy: "fixed"\nmax_iter: 100000000\ndisplay: 0\n'
            'snapshot_after_train: false\nsolver_mode: CPU\nrandom_seed: 1\n')


def lmdb_net_text(caffe_pb2: Any, net: TrainNet, data: Path, batch: int) -> str:
    """The model's TRAIN net reading `data` (scripts/get_cifar10.py's LMDB and mean) at `batch`."""
    spec = caffe_pb2.NetParameter()
    spec.name = net.name
    for layer in torch_peer.read_train_layers(caffe_pb2, model_prototxt(net)):
        if layer.type == "Accuracy":
            continue
        copy = spec.layer.add()
        copy.CopyFrom(layer)
        del copy.include[:]
        if copy.type == "Data":
            copy.data_param.source = str(data / "train_lmdb")
            copy.data_param.batch_size = batch
            copy.transform_param.mean_file = str(data / "mean.binaryproto")
    return text_format.MessageToString(spec)


def warm_weights(caffe: Any, caffe_pb2: Any, net: TrainNet, args: argparse.Namespace,
                 workdir: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """Trains the plain net for --warmup-iterations on the LMDB (or reuses the weights cached in
    --work-dir); returns the weights and one real batch (data, labels)."""
    stem = f"{net.name}_b{args.batch}_w{args.warmup_iterations}"
    weights = args.work_dir / f"{stem}.caffemodel"
    net_path = workdir / f"{net.name}_lmdb.prototxt"
    net_path.write_text(lmdb_net_text(caffe_pb2, net, args.data, args.batch))
    solver_path = workdir / f"{net.name}_warm_solver.prototxt"
    # The models' rates are for batch 128; scaled linearly to the batch used here.
    solver_path.write_text(solver_text(net_path, net.base_lr * args.batch / 128))
    caffe.set_sparse_backward("auto")
    solver = caffe.get_solver(str(solver_path))
    if weights.exists():
        solver.net.copy_from(str(weights))
    else:
        caffe.set_blas_threads(os.cpu_count() or 1)  # untimed: on every core
        chunk = 10
        with tqdm(total=args.warmup_iterations, desc=f"warm-up {net.name}", unit="it") as bar:
            for done in range(0, args.warmup_iterations, chunk):
                steps = min(chunk, args.warmup_iterations - done)
                solver.step(steps)
                bar.update(steps)
                bar.set_postfix(loss=f"{float(solver.net.blobs['loss'].data):.3f}")
        args.work_dir.mkdir(parents=True, exist_ok=True)
        solver.net.save(str(weights))
        caffe.set_blas_threads(args.threads)
    solver.net.forward()
    return weights, solver.net.blobs["data"].data.copy(), solver.net.blobs["label"].data.copy()


def place_grad_sparsify(source: Path, target: Path, percentile: float) -> None:
    """`python -m caffe.grad_sparsify --percentile p source target`."""
    command = [sys.executable, "-m", "caffe.grad_sparsify", "--percentile", str(percentile),
               str(source), str(target)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"bench_grad_sparsify: {' '.join(command)} failed:\n{result.stderr}")


def timing_solver(caffe: Any, net_path: Path, weights: Path, data: np.ndarray,
                  labels: np.ndarray) -> Any:
    solver_path = net_path.with_suffix(".solver.prototxt")
    solver_path.write_text(solver_text(net_path, TIMING_LR))
    solver = caffe.get_solver(str(solver_path))
    solver.net.copy_from(str(weights))
    solver.net.blobs["data"].data[...] = data
    solver.net.blobs["label"].data[...] = labels
    return solver


def gradient_density(net: Any) -> float:
    """Non-zeros over elements of the top gradients of every Convolution and InnerProduct."""
    nonzero = total = 0
    for layer, name in zip(net.layers, net._layer_names):
        if layer.type in ("Convolution", "InnerProduct"):
            for top in net.top_names[name]:
                diff = net.blobs[top].diff
                nonzero += int(np.count_nonzero(diff))
                total += diff.size
    return nonzero / max(total, 1)


def layer_breakdown(caffe: Any, net: Any, policy: str, clock: Callable[[], float],
                    repeats: int = 3) -> dict[str, float]:
    """Milliseconds of forward and backward per layer group (Convolution, InnerProduct, the
    rest), the median of `repeats` passes layer by layer."""
    caffe.set_sparse_backward(policy)
    groups = ("Convolution", "InnerProduct", "other")
    runs: list[dict[str, float]] = []
    last = len(net.layers) - 1
    for _ in range(repeats):
        run = {f"{group}_{phase}": 0.0 for group in groups for phase in ("forward", "backward")}
        for phase, order in (("forward", range(last + 1)), ("backward", range(last, -1, -1))):
            for index in order:
                group = net.layers[index].type
                group = group if group in groups else "other"
                start = clock()
                if phase == "forward":
                    net._forward(index, index)
                else:
                    net._backward(index, index)
                run[f"{group}_{phase}"] += (clock() - start) * 1e3
        runs.append(run)
    return {key: round(statistics.median(run[key] for run in runs), 1) for key in runs[0]}


def solver_step(caffe: Any, solver: Any, policy: str) -> Callable[[], None]:
    def step() -> None:
        caffe.set_sparse_backward(policy)
        solver.step(1)
    return step


def bench_train(caffe: Any, caffe_pb2: Any,
                args: argparse.Namespace) -> tuple[list[dict], list[dict]]:
    """The iteration rows, and the per-layer-group breakdown of the baseline, p = 0 and p = 0.9."""
    rows: list[dict] = []
    breakdown: list[dict] = []
    percentiles = args.percentiles
    if importlib.util.find_spec("caffe.grad_sparsify") is None:
        print("caffe.grad_sparsify is not in this build: only the plain net (p = 0) is measured")
        percentiles = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for name in args.nets:
            net = TRAIN_NETS[name]
            weights, data, labels = warm_weights(caffe, caffe_pb2, net, args, workdir)
            plain = workdir / f"{name}_input.prototxt"
            plain.write_text(torch_peer.input_net_text(caffe_pb2, model_prototxt(net), args.batch,
                                                       IMAGE))
            contenders = {"baseline": ("never", plain), "p=0": ("auto", plain)}
            for percentile in percentiles:
                placed = workdir / f"{name}_gs{percentile}.prototxt"
                place_grad_sparsify(plain, placed, percentile)
                contenders[f"p={percentile}"] = ("auto", placed)
                contenders[f"p={percentile} dense"] = ("never", placed)
            solvers = {key: timing_solver(caffe, path, weights, data, labels)
                       for key, (_, path) in contenders.items()}
            steps = {key: solver_step(caffe, solvers[key], contenders[key][0])
                     for key in contenders}
            samples = time_side_by_side(steps, args)
            medians = bench_common.medians(samples)
            for key, (policy, _) in contenders.items():
                if key == "baseline" or key.endswith("dense"):
                    continue
                caffe.set_sparse_backward(policy)
                solvers[key].step(1)
                p = 0.0 if key == "p=0" else float(key[2:])
                rows.append({"net": name, "p": p,
                             "density": round(gradient_density(solvers[key].net), 4),
                             "ms_baseline": round(medians["baseline"], 1),
                             "ms_sparse": round(medians[key], 1),
                             "speedup": round(medians["baseline"] / medians[key], 3),
                             # the same net with the dense backward: what GradSparsify costs
                             "ms_gs_dense": round(medians.get(f"{key} dense", medians["baseline"]),
                                                  1),
                             "spread_baseline": spread(samples["baseline"]),
                             "spread_sparse": spread(samples[key])})
                tqdm.write(f"  {name} p={p}: density {rows[-1]['density']}, baseline "
                           f"{rows[-1]['ms_baseline']} ms, sparse {rows[-1]['ms_sparse']} ms, "
                           f"speedup {rows[-1]['speedup']}")
            caffe.set_sparse_backward("never")
            solvers["baseline"].step(1)
            tqdm.write(f"  {name} baseline: density "
                       f"{gradient_density(solvers['baseline'].net):.4f} (dense backward)")
            clock = bench_common.CLOCKS[args.clock]
            for key, (policy, _) in contenders.items():
                if key in ("baseline", "p=0.9", "p=0"):
                    shares = layer_breakdown(caffe, solvers[key].net, policy, clock)
                    breakdown.append({"net": name, "contender": key, **shares})
                    tqdm.write(f"  {name} {key} per layer group (ms): {shares}")
    caffe.set_sparse_backward("auto")
    bench_common.print_table(
        ["net", "p", "density", "ms_baseline", "ms_sparse", "speedup", "ms_gs_dense"],
        [[r["net"], r["p"], r["density"], r["ms_baseline"], r["ms_sparse"], r["speedup"],
          r["ms_gs_dense"]] for r in rows])
    return rows, breakdown


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
    parser.add_argument("--nets", nargs="+", choices=sorted(TRAIN_NETS), default=list(TRAIN_NETS),
                        help="nets of part train")
    parser.add_argument("--percentiles", type=float, nargs="+", default=list(PERCENTILES),
                        help="GradSparsify percentiles of part train")
    parser.add_argument("--data", type=Path, default=REPO / "data" / "cifar10",
                        help="CIFAR-10 LMDBs and mean of scripts/get_cifar10.py (part train)")
    parser.add_argument("--warmup-iterations", type=int, default=300,
                        help="training iterations before part train measures (default 300)")
    parser.add_argument("--work-dir", type=Path, default=REPO / "data" / "grad_sparsify_bench",
                        help="where the warmed-up weights are cached")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="time on the wall clock (default) or as the process's CPU time")
    parser.add_argument("--json", metavar="FILE",
                        help="write the rows as JSON ({part: rows, \"commands\": {part: "
                             "command}}); an existing FILE keeps the parts, nets and shapes not "
                             "measured now")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.batch < 1 or args.iterations < 1:
        parser.error("--threads, --batch and --iterations must be at least 1")
    if any(not 0.0 < d <= 1.0 for d in args.densities):
        parser.error("--densities must lie in (0, 1]")
    if any(not 0.0 < p < 1.0 for p in args.percentiles):
        parser.error("--percentiles must lie in (0, 1)")
    if "train" in args.parts and not (args.data / "train_lmdb").is_dir():
        parser.error(f"{args.data / 'train_lmdb'} not found: make it with scripts/get_cifar10.py "
                     "(--limit N converts a part), or pass --data")

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
    if "train" in args.parts:
        results[f"train_{args.clock}"], results[f"train_layers_{args.clock}"] = bench_train(
            caffe, caffe_pb2, args)
    given = argv if argv is not None else sys.argv[1:]
    command = " ".join(["scripts/bench_grad_sparsify.py", *given])
    write_results(args.json, results, command)
    return 0


def write_results(path: str | None, results: dict[str, list[dict]], command: str) -> None:
    """Merges `results` into the JSON file `path`; "commands" maps each part to the command
    that last measured it."""
    if not path:
        return
    merged: dict[str, Any] = {}
    if Path(path).exists():
        merged = json.loads(Path(path).read_text())
    commands = merged.setdefault("commands", {})
    for part, rows in results.items():
        # Rows of the shapes / nets measured now replace theirs; the others are kept.
        key = "net" if part.startswith("train") else "shape"
        measured = {row[key] for row in rows}
        merged[part] = [row for row in merged.get(part, []) if row[key] not in measured] + rows
        commands[part] = command
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(merged, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
