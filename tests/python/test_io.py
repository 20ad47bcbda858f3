"""caffe.io: numpy <-> BlobProto / BlobProtoVector / Datum, and prototxt files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import caffe
from caffe import io
from caffe.proto import caffe_pb2


@pytest.mark.parametrize("shape", [(), (7,), (2, 3), (2, 3, 4, 5)])
def test_blobproto_round_trip(shape: tuple[int, ...]) -> None:
    array = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    blob = io.array_to_blobproto(array)
    assert tuple(blob.shape.dim) == shape
    back = io.blobproto_to_array(blob)
    assert back.dtype == np.float32 and back.shape == shape
    np.testing.assert_array_equal(back, array)


def test_blobproto_diff_round_trip_and_shape_check() -> None:
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    blob = io.array_to_blobproto(data, diff=-data)
    np.testing.assert_array_equal(io.blobproto_to_array(blob, return_diff=True), -data)
    with pytest.raises(ValueError, match="diff has shape"):
        io.array_to_blobproto(data, diff=np.zeros(6))
    with pytest.raises(ValueError, match="0 diff value"):
        io.blobproto_to_array(io.array_to_blobproto(data), return_diff=True)


def test_float64_input_is_stored_as_float() -> None:
    blob = io.array_to_blobproto(np.array([0.1, 0.2], dtype=np.float64))
    assert io.blobproto_to_array(blob).dtype == np.float32


def test_legacy_dims_and_double_data() -> None:
    legacy = caffe_pb2.BlobProto(num=1, channels=2, height=1, width=3)
    legacy.data.extend(range(6))
    assert io.blobproto_shape(legacy) == (1, 2, 1, 3)
    np.testing.assert_array_equal(io.blobproto_to_array(legacy), np.arange(6).reshape(1, 2, 1, 3))
    doubles = caffe_pb2.BlobProto()
    doubles.shape.dim.extend([2])
    doubles.double_data.extend([0.5, 1.5])
    back = io.blobproto_to_array(doubles)
    assert back.dtype == np.float64
    np.testing.assert_array_equal(back, [0.5, 1.5])


def test_blobproto_count_mismatch_is_an_error() -> None:
    blob = caffe_pb2.BlobProto()
    blob.shape.dim.extend([2, 2])
    blob.data.extend([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="3 data value"):
        io.blobproto_to_array(blob)


def test_blobprotovector_round_trip() -> None:
    arrays = [np.ones((2, 2), np.float32), np.arange(3, dtype=np.float32)]
    back = io.blobprotovector_str_to_arraylist(io.arraylist_to_blobprotovector_str(arrays))
    assert len(back) == 2
    for original, restored in zip(arrays, back):
        np.testing.assert_array_equal(original, restored)


def test_load_blobproto_file(tmp_path: Path) -> None:
    mean = np.random.default_rng(1).uniform(size=(3, 4, 4)).astype(np.float32)
    path = tmp_path / "mean.binaryproto"
    path.write_bytes(io.array_to_blobproto(mean).SerializeToString())
    np.testing.assert_array_equal(io.load_blobproto(path), mean)


def test_uint8_datum_round_trip() -> None:
    image = np.random.default_rng(2).integers(0, 256, size=(3, 4, 5), dtype=np.uint8)
    datum = io.array_to_datum(image, label=7)
    assert (datum.channels, datum.height, datum.width, datum.label) == (3, 4, 5, 7)
    assert datum.data == image.tobytes() and len(datum.float_data) == 0
    back = io.datum_to_array(caffe_pb2.Datum.FromString(datum.SerializeToString()))
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, image)
    back[0, 0, 0] = 1  # a writable copy


def test_float_datum_round_trip() -> None:
    values = np.linspace(-1, 1, 12).reshape(1, 3, 4)
    datum = io.array_to_datum(values)
    assert not datum.HasField("label") and len(datum.data) == 0
    back = io.datum_to_array(datum)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, values, rtol=1e-6)


def test_datum_errors() -> None:
    with pytest.raises(ValueError, match="3-d"):
        io.array_to_datum(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="encoded"):
        io.datum_to_array(caffe_pb2.Datum(encoded=True, data=b"\xff\xd8"))
    with pytest.raises(ValueError, match="needs 8"):
        io.datum_to_array(caffe_pb2.Datum(channels=2, height=2, width=2, data=b"\x00" * 3))


NET_TEXT = """\
name: "small"
layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 } } }
"""


def test_load_and_save_net_param(tmp_path: Path) -> None:
    path = tmp_path / "small.prototxt"
    path.write_text(NET_TEXT)
    param = io.load_net_param(path)
    assert param.name == "small" and param.layer[0].input_param.shape[0].dim == [1, 2]
    copy = tmp_path / "copy.prototxt"
    io.save_net_param(param, copy)
    assert io.load_net_param(str(copy)) == param
    assert caffe.Net(str(copy), caffe.TEST).blobs["data"].shape == (1, 2)


def test_load_net_param_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.prototxt"
    broken.write_text('name: "x"\nlayer {\n  nme: "y"\n}\n')
    with pytest.raises(caffe.CaffeError, match=rf"{broken}:3:3: .*nme"):
        io.load_net_param(broken)
    untyped = tmp_path / "untyped.prototxt"
    untyped.write_text("layers { name: 'x' }\n")
    with pytest.raises(caffe.CaffeError, match=rf"{untyped}: .*'x' has no type"):
        io.load_net_param(untyped)
    with pytest.raises(FileNotFoundError):
        io.load_net_param(tmp_path / "missing.prototxt")


def test_load_net_param_upgrades_old_formats(tmp_path: Path) -> None:
    v1 = tmp_path / "v1.prototxt"
    v1.write_text('name: "old"\ninput: "x"\ninput_dim: 1 input_dim: 2 input_dim: 1 input_dim: 1\n'
                  'layers { name: "relu" type: RELU bottom: "x" top: "x" }\n'
                  'layers { name: "fc" type: INNER_PRODUCT bottom: "x" top: "y" blobs_lr: 1 '
                  'blobs_lr: 2 weight_decay: 1 weight_decay: 0 param: "w" }\n')
    param = io.load_net_param(v1)
    assert not param.layers and not param.input and not param.input_dim
    assert [(layer.name, layer.type) for layer in param.layer] == [
        ("input", "Input"), ("relu", "ReLU"), ("fc", "InnerProduct")]
    assert list(param.layer[0].input_param.shape[0].dim) == [1, 2, 1, 1]
    specs = param.layer[2].param
    assert [(p.name, p.lr_mult, p.decay_mult) for p in specs] == [("w", 1, 1), ("", 2, 0)]
    v0 = tmp_path / "v0.prototxt"
    v0.write_text('layers { layer { name: "d" type: "data" source: "db" batchsize: 8 scale: 0.5 }'
                  ' top: "x" }\n')
    data = io.load_net_param(v0).layer[0]
    assert data.type == "Data" and data.data_param.batch_size == 8
    assert data.transform_param.scale == 0.5 and not data.data_param.HasField("scale")


@pytest.mark.skipif("InnerProduct" not in caffe.layer_type_list(),
                    reason="InnerProduct not built yet")
def test_saved_caffemodel_reads_with_io(tmp_path: Path) -> None:
    net_file = tmp_path / "ip.prototxt"
    net_file.write_text("""\
layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
        inner_product_param { num_output: 4 weight_filler { type: "gaussian" } } }
""")
    net = caffe.Net(str(net_file), caffe.TEST)
    weights = tmp_path / "ip.caffemodel"
    net.save(str(weights))
    saved = caffe_pb2.NetParameter.FromString(weights.read_bytes())
    ip = next(layer for layer in saved.layer if layer.name == "ip")
    np.testing.assert_array_equal(io.blobproto_to_array(ip.blobs[0]), net.params["ip"][0].data)
    np.testing.assert_array_equal(io.blobproto_to_array(ip.blobs[1]), net.params["ip"][1].data)
