"""Compressed weight exchange: the per-layer codec of Øland & Raj (C++ core, caffe/parallel).

    from caffe import compression
    package = compression.encode(weights)            # bytes, self-describing
    restored = compression.decode(package)           # float32, the original shape
    compression.inspect(package)["huffman_bits_per_param"]

Modes: ``"dynamic"`` (the paper: N = clamp(round(H) + c, 1, ceiling) bits, where H is the
entropy of an M-bit quantization of a random fraction F of the weights, then Huffman coding),
``"fixed:B"`` (B bits, Huffman coding), ``"fp16"`` (IEEE half) and ``"none"`` (float32).
Quantized weights decode to the centre of their bin, within half a bin of the original.
Every malformed, truncated or damaged package raises ``caffe.CaffeError``.
"""
from __future__ import annotations

from typing import Any, Union

import numpy as np
import numpy.typing as npt

from . import _caffe

BytesLike = Union[bytes, bytearray, memoryview, npt.NDArray[np.uint8]]


def _package_view(package: BytesLike) -> memoryview:
    """The package as one-dimensional contiguous bytes (TypeError otherwise)."""
    try:
        return memoryview(package).cast("B")
    except TypeError as error:
        raise TypeError(f"a codec package must be contiguous bytes, got "
                        f"{type(package).__name__}") from error


def encode(array: npt.ArrayLike, mode: str = "dynamic", c: int = 6, M: int = 4,
           F: float = 0.03, ceiling: int = 10, seed: int = 0, *, name: str = "array") -> bytes:
    """Encodes ``array`` (converted to float32) into a package.

    ``c``, ``M``, ``F`` and ``ceiling`` set the dynamic mode's number of bits; ``seed`` picks
    the sampled weights (same inputs and seed: same bytes).  ``name`` is the blob named in
    errors (NaN or infinity in the weights, bad options, a weight beyond the fp16 range).
    """
    values = np.asarray(array, dtype=np.float32, order="C")  # (keeps 0-d arrays 0-d)
    return _caffe.codec_encode(values, mode, c, M, F, ceiling, seed, name)


def decode(package: BytesLike, *, source: str = "caller") -> np.ndarray:
    """Decodes a package into a new float32 array of the encoded shape.  ``source`` (where the
    package came from) starts the message of the CaffeError a damaged package raises."""
    return _caffe.codec_decode(_package_view(package), source)


def inspect(package: BytesLike, *, source: str = "caller") -> dict[str, Any]:
    """The package's validated header (checksum included) without decoding it.

    Keys: ``mode``, ``version``, ``shape``, ``count``, ``bits`` (N; 16 for fp16, 32 for none),
    ``entropy`` (the sampled estimate H), ``w_min``, ``w_max`` (None for fp16 and none),
    ``huffman_bits_per_param`` (payload bits per weight), ``package_bits_per_param`` (all bytes,
    header and checksum included), ``header_bytes``, ``payload_bytes``, ``total_bytes``.
    """
    return _caffe.codec_inspect(_package_view(package), source)
