"""MNIST LMDBs for scripts that train on MNIST, optionally on its first N images.

Finds the IDX files the way scripts/get_mnist.py does (--data-dir, then ../shared/data/mnist,
then a download), and converts them with convert_mnist_data.  With a limit, the first N images
and labels of a split are written as plain IDX files first and those are converted, so short
test runs read a small database.  A marker file records what a folder holds; a folder that
already holds the same thing is reused.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import get_mnist
from lib import caffe_tools

MARKER = "SUBSET.json"


@dataclass(frozen=True)
class MnistLmdbs:
    train: Path       # the train_lmdb folder
    test: Path        # the test_lmdb folder
    train_count: int  # records in each
    test_count: int
    source: str       # where the IDX files came from


def write_idx_prefix(source: Path, target: Path, count: int) -> None:
    """Writes the first `count` items (all, when it holds fewer) of the IDX file `source`
    (.gz or plain) as a plain IDX file."""
    with get_mnist.open_idx(source) as stream:
        magic_bytes = stream.read(4)
        (magic,) = struct.unpack(">I", magic_bytes)
        dims = list(struct.unpack(f">{magic & 0xFF}I", stream.read(4 * (magic & 0xFF))))
        kept = min(count, dims[0])
        item_bytes = 1
        for extent in dims[1:]:
            item_bytes *= extent
        body = stream.read(kept * item_bytes)
    if len(body) != kept * item_bytes:
        raise get_mnist.ScriptError(f"{source} is shorter than its IDX header says")
    target.write_bytes(magic_bytes + struct.pack(f">{len(dims)}I", kept, *dims[1:]) + body)


def prepare(out: Path, caffe_bin: Path, data_dir: Optional[Path], train_limit: int = 0,
            test_limit: int = 0) -> MnistLmdbs:
    """LMDBs of MNIST (the first train_limit / test_limit images; 0 = all) in `out`."""
    converter = caffe_tools.find_tool(caffe_bin, "convert_mnist_data")
    source = get_mnist.find_source("mnist", data_dir, out)
    wanted = {"source": str(source.directory), "limits": {"train": train_limit, "test": test_limit}}
    marker = out / MARKER
    if marker.is_file():
        recorded = json.loads(marker.read_text())
        if {key: recorded.get(key) for key in wanted} == wanted:
            counts = recorded["counts"]
            return MnistLmdbs(out / "train_lmdb", out / "test_lmdb", counts["train"],
                              counts["test"], str(source.directory))
        marker.unlink()
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, limit in (("train", train_limit), ("test", test_limit)):
        images, labels = source.files[split]
        if limit > 0:  # convert the first `limit` items, copied into plain IDX files
            prefixes = out / f"{split}-images.idx", out / f"{split}-labels.idx"
            write_idx_prefix(images, prefixes[0], limit)
            write_idx_prefix(labels, prefixes[1], limit)
            images, labels = prefixes
        get_mnist.verify_split(images, labels)
        counts[split] = get_mnist.run_converter(converter, images, labels, out / f"{split}_lmdb")
    marker.write_text(json.dumps({**wanted, "counts": counts}, indent=2) + "\n")
    return MnistLmdbs(out / "train_lmdb", out / "test_lmdb", counts["train"], counts["test"],
                      str(source.directory))
