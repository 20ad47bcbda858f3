"""caffe.Classifier: a Net that classifies images, with BVLC's constructor and predict().

    net = caffe.Classifier("deploy.prototxt", "weights.caffemodel", image_dims=(256, 256),
                           mean=np.array([104, 117, 123]), raw_scale=255,
                           channel_swap=(2, 1, 0))
    probabilities = net.predict([caffe.io.load_image("cat.jpg")])   # (1, classes)

predict resizes each (H, W, K) image to image_dims, takes the ten standard crops of the net's
input size (oversample=True: corners, centre and their mirrors, predictions averaged) or the
centre crop, preprocesses them with `self.transformer` and runs them through the net in batches.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Optional, Union

import numpy as np

from ._caffe import TEST
from .io_image import oversample as ten_crops
from .io_image import resize_image
from .pycaffe import Net
from .transformer import net_input_transformer

PathLike = Union[str, "os.PathLike[str]"]


def centre_crops(images: np.ndarray, crop_dims: Sequence[int]) -> np.ndarray:
    """The centre (crop height, crop width) window of each image of an (N, H, W, K) array."""
    height, width = images.shape[1:3]
    crop_height, crop_width = (int(size) for size in crop_dims)
    if crop_height > height or crop_width > width:
        raise ValueError(f"the net's input, {crop_height} x {crop_width}, is larger than "
                         f"image_dims {height} x {width}")
    top, left = (height - crop_height) // 2, (width - crop_width) // 2
    return images[:, top:top + crop_height, left:left + crop_width]


class Classifier(Net):
    """A TEST-phase Net built from a deploy prototxt and weights that classifies images."""

    def __init__(self, model_file: PathLike, pretrained_file: PathLike,
                 image_dims: Optional[Sequence[int]] = None, mean: Optional[np.ndarray] = None,
                 input_scale: Optional[float] = None, raw_scale: Optional[float] = None,
                 channel_swap: Optional[Sequence[int]] = None) -> None:
        super().__init__(model_file, pretrained_file, TEST)
        self.transformer = net_input_transformer(self, mean, input_scale, raw_scale,
                                                 channel_swap)
        self.crop_dims = np.array(self.blobs[self.inputs[0]].data.shape[2:])
        self.image_dims = np.array(self.crop_dims if image_dims is None else image_dims)

    def predict(self, inputs: Sequence[np.ndarray], oversample: bool = True) -> np.ndarray:
        """Class scores (the net's first output) for each (H, W, K) image: (N, outputs)."""
        if len(inputs) == 0:
            raise ValueError("predict needs at least one image")
        resized = np.stack([resize_image(image, self.image_dims) for image in inputs])
        crops = ten_crops(resized, self.crop_dims) if oversample else \
            centre_crops(resized, self.crop_dims)
        in_ = self.inputs[0]
        caffe_in = np.stack([self.transformer.preprocess(in_, crop) for crop in crops])
        predictions = self.forward_all(**{in_: caffe_in})[self.outputs[0]]
        if oversample:
            predictions = predictions.reshape((len(inputs), 10, -1)).mean(axis=1)
        return predictions
