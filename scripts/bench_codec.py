#!/usr/bin/env python3
"""Weight codec benchmark: encode / decode MB/s of float32 input and bits per parameter of
caffe.compression (Øland & Raj's dynamic quantization + Huffman, fixed:8, fp16, none) against
zstd (levels 1, 3), zlib (levels 1, 6) and a numpy fp16 cast, on trained weights.

The weights are the MNIST MLP (784-H-H-10) trained briefly here with pycaffe on the real MNIST
images, or the blobs of --weights X.caffemodel.  Everything runs on one core (BLAS and codecs
single-threaded).  Each blob set (each weight matrix, all biases, all blobs) is encoded and
decoded blob by blob through the Python API; MB/s is float32 input bytes over the median time of
--rounds interleaved rounds after --warmup.  Targets: >= 400 MB/s encode and decode, and a
package of at most 1/7 of float32 (<= 4.57 bits per parameter) at c = 5, M = 4.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from types import ModuleType
from typing import Optional

import numpy as np

from lib import bench_common, codec_contenders, mnist_weights

TARGET_MBPS = 400.0
TARGET_RATIO = 7.0
TARGET_CODEC = "ours dynamic c=5,M=4"


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, metavar="X.caffemodel",
                        help="benchmark these weights instead of training the MNIST MLP")
    parser.add_argument("--hidden", type=int, default=2048, help="MLP hidden width (2048)")
    parser.add_argument("--train-iterations", type=int, default=500,
                        help="batches of 128 to train the MLP for (500, about one epoch)")
    parser.add_argument("--data-dir", type=Path, help="folder of the MNIST IDX files "
                        "(default: ../shared/data/mnist)")
    parser.add_argument("--save-weights", type=Path, metavar="X.caffemodel",
                        help="also write the trained MLP here (reuse it with --weights)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (7)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", metavar="FILE", help="write one row per (blob set, codec)")
    return parser.parse_args(argv)


def blob_sets(blobs: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Each multi-dimensional blob alone, all one-dimensional blobs (biases) together, and all."""
    sets = {name: [array] for name, array in blobs.items() if array.ndim > 1}
    biases = [array for array in blobs.values() if array.ndim <= 1]
    if biases:
        sets["biases"] = biases
    sets["all"] = list(blobs.values())
    return sets


def measure_set(set_name: str, arrays: list[np.ndarray],
                contenders: list[codec_contenders.Contender], rounds: int,
                warmup: int) -> list[dict]:
    packages = {c.name: [c.encode(array) for array in arrays] for c in contenders}
    steps = {}
    for c in contenders:
        steps[f"{c.name}|encode"] = lambda c=c: [c.encode(array) for array in arrays]
        steps[f"{c.name}|decode"] = lambda c=c: [c.decode(package, array) for package, array
                                                 in zip(packages[c.name], arrays)]
    median_ms = bench_common.medians(bench_common.time_side_by_side(steps, rounds, warmup))
    params = sum(array.size for array in arrays)
    megabytes = 4 * params / 1e6
    rows = []
    for c in contenders:
        size = sum(len(package) for package in packages[c.name])
        rows.append({"set": set_name, "codec": c.name, "params": params, "bytes": size,
                     "bits_per_param": 8 * size / params, "ratio_vs_float32": 4 * params / size,
                     "encode_MBps": megabytes / (median_ms[f"{c.name}|encode"] / 1e3),
                     "decode_MBps": megabytes / (median_ms[f"{c.name}|decode"] / 1e3)})
    return rows


def print_quantization(compression: ModuleType, blobs: dict[str, np.ndarray]) -> None:
    """N, the entropy estimate H and Huffman bits per parameter of each blob at c = 5 and 6."""
    rows = []
    for name, array in blobs.items():
        for c in (5, 6):
            info = compression.inspect(compression.encode(array, c=c, M=4))
            rows.append([name, array.size, c, info["entropy"], info["bits"],
                         info["huffman_bits_per_param"], info["package_bits_per_param"]])
    bench_common.print_table(["blob", "params", "c", "H (M=4)", "N", "Huffman bits/param",
                              "package bits/param"], rows)


def report_targets(rows: list[dict]) -> None:
    ours_all = next(row for row in rows if row["set"] == "all" and row["codec"] == TARGET_CODEC)
    speed_ok = min(ours_all["encode_MBps"], ours_all["decode_MBps"]) >= TARGET_MBPS
    size_ok = ours_all["ratio_vs_float32"] >= TARGET_RATIO
    print(f"target >= {TARGET_MBPS:.0f} MB/s ({TARGET_CODEC}, all blobs): encode "
          f"{ours_all['encode_MBps']:.0f}, decode {ours_all['decode_MBps']:.0f} MB/s: "
          f"{'met' if speed_ok else 'NOT met'}")
    print(f"target package <= 1/{TARGET_RATIO:.0f} of float32 ({32 / TARGET_RATIO:.2f} bits/param) "
          f"at c=5, M=4: {ours_all['bits_per_param']:.2f} bits/param "
          f"(1/{ours_all['ratio_vs_float32']:.2f}): {'met' if size_ok else 'NOT met'}")


def load_blobs(caffe: ModuleType, args: argparse.Namespace) -> tuple[dict[str, np.ndarray], str]:
    if args.weights is not None:
        return mnist_weights.read_caffemodel(caffe, args.weights), str(args.weights)
    blobs = mnist_weights.train_mlp(caffe, args.hidden, args.train_iterations, args.seed,
                                    args.data_dir, args.save_weights)
    return blobs, (f"MNIST MLP 784-{args.hidden}-{args.hidden}-10 trained "
                   f"{args.train_iterations} iterations (batch 128, seed {args.seed})")


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "CAFFE_NUM_THREADS"):
        os.environ[variable] = "1"  # one core, before the BLAS starts
    caffe = bench_common.import_caffe()
    caffe.set_mode_cpu()
    caffe.set_blas_threads(1)
    try:
        import zstandard
    except ImportError:
        zstandard = None
        print("bench_codec: the zstandard package is missing (pip install zstandard); "
              "zstd rows left out")
    blobs, origin = load_blobs(caffe, args)
    print(bench_common.machine_summary(1, caffe.blas_info()))
    print(f"weights: {origin}: {sum(a.size for a in blobs.values())} parameters in "
          f"{len(blobs)} blobs\n")
    print_quantization(caffe.compression, blobs)
    contenders = codec_contenders.contenders(caffe.compression, zstandard)
    rows = [row for name, arrays in blob_sets(blobs).items()
            for row in measure_set(name, arrays, contenders, args.rounds, args.warmup)]
    print()
    bench_common.print_table(["set", "codec", "params", "bits/param", "x smaller", "encode MB/s",
                              "decode MB/s"],
                             [[r["set"], r["codec"], r["params"], r["bits_per_param"],
                               r["ratio_vs_float32"], r["encode_MBps"], r["decode_MBps"]]
                              for r in rows])
    print()
    report_targets(rows)
    bench_common.write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
