"""``caffe.Layer``: the base class of Python layers (layer type "Python").

    class Scale2(caffe.Layer):
        def setup(self, bottom, top):
            self.factor = float(self.param_str or 2)
        def reshape(self, bottom, top):
            top[0].reshape(*bottom[0].shape)
        def forward(self, bottom, top):
            top[0].data[...] = self.factor * bottom[0].data
        def backward(self, top, propagate_down, bottom):
            if propagate_down[0]:
                bottom[0].diff[...] = self.factor * top[0].diff

    layer { name: "scale" type: "Python" bottom: "x" top: "y"
            python_param { module: "my_layers" layer: "Scale2" param_str: "2" } }

The net imports ``module``, creates the class with no arguments and, before ``setup``, sets
``self.param_str`` (python_param.param_str) and ``self.phase`` (caffe.TRAIN or caffe.TEST).
``bottom`` and ``top`` are lists of caffe.Blob, valid during the call.  ``self.blobs`` holds the
layer's learnable blobs: create them in ``setup`` with ``self.blobs.add_blob(*shape)``; the
solver updates them like any layer's weights.  As in every layer, ``backward`` OVERWRITES the
bottom diffs (where ``propagate_down[i]``) and ADDS to the diffs of ``self.blobs`` (the solver
zeroes them each iteration).  An exception raised by a method becomes a caffe.CaffeError naming
the layer and carrying the Python traceback.

Python layers only run in nets built from Python (``import caffe``); the ``caffe`` command-line
tool cannot load them.  The type of the entries of ``Net.layers`` also counts as a caffe.Layer.
"""
from __future__ import annotations

import abc
from typing import Any

from ._caffe import Layer as _NetLayer


class Layer(metaclass=abc.ABCMeta):
    """Base class of Python layers: override setup, reshape, forward and backward."""

    @property
    def blobs(self) -> Any:
        """The learnable blobs (supports len, indexing, iteration and ``add_blob(*shape)``)."""
        try:
            return self.__dict__["_caffe_blobs"]
        except KeyError:
            raise AttributeError(f"{type(self).__name__}.blobs exists once the net sets the layer "
                                 "up (from setup() on)") from None

    def setup(self, bottom: list, top: list) -> None:
        """Called once when the net is built: read self.param_str, create self.blobs."""

    def reshape(self, bottom: list, top: list) -> None:
        """Called before every forward pass: give the tops their shapes (top[i].reshape)."""

    def forward(self, bottom: list, top: list) -> None:
        """Compute the tops' data from the bottoms' data."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward(bottom, top)")

    def backward(self, top: list, propagate_down: list[bool], bottom: list) -> None:
        """Compute bottom diffs (where propagate_down[i]) and add parameter gradients."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement backward(top, propagate_down, bottom) to be "
            "trained through")


# The layers of a Net (caffe._caffe.Layer) are caffe.Layer objects too.
Layer.register(_NetLayer)
