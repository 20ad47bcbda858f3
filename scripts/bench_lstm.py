#!/usr/bin/env python3
"""One training iteration of a word-level LSTM language model (Embed, L LSTMs of H units, decoder
to V words, softmax loss): ApproxCaffe with standard dropout against PyTorch CPU and against
approximate random dropout (ROW, TILE) and its ideal, side by side in one run.

The net follows Zaremba et al. (the paper's PTB model): dropout with rate p on every
non-recurrent connection, i.e. on the embedding output, between the LSTMs and before the
decoder; V = 10000 words, T = 35 steps of truncated BPTT, N = 20 streams.  An iteration is
forward + backward + gradient-norm clipping (5) + plain SGD (lr 1, momentum 0, no weight decay).
Contenders, per configuration and dropout rate p:

- NONE (our standard dropout): Embed, Dropout(p), LSTM, Dropout(p), ..., LSTM, Dropout(p),
  InnerProduct.  Its row also carries ms_torch: nn.Embedding, nn.Dropout(p), nn.LSTM(num_layers
  L, dropout=p), nn.Dropout(p), nn.Linear with CrossEntropyLoss, clip_grad_norm_(5) and
  torch.optim.SGD, the hidden state carried (detached) from one iteration to the next like ours.
- ROW / TILE: the same three kinds of connections dropped by the layers themselves:
  LSTMApproxDropout (drop_side INPUT) for every LSTM and InnerProductApproxDropout (drop_side
  INPUT) for the decoder, pattern ROW (input columns) or TILE (32×32 weight tiles), so the
  T·N×D by D×4H input products and the decoder product shrink by the period dp.
- ROW_ROT (with --rotate-offset): ROW with approx_dropout_param { rotate_offset: true
  row_layout: BLOCKS }, token r keeping block (b + r) mod dp of the units (one product per
  class over every dp-th row, W in place), on the same schedules.
- IDEAL: what the kept work alone costs: the net without dropout whose LSTM and decoder input
  projections are k = round((1-p)·H) wide.  The first LSTM reads an Embed of width k; each later
  LSTM and the decoder read the first k units of the LSTM below, taken by a Slice (the rest goes
  to a Silence).  A Slice copies T·N·H floats each way, nothing next to the products; an
  InnerProduct down to k units would add a product of its own, and narrowing the LSTMs' hidden
  size would also shrink the recurrence, which approximate dropout never drops.  So the IDEAL
  keeps everything the approximate nets keep (recurrence, gates, H-wide states, the V-wide
  softmax) and runs only the kept fraction of the dropped products, as dense GEMMs.

Data: Input layers hold random word ids (data, target) and cont = 1 everywhere, written once from
numpy, so no data loading is timed.  cont = 1 at t = 0 carries the LSTM state from one iteration
to the next (truncated BPTT over a continuous stream); the state starts at zero in the first
iteration, which is what cont = 0 there would give.

Timing: time_side_by_side runs the contenders in interleaved rounds after --warmup rounds.  Each
dropout schedule is generated for exactly the --iterations timed iterations and aligned so that
the timed iterations use every entry once: an approximate iteration costs ~1/dp of the dropped
products, so its cost varies with the scheduled period by design, and the figure reported
(ms_*) is the MEAN over the timed iterations, i.e. the cost per iteration of training with the
schedule's mix of periods (the median would pick one period's cost); the table also prints the
median.  speedup = ms of our standard dropout (same config and p) / ms of the row;
tokens_per_s = T·N / seconds per iteration.

PyTorch's OpenMP threads: with libgomp's default (spinning) wait policy, 2 threads on a shared,
loaded 2-core machine collapsed (small, p 0.5: 5.3 s per iteration against 0.28 s with
OMP_WAIT_POLICY=PASSIVE and 0.4 s with 1 thread): a spinning thread waits at every barrier for
a thread the OS has descheduled.  So PASSIVE is the default unless OMP_WAIT_POLICY is set; on an
idle, dedicated machine spinning can be a little faster for PyTorch's many small LSTM ops: pass
--omp-wait-policy ACTIVE there.  Our matrix products run on oneDNN's OpenMP threads too (the
same policy), unless CAFFE_GEMM=openblas puts them on OpenBLAS (pthreads); --compare-gemm times
our standard net on OpenBLAS too, in a pass of its own (OpenBLAS's threads spin after each call
and slowed the contender that followed them: ROW on the medium net measured no faster than
standard when it ran right after).

Default --iterations: small 20, medium 10, 3-layer 10, large 10 timed iterations after --warmup
1.  10 is about the fewest over which a schedule's mix of periods gives the target rate
(±0.03); one round of the five contenders took about 1.2 s (small), 5.3 s (medium) and 22 s
(large) on a shared 2-core machine where the benchmark got under half of the cores, so the
whole default run (4 configs × 3 rates) takes about 22 minutes there and about 10-15 minutes on
a quiet 2-core machine; the large config is 60% of it.  A value given on the command line
applies to every configuration.
PyTorch is a benchmark-only dependency (`pip install torch`).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from lib import bench_common

VOCAB, STEPS, STREAMS = 10000, 35, 20
LR, CLIP = 1.0, 5.0
INIT_SCALE = 0.05  # uniform(-0.05, 0.05) weights, as in Zaremba et al.'s medium model
TILE_SIZE = 32
ROTATED_ROW = "ROW_ROT"  # --rotate-offset: ROW with approx_dropout_param.rotate_offset
PATTERNS = ("NONE", "ROW", ROTATED_ROW, "TILE", "IDEAL")
# --compare-gemm: our standard net once more, its matrix products on OpenBLAS instead of oneDNN.
OPENBLAS_ROW = "NONE_OPENBLAS"


@dataclass(frozen=True)
class LmShape:
    """Sizes of the language model and its batch: V words, L LSTMs of H units, T steps × N
    streams."""
    vocab: int
    hidden: int
    layers: int
    steps: int = STEPS
    streams: int = STREAMS

    @property
    def tokens(self) -> int:
        return self.steps * self.streams


@dataclass(frozen=True)
class Config:
    name: str
    shape: LmShape
    iterations: int  # default timed iterations (see the module docstring)


CONFIGS = {config.name: config for config in (
    Config("small", LmShape(VOCAB, 200, 2), 20),
    Config("medium", LmShape(VOCAB, 650, 2), 10),
    Config("large", LmShape(VOCAB, 1500, 2), 10),
    Config("3-layer", LmShape(VOCAB, 650, 3), 10),
)}


def kept_width(width: int, ratio: float) -> int:
    """k = round((1-p)·width): the input units a rate-p dropout keeps on average."""
    return round((1 - ratio) * width)


# ---------------------------------------------------------------------------------------------
# Prototxt text.

def _uniform_filler() -> str:
    return f'weight_filler {{ type: "uniform" min: {-INIT_SCALE} max: {INIT_SCALE} }}'


def _input_layer(shape: LmShape) -> str:
    dims = f"shape {{ dim: {shape.steps} dim: {shape.streams} }}"
    return ('layer { name: "input" type: "Input" top: "data" top: "target" top: "cont" '
            f'input_param {{ {dims} {dims} {dims} }} }}\n')


def _embed_layer(shape: LmShape, width: int) -> str:
    return ('layer { name: "embed" type: "Embed" bottom: "data" top: "emb" '
            f'embed_param {{ num_output: {width} input_dim: {shape.vocab} bias_term: false '
            f'{_uniform_filler()} }} }}\n')


def _dropout_layer(index: int, blob: str, ratio: float) -> str:
    return (f'layer {{ name: "drop{index}" type: "Dropout" bottom: "{blob}" top: "{blob}" '
            f'dropout_param {{ dropout_ratio: {ratio} }} }}\n')


def _approx_param(pattern: str, ratio: float, schedule_file: str, tile_size: int,
                  rotate: bool = False) -> str:
    tile = f" tile_size: {tile_size}" if pattern == "TILE" else ""
    rotation = " rotate_offset: true row_layout: BLOCKS" if rotate else ""
    return (f'approx_dropout_param {{ pattern: {pattern} drop_side: INPUT dropout_ratio: {ratio}'
            f'{tile}{rotation} schedule_file: "{schedule_file}" }}')


def _lstm_layer(index: int, bottom: str, hidden: int, approx: str = "") -> str:
    kind = "LSTMApproxDropout" if approx else "LSTM"
    return (f'layer {{ name: "lstm{index}" type: "{kind}" bottom: "{bottom}" bottom: "cont" '
            f'top: "h{index}" recurrent_param {{ num_output: {hidden} {_uniform_filler()} }} '
            f'{approx} }}\n')


def _decoder_and_loss(bottom: str, vocab: int, approx: str = "") -> str:
    kind = "InnerProductApproxDropout" if approx else "InnerProduct"
    return (f'layer {{ name: "decoder" type: "{kind}" bottom: "{bottom}" top: "logits" '
            f'inner_product_param {{ num_output: {vocab} axis: 2 {_uniform_filler()} }} '
            f'{approx} }}\n'
            'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "logits" bottom: "target" '
            'top: "loss" softmax_param { axis: 2 } }\n')


def _slice_front(blob: str, width: int) -> str:
    """Slice the first `width` units of blob (axis 2) into blob_k; the rest is silenced."""
    return (f'layer {{ name: "slice_{blob}" type: "Slice" bottom: "{blob}" top: "{blob}_k" '
            f'top: "{blob}_rest" slice_param {{ axis: 2 slice_point: {width} }} }}\n'
            f'layer {{ name: "silence_{blob}" type: "Silence" bottom: "{blob}_rest" }}\n')


def standard_net(shape: LmShape, ratio: float) -> str:
    """Embed, Dropout, (LSTM, Dropout) × L, InnerProduct decoder, softmax loss."""
    text = 'name: "lstm_lm_standard"\n' + _input_layer(shape) + _embed_layer(shape, shape.hidden)
    text += _dropout_layer(0, "emb", ratio)
    bottom = "emb"
    for index in range(1, shape.layers + 1):
        text += _lstm_layer(index, bottom, shape.hidden)
        bottom = f"h{index}"
        text += _dropout_layer(index, bottom, ratio)
    return text + _decoder_and_loss(bottom, shape.vocab)


def approx_net(shape: LmShape, ratio: float, pattern: str, schedule_dir: Path,
               tile_size: int = TILE_SIZE, rotate: bool = False) -> str:
    """The standard net's dropouts moved into the layers that read the dropped units:
    LSTMApproxDropout × L and an InnerProductApproxDropout decoder (pattern ROW or TILE; ROW
    with rotate_offset if `rotate`).  Schedule files are absolute paths in schedule_dir (relative
    ones would resolve against the current directory)."""
    def approx(layer: str) -> str:
        schedule = schedule_dir.resolve() / f"{layer}.schedule"
        return _approx_param(pattern, ratio, str(schedule), tile_size, rotate)

    name = pattern.lower() + ("_rot" if rotate else "")
    text = f'name: "lstm_lm_{name}"\n' + _input_layer(shape)
    text += _embed_layer(shape, shape.hidden)
    bottom = "emb"
    for index in range(1, shape.layers + 1):
        text += _lstm_layer(index, bottom, shape.hidden, approx(f"lstm{index}"))
        bottom = f"h{index}"
    return text + _decoder_and_loss(bottom, shape.vocab, approx("decoder"))


def ideal_net(shape: LmShape, ratio: float) -> str:
    """No dropout; every LSTM input and the decoder input k = round((1-p)·H) wide (see the
    module docstring)."""
    kept = kept_width(shape.hidden, ratio)
    if not 1 <= kept < shape.hidden:
        raise ValueError(f"dropout rate {ratio} keeps {kept} of {shape.hidden} units; "
                         "the ideal net needs 1 <= k < H")
    text = 'name: "lstm_lm_ideal"\n' + _input_layer(shape) + _embed_layer(shape, kept)
    bottom = "emb"
    for index in range(1, shape.layers + 1):
        text += _lstm_layer(index, bottom, shape.hidden)
        text += _slice_front(f"h{index}", kept)
        bottom = f"h{index}_k"
    return text + _decoder_and_loss(bottom, shape.vocab)


def solver_text(net_path: Path) -> str:
    return (f'net: "{net_path}"\nbase_lr: {LR}\nmomentum: 0\nweight_decay: 0\n'
            f'lr_policy: "fixed"\nclip_gradients: {CLIP}\nmax_iter: 100000000\ndisplay: 0\n'
            'snapshot_after_train: false\nsolver_mode: CPU\nrandom_seed: 1\n')


# ---------------------------------------------------------------------------------------------
# Schedules.

# ---------------------------------------------------------------------------------------------
# Contenders.

def random_batch(shape: LmShape, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Word ids (data, target) of shape [T, N], as float32 for the Input blobs."""
    rng = np.random.default_rng(seed)
    words = rng.integers(0, shape.vocab, (2, shape.steps, shape.streams))
    return words[0].astype(np.float32), words[1].astype(np.float32)


def make_solver(caffe: Any, net_path: Path, batch: tuple[np.ndarray, np.ndarray]) -> Any:
    """A pycaffe solver over the net at net_path, with its Input blobs filled."""
    solver_path = net_path.with_name(net_path.stem + "_solver.prototxt")
    solver_path.write_text(solver_text(net_path))
    solver = caffe.get_solver(str(solver_path))
    data, target = batch
    solver.net.blobs["data"].data[...] = data
    solver.net.blobs["target"].data[...] = target
    solver.net.blobs["cont"].data[...] = 1.0
    return solver


def torch_step(torch: Any, shape: LmShape, ratio: float,
               batch: tuple[np.ndarray, np.ndarray]) -> Callable[[], None]:
    """One PyTorch training iteration of the standard-dropout net (same sizes and update)."""
    nn = torch.nn
    embed = nn.Embedding(shape.vocab, shape.hidden)
    lstm = nn.LSTM(shape.hidden, shape.hidden, num_layers=shape.layers, dropout=ratio)
    decoder = nn.Linear(shape.hidden, shape.vocab)
    drop = nn.Dropout(ratio)
    modules = nn.ModuleList([embed, lstm, decoder, drop]).train()
    params = list(modules.parameters())
    optimizer = torch.optim.SGD(params, lr=LR, momentum=0.0)
    loss_fn = nn.CrossEntropyLoss()
    data = torch.from_numpy(batch[0].astype(np.int64))
    target = torch.from_numpy(batch[1].astype(np.int64)).reshape(-1)
    carried: Optional[tuple[Any, Any]] = None  # (h, c) of the previous iteration

    def step() -> None:
        nonlocal carried
        optimizer.zero_grad(set_to_none=False)
        output, (hidden, cell) = lstm(drop(embed(data)), carried)
        loss = loss_fn(decoder(drop(output)).reshape(-1, shape.vocab), target)
        loss.backward()
        nn.utils.clip_grad_norm_(params, CLIP)
        optimizer.step()
        carried = (hidden.detach(), cell.detach())  # truncated BPTT, as our LSTM
    return step


def our_nets(shape: LmShape, ratio: float, workdir: Path,
             rotate: bool = False) -> dict[str, str]:
    """Prototxt text of our four contenders (five with `rotate`: ROW_ROT), keyed by pattern."""
    nets = {"NONE": standard_net(shape, ratio),
            "ROW": approx_net(shape, ratio, "ROW", workdir / "row")}
    if rotate:
        nets[ROTATED_ROW] = approx_net(shape, ratio, "ROW", workdir / "row_rot", rotate=True)
    nets["TILE"] = approx_net(shape, ratio, "TILE", workdir / "tile")
    nets["IDEAL"] = ideal_net(shape, ratio)
    return nets


def on_openblas(caffe: Any, solver: Any) -> Callable[[], None]:
    """A step of `solver` with the CPU matrix products on OpenBLAS (then back to oneDNN)."""
    def step() -> None:
        caffe.set_gemm_backend("openblas")
        try:
            solver.step(1)
        finally:
            caffe.set_gemm_backend("onednn")
    return step


def build_contenders(caffe: Any, torch: Any, shape: LmShape, ratio: float, workdir: Path,
                     iterations: int, warmup: int, compare_gemm: bool = False,
                     rotate: bool = False) -> dict[str, Callable[[], None]]:
    """Solvers for our nets (schedules written) and the PyTorch step, as timed steps; with
    compare_gemm also the standard net on OpenBLAS's products, with rotate also ROW_ROT."""
    batch = random_batch(shape)
    steps = {}
    for pattern, text in our_nets(shape, ratio, workdir, rotate).items():
        net_path = workdir / f"{pattern.lower()}_{shape.hidden}x{shape.layers}_{ratio}.prototxt"
        net_path.write_text(text)
        if pattern in ("ROW", ROTATED_ROW, "TILE"):
            (workdir / pattern.lower()).mkdir(exist_ok=True)
            rates = bench_common.write_aligned_schedules(net_path, iterations, warmup)
            print(f"  {pattern} drop rate over the timed iterations: "
                  + ", ".join(f"{layer} {rate:.2f}" for layer, rate in rates.items()))
        solver = make_solver(caffe, net_path, batch)
        steps[pattern] = lambda s=solver: s.step(1)
        if compare_gemm and pattern == "NONE":
            steps[OPENBLAS_ROW] = on_openblas(caffe, make_solver(caffe, net_path, batch))
    steps["torch"] = torch_step(torch, shape, ratio, batch)
    return steps


# ---------------------------------------------------------------------------------------------
# Results.

def row_patterns(samples: dict[str, list[float]]) -> list[str]:
    """Our contenders that were timed, in table order."""
    return [pattern for pattern in PATTERNS + (OPENBLAS_ROW,) if pattern in samples]


def result_rows(config: Config, ratio: float, samples: dict[str, list[float]]) -> list[dict]:
    """The JSON rows of one (config, ratio) group from each contender's timed samples."""
    mean = bench_common.means(samples)
    shape = config.shape
    rows = []
    for pattern in row_patterns(samples):
        with_torch = pattern in ("NONE", OPENBLAS_ROW)
        rows.append({"config": config.name, "hidden": shape.hidden, "layers": shape.layers,
                     "pattern": pattern, "ratio": ratio,
                     "ms_ours": round(mean[pattern], 3),
                     "ms_torch": round(mean["torch"], 3) if with_torch else None,
                     "speedup": round(mean["NONE"] / mean[pattern], 3),
                     "tokens_per_s": round(shape.tokens / (mean[pattern] / 1e3), 1)})
    return rows


def print_results(rows: Sequence[dict], medians: Sequence[float]) -> None:
    """The table of all rows; medians[i] is the median ms of rows[i] (printed, not in JSON)."""
    bench_common.print_table(
        ["config", "H", "L", "pattern", "p", "ms_ours", "median", "ms_torch", "speedup",
         "tokens/s"],
        [[r["config"], r["hidden"], r["layers"], r["pattern"], r["ratio"], r["ms_ours"],
          round(median, 3), "-" if r["ms_torch"] is None else r["ms_torch"], r["speedup"],
          r["tokens_per_s"]] for r, median in zip(rows, medians)])


# ---------------------------------------------------------------------------------------------
# Command line.

def _ratio(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"dropout rate must be in (0, 1), got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Default timed iterations: " + ", ".join(
            f"{c.name} {c.iterations}" for c in CONFIGS.values()))
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS),
                        help="configurations to run (default: all)")
    parser.add_argument("--ratios", type=_ratio, nargs="+", default=[0.3, 0.5, 0.7],
                        help="dropout rates p (default: 0.3 0.5 0.7)")
    parser.add_argument("--threads", type=_positive, default=os.cpu_count(),
                        help="threads for both frameworks (default: all cores)")
    parser.add_argument("--iterations", type=_positive,
                        help="timed iterations for every config (default: per config, below)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument("--omp-wait-policy", type=str.upper, choices=["PASSIVE", "ACTIVE"],
                        default=os.environ.get("OMP_WAIT_POLICY", "PASSIVE").upper(),
                        help="OMP_WAIT_POLICY for PyTorch's OpenMP threads (default: the "
                             "environment's, else PASSIVE; see the module docstring)")
    parser.add_argument("--compare-gemm", action="store_true",
                        help=f"also time our standard net with its matrix products on OpenBLAS "
                             f"rather than oneDNN (row {OPENBLAS_ROW}, timed in a pass of its own "
                             "after the interleaved rounds)")
    parser.add_argument("--rotate-offset", action="store_true",
                        help=f"also time ROW with approx_dropout_param.rotate_offset (row "
                             f"{ROTATED_ROW}, same schedules, in the interleaved rounds)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    args = parser.parse_args(argv)
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    return args


def setup_frameworks(threads: int, omp_wait_policy: str) -> tuple[Any, Any]:
    """Import and configure pycaffe and PyTorch (CPU, `threads` threads); print what they use."""
    # libgomp's wait policy is read when torch loads it (import_caffe hides glog's INFO lines,
    # a solver's whole parameter set, unless GLOG_minloglevel asks for them).
    os.environ["OMP_WAIT_POLICY"] = omp_wait_policy
    caffe = bench_common.import_caffe()
    import torch
    caffe.set_mode_cpu()
    caffe.set_blas_threads(threads)
    torch.set_num_threads(threads)
    print(bench_common.machine_summary(threads, caffe.blas_info()))
    print(f"PyTorch {torch.__version__}: {torch.get_num_threads()} threads, BLAS "
          f"{'MKL' if torch.backends.mkl.is_available() else 'non-MKL'}, oneDNN "
          f"{'on' if torch.backends.mkldnn.is_available() else 'off'}, OMP_WAIT_POLICY "
          f"{omp_wait_policy}")
    return caffe, torch


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    try:
        caffe, torch = setup_frameworks(args.threads, args.omp_wait_policy)
    except ImportError as error:
        print(f"bench_lstm: {error}; PyTorch is a benchmark-only dependency (`pip install "
              "torch`)", file=sys.stderr)
        return 1
    print(f"V {VOCAB}, T {STEPS}, N {STREAMS}; SGD lr {LR}, clip {CLIP}; mean (and median) over "
          f"the timed iterations after {args.warmup} warm-up rounds, interleaved\n")
    rows: list[dict] = []
    medians: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs:
            config = CONFIGS[name]
            iterations = args.iterations or config.iterations
            for ratio in args.ratios:
                print(f"{name} ({config.shape.layers}×{config.shape.hidden}), p {ratio}: "
                      f"{iterations} timed iterations")
                steps = build_contenders(caffe, torch, config.shape, ratio, Path(tmp),
                                         iterations, args.warmup, args.compare_gemm,
                                         args.rotate_offset)
                # OpenBLAS's threads spin for a while after each call and would slow whichever
                # contender followed; so the OpenBLAS step is timed in a pass of its own.
                openblas = steps.pop(OPENBLAS_ROW, None)
                samples = bench_common.time_side_by_side(steps, iterations, args.warmup)
                if openblas is not None:
                    samples.update(bench_common.time_side_by_side(
                        {OPENBLAS_ROW: openblas}, iterations, args.warmup))
                rows += result_rows(config, ratio, samples)
                medians += [statistics.median(samples[pattern])
                            for pattern in row_patterns(samples)]
                del steps
    print()
    print_results(rows, medians)
    bench_common.write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
