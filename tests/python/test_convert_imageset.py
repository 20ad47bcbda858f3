"""convert_imageset, compute_image_mean (the binaries) and scripts/get_cifar10.py on small image
sets written here with Pillow, an encoder independent of the project's own."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

import get_cifar10

Image = pytest.importorskip("PIL.Image", reason="Pillow (installed with matplotlib) writes the "
                                                "test images")

REPO = Path(__file__).resolve().parents[2]
SHARED_CIFAR10 = REPO.parent / "shared" / "data" / "cifar10"


def build_dir() -> Path:
    build = Path(os.environ.get("CAFFE_BUILD_DIR", "build"))
    return build if build.is_absolute() else REPO / build


def tool(name: str) -> Path:
    path = build_dir() / "tools" / name
    if not path.is_file():
        if "CAFFE_BUILD_DIR" in os.environ:
            pytest.fail(f"{path} is missing although CAFFE_BUILD_DIR is set: build the project")
        pytest.skip(f"{path} is not built (build it, or set CAFFE_BUILD_DIR)")
    return path


@pytest.fixture
def convert() -> Path:
    return tool("convert_imageset")


@pytest.fixture
def mean_tool() -> Path:
    return tool("compute_image_mean")


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(arg) for arg in args], capture_output=True, text=True)


def rgb_image(height: int, width: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def save(array: np.ndarray, path: Path, **options: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **options)
    return path


def decoded_bgr(path: Path) -> np.ndarray:
    """The image as Pillow decodes it, in Caffe's layout: C x H x W, BGR, float."""
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    return rgb[:, :, ::-1].transpose(2, 0, 1)


def data_layer_batch(db: Path, batch_size: int, tmp_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One TEST-phase batch of a Data layer reading `db`, through pycaffe."""
    caffe = pytest.importorskip("caffe")
    prototxt = tmp_path / "read.prototxt"
    prototxt.write_text(
        'layer { name: "d" type: "Data" top: "data" top: "label" '
        f'data_param {{ source: "{db}" batch_size: {batch_size} backend: LMDB }} }}\n')
    net = caffe.Net(str(prototxt), caffe.TEST)
    net.forward()
    return net.blobs["data"].data.copy(), net.blobs["label"].data.copy()


@pytest.fixture
def image_set(tmp_path: Path) -> tuple[Path, Path]:
    """img/ with three 6 x 5 PNGs, a JPEG, a corrupt file; list.txt names them and a missing one."""
    root = tmp_path / "img"
    for index, name in enumerate(["a.png", "b b.png", "c.png"]):
        save(rgb_image(6, 5, index), root / name)
    save(rgb_image(6, 5, 9), root / "d.jpg", quality=95)
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    listing = tmp_path / "list.txt"
    listing.write_text("a.png 0\nmissing.png 1\nb b.png 2\ncorrupt.png 3\nc.png 4\nd.jpg 5\n")
    return root, listing


def test_convert_skips_unreadable_images_and_names_them(tmp_path: Path, convert: Path,
                                                        image_set: tuple[Path, Path]) -> None:
    root, listing = image_set
    db = tmp_path / "db"
    result = run(convert, f"{root}/", listing, db)
    assert result.returncode == 0, result.stderr
    assert f"Wrote 4 records to {db}; skipped 2 unreadable images" in result.stdout
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 2, result.stderr
    assert f"skipping '{root}/missing.png' ('{listing}' line 2): cannot open" in warnings[0]
    assert f"skipping '{root}/corrupt.png' ('{listing}' line 4)" in warnings[1]
    assert "not a readable PNG" in warnings[1]
    # Keys are "%08d_<path>" with the list position; LMDB keeps small keys verbatim in its pages.
    pages = (db / "data.mdb").read_bytes()
    for key in (b"00000000_a.png", b"00000002_b b.png", b"00000004_c.png", b"00000005_d.jpg"):
        assert key in pages, key
    assert b"_missing.png" not in pages and b"_corrupt.png" not in pages


def test_records_hold_bgr_planes_as_pillow_decodes_them(tmp_path: Path, convert: Path,
                                                        image_set: tuple[Path, Path]) -> None:
    root, listing = image_set
    for flags, name in (([], "raw"), (["--encoded"], "encoded")):
        db = tmp_path / name
        assert run(convert, *flags, f"{root}/", listing, db).returncode == 0
        data, labels = data_layer_batch(db, 4, tmp_path)
        assert data.shape == (4, 3, 6, 5)
        assert labels.tolist() == [0, 2, 4, 5]
        for item, file in enumerate(["a.png", "b b.png", "c.png"]):
            np.testing.assert_array_equal(data[item], decoded_bgr(root / file))
        # Both decoders run libjpeg; allow for a different IDCT or upsampling build.
        difference = np.abs(data[3] - decoded_bgr(root / "d.jpg"))
        assert difference.max() <= 2 and difference.mean() < 0.5, name


def test_gray_resize_and_check_size(tmp_path: Path, convert: Path,
                                    image_set: tuple[Path, Path]) -> None:
    root, listing = image_set
    save(rgb_image(9, 4, 7), root / "other.png")
    listing.write_text("a.png 0\nother.png 1\n")
    gray = run(convert, "--gray", "--resize_height=3", "--resize_width=4", f"{root}/", listing,
               tmp_path / "gray")
    assert gray.returncode == 0, gray.stderr
    data, _ = data_layer_batch(tmp_path / "gray", 2, tmp_path)
    assert data.shape == (2, 1, 3, 4)
    checked = run(convert, "--check_size", f"{root}/", listing, tmp_path / "checked")
    assert checked.returncode == 1
    assert f"line 2: image '{root}/other.png' is 3x9x4" in checked.stderr
    assert "(--check_size)" in checked.stderr
    assert not (tmp_path / "checked").exists()


def test_convert_usage_errors(tmp_path: Path, convert: Path, image_set: tuple[Path, Path]) -> None:
    root, listing = image_set
    usage = run(convert, f"{root}/", listing)
    assert usage.returncode == 1
    assert usage.stderr.startswith("convert_imageset: expected 3 arguments")
    assert "convert_imageset [FLAGS] ROOTFOLDER/ LISTFILE DB_NAME" in usage.stderr
    leveldb = run(convert, "--backend=leveldb", f"{root}/", listing, tmp_path / "db")
    assert leveldb.returncode == 1
    assert "backend 'leveldb' is not supported" in leveldb.stderr
    listing.write_text("a.png 0\nb b.png two\n")
    bad = run(convert, f"{root}/", listing, tmp_path / "db")
    assert bad.returncode == 1
    assert f"'{listing}' line 2: expected 'path label'" in bad.stderr
    assert not (tmp_path / "db").exists()


def test_compute_image_mean_writes_the_mean_blob(tmp_path: Path, convert: Path, mean_tool: Path,
                                                 image_set: tuple[Path, Path]) -> None:
    from caffe.proto import caffe_pb2  # noqa: PLC0415 (needs the built package)

    root, listing = image_set
    listing.write_text("a.png 0\nb b.png 1\nc.png 2\n")
    assert run(convert, "--encoded", f"{root}/", listing, tmp_path / "db").returncode == 0
    result = run(mean_tool, tmp_path / "db", tmp_path / "mean.binaryproto")
    assert result.returncode == 0, result.stderr
    expected = np.mean([decoded_bgr(root / name) for name in ("a.png", "b b.png", "c.png")],
                       axis=0)
    blob = caffe_pb2.BlobProto()
    blob.ParseFromString((tmp_path / "mean.binaryproto").read_bytes())
    assert list(blob.shape.dim) == [1, 3, 6, 5]
    np.testing.assert_allclose(np.array(blob.data).reshape(3, 6, 5), expected, rtol=1e-6)
    assert "Number of channels: 3" in result.stdout
    for channel in range(3):
        line = f"mean_value channel [{channel}]: "
        printed = float(result.stdout.split(line)[1].split()[0])
        assert printed == pytest.approx(expected[channel].mean(), rel=1e-5)
    # Without OUTPUT_FILE it only prints; a missing database is one clear line.
    assert "Number of channels: 3" in run(mean_tool, tmp_path / "db").stdout
    missing = run(mean_tool, tmp_path / "nothing")
    assert missing.returncode == 1 and "does not exist" in missing.stderr


# ---- scripts/get_cifar10.py ----

def run_script(*args: object) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, REPO / "scripts" / "get_cifar10.py", *args)


def tiny_cifar(directory: Path, packed: bool) -> Path:
    """A CIFAR-10 layout with 8 x 8 JPEGs: 5 train and 3 test images, as files or an archive."""
    images = directory / ("staging" if packed else "")
    lines: dict[str, str] = {}
    for split, count in (("train", 5), ("test", 3)):
        entries = []
        for index in range(count):
            name = f"{split}/class{index % 2}/{index:04d}.jpg"
            save(rgb_image(8, 8, 100 * len(split) + index), images / name, quality=90)
            entries.append(f"{name} {index % 2}\n")
        lines[split] = "".join(entries)
        (directory / f"{split}.txt").write_text(lines[split])
    if packed:
        with tarfile.open(directory / get_cifar10.ARCHIVE, "w:gz") as tar:
            for split in ("train", "test"):
                tar.add(images / split, arcname=split)
        for path in sorted(images.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        images.rmdir()
    return directory


def test_help() -> None:
    result = run_script("--help")
    assert result.returncode == 0
    for flag in ("--data-dir", "--out", "--caffe-bin", "--limit", "--encoded", "--keep-images",
                 "--force"):
        assert flag in result.stdout


@pytest.mark.parametrize("packed", [True, False])
def test_script_converts_a_tiny_dataset(tmp_path: Path, convert: Path, mean_tool: Path,
                                        packed: bool) -> None:
    data = tiny_cifar(tmp_path / "cifar", packed)
    out = tmp_path / "out"
    common = ["--data-dir", data, "--out", out, "--caffe-bin", convert.parent]
    first = run_script(*common)
    assert first.returncode == 0, first.stderr
    assert "train: 5 records" in first.stdout and "test: 3 records" in first.stdout
    assert "mean (B, G, R): " in first.stdout
    marker = json.loads((out / "CONVERTED.json").read_text())
    assert marker["counts"] == {"train": 5, "test": 3}
    assert marker["skipped"] == {"train": 0, "test": 0}
    assert not (out / "images").exists()  # unpacked only for the conversion
    blob = (out / "mean.binaryproto").read_bytes()
    assert len(blob) > 3 * 8 * 8 * 4

    again = run_script(*common)
    assert again.returncode == 0 and "already converted" in again.stdout
    limited = run_script(*common, "--limit", "2", "--encoded", "--keep-images")
    assert limited.returncode == 0, limited.stderr
    assert (out / "images").is_dir() == packed
    assert "train: 2 records" in limited.stdout and "test: 2 records" in limited.stdout
    assert json.loads((out / "CONVERTED.json").read_text())["encoded"] is True


def test_script_errors_are_one_clear_line(tmp_path: Path, convert: Path, mean_tool: Path) -> None:
    data = tiny_cifar(tmp_path / "cifar", packed=True)
    out = tmp_path / "out"
    no_lists = run_script("--data-dir", tmp_path, "--out", out, "--caffe-bin", convert.parent)
    assert no_lists.returncode == 1
    assert "does not hold train.txt and test.txt" in no_lists.stderr
    no_tools = run_script("--data-dir", data, "--out", out, "--caffe-bin", tmp_path)
    assert no_tools.returncode == 1 and "convert_imageset not found" in no_tools.stderr
    (data / get_cifar10.ARCHIVE).unlink()
    no_images = run_script("--data-dir", data, "--out", out, "--caffe-bin", convert.parent)
    assert no_images.returncode == 1
    assert f"has neither the listed images (e.g. test/class0/0000.jpg) nor " \
           f"{get_cifar10.ARCHIVE}" in no_images.stderr
    (data / "train.txt").write_text("../outside.jpg 1\n")
    escaping = run_script("--data-dir", data, "--out", out, "--caffe-bin", convert.parent)
    assert escaping.returncode == 1 and "train.txt line 1" in escaping.stderr
    assert run_script("--limit", "0").returncode == 2  # argparse: not a positive integer


@pytest.mark.skipif(not (SHARED_CIFAR10 / get_cifar10.ARCHIVE).is_file(),
                    reason="no CIFAR-10 in ../shared/data/cifar10")
def test_script_on_the_shared_cifar10_subset(tmp_path: Path, convert: Path,
                                             mean_tool: Path) -> None:
    result = run_script("--out", tmp_path, "--caffe-bin", convert.parent, "--limit", "20")
    assert result.returncode == 0, result.stderr
    assert "the shared data folder" in result.stdout
    assert "train: 20 records" in result.stdout and "test: 20 records" in result.stdout
    data, labels = data_layer_batch(tmp_path / "train_lmdb", 20, tmp_path)
    assert data.shape == (20, 3, 32, 32)
    listed = [int(line.split()[1]) for line in (tmp_path / "train.txt").read_text().splitlines()]
    assert labels.astype(int).tolist() == listed
