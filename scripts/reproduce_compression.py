#!/usr/bin/env python3
"""Reproduce the compressed weight exchange of Øland & Raj (ICASSP 2015), "Reducing communication
overhead in distributed learning by an order of magnitude (almost)".

The paper's 784-392-50-10 tanh MLP on MNIST, trained data-parallel by K = 5 workers
(`mpirun -np 5 caffe train`, each rank on every 5th image) with synchronous model averaging
after each epoch of a rank's shard, once per codec setting and seed:
  baseline    no compression (--codec none, 32 bits per weight);
  fixed:B     B bits per weight (B = 2..10) and Huffman coding (the paper's Fig. 1);
  c=C,M=M     the dynamic codec, N = round(H) + c bits where H is the entropy of an M-bit
              quantization of 3% of the weights, and Huffman coding: c + M = 10 (Fig. 4a) and
              M = 4 with c = 2..8 (Fig. 4b, and Fig. 5 at c = 5 and 6).
Seeds change the weight initialization (solver random_seed); the data order is the same.

Solver (every run; change with the flags): SGD, batch 32 per rank, base_lr 0.1, momentum 0.9,
exponential lr decay (lr_policy "exp", lr x 0.9 per epoch), L1 regularization
(regularization_type "L1", weight_decay 3e-5), 6 epochs; rank 0 tests its averaged model on the
10,000 test images after every sync.  Default: 21 settings x 5 seeds = 105 runs of about 16 s:
28 minutes measured on 2 shared cores (5 ranks oversubscribe them; runs go one after another).

Per run: final and peak test accuracy, epochs to the peak, and the mean over syncs of the bits
per parameter of rank 0's packages, quantized and after Huffman (from the trainer's sync log
lines), and package / float32: the bytes of the trained model's packages (the setting's codec,
headers included) over its float32 bytes.  Writes DOCS/data/reproduce_compression.json (rows),
DOCS/data/reproduce_compression.md (mean ± std over seeds) and DOCS/compression_fig{1,4,5}.png.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from lib import bench_common, compression_report, compression_runs, mnist_lmdb
from lib.caffe_tools import ScriptError
from lib.compression_runs import Schedule, Setting

REPO = bench_common.REPO
DEFAULT_SETTINGS = (["baseline"] + [f"fixed:{bits}" for bits in range(2, 11)]
                    + [f"c={c},M={10 - c}" for c in (8, 7, 6, 5, 4)]
                    + [f"c={c},M=4" for c in (2, 3, 4, 5, 7, 8)])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", default=DEFAULT_SETTINGS, metavar="SETTING",
                        help="baseline, fixed:B or c=C,M=M (default: the paper's figures, "
                             f"{len(DEFAULT_SETTINGS)} settings)")
    parser.add_argument("--seeds", type=int, default=5, help="runs per setting (seeds 1..N)")
    parser.add_argument("--epochs", type=int, default=6, help="epochs of a rank's shard")
    parser.add_argument("--ranks", type=int, default=5, help="K, the MPI ranks (workers)")
    parser.add_argument("--batch", type=int, default=32, help="batch size per rank")
    parser.add_argument("--base-lr", type=float, default=0.1)
    parser.add_argument("--lr-decay", type=float, default=0.9,
                        help="lr factor per epoch (lr_policy exp, gamma = decay^(1/iterations))")
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--l1", type=float, default=3e-5,
                        help="weight_decay with regularization_type L1")
    parser.add_argument("--codec-F", type=float, default=0.03, dest="fraction",
                        help="F: the share of weights the dynamic codec samples")
    parser.add_argument("--train-limit", type=int, default=0,
                        help="train on the first N MNIST training images (0: all 60,000)")
    parser.add_argument("--test-limit", type=int, default=0,
                        help="test on the first N test images (0: all 10,000)")
    parser.add_argument("--data-dir", type=Path,
                        help="folder with the MNIST IDX files (default: ../shared/data/mnist, "
                             "else a download)")
    parser.add_argument("--build-dir", default=os.environ.get("CAFFE_BUILD_DIR", "build"),
                        help="the build folder (its tools/caffe and convert_mnist_data)")
    parser.add_argument("--out-dir", type=Path,
                        default=REPO / "examples_out" / "reproduce_compression",
                        help="LMDBs, and each run's net, solver and train.log")
    parser.add_argument("--docs-dir", type=Path, default=REPO / "docs",
                        help="figures go here, the JSON and Markdown into its data/ folder")
    parser.add_argument("--keep-models", action="store_true",
                        help="keep each run's final .caffemodel and .solverstate")
    parser.add_argument("--resume", action="store_true",
                        help="skip the runs the JSON file already holds for the same schedule")
    parser.add_argument("--from-json", type=Path,
                        help="train nothing: redraw the table and figures from this JSON file")
    args = parser.parse_args(argv)
    try:
        args.settings = [Setting(name) for name in dict.fromkeys(args.settings)]
    except ValueError as error:
        parser.error(str(error))
    for name in ("seeds", "epochs", "ranks", "batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def config(schedule: Schedule) -> dict[str, object]:
    """What the JSON file says every run trained."""
    return {"net": "784-392-50-10 tanh MLP (models/mnist_tanh_dist)",
            "sync": "model_average after each epoch of a rank's shard",
            "lr_policy": "exp", "regularization_type": "L1", "gamma": schedule.gamma,
            "iterations_per_epoch": schedule.iterations_per_epoch,
            **dataclasses.asdict(schedule)}


def describe(schedule: Schedule) -> str:
    return (f"K = {schedule.ranks} ranks, {schedule.epochs} epochs of "
            f"{schedule.iterations_per_epoch} iterations (batch {schedule.batch} per rank, "
            f"{schedule.train_records} training / {schedule.test_records} test images), SGD "
            f"base_lr {schedule.base_lr} x {schedule.lr_decay_per_epoch} per epoch (exp, gamma "
            f"{schedule.gamma:.6f}), momentum {schedule.momentum}, L1 weight_decay "
            f"{schedule.l1_decay}, dynamic codec F = {schedule.fraction}")


def report(rows: list[dict], header: str, docs_dir: Path) -> None:
    """Prints and writes the Markdown summary, and draws the figures."""
    text = (f"{header}\n\n{compression_report.markdown_table(rows)}\n\n"
            f"{compression_report.PAPER_NOTE}\n")
    print("\n" + text)
    (docs_dir / "data").mkdir(parents=True, exist_ok=True)
    (docs_dir / "data" / "reproduce_compression.md").write_text(text)
    figures = compression_report.figures(rows, docs_dir)
    print("wrote " + ", ".join(str(path) for path in
                               [docs_dir / "data" / "reproduce_compression.md", *figures]))


def save(path: Path, schedule_config: dict[str, object], rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config": schedule_config, "rows": rows}, indent=1) + "\n")


def previous_rows(path: Path, schedule_config: dict[str, object]) -> list[dict]:
    """The rows of an earlier run of the same schedule (for --resume)."""
    if not path.is_file():
        return []
    saved = json.loads(path.read_text())
    return saved["rows"] if saved.get("config") == schedule_config else []


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    json_path = args.docs_dir / "data" / "reproduce_compression.json"
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        schedule = Schedule(**{field.name: saved["config"][field.name]
                               for field in dataclasses.fields(Schedule)})
        report(saved["rows"], describe(schedule), args.docs_dir)
        return 0
    build = Path(args.build_dir) if Path(args.build_dir).is_absolute() else REPO / args.build_dir
    bench_common.import_caffe()
    from tqdm import tqdm

    try:
        data = mnist_lmdb.prepare(args.out_dir / "mnist", build / "tools", args.data_dir,
                                  args.train_limit, args.test_limit)
    except (ScriptError, mnist_lmdb.get_mnist.ScriptError) as error:
        raise SystemExit(f"reproduce_compression.py: error: {error}") from error
    schedule = Schedule(args.ranks, args.epochs, args.batch, args.base_lr, args.lr_decay,
                        args.momentum, args.l1, args.fraction, data.train_count, data.test_count)
    schedule_config = config(schedule)
    rows = previous_rows(json_path, schedule_config) if args.resume else []
    done = {(row["setting"], row["seed"]) for row in rows}
    plan = [(setting, seed) for seed in range(1, args.seeds + 1) for setting in args.settings
            if (setting.name, seed) not in done]
    print(f"MNIST from {data.source}; {describe(schedule)}\n{len(plan)} runs to train "
          f"({len(done)} already in {json_path})", flush=True)
    caffe = build / "tools" / "caffe"
    progress = tqdm(plan, unit="run")
    for setting, seed in progress:
        progress.set_postfix_str(f"{setting.name} seed {seed}")
        run_dir = args.out_dir / "runs" / f"{setting.name.replace(',', '_')}_seed{seed}"
        try:
            result = compression_runs.train(run_dir, setting, seed, schedule, data.train,
                                            data.test, caffe, args.keep_models)
        except ScriptError as error:
            raise SystemExit(f"reproduce_compression.py: error: {error}") from error
        rows.append(dataclasses.asdict(result))
        save(json_path, schedule_config, rows)  # after every run: an interrupted job keeps them
    order = {setting.name: index for index, setting in enumerate(args.settings)}
    rows.sort(key=lambda row: (order.get(row["setting"], len(order)), row["seed"]))
    save(json_path, schedule_config, rows)
    report(rows, describe(schedule), args.docs_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
