"""caffe.coord_map: coordinate maps between NetSpec tops and the Crop layers built from them."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import caffe
from caffe import layers as L
from caffe import params as P
from caffe.coord_map import (AxisMismatchException, UndefinedMapException, compose,
                             coord_map, coord_map_from_to, crop, inverse)
from caffe.proto import caffe_pb2


def image_input(size: int = 32) -> caffe.NetSpec:
    n = caffe.NetSpec()
    n.data = L.Input(shape=dict(dim=[1, 1, size, size]))
    return n


def test_convolution_maps_output_to_the_centre_of_its_window() -> None:
    n = image_input()
    n.conv = L.Convolution(n.data, num_output=4, kernel_size=5, stride=2, pad=1)
    # Output y covers inputs 2y - 1 .. 2y + 3, centred on 2y + 1.
    assert coord_map_from_to(n.conv, n.data) == (1, 2.0, 1.0)
    assert coord_map_from_to(n.data, n.conv) == (1, 0.5, -0.5)


def test_dilation_widens_the_window() -> None:
    n = image_input()
    n.conv = L.Convolution(n.data, num_output=4, kernel_size=3, dilation=2)
    # Effective kernel 5: output y is centred on input y + 2.
    assert coord_map_from_to(n.conv, n.data) == (1, 1.0, 2.0)


def test_deconvolution_and_pooling() -> None:
    n = image_input()
    n.pool = L.Pooling(n.data, pool=P.Pooling.AVE, kernel_size=3, stride=3, pad=1)
    n.up = L.Deconvolution(n.pool, convolution_param=dict(num_output=1, kernel_size=3, stride=3))
    # pool: y = (x + 1 - 1) / 3 = x / 3; deconv: z = 3 y + 1.
    assert coord_map_from_to(n.pool, n.data) == (1, 3.0, 0.0)
    assert coord_map_from_to(n.up, n.data) == (1, 1.0, -1.0)
    assert coord_map_from_to(n.up, n.pool) == (1, 1 / 3, -1 / 3)


def test_per_axis_settings_give_per_axis_maps() -> None:
    n = image_input()
    n.conv = L.Convolution(n.data, num_output=4, kernel_h=3, kernel_w=5, stride_h=1, stride_w=2,
                           pad_h=0, pad_w=3)
    axis, a, b = coord_map_from_to(n.conv, n.data)
    assert axis == 1
    np.testing.assert_array_equal(a, [1.0, 2.0])
    np.testing.assert_array_equal(b, [1.0, -1.0])
    assert isinstance(a, np.ndarray) and a.dtype == np.float64


def test_nested_parameter_dicts_count_like_keywords() -> None:
    n = image_input()
    n.by_keyword = L.Convolution(n.data, num_output=2, kernel_size=3, stride=2, pad=2)
    n.nested = L.Convolution(n.data, convolution_param=dict(num_output=2, kernel_size=[3],
                                                            stride=[2], pad=[2]))
    assert coord_map_from_to(n.by_keyword, n.data) == coord_map_from_to(n.nested, n.data)


def test_sibling_branches_meet_at_their_common_ancestor() -> None:
    n = image_input()
    n.conv = L.Convolution(n.data, num_output=2, kernel_size=3)
    n.relu = L.ReLU(n.conv, in_place=True)
    n.pool = L.Pooling(n.data, pool=P.Pooling.MAX, kernel_size=2, stride=2)
    # conv: y1 = x - 1; pool: y2 = (x - 1/2) / 2; so y2 = y1 / 2 + 1/4.
    assert coord_map_from_to(n.relu, n.pool) == (1, 0.5, 0.25)


def test_unrelated_or_unmappable_tops_are_runtime_errors() -> None:
    n = image_input()
    n.other = L.Input(shape=dict(dim=[1, 1, 8, 8]))
    with pytest.raises(RuntimeError, match="share no ancestor"):
        coord_map_from_to(n.data, n.other)
    n.global_pool = L.Pooling(n.data, pool=P.Pooling.AVE, global_pooling=True)
    with pytest.raises(UndefinedMapException, match="global_pooling"):
        coord_map_from_to(n.global_pool, n.data)
    n.ip = L.InnerProduct(n.data, num_output=3)
    with pytest.raises(UndefinedMapException, match="InnerProduct"):
        coord_map_from_to(n.ip, n.data)
    assert issubclass(UndefinedMapException, RuntimeError)


def test_crop_layer_map_and_axis_mismatch() -> None:
    n = image_input()
    n.conv = L.Convolution(n.data, num_output=1, kernel_size=3, pad=4)
    n.cropped = L.Crop(n.conv, n.data, axis=2, offset=[2, 5])
    axis, a, b = coord_map_from_to(n.cropped, n.data)
    assert axis == 1 and a == 1.0
    np.testing.assert_array_equal(b, [-1.0, 2.0])  # conv: x = y - 3; crop adds the offsets
    n.late = L.Crop(n.conv, n.data, axis=3, offset=1)
    with pytest.raises(AxisMismatchException):
        coord_map_from_to(n.late, n.data)


def test_map_algebra() -> None:
    first = (1, Fraction(1, 2), Fraction(-1, 4))
    second = (None, Fraction(3), Fraction(2))
    assert compose(first, second) == (1, Fraction(3, 2), Fraction(5, 4))
    assert compose(inverse(first), first) == (1, 1, 0)
    assert inverse(compose(first, second)) == compose(inverse(second), inverse(first))
    n = image_input()
    n.relu = L.ReLU(n.data)
    assert coord_map(n.relu.fn) == (None, 1, 0)


def test_crop_builds_the_aligning_crop_layer() -> None:
    n = image_input()
    n.conv = L.Convolution(n.data, num_output=1, kernel_size=3, pad=5)
    n.cropped = crop(n.conv, n.data)  # conv output y sits at input y - 4
    assert n.cropped.fn.type_name == "Crop"
    assert n.cropped.fn.inputs == (n.conv, n.data)
    assert n.cropped.fn.params == {"crop_param": {"axis": 2, "offset": [4]}}
    assert coord_map_from_to(n.cropped, n.data) == (1, 1.0, 0.0)

    n.wide = L.Convolution(n.data, num_output=1, kernel_h=3, kernel_w=1, pad_h=3, pad_w=2)
    assert crop(n.wide, n.data).fn.params == {"crop_param": {"axis": 2, "offset": [2, 2]}}


def test_crop_refuses_what_cropping_cannot_align() -> None:
    n = image_input()
    n.half = L.Pooling(n.data, pool=P.Pooling.MAX, kernel_size=2, stride=1)
    with pytest.raises(AssertionError, match="fraction"):
        crop(n.half, n.data)
    n.down = L.Convolution(n.data, num_output=1, kernel_size=1, stride=2)
    with pytest.raises(AssertionError, match="scales differ"):
        crop(n.down, n.data)
    n.smaller = L.Convolution(n.data, num_output=1, kernel_size=5)
    with pytest.raises(AssertionError, match="negative offset"):
        crop(n.smaller, n.data)


CROP_LAYERS = {"Input", "Convolution", "Deconvolution", "Crop"}


@pytest.mark.skipif(
    not CROP_LAYERS <= set(caffe.layer_type_list())
    or "crop_param" not in caffe_pb2.LayerParameter.DESCRIPTOR.fields_by_name,
    reason="needs the Convolution, Deconvolution and Crop layers and crop_param")
def test_crop_from_the_map_realigns_real_outputs(tmp_path: Path) -> None:
    # Centre-tap kernels copy their input, shifted by the padding: the crops coord_map builds
    # must bring both outputs back onto the input exactly.
    n = image_input(size=9)
    centre_tap = dict(type="constant", value=0)
    n.conv = L.Convolution(n.data, num_output=1, kernel_size=3, pad=3, bias_term=False,
                           weight_filler=centre_tap)
    n.up = L.Deconvolution(n.data, convolution_param=dict(num_output=1, kernel_size=3,
                                                          bias_term=False,
                                                          weight_filler=centre_tap))
    n.conv_crop = crop(n.conv, n.data)
    n.up_crop = crop(n.up, n.data)
    path = tmp_path / "crop.prototxt"
    path.write_text(str(n.to_proto()))
    net = caffe.Net(str(path), caffe.TEST)
    for layer in ("conv", "up"):
        net.params[layer][0].data[...] = 0
        net.params[layer][0].data[0, 0, 1, 1] = 1
    image = np.random.default_rng(0).standard_normal((1, 1, 9, 9)).astype(np.float32)
    out = net.forward(data=image, blobs=["conv_crop", "up_crop"])
    np.testing.assert_array_equal(out["conv_crop"], image)
    np.testing.assert_array_equal(out["up_crop"], image)
