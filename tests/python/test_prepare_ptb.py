"""scripts/prepare_ptb.py: vocabulary, stream cut, HDF5 layout, errors, and the real PTB."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "prepare_ptb.py"
REAL_PTB = REPO.parent / "shared" / "data" / "ptb"

# 3 + 4 + 2 words and 3 <eos>: 12 training tokens.
TRAIN = " b a c\n a b a <unk>\n c a\n"
VALID = " a b c a\n b\n"  # 7 tokens
TEST = " c <unk> a b a\n"  # 6 tokens


def write_corpus(folder: Path, train: str = TRAIN, valid: str = VALID, test: str = TEST) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, text in (("train", train), ("valid", valid), ("test", test)):
        (folder / f"ptb.{split}.txt").write_text(text)
    return folder


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True,
                          text=True)


def read_h5(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as h5:
        return {name: h5[name][()] for name in h5}


def tokens_of(text: str) -> list[str]:
    return [token for line in text.splitlines() for token in line.split() + ["<eos>"]]


def test_help_describes_the_options() -> None:
    result = run("--help")
    assert result.returncode == 0
    for option in ("--data-dir", "--out", "--streams"):
        assert option in result.stdout


def test_vocabulary_is_train_words_and_eos_by_frequency_then_alphabet(tmp_path: Path) -> None:
    result = run("--data-dir", write_corpus(tmp_path / "ptb"), "--out", tmp_path / "out",
                 "--streams", 2)
    assert result.returncode == 0, result.stderr
    # counts: a 4, <eos> 3, b 2, c 2, <unk> 1
    assert (tmp_path / "out" / "vocab.txt").read_text().split("\n") == [
        "a", "<eos>", "b", "c", "<unk>", ""]
    assert "vocabulary 5 words" in result.stdout


@pytest.mark.parametrize("streams", [1, 2, 3, 5])
def test_streams_cut_the_token_sequence_into_contiguous_pieces(tmp_path: Path,
                                                                streams: int) -> None:
    out = tmp_path / "out"
    result = run("--data-dir", write_corpus(tmp_path / "ptb"), "--out", out, "--streams", streams)
    assert result.returncode == 0, result.stderr
    vocabulary = (out / "vocab.txt").read_text().split()
    ids = np.array([vocabulary.index(token) for token in tokens_of(TRAIN)])
    arrays = read_h5(out / "train.h5")
    steps = (len(ids) - 1) // streams
    for name in ("data", "target", "cont"):
        assert arrays[name].shape == (steps, streams)
        assert arrays[name].dtype == np.float32
    for n in range(streams):
        np.testing.assert_array_equal(arrays["data"][:, n], ids[n * steps:n * steps + steps])
        np.testing.assert_array_equal(arrays["target"][:, n],
                                      ids[n * steps + 1:n * steps + steps + 1])
    # The target of step s is the data of step s + 1 within a stream.
    np.testing.assert_array_equal(arrays["target"][:-1], arrays["data"][1:])
    np.testing.assert_array_equal(arrays["cont"][0], np.zeros(streams))
    np.testing.assert_array_equal(arrays["cont"][1:], np.ones((steps - 1, streams)))
    assert f"train: {len(ids)} tokens" in result.stdout
    assert f"S = {steps} steps x N = {streams} streams" in result.stdout


def test_every_split_is_written_with_a_list_file_naming_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("--data-dir", write_corpus(tmp_path / "ptb"), "--out", out,
               "--streams", 2).returncode == 0
    vocabulary = (out / "vocab.txt").read_text().split()
    for split, text in (("train", TRAIN), ("valid", VALID), ("test", TEST)):
        listed = Path((out / f"{split}_list.txt").read_text().strip())
        assert listed.is_absolute() and listed == (out / f"{split}.h5").resolve()
        ids = [vocabulary.index(token) for token in tokens_of(text)]
        data = read_h5(listed)["data"]
        steps = (len(ids) - 1) // 2
        np.testing.assert_array_equal(data[:, 0], ids[:steps])


def test_word_outside_the_training_vocabulary_is_an_error(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "ptb", valid=" a zebra b\n yak\n")
    result = run("--data-dir", corpus, "--out", tmp_path / "out", "--streams", 2)
    assert result.returncode == 1
    assert not (tmp_path / "out").exists()  # nothing is written when a split is bad
    assert "ptb.valid.txt has 2 word(s) outside the training vocabulary: 'yak', 'zebra'" in \
        result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("text", ["", "\n  \n"])
def test_empty_file_is_an_error(tmp_path: Path, text: str) -> None:
    result = run("--data-dir", write_corpus(tmp_path / "ptb", test=text), "--out", tmp_path / "out")
    assert result.returncode == 1
    assert "ptb.test.txt has no words (empty file)" in result.stderr


def test_binary_file_is_an_error(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "ptb")
    (corpus / "ptb.train.txt").write_bytes(b" a b\n c \xff\xfe d\n")
    result = run("--data-dir", corpus, "--out", tmp_path / "out")
    assert result.returncode == 1
    assert "ptb.train.txt:2: not valid UTF-8 text" in result.stderr


def test_too_many_streams_for_the_tokens_is_an_error(tmp_path: Path) -> None:
    # test has 6 tokens: 5 streams of one step fit, 6 streams do not.
    result = run("--data-dir", write_corpus(tmp_path / "ptb"), "--out", tmp_path / "out",
                 "--streams", 6)
    assert result.returncode == 1
    assert "ptb.test.txt: 6 tokens are too few for 6 streams" in result.stderr


def test_missing_files_are_named(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "ptb")
    (corpus / "ptb.valid.txt").unlink()
    result = run("--data-dir", corpus, "--out", tmp_path / "out")
    assert result.returncode == 1
    assert "lacks ptb.valid.txt" in result.stderr


def test_without_any_corpus_it_explains_where_to_get_one(tmp_path: Path) -> None:
    # A copy of the script in a repository with no ../shared/data/ptb beside it.
    script = tmp_path / "repo" / "scripts" / "prepare_ptb.py"
    script.parent.mkdir(parents=True)
    shutil.copy(SCRIPT, script)
    result = subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "out"),
                             "--no-download"], capture_output=True, text=True)
    assert result.returncode == 1
    assert "no PTB corpus found: give --data-dir" in result.stderr
    assert "simple-examples.tgz" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not REAL_PTB.is_dir(), reason="../shared/data/ptb is not present")
def test_real_penn_treebank(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("--out", out)  # found in ../shared/data/ptb without --data-dir
    assert result.returncode == 0, result.stderr
    vocabulary = (out / "vocab.txt").read_text().split("\n")[:-1]
    assert len(vocabulary) == 10000 and len(set(vocabulary)) == 10000
    assert vocabulary[:3] == ["the", "<unk>", "<eos>"]
    assert "train: 929589 tokens" in result.stdout
    assert "valid: 73760 tokens" in result.stdout
    assert "test: 82430 tokens" in result.stdout
    train = read_h5(out / "train.h5")
    steps = (929589 - 1) // 20
    assert steps == 46479
    assert train["data"].shape == (steps, 20)
    # The corpus starts " aer banknote berlitz ..." and stream 1 starts at token S.
    first_words = (REAL_PTB / "ptb.train.txt").read_text().split()[:2]
    assert [vocabulary[int(i)] for i in train["data"][:2, 0]] == first_words
    np.testing.assert_array_equal(train["target"][:-1], train["data"][1:])
    assert train["data"].max() < 10000 and train["data"].min() >= 0
