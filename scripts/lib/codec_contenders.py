"""The contenders of scripts/bench_codec.py, each an encode and a decode of one float32 blob: our
weight codec (caffe.compression) in several modes, and on the same float32 bytes zstd, zlib and a
plain numpy fp16 cast."""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from types import ModuleType
from typing import Callable, Optional

import numpy as np


@dataclass(frozen=True)
class Contender:
    name: str
    encode: Callable[[np.ndarray], bytes]
    # (package, original blob) -> the decoded blob; byte compressors take the shape from the
    # original, our packages carry their own.
    decode: Callable[[bytes, np.ndarray], np.ndarray]


def _float32_bytes(array: np.ndarray) -> memoryview:
    return memoryview(np.ascontiguousarray(array, np.float32)).cast("B")


def _as_blob(raw: bytes, dtype: type, original: np.ndarray) -> np.ndarray:
    return np.frombuffer(raw, dtype).astype(np.float32).reshape(original.shape)


def ours(compression: ModuleType, mode: str, c: int = 6, M: int = 4) -> Contender:
    label = f"ours {mode} c={c},M={M}" if mode == "dynamic" else f"ours {mode}"
    return Contender(label, lambda array: compression.encode(array, mode, c=c, M=M),
                     lambda package, _: compression.decode(package))


def zstd(zstandard: ModuleType, level: int) -> Contender:
    compressor = zstandard.ZstdCompressor(level=level)
    decompressor = zstandard.ZstdDecompressor()
    return Contender(f"zstd-{level}", lambda array: compressor.compress(_float32_bytes(array)),
                     lambda package, original: _as_blob(decompressor.decompress(package),
                                                        np.float32, original))


def deflate(level: int) -> Contender:
    return Contender(f"zlib-{level}", lambda array: zlib.compress(_float32_bytes(array), level),
                     lambda package, original: _as_blob(zlib.decompress(package), np.float32,
                                                        original))


def fp16_cast() -> Contender:
    return Contender("numpy fp16 cast", lambda array: array.astype(np.float16).tobytes(),
                     lambda package, original: _as_blob(package, np.float16, original))


def contenders(compression: ModuleType, zstandard: Optional[ModuleType]) -> list[Contender]:
    """Ours at c=5 and c=6 (M=4), fixed:8, fp16 and none; zstd 1 and 3 (when the zstandard
    package is installed), zlib 1 and 6, and the fp16 cast."""
    ours_modes = [ours(compression, "dynamic", c=5), ours(compression, "dynamic", c=6),
                  ours(compression, "fixed:8"), ours(compression, "fp16"),
                  ours(compression, "none")]
    general = [zstd(zstandard, level) for level in (1, 3)] if zstandard is not None else []
    return ours_modes + general + [deflate(1), deflate(6), fp16_cast()]
