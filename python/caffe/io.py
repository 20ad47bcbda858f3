"""Conversions between numpy arrays and caffe's protobuf messages, prototxt files, and images.

BlobProto (weights, mean files), BlobProtoVector and Datum (one database record) round-trip
with numpy arrays; NetParameter prototxt files load and save as text.  The image helpers of
BVLC's caffe.io live in caffe.io_image (load_image, resize_image, oversample) and
caffe.transformer (Transformer) and are re-exported here.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Union

import numpy as np
from google.protobuf import text_format

from ._caffe import CaffeError, upgrade_net_param
from .io_image import load_image, oversample, resize_image
from .proto import caffe_pb2
from .transformer import Transformer

__all__ = [
    "Transformer", "array_to_blobproto", "array_to_datum", "arraylist_to_blobprotovector_str",
    "blobproto_shape", "blobproto_to_array", "blobprotovector_str_to_arraylist",
    "datum_to_array", "load_blobproto", "load_image", "load_net_param", "oversample",
    "resize_image", "save_net_param",
]

PathLike = Union[str, "os.PathLike[str]"]

_LEGACY_DIMS = ("num", "channels", "height", "width")


# ---- BlobProto ----

def blobproto_shape(blob: caffe_pb2.BlobProto) -> tuple[int, ...]:
    """The blob's shape: `shape` when present, else the legacy num/channels/height/width."""
    if blob.HasField("shape"):
        return tuple(blob.shape.dim)
    if any(blob.HasField(dim) for dim in _LEGACY_DIMS):
        return tuple(getattr(blob, dim) for dim in _LEGACY_DIMS)
    return ()


def blobproto_to_array(blob: caffe_pb2.BlobProto, return_diff: bool = False) -> np.ndarray:
    """The values (or gradients) of a BlobProto with its shape: float32, or float64 for a blob
    stored in double_data / double_diff."""
    shape = blobproto_shape(blob)
    kind = "diff" if return_diff else "data"
    singles = blob.diff if return_diff else blob.data
    doubles = blob.double_diff if return_diff else blob.double_data
    if len(singles) == 0 and len(doubles) > 0:
        values = np.array(doubles, dtype=np.float64)
    else:
        values = np.array(singles, dtype=np.float32)
    expected = math.prod(shape)
    if values.size != expected:
        raise ValueError(f"BlobProto holds {values.size} {kind} value(s) but its shape {shape} "
                         f"needs {expected}")
    return values.reshape(shape)


def array_to_blobproto(array: np.ndarray, diff: np.ndarray | None = None) -> caffe_pb2.BlobProto:
    """A BlobProto with the array's shape and values (and `diff`, which must match in shape)."""
    array = np.asarray(array)
    blob = caffe_pb2.BlobProto()
    blob.shape.dim.extend(array.shape)
    blob.data.extend(array.astype(np.float32).ravel().tolist())
    if diff is not None:
        diff = np.asarray(diff)
        if diff.shape != array.shape:
            raise ValueError(f"diff has shape {diff.shape} but the data has shape {array.shape}")
        blob.diff.extend(diff.astype(np.float32).ravel().tolist())
    return blob


def arraylist_to_blobprotovector_str(arrays: Sequence[np.ndarray]) -> bytes:
    """Serialized BlobProtoVector holding the arrays."""
    vector = caffe_pb2.BlobProtoVector()
    vector.blobs.extend(array_to_blobproto(array) for array in arrays)
    return vector.SerializeToString()


def blobprotovector_str_to_arraylist(serialized: bytes) -> list[np.ndarray]:
    """The arrays of a serialized BlobProtoVector."""
    vector = caffe_pb2.BlobProtoVector.FromString(serialized)
    return [blobproto_to_array(blob) for blob in vector.blobs]


def load_blobproto(path: PathLike) -> np.ndarray:
    """The array stored in a binary BlobProto file (a .binaryproto mean file, say)."""
    with open(path, "rb") as file:
        return blobproto_to_array(caffe_pb2.BlobProto.FromString(file.read()))


# ---- Datum ----

def array_to_datum(array: np.ndarray, label: int | None = None) -> caffe_pb2.Datum:
    """A Datum from a channels x height x width array: uint8 arrays go into `data` (bytes),
    other types into `float_data`."""
    array = np.asarray(array)
    if array.ndim != 3:
        raise ValueError(f"a Datum holds a 3-d (channels, height, width) array, got shape "
                         f"{array.shape}")
    datum = caffe_pb2.Datum(channels=array.shape[0], height=array.shape[1], width=array.shape[2])
    if array.dtype == np.uint8:
        datum.data = array.tobytes()
    else:
        datum.float_data.extend(array.astype(np.float32).ravel().tolist())
    if label is not None:
        datum.label = int(label)
    return datum


def datum_to_array(datum: caffe_pb2.Datum) -> np.ndarray:
    """The Datum's pixels as a (channels, height, width) array: uint8 for `data`, float32 for
    `float_data`."""
    if datum.encoded:
        raise ValueError("the Datum holds an encoded image (JPEG/PNG bytes); decode datum.data "
                         "with an image library instead")
    shape = (datum.channels, datum.height, datum.width)
    if len(datum.data) > 0:
        values = np.frombuffer(datum.data, dtype=np.uint8).copy()
    else:
        values = np.array(datum.float_data, dtype=np.float32)
    if values.size != math.prod(shape):
        raise ValueError(f"Datum holds {values.size} value(s) but its shape {shape} needs "
                         f"{math.prod(shape)}")
    return values.reshape(shape)


# ---- prototxt ----

def load_net_param(path: PathLike) -> caffe_pb2.NetParameter:
    """Parses a net prototxt, upgrading old formats (V0 / V1 layers, net-level inputs) as the C++
    loader does, with a warning.  Syntax errors raise CaffeError naming file:line:column."""
    with open(path, encoding="utf-8") as file:
        text = file.read()
    param = caffe_pb2.NetParameter()
    try:
        text_format.Merge(text, param)
    except text_format.ParseError as error:
        message = str(error).split(" : ", 1)[-1]
        where = os.fspath(path)
        if error.GetLine() is not None:
            where += f":{error.GetLine()}:{error.GetColumn()}"
        raise CaffeError(f"syntax error in {where}: {message}") from error
    return caffe_pb2.NetParameter.FromString(
        upgrade_net_param(param.SerializeToString(), os.fspath(path)))


def save_net_param(param: caffe_pb2.NetParameter, path: PathLike) -> None:
    """Writes a NetParameter as prototxt text."""
    with open(path, "w", encoding="utf-8") as file:
        file.write(text_format.MessageToString(param))
