"""caffe.Detector: a Net that scores image windows (R-CNN style), with BVLC's interface.

    detector = caffe.Detector("deploy.prototxt", "weights.caffemodel",
                              mean=np.array([104, 117, 123]), raw_scale=255,
                              channel_swap=(2, 1, 0), context_pad=16)
    detections = detector.detect_windows([("cat.jpg", [(0, 0, 100, 120), (20, 30, 80, 90)])])
    # [{"filename": "cat.jpg", "window": array([0, 0, 100, 120]), "prediction": array([...])}, ...]

A window is (ymin, xmin, ymax, xmax) in pixels, the maxima excluded.  Each window is cut out,
warped to the net's input size and preprocessed with `self.transformer`.  With context_pad = p,
the window is first enlarged about its centre so that, once warped, it has p pixels of
surrounding context on every side; context beyond the image border is filled with the mean
colour (so it becomes zero after mean subtraction).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any, Optional, Union

import numpy as np

from ._caffe import TEST
from .io_image import load_image, resize_image
from .pycaffe import Net
from .transformer import net_input_transformer

PathLike = Union[str, "os.PathLike[str]"]
Window = Sequence[int]


class Detector(Net):
    """A TEST-phase Net built from a deploy prototxt and weights that scores image windows."""

    def __init__(self, model_file: PathLike, pretrained_file: PathLike,
                 mean: Optional[np.ndarray] = None, input_scale: Optional[float] = None,
                 raw_scale: Optional[float] = None, channel_swap: Optional[Sequence[int]] = None,
                 context_pad: Optional[int] = None) -> None:
        super().__init__(model_file, pretrained_file, TEST)
        self.transformer = net_input_transformer(self, mean, input_scale, raw_scale,
                                                 channel_swap)
        self.configure_crop(context_pad)

    def detect_windows(self, images_windows: Iterable[tuple[PathLike, Iterable[Window]]]
                       ) -> list[dict[str, Any]]:
        """Scores every window of every image: one {"filename", "window", "prediction"} dict
        per window, in the order given (the prediction is the net's first output, flattened)."""
        in_ = self.inputs[0]
        crops: list[np.ndarray] = []
        detections: list[dict[str, Any]] = []
        for filename, windows in images_windows:
            image = load_image(filename)
            for window in windows:
                crops.append(self.transformer.preprocess(in_, self.crop(image, window)))
                detections.append({"filename": filename, "window": np.asarray(window)})
        if not crops:
            return []
        predictions = self.forward_all(**{in_: np.stack(crops)})[self.outputs[0]]
        for detection, prediction in zip(detections, predictions):
            detection["prediction"] = prediction.ravel()
        return detections

    def detect_selective_search(self, image_fnames: Sequence[PathLike]) -> list[dict[str, Any]]:
        """detect_windows over the windows that Selective Search proposes for each image (needs
        the selective_search_ijcv_with_python package and MATLAB, as in BVLC)."""
        try:
            import selective_search_ijcv_with_python as selective_search
        except ImportError as error:
            raise ImportError("detect_selective_search needs the "
                              "selective_search_ijcv_with_python package (and MATLAB); pass "
                              "windows of your own to detect_windows instead") from error
        paths = [os.path.abspath(name) for name in image_fnames]
        windows = selective_search.get_windows(paths, cmd="selective_search_rcnn")
        return self.detect_windows(zip(paths, windows))

    def configure_crop(self, context_pad: Optional[int]) -> None:
        """Sets the crop size (the net's input height and width) and the context padding; with
        padding, the fill colour for context outside the image (the mean colour)."""
        self.crop_dims = np.array(self.blobs[self.inputs[0]].data.shape[2:])
        self.context_pad = int(context_pad or 0)
        if self.context_pad * 2 >= int(self.crop_dims.min()):
            raise ValueError(f"context_pad {self.context_pad} leaves nothing of a "
                             f"{tuple(self.crop_dims)} crop for the window")
        self.crop_mean = np.tile(self._mean_colour(),
                                 (int(self.crop_dims[0]), int(self.crop_dims[1]), 1))

    def _mean_colour(self) -> np.ndarray:
        """The image colour (K,) that preprocessing turns into zero: the per-channel mean,
        unscaled and in image channel order; zeros without a mean."""
        in_ = self.inputs[0]
        channels = self.transformer.inputs[in_][1]
        if in_ not in self.transformer.mean:
            return np.zeros(channels, dtype=np.float32)
        mean = np.broadcast_to(self.transformer.mean[in_], self.transformer.inputs[in_][1:])
        colour = mean.reshape(channels, -1).mean(axis=1)
        colour = colour / self.transformer.raw_scale.get(in_, 1.0)
        if in_ in self.transformer.channel_swap:
            colour = colour[np.argsort(self.transformer.channel_swap[in_])]
        return colour.astype(np.float32)

    def crop(self, im: np.ndarray, window: Window) -> np.ndarray:
        """The window of an (H, W, K) image, with context_pad pixels of context (see the module
        docstring); without context the plain cut-out, which preprocess then warps."""
        ymin, xmin, ymax, xmax = (int(value) for value in window)
        if ymax <= ymin or xmax <= xmin:
            raise ValueError(f"window {tuple(window)} is empty (ymin, xmin, ymax, xmax)")
        if not self.context_pad:
            return im[ymin:ymax, xmin:xmax]
        return self._crop_with_context(im, np.array([ymin, xmin], float),
                                       np.array([ymax, xmax], float))

    def _crop_with_context(self, im: np.ndarray, start: np.ndarray, stop: np.ndarray
                           ) -> np.ndarray:
        crop_size = self.crop_dims.astype(float)
        # Enlarge the box about its centre so that its original extent fills crop_size - 2p.
        centre, half = (start + stop) / 2, (stop - start) / 2
        half *= crop_size / (crop_size - 2 * self.context_pad)
        box_start, box_stop = centre - half, centre + half
        # The part of the enlarged box inside the image, and where it lands in the crop.
        image_size = np.array(im.shape[:2], float)
        inside_start = np.clip(np.round(box_start), 0, image_size).astype(int)
        inside_stop = np.clip(np.round(box_stop), 0, image_size).astype(int)
        crop = self.crop_mean.copy()
        if np.any(inside_stop <= inside_start):
            return crop  # the enlarged box lies outside the image: context only
        pixels_per_unit = crop_size / (box_stop - box_start)
        place_start = np.round((inside_start - box_start) * pixels_per_unit).astype(int)
        place_size = np.round((inside_stop - inside_start) * pixels_per_unit).astype(int)
        place_start = np.clip(place_start, 0, self.crop_dims - 1)
        place_size = np.clip(place_size, 1, self.crop_dims - place_start)
        region = im[inside_start[0]:inside_stop[0], inside_start[1]:inside_stop[1]]
        crop[place_start[0]:place_start[0] + place_size[0],
             place_start[1]:place_start[1] + place_size[1]] = resize_image(region, place_size)
        return crop
