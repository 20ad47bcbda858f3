#!/usr/bin/env python3
"""Convert CIFAR-10 (JPEG images + list files) into the LMDBs and mean file the CIFAR nets read.

Where the data comes from, first match wins:
  1. --data-dir DIR,
  2. ../shared/data/cifar10 beside the repository.
The folder holds train.txt and test.txt (`path label` lines, paths relative to the folder, such
as train/frog/0000.jpg) and either the images themselves or cifar10_jpeg.tar.gz, whose listed
images are unpacked into OUT/images for the conversion (and removed after it unless
--keep-images).

The project's own tools do the work: build/tools/convert_imageset writes OUT/train_lmdb and
OUT/test_lmdb (raw 3 x 32 x 32 BGR Datums, or the JPEG bytes with --encoded), and
build/tools/compute_image_mean writes OUT/mean.binaryproto from the training set.  A marker
file (OUT/CONVERTED.json) records a finished conversion, so running again does nothing unless
--force is given or the options differ.  --limit N converts only the first N entries of each
list (a quick check of the whole path).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Optional

from tqdm import tqdm

from lib.caffe_tools import ScriptError, find_tool, run_tool

REPO = Path(__file__).resolve().parents[1]
SHARED_CIFAR10 = REPO.parent / "shared" / "data" / "cifar10"
ARCHIVE = "cifar10_jpeg.tar.gz"
SPLITS = ("train", "test")
MARKER = "CONVERTED.json"


@dataclass
class Entry:
    path: str   # relative to the image root, '/'-separated
    label: int


@dataclass
class Source:
    directory: Path
    description: str  # how it was found, for the log


def read_list(list_file: Path, limit: Optional[int]) -> list[Entry]:
    """The `path label` entries of a list file (the first `limit` of them, if given)."""
    entries: list[Entry] = []
    for number, line in enumerate(list_file.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        path, _, label = line.strip().rpartition(" ")
        relative = PurePosixPath(path.strip())
        if not path or not label.lstrip("-").isdigit() or relative.is_absolute() \
                or ".." in relative.parts:
            raise ScriptError(f"{list_file} line {number}: expected 'relative/path label', "
                              f"got {line!r}")
        entries.append(Entry(str(relative), int(label)))
        if limit is not None and len(entries) == limit:
            break
    if not entries:
        raise ScriptError(f"{list_file} lists no images")
    return entries


def has_lists(directory: Path) -> bool:
    return all((directory / f"{split}.txt").is_file() for split in SPLITS)


def find_source(data_dir: Optional[Path]) -> Source:
    """The folder holding the list files (and the images or their archive).

    An explicit --data-dir must hold them: falling back elsewhere would silently convert
    something other than what the user pointed at.
    """
    if data_dir is not None:
        if not has_lists(data_dir):
            raise ScriptError(f"--data-dir {data_dir} does not hold train.txt and test.txt")
        return Source(data_dir, "--data-dir")
    if has_lists(SHARED_CIFAR10):
        return Source(SHARED_CIFAR10, "the shared data folder")
    raise ScriptError(f"CIFAR-10 not found: pass --data-dir (a folder with train.txt, test.txt "
                      f"and the images or {ARCHIVE}); looked in {SHARED_CIFAR10}")


def missing_images(root: Path, lists: dict[str, list[Entry]]) -> set[str]:
    return {entry.path for entries in lists.values() for entry in entries
            if not (root / entry.path).is_file()}


def unpack(archive: Path, wanted: set[str], destination: Path) -> None:
    """Extracts the members named in `wanted` from the archive into `destination`."""
    destination.mkdir(parents=True, exist_ok=True)
    remaining = set(wanted)
    try:
        with tarfile.open(archive) as tar, \
                tqdm(total=len(remaining), desc="unpacking", unit="img") as progress:
            for member in tar:
                name = str(PurePosixPath(member.name))
                if name not in remaining or not member.isfile():
                    continue
                tar.extract(member, destination, filter="data")
                remaining.discard(name)
                progress.update()
                if not remaining:
                    break
    except (OSError, tarfile.TarError) as error:
        raise ScriptError(f"cannot unpack {archive}: {error}") from error
    if remaining:
        example = sorted(remaining)[0]
        raise ScriptError(f"{archive} lacks {len(remaining)} listed image(s), e.g. {example}")


def image_root(source: Source, lists: dict[str, list[Entry]], out: Path) -> Path:
    """Where the listed images are: the source folder, or OUT/images unpacked from the archive."""
    if not missing_images(source.directory, lists):
        return source.directory
    unpacked = out / "images"
    wanted = missing_images(unpacked, lists)
    if wanted:
        archive = source.directory / ARCHIVE
        if not archive.is_file():
            example = sorted(missing_images(source.directory, lists))[0]
            raise ScriptError(f"{source.directory} has neither the listed images "
                              f"(e.g. {example}) nor {ARCHIVE}")
        unpack(archive, wanted, unpacked)
    return unpacked


def write_list(entries: list[Entry], path: Path) -> Path:
    path.write_text("".join(f"{entry.path} {entry.label}\n" for entry in entries))
    return path


def convert_split(convert: Path, root: Path, list_file: Path, db_path: Path,
                  encoded: bool) -> tuple[int, int]:
    """Runs convert_imageset; returns (records written, images skipped)."""
    flags = ["--overwrite"] + (["--encoded"] if encoded else [])
    result = run_tool([convert, *flags, f"{root}/", list_file, db_path])
    match = re.search(r"Wrote (\d+) records to .*; skipped (\d+) unreadable", result.stdout)
    if not match:
        raise ScriptError(f"unexpected output from {convert}: {result.stdout.strip()!r}")
    written, skipped = int(match.group(1)), int(match.group(2))
    if skipped:
        print(result.stderr.rstrip(), file=sys.stderr)
        print(f"warning: {skipped} image(s) of {list_file} could not be read and were skipped",
              file=sys.stderr)
    return written, skipped


def compute_mean(mean_tool: Path, db_path: Path, mean_file: Path) -> list[float]:
    """Runs compute_image_mean; returns the per-channel means it prints (B, G, R)."""
    result = run_tool([mean_tool, db_path, mean_file])
    means = [float(value) for value in
             re.findall(r"mean_value channel \[\d+\]: ([-\d.eE+]+)", result.stdout)]
    if not means:
        raise ScriptError(f"unexpected output from {mean_tool}: {result.stdout.strip()!r}")
    return means


def settings(source: Source, args: argparse.Namespace) -> dict[str, object]:
    """What a finished conversion must have been run with to be reused."""
    return {"source": str(source.directory.resolve()), "limit": args.limit,
            "encoded": args.encoded}


def is_complete(out: Path, wanted: dict[str, object]) -> bool:
    try:
        recorded = json.loads((out / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return (all(recorded.get(key) == value for key, value in wanted.items())
            and all((out / f"{split}_lmdb" / "data.mdb").is_file() for split in SPLITS)
            and (out / "mean.binaryproto").is_file())


def convert(source: Source, args: argparse.Namespace, out: Path) -> None:
    convert_tool = find_tool(args.caffe_bin, "convert_imageset")
    mean_tool = find_tool(args.caffe_bin, "compute_image_mean")
    lists = {split: read_list(source.directory / f"{split}.txt", args.limit) for split in SPLITS}
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).unlink(missing_ok=True)
    root = image_root(source, lists, out)
    counts: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for split, entries in lists.items():
        print(f"{split}: converting {len(entries)} images", flush=True)
        list_file = write_list(entries, out / f"{split}.txt")
        counts[split], skipped[split] = convert_split(convert_tool, root, list_file,
                                                      out / f"{split}_lmdb", args.encoded)
        print(f"{split}: {counts[split]} records -> {out / f'{split}_lmdb'}", flush=True)
    if root == out / "images" and not args.keep_images:
        shutil.rmtree(root)
    means = compute_mean(mean_tool, out / "train_lmdb", out / "mean.binaryproto")
    print("mean (B, G, R): " + ", ".join(f"{value:.3f}" for value in means)
          + f" -> {out / 'mean.binaryproto'}")
    marker = {**settings(source, args), "counts": counts, "skipped": skipped,
              "channel_means": means}
    (out / MARKER).write_text(json.dumps(marker, indent=2) + "\n")


def positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder holding train.txt, test.txt and the images or "
                             f"{ARCHIVE}; searched before ../shared/data/cifar10")
    parser.add_argument("--out", type=Path, default=REPO / "data" / "cifar10",
                        help="output folder (default: data/cifar10 in the repo)")
    parser.add_argument("--caffe-bin", type=Path, default=REPO / "build" / "tools",
                        help="folder holding convert_imageset and compute_image_mean "
                             "(default: build/tools in the repo)")
    parser.add_argument("--limit", type=positive, default=None,
                        help="convert only the first N entries of each list")
    parser.add_argument("--encoded", action="store_true",
                        help="store the JPEG bytes instead of raw pixels")
    parser.add_argument("--keep-images", action="store_true",
                        help=f"keep the images unpacked from {ARCHIVE} in OUT/images")
    parser.add_argument("--force", action="store_true", help="convert even if already done")
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    try:
        source = find_source(args.data_dir)
        if not args.force and is_complete(args.out, settings(source, args)):
            print(f"CIFAR-10 is already converted in {args.out} ({MARKER} present); "
                  "use --force to convert again")
            return 0
        print(f"source: {source.directory} ({source.description})", flush=True)
        convert(source, args, args.out)
        print(f"done: CIFAR-10 LMDBs and mean in {args.out}")
    except ScriptError as error:
        print(f"get_cifar10.py: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
