"""caffe.io's image helpers (load_image, resize_image, oversample) and caffe.io.Transformer."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import caffe

RGB = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]],
                [[10, 20, 30], [40, 50, 60], [70, 80, 90]]], dtype=np.uint8)


def save(path: Path, pixels: np.ndarray, mode: str | None = None) -> Path:
    Image.fromarray(pixels, mode).save(path)
    return path


# ---------------------------------------------------------------------------------------------
# load_image

def test_load_image_gives_rgb_floats_in_unit_range(tmp_path: Path) -> None:
    image = caffe.io.load_image(save(tmp_path / "rgb.png", RGB))
    assert image.dtype == np.float32 and image.shape == (2, 3, 3)
    np.testing.assert_allclose(image, RGB / 255.0, rtol=1e-6)


def test_load_image_spreads_grey_and_drops_alpha(tmp_path: Path) -> None:
    grey = np.array([[0, 128], [255, 64]], dtype=np.uint8)
    loaded = caffe.io.load_image(save(tmp_path / "grey.png", grey))
    assert loaded.shape == (2, 2, 3)
    for channel in range(3):
        np.testing.assert_allclose(loaded[:, :, channel], grey / 255.0, rtol=1e-6)
    single = caffe.io.load_image(tmp_path / "grey.png", color=False)
    assert single.shape == (2, 2, 1)
    np.testing.assert_allclose(single[:, :, 0], grey / 255.0, rtol=1e-6)

    rgba = np.concatenate([RGB, np.full((2, 3, 1), 7, np.uint8)], axis=2)
    np.testing.assert_allclose(caffe.io.load_image(save(tmp_path / "rgba.png", rgba)),
                               RGB / 255.0, rtol=1e-6)


def test_load_image_without_color_gives_intensity(tmp_path: Path) -> None:
    intensity = caffe.io.load_image(save(tmp_path / "rgb.png", RGB), color=False)
    assert intensity.shape == (2, 3, 1)
    # ITU-R 601 luma of pure red, green and blue, in 8 bits.
    np.testing.assert_allclose(intensity[0, :, 0], np.array([76, 150, 29]) / 255.0, atol=1e-6)


def test_load_image_reads_16_bit_images(tmp_path: Path) -> None:
    deep = np.array([[0, 1000], [65535, 32768]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(deep).save(path)
    loaded = caffe.io.load_image(path, color=False)
    np.testing.assert_allclose(loaded[:, :, 0], deep / 65535.0, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# resize_image

def test_resize_to_the_same_size_is_the_identity() -> None:
    image = np.random.default_rng(0).random((5, 7, 3)).astype(np.float32)
    np.testing.assert_array_equal(caffe.io.resize_image(image, (5, 7)), image)
    np.testing.assert_array_equal(caffe.io.resize_image(image, (5, 7), interp_order=0), image)


def test_bilinear_resize_interpolates_between_pixel_centres() -> None:
    row = np.array([[[0.0], [4.0]]], dtype=np.float32)  # 1 x 2 x 1
    wider = caffe.io.resize_image(row, (1, 4))
    np.testing.assert_allclose(wider[0, :, 0], [0.0, 1.0, 3.0, 4.0])
    column = np.arange(4, dtype=np.float32).reshape(4, 1, 1)
    halved = caffe.io.resize_image(column, (2, 1))
    np.testing.assert_allclose(halved[:, 0, 0], [0.5, 2.5])
    assert halved.dtype == np.float32


def test_nearest_resize_repeats_pixels() -> None:
    image = np.arange(6, dtype=np.float32).reshape(2, 3, 1)
    doubled = caffe.io.resize_image(image, (4, 6), interp_order=0)
    repeated = np.repeat(np.repeat(image[:, :, 0], 2, axis=0), 2, axis=1)
    np.testing.assert_array_equal(doubled[:, :, 0], repeated)


def test_resize_keeps_channels_and_constants() -> None:
    image = np.full((3, 4, 5), 0.25, dtype=np.float32)
    resized = caffe.io.resize_image(image, (7, 2))
    assert resized.shape == (7, 2, 5)
    np.testing.assert_allclose(resized, 0.25)


def test_resize_rejects_what_it_cannot_do() -> None:
    with pytest.raises(ValueError, match="interp_order"):
        caffe.io.resize_image(np.zeros((2, 2, 1)), (4, 4), interp_order=3)
    with pytest.raises(ValueError, match="positive"):
        caffe.io.resize_image(np.zeros((2, 2, 1)), (0, 4))


# ---------------------------------------------------------------------------------------------
# oversample

def test_oversample_takes_corners_centre_and_mirrors() -> None:
    image = np.arange(5 * 6 * 2, dtype=np.float32).reshape(5, 6, 2)
    other = -image
    crops = caffe.io.oversample([image, other], (3, 4))
    assert crops.shape == (20, 3, 4, 2)
    expected = [image[0:3, 0:4], image[0:3, 2:6], image[2:5, 0:4], image[2:5, 2:6],
                image[1:4, 1:5]]
    for index, crop in enumerate(expected):
        np.testing.assert_array_equal(crops[index], crop)
        np.testing.assert_array_equal(crops[index + 5], crop[:, ::-1])
    np.testing.assert_array_equal(crops[10:], -crops[:10])
    with pytest.raises(ValueError, match="larger than the image"):
        caffe.io.oversample([image], (6, 4))


# ---------------------------------------------------------------------------------------------
# Transformer

def bgr_transformer() -> caffe.io.Transformer:
    transformer = caffe.io.Transformer({"data": (2, 3, 2, 3)})
    transformer.set_transpose("data", (2, 0, 1))
    transformer.set_channel_swap("data", (2, 1, 0))
    transformer.set_raw_scale("data", 255.0)
    transformer.set_mean("data", np.array([100.0, 110.0, 120.0]))
    transformer.set_input_scale("data", 0.5)
    return transformer


def test_preprocess_applies_the_steps_in_bvlc_order() -> None:
    image = RGB / 255.0
    caffe_in = bgr_transformer().preprocess("data", image)
    assert caffe_in.dtype == np.float32 and caffe_in.shape == (3, 2, 3)
    bgr = RGB.astype(np.float64).transpose(2, 0, 1)[::-1]
    expected = (bgr - np.array([100.0, 110.0, 120.0])[:, None, None]) * 0.5
    np.testing.assert_allclose(caffe_in, expected, rtol=1e-5, atol=1e-4)


def test_deprocess_undoes_preprocess() -> None:
    transformer = bgr_transformer()
    image = np.random.default_rng(1).random((2, 3, 3)).astype(np.float32)
    caffe_in = transformer.preprocess("data", image)
    np.testing.assert_allclose(transformer.deprocess("data", caffe_in), image, atol=1e-5)
    np.testing.assert_allclose(transformer.deprocess("data", caffe_in[np.newaxis]), image,
                               atol=1e-5)


def test_preprocess_resizes_to_the_input_size() -> None:
    transformer = caffe.io.Transformer({"data": (1, 1, 4, 2)})
    transformer.set_transpose("data", (2, 0, 1))
    image = np.array([[[0.0], [4.0]], [[8.0], [12.0]]], dtype=np.float32)  # 2 x 2 x 1
    caffe_in = transformer.preprocess("data", image)
    assert caffe_in.shape == (1, 4, 2)
    np.testing.assert_allclose(caffe_in[0, :, 0], [0.0, 2.0, 6.0, 8.0])
    np.testing.assert_array_equal(image[0, 1], [4.0])  # the caller's array is left alone


def test_means_of_every_accepted_shape() -> None:
    transformer = caffe.io.Transformer({"data": (1, 3, 2, 2)})
    transformer.set_transpose("data", (2, 0, 1))
    image = np.ones((2, 2, 3), dtype=np.float32)
    transformer.set_mean("data", np.arange(12.0).reshape(3, 2, 2))
    np.testing.assert_allclose(transformer.preprocess("data", image),
                               1 - np.arange(12.0).reshape(3, 2, 2))
    transformer.set_mean("data", np.array([[1.0, 2.0], [3.0, 4.0]]))  # one per position
    np.testing.assert_allclose(transformer.preprocess("data", image)[2],
                               [[0.0, -1.0], [-2.0, -3.0]])
    for bad in (np.zeros(2), np.zeros((3, 3, 3)), np.zeros((2, 3, 2, 2))):
        with pytest.raises(ValueError):
            transformer.set_mean("data", bad)


def test_transformer_checks_inputs_and_orders() -> None:
    transformer = caffe.io.Transformer({"data": (1, 3, 4, 4)})
    with pytest.raises(ValueError, match="'label' is not one of the net inputs"):
        transformer.preprocess("label", np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="permutation"):
        transformer.set_transpose("data", (0, 1))
    with pytest.raises(ValueError, match="channel swap"):
        transformer.set_channel_swap("data", (1, 0))
