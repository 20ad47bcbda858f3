#!/usr/bin/env python3
"""Find MNIST (or Fashion-MNIST) and convert it into the LMDBs the example nets read.

Where the IDX files come from, first match wins:
  1. --data-dir DIR (the four IDX files, .gz or plain),
  2. MNIST: ../shared/data/mnist beside the repository;
     Fashion-MNIST: /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist),
  3. a download from the standard mirrors, where the machine has internet.
--auto takes MNIST when a local copy exists and Fashion-MNIST otherwise (and says so loudly).

The files' IDX headers are checked here, then build/tools/convert_mnist_data writes
OUT/train_lmdb and OUT/test_lmdb.  A marker file (OUT/CONVERTED.json) records a finished
conversion, so running again does nothing unless --force is given.
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Optional

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/"],
    "fashion": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}
NAMES = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}
# split -> (images file, labels file), without the optional .gz
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
MARKER = "CONVERTED.json"
DOWNLOAD_TIMEOUT_S = 30


class ScriptError(Exception):
    """A problem the user can fix; printed as one line."""


@dataclass
class Source:
    dataset: str          # "mnist" or "fashion"
    directory: Path
    description: str      # how it was found, for the log
    files: dict[str, tuple[Path, Path]]  # split -> (images, labels)


def find_idx_files(directory: Path) -> Optional[dict[str, tuple[Path, Path]]]:
    """The four IDX files in `directory` (each .gz or plain), or None if any is missing."""
    found: dict[str, tuple[Path, Path]] = {}
    for split, bases in SPLITS.items():
        paths = []
        for base in bases:
            candidates = [directory / (base + ".gz"), directory / base]
            existing = [path for path in candidates if path.is_file()]
            if not existing:
                return None
            paths.append(existing[0])
        found[split] = (paths[0], paths[1])
    return found


def open_idx(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx_header(path: Path, expected_magic: int) -> list[int]:
    """Checks the magic number (and, for plain files, the size); returns the dimensions."""
    try:
        with open_idx(path) as stream:
            head = stream.read(4)
            if len(head) < 4:
                raise ScriptError(f"{path} is too short to be an IDX file")
            (magic,) = struct.unpack(">I", head)
            if magic != expected_magic:
                raise ScriptError(f"{path} has IDX magic number {magic}, expected {expected_magic}")
            ndims = magic & 0xFF
            raw_dims = stream.read(4 * ndims)
            if len(raw_dims) < 4 * ndims:
                raise ScriptError(f"{path} is truncated inside its IDX header")
            dims = list(struct.unpack(f">{ndims}I", raw_dims))
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise ScriptError(f"cannot read {path}: {error}") from error
    if path.suffix != ".gz":  # a gzip file's size says nothing; the converter checks it
        expected = 4 + 4 * ndims + math.prod(dims)
        actual = path.stat().st_size
        if actual != expected:
            raise ScriptError(f"{path} has {actual} bytes but its IDX header means {expected}")
    return dims


def verify_split(images: Path, labels: Path) -> int:
    """Checks a pair of IDX files and returns its number of examples."""
    image_dims = read_idx_header(images, IMAGES_MAGIC)
    label_dims = read_idx_header(labels, LABELS_MAGIC)
    if image_dims[0] != label_dims[0]:
        raise ScriptError(f"{images} holds {image_dims[0]} images but {labels} holds "
                          f"{label_dims[0]} labels")
    return image_dims[0]


def local_directory(dataset: str, data_dir: Optional[Path]) -> Optional[tuple[Path, str]]:
    """The local folder holding the dataset, with a description of where it is.

    An explicit --data-dir must hold the files: falling back elsewhere would silently train on
    something other than what the user pointed at.
    """
    if data_dir is not None:
        if find_idx_files(data_dir) is None:
            raise ScriptError(f"--data-dir {data_dir} does not hold the four IDX files ("
                              + ", ".join(base for bases in SPLITS.values() for base in bases)
                              + ", each .gz or plain)")
        return data_dir, "--data-dir"
    if dataset == "mnist":
        directory, description = SHARED_MNIST, "the shared data folder"
    else:
        directory, description = DEBIAN_FASHION, "Debian package dataset-fashion-mnist"
    return (directory, description) if find_idx_files(directory) is not None else None


def download(dataset: str, destination: Path) -> Path:
    """Downloads the four .gz files into `destination`, trying each mirror in turn."""
    destination.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for mirror in MIRRORS[dataset]:
        try:
            for bases in SPLITS.values():
                for base in bases:
                    target = destination / (base + ".gz")
                    if target.is_file():
                        continue
                    print(f"downloading {mirror}{base}.gz", flush=True)
                    partial = target.with_suffix(".gz.part")
                    url = mirror + base + ".gz"
                    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                        with open(partial, "wb") as out:
                            shutil.copyfileobj(response, out)
                    partial.rename(target)
            return destination
        except OSError as error:  # URLError and timeouts are OSErrors
            failures.append(f"{mirror}: {error}")
    raise ScriptError(f"no local copy of {NAMES[dataset]} and the download failed ("
                      + "; ".join(failures) + ")")


def find_source(dataset: str, data_dir: Optional[Path], out: Path) -> Source:
    local = local_directory(dataset, data_dir)
    if local is not None:
        directory, description = local
    else:
        directory = download(dataset, out / "raw")
        description = "downloaded from " + MIRRORS[dataset][0].split("/")[2]
    files = find_idx_files(directory)
    assert files is not None
    return Source(dataset, directory, description, files)


def choose_dataset(args: argparse.Namespace) -> str:
    if not args.auto:
        return args.dataset
    if local_directory("mnist", args.data_dir) is not None:
        return "mnist"
    banner = "!" * 78
    print(f"{banner}\n!! --auto: MNIST was not found locally (looked in {SHARED_MNIST});\n"
          f"!! using FASHION-MNIST instead.  Accuracies are NOT comparable to MNIST results.\n"
          f"{banner}", file=sys.stderr, flush=True)
    return "fashion"


def is_complete(out: Path, dataset: str) -> bool:
    marker = out / MARKER
    if not marker.is_file():
        return False
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return (recorded.get("dataset") == dataset
            and all((out / f"{split}_lmdb" / "data.mdb").is_file() for split in SPLITS))


def run_converter(converter: Path, images: Path, labels: Path, db_path: Path) -> int:
    """Runs convert_mnist_data and returns the number of records it reports."""
    command = [str(converter), "--overwrite", str(images), str(labels), str(db_path)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        message = result.stderr.strip() or f"exit status {result.returncode}"
        raise ScriptError(f"conversion failed: {message}")
    match = re.search(r"Wrote (\d+) records", result.stdout)
    if not match:
        raise ScriptError(f"unexpected output from {converter}: {result.stdout.strip()!r}")
    return int(match.group(1))


def convert(source: Source, out: Path, converter: Path) -> dict[str, int]:
    counts = {split: verify_split(*source.files[split]) for split in SPLITS}
    (out / MARKER).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    for split, (images, labels) in source.files.items():
        db_path = out / f"{split}_lmdb"
        written = run_converter(converter, images, labels, db_path)
        if written != counts[split]:
            raise ScriptError(f"{db_path}: wrote {written} records, "
                              f"the IDX header says {counts[split]}")
        print(f"{split}: {written} records -> {db_path}")
    marker = {"dataset": source.dataset, "source": str(source.directory), "counts": counts}
    (out / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    return counts


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--dataset", choices=sorted(NAMES), default="mnist",
                       help="which dataset (default: mnist)")
    which.add_argument("--auto", action="store_true",
                       help="MNIST if a local copy exists, else Fashion-MNIST")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder holding the four IDX files (.gz or plain); "
                             "searched before the default places")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: data/mnist or data/fashion in the repo)")
    parser.add_argument("--caffe-bin", type=Path, default=REPO / "build" / "tools",
                        help="folder holding convert_mnist_data (default: build/tools in the repo)")
    parser.add_argument("--force", action="store_true", help="convert even if already done")
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    try:
        dataset = choose_dataset(args)
        out: Path = args.out if args.out is not None else REPO / "data" / dataset
        if not args.force and is_complete(out, dataset):
            print(f"{NAMES[dataset]} is already converted in {out} ({MARKER} present); "
                  "use --force to convert again")
            return 0
        converter = args.caffe_bin / "convert_mnist_data"
        if not (converter.is_file() and os.access(converter, os.X_OK)):
            raise ScriptError(f"{converter} not found; build the project first "
                              "(cmake --build build) or pass --caffe-bin")
        source = find_source(dataset, args.data_dir, out)
        print(f"dataset: {NAMES[dataset]}; source: {source.directory} ({source.description})",
              flush=True)
        convert(source, out, converter)
        print(f"done: {NAMES[dataset]} LMDBs in {out}")
    except ScriptError as error:
        print(f"get_mnist.py: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
