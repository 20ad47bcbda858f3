"""Trained weights for benchmarks: the MNIST MLP (784-H-H-10, ReLU + Dropout 0.5, the paper's SGD)
trained briefly with pycaffe on the real MNIST training images, or the blobs of a .caffemodel.
Blobs are named "<layer>.weight" / "<layer>.bias"."""
from __future__ import annotations

import tempfile
from pathlib import Path
from types import ModuleType
from typing import Optional

import numpy as np
from google.protobuf.message import DecodeError

import get_mnist
from lib import mlp_nets

BATCH = 128
BLOB_KINDS = ("weight", "bias")
SOLVER = ('base_lr: 0.01\nmomentum: 0.9\nweight_decay: 0.0005\nlr_policy: "inv"\ngamma: 0.0001\n'
          'power: 0.75\nmax_iter: 100000000\ndisplay: 0\nsnapshot_after_train: false\n'
          'solver_mode: CPU\n')


def _read_idx(path: Path, magic: int) -> np.ndarray:
    try:
        dims = get_mnist.read_idx_header(path, magic)
    except get_mnist.ScriptError as error:
        raise SystemExit(str(error)) from error
    with get_mnist.open_idx(path) as stream:
        raw = stream.read()
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def read_mnist_train(data_dir: Optional[Path]) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's training images (N x 784 floats in [0, 1), scaled as the example nets do) and
    labels, from `data_dir` or the shared data folder."""
    directory = data_dir or get_mnist.SHARED_MNIST
    files = get_mnist.find_idx_files(directory)
    if files is None:
        raise SystemExit(f"no MNIST IDX files in {directory}: pass --data-dir DIR, or --weights "
                         f"X.caffemodel to benchmark other weights")
    images_path, labels_path = files["train"]
    images = _read_idx(images_path, get_mnist.IMAGES_MAGIC)
    labels = _read_idx(labels_path, get_mnist.LABELS_MAGIC)
    return images.reshape(len(images), -1).astype(np.float32) / 256.0, labels.astype(np.float32)


def blob_name(layer: str, index: int) -> str:
    return f"{layer}.{BLOB_KINDS[index] if index < len(BLOB_KINDS) else index}"


def net_blobs(net) -> dict[str, np.ndarray]:
    """Copies of a pycaffe net's learnable blobs."""
    return {blob_name(layer, index): blob.data.copy()
            for layer, blobs in net.params.items() for index, blob in enumerate(blobs)}


def train_mlp(caffe: ModuleType, hidden: int, iterations: int, seed: int,
              data_dir: Optional[Path], save_to: Optional[Path] = None) -> dict[str, np.ndarray]:
    """Trains the MLP for `iterations` batches of shuffled MNIST (seeded) and returns its blobs;
    writes them as a .caffemodel to `save_to` when given."""
    images, labels = read_mnist_train(data_dir)
    caffe.set_random_seed(seed)
    with tempfile.TemporaryDirectory() as workdir:
        net_path = Path(workdir) / "mlp.prototxt"
        layers = [mlp_nets.HiddenLayer("standard", 0.5)] * 2
        net_path.write_text(mlp_nets.input_mlp([hidden, hidden], layers, BATCH))
        solver_path = Path(workdir) / "solver.prototxt"
        solver_path.write_text(f'net: "{net_path}"\nrandom_seed: {seed}\n' + SOLVER)
        solver = caffe.get_solver(str(solver_path))
    order = np.random.default_rng(seed).permutation(len(images))
    for step in range(iterations):
        batch = order[np.arange(step * BATCH, (step + 1) * BATCH) % len(order)]
        solver.net.blobs["data"].data[...] = images[batch]
        solver.net.blobs["label"].data[...] = labels[batch]
        solver.step(1)
    if save_to is not None:
        solver.net.save(str(save_to))
    return net_blobs(solver.net)


def read_caffemodel(caffe: ModuleType, path: Path) -> dict[str, np.ndarray]:
    """The blobs of every layer of a .caffemodel."""
    param = caffe.proto.caffe_pb2.NetParameter()
    try:
        param.ParseFromString(path.read_bytes())
    except (OSError, DecodeError) as error:
        raise SystemExit(f"cannot read {path}: {error}") from error
    blobs = {}
    for layer in param.layer:
        for index, blob in enumerate(layer.blobs):
            blobs[blob_name(layer.name, index)] = (
                caffe.io.blobproto_to_array(blob).astype(np.float32))
    if not blobs:
        raise SystemExit(f"{path} holds no weights")
    return blobs
