"""Net weights in HDF5 files, in the layout of BVLC's ``Net.save_hdf5`` / ``Net.load_hdf5``.

    /data/<layer name>/<j>   float32 dataset: parameter blob j of that layer (its shape)
    /diff/<layer name>/<j>   its gradient (only when written with write_diff=True)

A parameter shared with an earlier layer (``param { name: ... }``) is written once, under its
first layer; loading leaves it to that layer.  Layers of the file that the net lacks are ignored,
as with .caffemodel files.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Union

import h5py
import numpy as np

from ._caffe import Blob, CaffeError

PathLike = Union[str, "os.PathLike[str]"]


def _layer_params(net: Any) -> Iterator[tuple[str, list[Blob]]]:
    """(layer name, parameter blobs) of every layer that has parameters, in net order."""
    for name, layer in zip(net._layer_names, net.layers):
        blobs = list(layer.blobs)
        if blobs:
            yield name, blobs


def _memory_address(blob: Blob) -> int:
    """Where the blob's values live: equal for blobs that share their data."""
    return int(blob.data.__array_interface__["data"][0])


def save_hdf5(net: Any, filename: PathLike, write_diff: bool = False) -> None:
    """Write the net's parameters (and gradients when `write_diff`) to an HDF5 file."""
    written: set[int] = set()
    with h5py.File(filename, "w") as file:
        data = file.create_group("data")
        diff = file.create_group("diff") if write_diff else None
        for name, blobs in _layer_params(net):
            data_group = data.create_group(name)
            diff_group = diff.create_group(name) if diff is not None else None
            for index, blob in enumerate(blobs):
                address = _memory_address(blob)
                if address not in written:
                    written.add(address)
                    data_group.create_dataset(str(index), data=blob.data)
                if diff_group is not None:
                    diff_group.create_dataset(str(index), data=blob.diff)


def load_hdf5(net: Any, filename: PathLike) -> None:
    """Copy parameters from an HDF5 file written by save_hdf5 (layers matched by name)."""
    where = os.fspath(filename)
    if not h5py.is_hdf5(where):
        raise CaffeError(f"'{where}' is not an HDF5 file")
    params = dict(_layer_params(net))
    loaded: set[int] = set()
    with h5py.File(where, "r") as file:
        if "data" not in file:
            raise CaffeError(f"'{where}' has no /data group: not written by Net.save_hdf5")
        for name, blobs in params.items():
            group = file["data"].get(name)
            if group is not None:
                _load_layer(group, name, blobs, loaded, where)


def _load_layer(group: h5py.Group, name: str, blobs: list[Blob], loaded: set[int],
                where: str) -> None:
    extra = sorted(set(group.keys()) - {str(index) for index in range(len(blobs))})
    if extra:
        raise CaffeError(f"'{where}': layer '{name}' has {len(blobs)} parameter blob(s) but the "
                         f"file holds datasets {sorted(group.keys())}")
    for index, blob in enumerate(blobs):
        address = _memory_address(blob)
        if str(index) not in group:
            if address in loaded:
                continue  # shared with an earlier layer, which loaded it
            raise CaffeError(f"'{where}': layer '{name}' has no dataset for parameter blob "
                             f"{index}")
        values = np.asarray(group[str(index)], dtype=np.float32)
        if values.shape != blob.data.shape:
            raise CaffeError(f"'{where}': layer '{name}' blob {index}: the file has shape "
                             f"{values.shape}, the net expects {blob.data.shape}")
        blob.data[...] = values
        loaded.add(address)
