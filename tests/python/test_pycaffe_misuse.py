"""pycaffe used in the wrong order raises a Python exception and never aborts the interpreter."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import caffe

DROPOUT_NET = """
layer { name: "in" type: "Input" top: "x" top: "label"
  input_param { shape { dim: 4 dim: 6 } shape { dim: 4 } } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "ip"
  inner_product_param { num_output: 5 weight_filler { type: "xavier" } } }
layer { name: "drop" type: "Dropout" bottom: "ip" top: "ip" dropout_param { dropout_ratio: 0.5 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
"""


@pytest.fixture
def dropout_net(tmp_path: Path) -> caffe.Net:
    path = tmp_path / "dropout.prototxt"
    path.write_text(DROPOUT_NET)
    caffe.set_mode_cpu()
    net = caffe.Net(str(path), caffe.TRAIN)
    net.blobs["x"].data[...] = np.random.default_rng(0).standard_normal((4, 6))
    net.blobs["label"].data[...] = [0, 1, 2, 3]
    return net


def test_backward_before_forward_raises(dropout_net: caffe.Net) -> None:
    with pytest.raises(caffe.CaffeError, match=r"layer 'drop' \(Dropout\).*run forward first"):
        dropout_net.backward()


def test_backward_after_forward_works(dropout_net: caffe.Net) -> None:
    dropout_net.forward()
    dropout_net.backward()
    assert np.isfinite(dropout_net.params["ip"][0].diff).all()
    assert np.abs(dropout_net.params["ip"][0].diff).sum() > 0
