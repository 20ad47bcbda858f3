"""caffe.io.Transformer: turns images as Python holds them ((H, W, K) RGB arrays in [0, 1])
into a net's input layout and back.

    transformer = caffe.io.Transformer({"data": net.blobs["data"].data.shape})
    transformer.set_transpose("data", (2, 0, 1))     # H x W x K -> K x H x W
    transformer.set_channel_swap("data", (2, 1, 0))  # RGB -> BGR
    transformer.set_raw_scale("data", 255)           # [0, 1] -> [0, 255]
    transformer.set_mean("data", np.array([104, 117, 123]))
    net.blobs["data"].data[0] = transformer.preprocess("data", caffe.io.load_image("cat.jpg"))

preprocess applies, in this order and each only when set: resize to the input's height and
width, transpose, channel swap, raw scale, mean subtraction, input scale.  deprocess undoes
them in reverse (except the resize).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .io_image import resize_image


class Transformer:
    """Per-input preprocessing settings; `inputs` maps input blob names to their shapes."""

    def __init__(self, inputs: Mapping[str, Sequence[int]]) -> None:
        self.inputs: dict[str, tuple[int, ...]] = {
            name: tuple(int(size) for size in shape) for name, shape in inputs.items()}
        self.transpose: dict[str, tuple[int, ...]] = {}
        self.channel_swap: dict[str, tuple[int, ...]] = {}
        self.raw_scale: dict[str, float] = {}
        self.mean: dict[str, np.ndarray] = {}
        self.input_scale: dict[str, float] = {}

    def _shape_of(self, in_: str) -> tuple[int, ...]:
        if in_ not in self.inputs:
            raise ValueError(f"'{in_}' is not one of the net inputs: {sorted(self.inputs)}")
        return self.inputs[in_]

    def preprocess(self, in_: str, data: np.ndarray) -> np.ndarray:
        """One (H', W', K) image in the layout of input `in_` ((K, H, W) with the usual
        transpose), as float32."""
        shape = self._shape_of(in_)
        caffe_in = np.array(data, dtype=np.float32)
        spatial = shape[2:]
        if len(spatial) == 2 and caffe_in.ndim == 3 and caffe_in.shape[:2] != spatial:
            caffe_in = resize_image(caffe_in, spatial)
        if in_ in self.transpose:
            caffe_in = caffe_in.transpose(self.transpose[in_])
        if in_ in self.channel_swap:
            caffe_in = caffe_in[list(self.channel_swap[in_])]
        if in_ in self.raw_scale:
            caffe_in *= self.raw_scale[in_]
        if in_ in self.mean:
            caffe_in -= self.mean[in_]
        if in_ in self.input_scale:
            caffe_in *= self.input_scale[in_]
        return caffe_in

    def deprocess(self, in_: str, data: np.ndarray) -> np.ndarray:
        """Input `in_`'s layout back to an image: preprocess undone in reverse order.  A leading
        dimension of size 1 (a batch of one) is dropped."""
        self._shape_of(in_)
        image = np.array(data, dtype=np.float32)
        if image.ndim == len(self.inputs[in_]) and image.shape[0] == 1:
            image = image[0]
        if in_ in self.input_scale:
            image /= self.input_scale[in_]
        if in_ in self.mean:
            image += self.mean[in_]
        if in_ in self.raw_scale:
            image /= self.raw_scale[in_]
        if in_ in self.channel_swap:
            image = image[np.argsort(self.channel_swap[in_])]
        if in_ in self.transpose:
            image = image.transpose(np.argsort(self.transpose[in_]))
        return image

    def set_transpose(self, in_: str, order: Sequence[int]) -> None:
        """The axis order taking an image to the input's layout: (2, 0, 1) makes (H, W, K) into
        (K, H, W)."""
        shape = self._shape_of(in_)
        order = tuple(int(axis) for axis in order)
        if sorted(order) != list(range(len(shape) - 1)):
            raise ValueError(f"transpose order {order} must be a permutation of the "
                             f"{len(shape) - 1} axes of one item of '{in_}' {shape}")
        self.transpose[in_] = order

    def set_channel_swap(self, in_: str, order: Sequence[int]) -> None:
        """The channel order after the transpose: (2, 1, 0) makes RGB into BGR."""
        shape = self._shape_of(in_)
        order = tuple(int(channel) for channel in order)
        if len(shape) < 2 or len(order) != shape[1]:
            raise ValueError(f"channel swap order {order} must name each of the channels of "
                             f"'{in_}' {shape} once")
        self.channel_swap[in_] = order

    def set_raw_scale(self, in_: str, scale: float) -> None:
        """Factor applied before the mean is subtracted: 255 for models trained on [0, 255]
        pixels (CaffeNet, AlexNet) fed [0, 1] images."""
        self._shape_of(in_)
        self.raw_scale[in_] = float(scale)

    def set_mean(self, in_: str, mean: np.ndarray) -> None:
        """The mean subtracted after raw scaling: one value per channel (K,), or an (H, W) /
        (K, H, W) array in the input's layout."""
        item_shape = self._shape_of(in_)[1:]
        values = np.asarray(mean, dtype=np.float32)
        if values.ndim == 1:
            if not item_shape or values.shape[0] != item_shape[0]:
                raise ValueError(f"a per-channel mean has {values.shape[0]} values but '{in_}' "
                                 f"has {item_shape[0] if item_shape else 0} channels")
            values = values.reshape((-1,) + (1,) * (len(item_shape) - 1))
        elif values.ndim == len(item_shape) - 1:
            values = values[np.newaxis]
        try:
            fits = np.broadcast_shapes(values.shape, item_shape) == item_shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"mean of shape {np.shape(mean)} does not fit the items of "
                             f"'{in_}', shape {item_shape}")
        self.mean[in_] = values

    def set_input_scale(self, in_: str, scale: float) -> None:
        """Factor applied last, after the mean is subtracted."""
        self._shape_of(in_)
        self.input_scale[in_] = float(scale)


def net_input_transformer(net: Any, mean: np.ndarray | None = None,
                          input_scale: float | None = None, raw_scale: float | None = None,
                          channel_swap: Sequence[int] | None = None) -> Transformer:
    """The Transformer that Classifier and Detector use for the net's first input: (H, W, K)
    images transposed to (K, H, W), then the settings given (None leaves one unset)."""
    if not net.inputs:
        raise ValueError("the net has no input blobs (Input layers) to feed images to")
    in_ = net.inputs[0]
    transformer = Transformer({in_: net.blobs[in_].data.shape})
    transformer.set_transpose(in_, (2, 0, 1))
    if mean is not None:
        transformer.set_mean(in_, mean)
    if input_scale is not None:
        transformer.set_input_scale(in_, input_scale)
    if raw_scale is not None:
        transformer.set_raw_scale(in_, raw_scale)
    if channel_swap is not None:
        transformer.set_channel_swap(in_, channel_swap)
    return transformer
