#!/usr/bin/env python3
"""One training iteration of the MLP 784-H-H-10 (batch 128): standard dropout (InnerProduct +
ReLU + Dropout) against Approximate Random Dropout (ROW and TILE), side by side in one run.

For each hidden width H and dropout rate p it also times the physical limit: a plain dense MLP
whose hidden layers are k = round((1-p)·H) wide (no dropout), i.e. what the kept work alone
costs.  An iteration is forward + backward + SGD update (momentum 0.9, weight decay 5e-4) via
pycaffe's solver.step(1), in --iterations interleaved rounds after --warmup rounds.  An
approximate-dropout iteration costs what its period keeps, so each schedule is generated for
exactly the timed iterations (every entry used once) and the figure is the mean over them (the
median would report one period's cost); the standard and dense nets' means are used alike.
speedup = ms_standard / ms_approx; limit = ms_standard / ms_dense_k.

ROW as shipped lets the second hidden layer skip the input columns the first approximate layer
left zero (beyond the paper).  TILE's outputs have no zero columns to skip, so the run also times
ROW with that skip switched off (caffe.set_column_skip(False)): ms_row_no_skip, the paper's ROW,
which does the same fraction of each layer's work as TILE.

--tile-order picks TILE's approx_dropout_param.tile_order; `both` times STAGGERED and ROW_MAJOR
side by side on the same schedules (one row each, and a table of their ratio).

ROW BLOCKS is ROW with approx_dropout_param.row_layout: BLOCKS (each period's kept units one
contiguous run instead of every dp-th unit), on the same schedules: its products read and write
the kept rows and columns in place, with no gather or scatter.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from lib import bench_common, mlp_nets

BATCH = 128
TILE_ORDERS = ("STAGGERED", "ROW_MAJOR")
ROW_BLOCKS = "ROW BLOCKS"  # ROW with row_layout: BLOCKS


def make_solver(caffe, workdir: Path, name: str, hidden: list[int],
                layers: list[mlp_nets.HiddenLayer], data: np.ndarray, labels: np.ndarray,
                rounds: tuple[int, int], period: int | None = None):
    """A solver for the MLP; `rounds` = (timed iterations, warm-up) aligns the schedules;
    `period` replaces every schedule entry by that period (offsets cycling through it)."""
    net_path = workdir / f"{name}.prototxt"
    net_path.write_text(mlp_nets.input_mlp(hidden, layers, BATCH))
    if any(layer.kind in ("row", "tile") for layer in layers):
        bench_common.write_aligned_schedules(net_path, *rounds)
        if period:
            fix_period([layer.schedule_file for layer in layers], period)
    solver_path = workdir / f"{name}_solver.prototxt"
    solver_path.write_text(f'net: "{net_path}"\nbase_lr: 0.01\nmomentum: 0.9\n'
                           'weight_decay: 0.0005\nlr_policy: "fixed"\nmax_iter: 1000000\n'
                           'display: 0\nsnapshot_after_train: false\nsolver_mode: CPU\n'
                           'random_seed: 1\n')
    return load_solver(caffe, solver_path, data, labels), net_path


def load_solver(caffe, solver_path: Path, data: np.ndarray, labels: np.ndarray):
    """A solver from its prototxt, with the batch written into its Input blobs."""
    solver = caffe.get_solver(str(solver_path))
    solver.net.blobs["data"].data[...] = data
    solver.net.blobs["label"].data[...] = labels
    return solver


def fix_period(schedule_files: list[str | None], period: int) -> None:
    """Rewrites each schedule to the constant `period` (offsets 0, 1, ..., period-1, 0, ...),
    keeping its length: a profile of one period's cost."""
    from caffe import approx_dropout
    for path in filter(None, schedule_files):
        schedule = approx_dropout.read_schedule(path)
        length = len(schedule.period)
        schedule.period[:] = [period] * length
        schedule.offset[:] = [j % period for j in range(length)]
        schedule.max_period = period
        schedule.distribution[:] = [0.0] * (period - 1) + [1.0]
        approx_dropout.write_schedule(schedule, path)


def step_without_skip(caffe, solver) -> None:
    caffe.set_column_skip(False)
    try:
        solver.step(1)
    finally:
        caffe.set_column_skip(True)


def caffe_time(build: Path, net_path: Path, threads: int) -> str:
    """Per-layer forward/backward times from `caffe time` (TRAIN phase)."""
    result = subprocess.run([str(build / "tools" / "caffe"), "time", f"--model={net_path}",
                             "--iterations=10", "--phase=TRAIN", f"--threads={threads}"],
                            capture_output=True, text=True, env=bench_common.caffe_tool_env())
    lines = [line.split("] ", 1)[-1] for line in result.stderr.splitlines()
             if "forward:" in line or "backward:" in line or "Average" in line]
    return "\n".join(lines) if result.returncode == 0 else result.stderr.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.3, 0.5, 0.7])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--period", type=int,
                        help="profile one period: every ROW/TILE schedule entry gets this period "
                             "(dense_k still uses --ratios)")
    parser.add_argument("--tile-order", choices=[*TILE_ORDERS, "both"], default="STAGGERED",
                        help="TILE's tile_order (default: STAGGERED, the layer's default); both: "
                             "time the two side by side")
    parser.add_argument("--clock", choices=sorted(bench_common.CLOCKS), default="wall",
                        help="time on the wall clock (default) or as the process's CPU time (a "
                             "loaded machine's wall clock also counts the waits for a core)")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--caffe-time", action="store_true",
                        help="also print `caffe time` per-layer tables for standard, ROW and TILE")
    parser.add_argument("--build-dir", default=os.environ.get("CAFFE_BUILD_DIR", "build"))
    args = parser.parse_args(argv)

    build = Path(args.build_dir) if Path(args.build_dir).is_absolute() else bench_common.REPO / args.build_dir
    caffe = bench_common.import_caffe()
    caffe.set_mode_cpu()
    caffe.set_blas_threads(args.threads)
    print(bench_common.machine_summary(args.threads, caffe.blas_info()))
    print(f"{args.iterations} timed iterations after {args.warmup} warm-up, mean; batch {BATCH}; "
          f"{args.clock} clock\n")

    rng = np.random.default_rng(0)
    data = rng.random((BATCH, 784), dtype=np.float32)
    labels = rng.integers(0, 10, BATCH).astype(np.float32)
    tile_orders = TILE_ORDERS if args.tile_order == "both" else (args.tile_order,)
    approx = ["ROW", ROW_BLOCKS] + [tile_net(order) for order in tile_orders]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for hidden in args.hidden:
            for ratio in args.ratios:
                kept = round((1 - ratio) * hidden)
                nets = {
                    "standard": ([hidden] * 2, [mlp_nets.HiddenLayer("standard", ratio)] * 2),
                    "ROW": ([hidden] * 2, approx_layers("row", ratio, workdir)),
                    ROW_BLOCKS: ([hidden] * 2, approx_layers("row", ratio, workdir,
                                                             row_layout="BLOCKS")),
                    **{tile_net(order): ([hidden] * 2, approx_layers("tile", ratio, workdir, order))
                       for order in tile_orders},
                    "dense_k": ([kept] * 2, [mlp_nets.HiddenLayer("dense")] * 2),
                }
                solvers, paths = {}, {}
                for name, (widths, layers) in nets.items():
                    solvers[name], paths[name] = make_solver(
                        caffe, workdir, f"{name.replace(' ', '_')}_{hidden}_{ratio}", widths,
                        layers, data, labels, (args.iterations, args.warmup), args.period)
                # The paper's ROW: a second solver on the same files, stepped with the column
                # skip off.
                solvers["ROW_no_skip"] = load_solver(
                    caffe, workdir / f"ROW_{hidden}_{ratio}_solver.prototxt", data, labels)
                steps = {name: (lambda s=solver: s.step(1)) for name, solver in solvers.items()}
                steps["ROW_no_skip"] = lambda s=solvers["ROW_no_skip"]: step_without_skip(caffe, s)
                samples = bench_common.time_side_by_side(steps, args.iterations, args.warmup,
                                                          clock=args.clock)
                means = bench_common.means(samples)
                timed = {pattern: {
                    "hidden": hidden, "pattern": pattern.split()[0], "ratio": ratio,
                    "tile_order": pattern.split()[1] if pattern.startswith("TILE ") else "",
                    "row_layout": pattern.split()[1] if pattern.startswith("ROW ") else "",
                    "ms_standard": round(means["standard"], 3),
                    "ms_approx": round(means[pattern], 3),
                    "ms_dense_k": round(means["dense_k"], 3),
                    "ms_row_no_skip": round(means["ROW_no_skip"], 3),
                    "speedup": round(means["standard"] / means[pattern], 3),
                    "limit": round(means["standard"] / means["dense_k"], 3)} for pattern in approx}
                if args.tile_order == "both":
                    timed[tile_net("STAGGERED")]["staggered_vs_row_major"] = round(paired_ratio(
                        samples[tile_net("STAGGERED")], samples[tile_net("ROW_MAJOR")]), 3)
                rows += timed.values()
                if args.caffe_time and hidden == 2048 and ratio == 0.5:
                    for name in ("standard", *approx):
                        print(f"caffe time, {name}, H=2048, p=0.5:\n{caffe_time(build, paths[name], args.threads)}\n")
                del solvers
    bench_common.print_table(
        ["H", "pattern", "p", "ms_standard", "ms_approx", "ms_dense_k", "speedup", "limit",
         "% of limit", "ms_row_no_skip", "vs ROW no-skip"],
        [[r["hidden"], f'{r["pattern"]} {r["tile_order"] or r["row_layout"]}'.strip(), r["ratio"],
          r["ms_standard"],
          r["ms_approx"], r["ms_dense_k"], r["speedup"], r["limit"],
          f"{100 * r['speedup'] / r['limit']:.0f}%",
          r["ms_row_no_skip"], f"{r['ms_approx'] / r['ms_row_no_skip']:.2f}x"] for r in rows])
    if args.tile_order == "both":
        print_order_ratios(rows)
    bench_common.write_json(args.json, rows)
    return 0


def approx_layers(kind: str, ratio: float, workdir: Path, tile_order: str | None = None,
                  row_layout: str | None = None) -> list[mlp_nets.HiddenLayer]:
    """The two hidden layers of a ROW or TILE net, each with its own schedule file."""
    tag = "".join(f"_{option}" for option in (tile_order, row_layout) if option)
    return [mlp_nets.HiddenLayer(kind, ratio, str(workdir / f"{kind}{i}{tag}.schedule"),
                                 tile_order=tile_order, row_layout=row_layout) for i in (1, 2)]


def tile_net(order: str) -> str:
    """The name of the TILE net of a tile order (also its pattern and order in the output)."""
    return f"TILE {order}"


def paired_ratio(staggered: list[float], row_major: list[float]) -> float:
    """The median over the timed iterations of staggered / row-major.  Both solvers step in
    lockstep on identical schedules (same layer names and tile counts), so iteration j has the
    same period in both: the ratio of a pair does not depend on which period came up, and the
    median ignores the iterations a loaded machine slowed down."""
    return statistics.median(s / r for s, r in zip(staggered, row_major))


def print_order_ratios(rows: list[dict]) -> None:
    """STAGGERED against ROW_MAJOR per (H, p): the two TILE rows timed side by side."""
    tiles = {(r["hidden"], r["ratio"], r["tile_order"]): r for r in rows if r["pattern"] == "TILE"}
    print("\nTILE, staggered against row-major (same schedules, timed side by side):")
    bench_common.print_table(
        ["H", "p", "ms_staggered", "ms_row_major", "ratio of means", "median paired ratio"],
        [[h, p, row["ms_approx"], tiles[(h, p, "ROW_MAJOR")]["ms_approx"],
          f"{row['ms_approx'] / tiles[(h, p, 'ROW_MAJOR')]['ms_approx']:.3f}",
          f"{row['staggered_vs_row_major']:.3f}"]
         for (h, p, order), row in tiles.items() if order == "STAGGERED"])


if __name__ == "__main__":
    sys.exit(main())
