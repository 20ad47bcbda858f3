"""Images as numpy arrays for pycaffe (re-exported by caffe.io): loading, resizing and the ten
standard crops.  Images are float32 arrays of shape (height, width, channels) in RGB order
with values in [0, 1], as BVLC's caffe.io returns them.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Union

import numpy as np
from PIL import Image

PathLike = Union[str, "os.PathLike[str]"]

# Largest value of the integer pixel formats Pillow reads without converting them.
_WIDE_MODE_MAXIMUM = {"I;16": 65535.0, "I;16B": 65535.0, "I;16L": 65535.0, "I": 2.0**31 - 1}


def _pixels(image: Image.Image, color: bool) -> np.ndarray:
    """The image's pixels as float32 in [0, 1]: (H, W) for one channel, else (H, W, 3 or 4)."""
    if image.mode in _WIDE_MODE_MAXIMUM:
        return np.asarray(image, dtype=np.float32) / np.float32(_WIDE_MODE_MAXIMUM[image.mode])
    if image.mode == "F":
        return np.asarray(image, dtype=np.float32)
    if not color:
        target = "L"
    elif image.mode in ("L", "RGB", "RGBA"):
        target = image.mode
    elif image.mode in ("1", "LA"):
        target = "L"
    elif image.mode == "P" and "transparency" in image.info:
        target = "RGBA"
    else:
        target = "RGB"  # palette, CMYK, YCbCr, ...
    return np.asarray(image.convert(target), dtype=np.float32) / np.float32(255.0)


def load_image(filename: PathLike, color: bool = True) -> np.ndarray:
    """An image file as a float32 (H, W, 3) RGB array in [0, 1] (grey images repeated over the
    three channels, alpha dropped), or with color=False as (H, W, 1) intensity."""
    with Image.open(filename) as image:
        pixels = _pixels(image, color)
    if pixels.ndim == 2:
        pixels = pixels[:, :, np.newaxis]
        if color:
            pixels = np.tile(pixels, (1, 1, 3))
    elif pixels.shape[2] == 4:
        pixels = pixels[:, :, :3]
    return pixels


def _resample_axis(values: np.ndarray, axis: int, size: int, interp_order: int) -> np.ndarray:
    """`values` resampled to `size` entries along `axis`, with pixel centres aligned (output
    pixel i samples input position (i + 0.5) * old / size - 0.5)."""
    old = values.shape[axis]
    positions = (np.arange(size) + 0.5) * (old / size) - 0.5
    if interp_order == 0:
        nearest = np.clip(np.floor(positions + 0.5).astype(np.int64), 0, old - 1)
        return np.take(values, nearest, axis=axis)
    below = np.floor(positions)
    weight_above = (positions - below).astype(np.float32)
    below_index = np.clip(below.astype(np.int64), 0, old - 1)
    above_index = np.clip(below.astype(np.int64) + 1, 0, old - 1)
    shape = [1] * values.ndim
    shape[axis] = size
    weight_above = weight_above.reshape(shape)
    return (np.take(values, below_index, axis=axis) * (1 - weight_above) +
            np.take(values, above_index, axis=axis) * weight_above)


def resize_image(im: np.ndarray, new_dims: Sequence[int], interp_order: int = 1) -> np.ndarray:
    """An (H, W, K) image resized to new_dims = (height, width): interp_order 1 is bilinear
    (the default), 0 nearest-neighbour.  Returns float32 (height, width, K)."""
    if interp_order not in (0, 1):
        raise ValueError(f"resize_image supports interp_order 0 (nearest) and 1 (bilinear), "
                         f"got {interp_order}")
    height, width = (int(size) for size in new_dims)
    if height < 1 or width < 1:
        raise ValueError(f"resize_image: new_dims must be positive, got {tuple(new_dims)}")
    values = np.asarray(im, dtype=np.float32)
    if values.ndim < 2 or min(values.shape[:2]) < 1:
        raise ValueError(f"resize_image needs an (H, W[, K]) image, got shape {values.shape}")
    rows = _resample_axis(values, 0, height, interp_order)
    return _resample_axis(rows, 1, width, interp_order).astype(np.float32, copy=False)


def oversample(images: Iterable[np.ndarray], crop_dims: Sequence[int]) -> np.ndarray:
    """The ten standard crops of each (H, W, K) image: the four corners and the centre, then
    the same five mirrored left-right.  Returns a (10 N, crop height, crop width, K) array."""
    crop_height, crop_width = (int(size) for size in crop_dims)
    crops = []
    for image in images:
        image = np.asarray(image, dtype=np.float32)
        height, width = image.shape[:2]
        if crop_height > height or crop_width > width:
            raise ValueError(f"oversample: crop {crop_height} x {crop_width} is larger than the "
                             f"image, {height} x {width}")
        tops = (0, 0, height - crop_height, height - crop_height, (height - crop_height) // 2)
        lefts = (0, width - crop_width, 0, width - crop_width, (width - crop_width) // 2)
        five = [image[top:top + crop_height, left:left + crop_width]
                for top, left in zip(tops, lefts)]
        crops.extend(five)
        crops.extend(crop[:, ::-1] for crop in five)
    if not crops:
        return np.zeros((0, crop_height, crop_width, 0), dtype=np.float32)
    return np.stack(crops)
