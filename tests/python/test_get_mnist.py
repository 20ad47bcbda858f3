"""convert_mnist_data (the binary) and scripts/get_mnist.py on tiny IDX files they write here."""
from __future__ import annotations

import gzip
import json
import os
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import get_mnist

REPO = Path(__file__).resolve().parents[2]

SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"
ROWS, COLS = 3, 4


def build_dir() -> Path:
    build = Path(os.environ.get("CAFFE_BUILD_DIR", "build"))
    return build if build.is_absolute() else REPO / build


@pytest.fixture
def converter() -> Path:
    path = build_dir() / "tools" / "convert_mnist_data"
    if not path.is_file():
        if "CAFFE_BUILD_DIR" in os.environ:
            pytest.fail(f"{path} is missing although CAFFE_BUILD_DIR is set: build the project")
        pytest.skip(f"{path} is not built (build it, or set CAFFE_BUILD_DIR)")
    return path


def idx_bytes(magic: int, dims: list[int], payload: bytes) -> bytes:
    return struct.pack(f">I{len(dims)}I", magic, *dims) + payload


def write(path: Path, data: bytes) -> Path:
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as out:
            out.write(data)
    else:
        path.write_bytes(data)
    return path


def tiny_split(count: int, seed: int) -> tuple[bytes, bytes]:
    """IDX images (count x 3 x 4) and labels files, as bytes."""
    rng = random.Random(seed)
    pixels = bytes(rng.randrange(256) for _ in range(count * ROWS * COLS))
    labels = bytes(rng.randrange(10) for _ in range(count))
    return idx_bytes(2051, [count, ROWS, COLS], pixels), idx_bytes(2049, [count], labels)


def tiny_dataset(directory: Path, train: int = 6, test: int = 4) -> Path:
    """The four files of a tiny MNIST in `directory`, some gzip'd and some plain."""
    directory.mkdir(parents=True, exist_ok=True)
    train_images, train_labels = tiny_split(train, 1)
    test_images, test_labels = tiny_split(test, 2)
    write(directory / "train-images-idx3-ubyte.gz", train_images)
    write(directory / "train-labels-idx1-ubyte", train_labels)
    write(directory / "t10k-images-idx3-ubyte", test_images)
    write(directory / "t10k-labels-idx1-ubyte.gz", test_labels)
    return directory


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(arg) for arg in args], capture_output=True, text=True)


def run_script(*args: object) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, REPO / "scripts" / "get_mnist.py", *args)


# ---- convert_mnist_data ----

@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_converter_writes_every_record(tmp_path: Path, converter: Path, suffix: str) -> None:
    images, labels = tiny_split(7, 3)
    result = run(converter, write(tmp_path / f"images{suffix}", images),
                 write(tmp_path / f"labels{suffix}", labels), tmp_path / "db")
    assert result.returncode == 0, result.stderr
    assert "Wrote 7 records of 1x3x4" in result.stdout
    assert (tmp_path / "db" / "data.mdb").is_file()


def test_converter_truncated_file_fails_with_sizes(tmp_path: Path, converter: Path) -> None:
    images, labels = tiny_split(7, 3)  # images: 16 + 7 * 12 = 100 bytes
    short = write(tmp_path / "images", images[:90])
    result = run(converter, short, write(tmp_path / "labels", labels), tmp_path / "db")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("convert_mnist_data: ")
    assert f"'{short}' is truncated" in lines[0]
    assert "means 100 bytes, found 90" in lines[0]
    assert not (tmp_path / "db").exists()


def test_converter_refuses_existing_db_without_overwrite(tmp_path: Path, converter: Path) -> None:
    images, labels = tiny_split(5, 4)
    args = [write(tmp_path / "i", images), write(tmp_path / "l", labels), tmp_path / "db"]
    assert run(converter, *args).returncode == 0
    again = run(converter, *args)
    assert again.returncode == 1
    assert "already exists; pass --overwrite" in again.stderr
    overwritten = run(converter, "--overwrite", *args)
    assert overwritten.returncode == 0, overwritten.stderr
    assert "Wrote 5 records" in overwritten.stdout


def test_converter_usage_and_backend_errors(tmp_path: Path, converter: Path) -> None:
    usage = run(converter, tmp_path / "only_one")
    assert usage.returncode == 1
    assert usage.stderr.startswith("convert_mnist_data: expected 3 arguments")
    images, labels = tiny_split(2, 5)
    leveldb = run(converter, "--backend=leveldb", write(tmp_path / "i", images),
                  write(tmp_path / "l", labels), tmp_path / "db")
    assert leveldb.returncode == 1
    assert "backend 'leveldb' is not supported" in leveldb.stderr


def test_converter_swapped_arguments(tmp_path: Path, converter: Path) -> None:
    images, labels = tiny_split(2, 5)
    result = run(converter, write(tmp_path / "l", labels), write(tmp_path / "i", images),
                 tmp_path / "db")
    assert result.returncode == 1
    assert "are the arguments swapped?" in result.stderr


@pytest.mark.skipif(not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").is_file(),
                    reason="no real MNIST in ../shared/data/mnist")
def test_converter_real_mnist_test_set(tmp_path: Path, converter: Path) -> None:
    result = run(converter, SHARED_MNIST / "t10k-images-idx3-ubyte.gz",
                 SHARED_MNIST / "t10k-labels-idx1-ubyte.gz", tmp_path / "db")
    assert result.returncode == 0, result.stderr
    assert "Wrote 10000 records of 1x28x28" in result.stdout


# ---- scripts/get_mnist.py ----

def test_help() -> None:
    result = run_script("--help")
    assert result.returncode == 0
    for flag in ("--data-dir", "--dataset", "--auto", "--out", "--caffe-bin", "--force"):
        assert flag in result.stdout


def test_script_converts_then_skips_until_forced(tmp_path: Path, converter: Path) -> None:
    data = tiny_dataset(tmp_path / "raw")
    out = tmp_path / "out"
    common = ["--data-dir", data, "--out", out, "--caffe-bin", converter.parent]
    first = run_script(*common)
    assert first.returncode == 0, first.stderr
    assert f"dataset: MNIST; source: {data} (--data-dir)" in first.stdout
    assert "train: 6 records" in first.stdout and "test: 4 records" in first.stdout
    marker = json.loads((out / "CONVERTED.json").read_text())
    assert marker["dataset"] == "mnist" and marker["counts"] == {"train": 6, "test": 4}
    for split in ("train", "test"):
        assert (out / f"{split}_lmdb" / "data.mdb").is_file()

    second = run_script(*common)
    assert second.returncode == 0, second.stderr
    assert "already converted" in second.stdout
    assert "records" not in second.stdout

    forced = run_script(*common, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "train: 6 records" in forced.stdout

    # Without the marker the output counts as incomplete and is redone in place.
    (out / "CONVERTED.json").unlink()
    redone = run_script(*common)
    assert redone.returncode == 0, redone.stderr
    assert "test: 4 records" in redone.stdout


def test_script_checks_headers_before_converting(tmp_path: Path, converter: Path) -> None:
    data = tiny_dataset(tmp_path / "raw")
    images, _ = tiny_split(6, 1)
    write(data / "train-labels-idx1-ubyte", images)  # an images file where labels belong
    out = tmp_path / "out"
    result = run_script("--data-dir", data, "--out", out, "--caffe-bin", converter.parent)
    assert result.returncode == 1
    assert "get_mnist.py: error:" in result.stderr
    assert "magic number 2051, expected 2049" in result.stderr
    assert not (out / "train_lmdb").exists()
    assert not (out / "CONVERTED.json").exists()


def test_script_reports_missing_files_and_converter(tmp_path: Path, converter: Path) -> None:
    data = tiny_dataset(tmp_path / "raw")
    (data / "t10k-labels-idx1-ubyte.gz").unlink()
    missing = run_script("--data-dir", data, "--out", tmp_path / "out",
                         "--caffe-bin", converter.parent)
    assert missing.returncode == 1
    assert "does not hold the four IDX files" in missing.stderr
    no_binary = run_script("--data-dir", data, "--out", tmp_path / "out", "--caffe-bin", tmp_path)
    assert no_binary.returncode == 1
    assert "convert_mnist_data not found" in no_binary.stderr


def test_auto_falls_back_to_fashion_loudly(tmp_path: Path, converter: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(get_mnist, "SHARED_MNIST", tmp_path / "no_mnist_here")
    monkeypatch.setattr(get_mnist, "DEBIAN_FASHION", tiny_dataset(tmp_path / "fashion", 5, 3))
    out = tmp_path / "out"
    status = get_mnist.main(["--auto", "--out", str(out), "--caffe-bin", str(converter.parent)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "using FASHION-MNIST instead" in captured.err
    assert "dataset: Fashion-MNIST" in captured.out
    assert json.loads((out / "CONVERTED.json").read_text())["counts"] == {"train": 5, "test": 3}


def test_auto_prefers_local_mnist(tmp_path: Path, converter: Path,
                                  monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(get_mnist, "SHARED_MNIST", tiny_dataset(tmp_path / "mnist", 4, 2))
    monkeypatch.setattr(get_mnist, "DEBIAN_FASHION", tiny_dataset(tmp_path / "fashion", 5, 3))
    status = get_mnist.main(["--auto", "--out", str(tmp_path / "out"),
                             "--caffe-bin", str(converter.parent)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "dataset: MNIST" in captured.out and "FASHION" not in captured.err
