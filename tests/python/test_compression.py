"""caffe.compression: the weight codec from Python — round trips, Huffman cost against the bin
entropy, header overhead, edge cases, damaged packages, fp16 / none, determinism."""
from __future__ import annotations

import struct

import numpy as np
import pytest

import caffe
from caffe import compression

DAMAGED = r"^codec package from caller: "


def gaussian(shape: tuple[int, ...], seed: int = 0, std: float = 0.05) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * std).astype(np.float32)


def spec_bins(values: np.ndarray, info: dict) -> np.ndarray:
    """q = min(floor(2^N (w - w_min) / (w_max - w_min)), 2^N - 1), in float64."""
    levels = 2 ** info["bits"]
    scaled = levels * (values.astype(np.float64) - info["w_min"]) / (info["w_max"] - info["w_min"])
    return np.minimum(np.floor(scaled), levels - 1).astype(np.int64)


def entropy(bins: np.ndarray) -> float:
    p = np.bincount(bins.ravel()) / bins.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


@pytest.mark.parametrize("mode", ["dynamic", "fixed:1", "fixed:6", "fixed:12", "fixed:16"])
def test_round_trip_is_within_half_a_bin(mode: str) -> None:
    weights = gaussian((30, 40, 5), seed=1)
    package = compression.encode(weights, mode)
    info = compression.inspect(package)
    restored = compression.decode(package)
    assert restored.dtype == np.float32 and restored.shape == weights.shape
    half_bin = (info["w_max"] - info["w_min"]) / 2 ** (info["bits"] + 1)
    error = np.abs(restored.astype(np.float64) - weights)
    assert error.max() <= half_bin * (1 + 1e-6) + 1e-7 * np.abs(weights).max()


@pytest.mark.parametrize("mode", ["dynamic", "fixed:5", "fixed:9"])
@pytest.mark.parametrize("kind", ["gaussian", "laplace"])
def test_huffman_cost_is_within_one_bit_of_the_bin_entropy(mode: str, kind: str) -> None:
    rng = np.random.default_rng(2)
    weights = (rng.standard_normal(50_000) if kind == "gaussian"
               else rng.laplace(size=50_000)).astype(np.float32)
    info = compression.inspect(compression.encode(weights, mode))
    bin_entropy = entropy(spec_bins(weights, info))
    assert bin_entropy - 1e-3 <= info["huffman_bits_per_param"] <= bin_entropy + 1.0


def test_header_costs_at_most_a_fifth_of_a_bit_per_weight() -> None:
    weights = gaussian((200_000,), seed=3)
    info = compression.inspect(compression.encode(weights))
    overhead = info["package_bits_per_param"] - info["huffman_bits_per_param"]
    assert 0 < overhead <= 0.2


def test_dynamic_bits_follow_the_entropy_estimate() -> None:
    weights = np.random.default_rng(4).uniform(-1, 1, 100_000).astype(np.float32)
    info = compression.inspect(compression.encode(weights, c=2, M=4))
    assert info["entropy"] == pytest.approx(4.0, abs=0.05)
    assert info["bits"] == 6
    assert compression.inspect(compression.encode(weights, c=9, ceiling=12))["bits"] == 12


def test_inspect_reports_the_header() -> None:
    weights = gaussian((8, 9), seed=5)
    package = compression.encode(weights, "fixed:7")
    info = compression.inspect(package)
    assert info["mode"] == "fixed:7" and info["bits"] == 7 and info["version"] == 1
    assert info["shape"] == (8, 9) and info["count"] == 72
    assert info["w_min"] == weights.min() and info["w_max"] == weights.max()
    assert info["total_bytes"] == len(package)
    assert info["header_bytes"] + info["payload_bytes"] + 4 == len(package)


def test_constant_weights_decode_to_their_value() -> None:
    package = compression.encode(np.full((3, 4), 0.125, np.float32))
    assert compression.inspect(package)["bits"] == 0
    np.testing.assert_array_equal(compression.decode(package), np.full((3, 4), 0.125))


@pytest.mark.parametrize("mode", ["dynamic", "fixed:4", "fp16", "none"])
def test_empty_and_scalar_arrays_round_trip(mode: str) -> None:
    assert compression.decode(compression.encode(np.zeros((0, 7)), mode)).shape == (0, 7)
    scalar = compression.decode(compression.encode(np.float32(0.5), mode))
    assert scalar.shape == () and scalar == 0.5


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("mode", ["dynamic", "fixed:8", "fp16", "none"])
def test_nan_or_infinity_raises_naming_the_blob(bad: float, mode: str) -> None:
    weights = gaussian((10,), seed=6)
    weights[3] = bad
    with pytest.raises(caffe.CaffeError, match=r"blob 'conv1\.weight'.*index 3"):
        compression.encode(weights, mode, name="conv1.weight")


@pytest.mark.parametrize("mode", ["fixed:0", "fixed:17", "fixed", "gzip"])
def test_bad_modes_raise(mode: str) -> None:
    with pytest.raises(caffe.CaffeError, match="unknown codec mode"):
        compression.encode(gaussian((10,)), mode)


@pytest.mark.parametrize("options", [{"M": 0}, {"F": 0.0}, {"F": 2.0}, {"ceiling": 17}])
def test_bad_options_raise(options: dict) -> None:
    with pytest.raises(caffe.CaffeError, match="must be in"):
        compression.encode(gaussian((10,)), **options)


def small_packages() -> list[bytes]:
    weights = gaussian((3, 8), seed=7)
    return [compression.encode(weights, mode) for mode in ("dynamic", "fixed:3", "fp16", "none")]


def test_every_truncation_raises() -> None:
    for package in small_packages():
        for size in range(len(package)):
            with pytest.raises(caffe.CaffeError, match=DAMAGED):
                compression.decode(package[:size])
        with pytest.raises(caffe.CaffeError, match="trailing bytes"):
            compression.decode(package + b"\0")


def test_every_single_bit_flip_raises() -> None:
    for package in small_packages():
        for bit in range(8 * len(package)):
            damaged = bytearray(package)
            damaged[bit // 8] ^= 1 << (bit % 8)
            with pytest.raises(caffe.CaffeError, match=DAMAGED):
                compression.decode(damaged)


def test_wrong_magic_version_and_checksum_raise() -> None:
    package = bytearray(small_packages()[0])
    cases = [(0, b"Z", "magic"), (4, struct.pack("<H", 9), "unsupported version 9"),
             (len(package) - 4, bytes(4), "checksum mismatch")]
    for offset, patch, message in cases:
        damaged = package.copy()
        damaged[offset:offset + len(patch)] = patch
        with pytest.raises(caffe.CaffeError, match=DAMAGED + ".*" + message):
            compression.decode(damaged)
    with pytest.raises(caffe.CaffeError, match="from rank 3: "):
        compression.inspect(bytes(package[:10]), source="rank 3")


def test_fp16_matches_numpy_and_none_is_exact() -> None:
    weights = gaussian((500,), seed=8, std=3.0)
    weights[:4] = [0.0, -0.0, 65504.0, 1e-7]
    fp16 = compression.decode(compression.encode(weights, "fp16"))
    np.testing.assert_array_equal(fp16, weights.astype(np.float16).astype(np.float32))
    exact = compression.decode(compression.encode(weights, "none"))
    assert exact.tobytes() == weights.tobytes()
    with pytest.raises(caffe.CaffeError, match="fp16 range"):
        compression.encode(np.array([1e5], np.float32), "fp16")


def test_same_seed_gives_the_same_bytes() -> None:
    weights = gaussian((40_000,), seed=9)
    assert compression.encode(weights, seed=5) == compression.encode(weights.copy(), seed=5)


def test_packages_may_be_any_contiguous_bytes() -> None:
    weights = gaussian((6, 5), seed=10)
    package = compression.encode(weights)
    expected = compression.decode(package)
    for view in (bytearray(package), memoryview(package), np.frombuffer(package, np.uint8)):
        np.testing.assert_array_equal(compression.decode(view), expected)
    strided = np.frombuffer(package * 2, np.uint8)[::2]
    with pytest.raises(TypeError, match="contiguous bytes"):
        compression.decode(strided)


def test_compression_is_exported_by_caffe() -> None:
    assert caffe.compression is compression
