"""caffe.NetSpec / caffe.layers / caffe.params: writing nets from Python."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from google.protobuf import text_format

import caffe
from caffe import layers as L
from caffe import params as P
from caffe.proto import caffe_pb2


def lenet_like() -> caffe.NetSpec:
    n = caffe.NetSpec()
    n.data, n.label = L.Data(source="mnist_train_lmdb", backend=P.Data.LMDB, batch_size=64, ntop=2,
                             transform_param=dict(scale=1 / 255), include=dict(phase=caffe.TRAIN))
    n.ip1 = L.InnerProduct(n.data, num_output=500, weight_filler=dict(type="xavier"),
                           param=[dict(lr_mult=1), dict(lr_mult=2, decay_mult=0)])
    n.relu1 = L.ReLU(n.ip1, in_place=True)
    n.ip2 = L.InnerProduct(n.relu1, num_output=10, bias_filler=dict(type="constant", value=0.1))
    n.loss = L.SoftmaxWithLoss(n.ip2, n.label, loss_weight=2.0, propagate_down=[True, False])
    return n


def parse(text: str) -> caffe_pb2.NetParameter:
    return text_format.Parse(text, caffe_pb2.NetParameter())


def test_to_proto_text_parses_back_to_the_same_net() -> None:
    proto = lenet_like().to_proto()
    assert parse(str(proto)) == proto


def test_layers_blobs_and_parameters() -> None:
    proto = lenet_like().to_proto()
    layers = {layer.name: layer for layer in proto.layer}
    assert [layer.name for layer in proto.layer] == ["data", "ip1", "relu1", "ip2", "loss"]

    data = layers["data"]
    assert data.type == "Data" and list(data.top) == ["data", "label"]
    assert data.data_param.backend == caffe_pb2.DataParameter.LMDB
    assert data.data_param.batch_size == 64 and data.data_param.source == "mnist_train_lmdb"
    assert data.transform_param.scale == pytest.approx(1 / 255)
    assert [rule.phase for rule in data.include] == [caffe_pb2.TRAIN]

    ip1 = layers["ip1"]
    assert list(ip1.bottom) == ["data"] and list(ip1.top) == ["ip1"]
    assert ip1.inner_product_param.num_output == 500
    assert ip1.inner_product_param.weight_filler.type == "xavier"
    assert [(p.lr_mult, p.decay_mult) for p in ip1.param] == [(1, 1), (2, 0)]

    relu = layers["relu1"]  # in place: the layer takes the NetSpec name, the blob stays ip1
    assert list(relu.bottom) == ["ip1"] and list(relu.top) == ["ip1"]
    assert list(layers["ip2"].bottom) == ["ip1"]
    assert layers["ip2"].inner_product_param.bias_filler.value == pytest.approx(0.1)

    loss = layers["loss"]
    assert list(loss.bottom) == ["ip2", "label"]
    assert list(loss.loss_weight) == [2.0]
    assert list(loss.propagate_down) == [True, False]


def test_kwargs_are_routed_by_the_schema() -> None:
    n = caffe.NetSpec()
    n.x = L.Input(shape=dict(dim=[2, 3, 8, 8]))
    n.conv = L.Convolution(n.x, num_output=4, kernel_size=3, pad=[1], engine="CAFFE")
    n.deconv = L.Deconvolution(n.conv, num_output=2, kernel_size=2, stride=2)
    n.pool = L.Pooling(n.deconv, pool=P.Pooling.AVE, kernel_size=2)
    n.prob = L.SoftmaxWithLoss(n.pool, n.x, axis=1, ignore_label=255, normalization="BATCH_SIZE")
    n.lstm = L.LSTM(n.x, n.x, expose_hidden=False, recurrent_param=dict(num_output=5))
    layers = {layer.name: layer for layer in n.to_proto().layer}
    assert list(layers["x"].input_param.shape[0].dim) == [2, 3, 8, 8]
    conv = layers["conv"].convolution_param
    assert list(conv.kernel_size) == [3] and list(conv.pad) == [1]  # scalar into repeated
    assert conv.engine == caffe_pb2.ConvolutionParameter.CAFFE  # enum by name
    assert layers["deconv"].convolution_param.num_output == 2
    assert layers["pool"].pooling_param.pool == caffe_pb2.PoolingParameter.AVE
    loss = layers["prob"]
    assert loss.softmax_param.axis == 1
    assert loss.loss_param.ignore_label == 255
    assert loss.loss_param.normalization == caffe_pb2.LossParameter.BATCH_SIZE
    lstm = layers["lstm"].recurrent_param
    assert lstm.num_output == 5 and lstm.HasField("expose_hidden")


def test_ambiguous_or_unknown_kwargs_are_errors() -> None:
    x = L.Input(shape=dict(dim=[1]))
    with pytest.raises(ValueError, match="recurrent_param"):  # num_output: which message?
        caffe.to_proto(L.LSTM(x, x, num_output=5))
    with pytest.raises(ValueError, match="no_such_field"):
        caffe.to_proto(L.InnerProduct(x, no_such_field=1))
    with pytest.raises(ValueError, match="PoolMethod"):
        caffe.to_proto(L.Pooling(x, pool="MEDIAN"))
    with pytest.raises(TypeError, match="InnerProduct"):
        caffe.to_proto(L.InnerProduct(x, num_output="many"))
    with pytest.raises(ValueError, match="has no field 'colour'"):
        caffe.to_proto(L.InnerProduct(x, weight_filler=dict(colour="red")))


def test_automatic_names_avoid_user_names() -> None:
    n = caffe.NetSpec()
    n.x = L.Input(shape=dict(dim=[2, 4]))
    hidden = L.InnerProduct(n.x, num_output=3)
    n.InnerProduct1 = L.InnerProduct(n.x, num_output=2)
    n.out = L.ReLU(L.InnerProduct(hidden, num_output=1))
    names = [layer.name for layer in n.to_proto().layer]
    assert names == ["x", "InnerProduct1", "InnerProduct2", "InnerProduct3", "out"]
    assert len(set(names)) == len(names)


def test_explicit_layer_name_and_zero_top_layers() -> None:
    n = caffe.NetSpec()
    n.x = L.Input(shape=dict(dim=[1]), name="source")
    n.silence = L.Silence(n.x, ntop=0)
    proto = n.to_proto()
    assert [layer.name for layer in proto.layer] == ["source", "silence"]
    assert list(proto.layer[0].top) == ["x"]
    assert list(proto.layer[1].bottom) == ["x"] and list(proto.layer[1].top) == []


def test_module_to_proto_and_top_to_proto() -> None:
    top = L.ReLU(L.Input(shape=dict(dim=[3])))
    for proto in (caffe.to_proto(top), top.to_proto()):
        assert [layer.type for layer in proto.layer] == ["Input", "ReLU"]
        assert list(proto.layer[1].bottom) == list(proto.layer[0].top) == ["Input1"]


def test_shared_bottoms_appear_once() -> None:
    n = caffe.NetSpec()
    n.x = L.Input(shape=dict(dim=[1]))
    n.a = L.ReLU(n.x)
    n.b = L.TanH(n.x)
    n.sum = L.Eltwise(n.a, n.b, operation=P.Eltwise.SUM)
    assert [layer.name for layer in n.to_proto().layer] == ["x", "a", "b", "sum"]


def test_very_deep_chains_do_not_recurse() -> None:
    top = L.Input(shape=dict(dim=[1]))
    for _ in range(3000):
        top = L.ReLU(top)
    assert len(caffe.to_proto(top).layer) == 3001


def test_misuse_is_reported() -> None:
    n = caffe.NetSpec()
    with pytest.raises(TypeError):
        n.x = 3  # type: ignore[assignment]
    with pytest.raises(AttributeError, match="no top named 'y'"):
        n.y
    not_a_top = r"^ReLU input 0 is not a Top \(type is <class 'str'>\)$"  # BVLC's wording
    with pytest.raises(TypeError, match=not_a_top):
        L.ReLU("data")
    x = L.Input(shape=dict(dim=[1]))
    with pytest.raises(ValueError, match="in_place"):
        L.Split(x, ntop=2, in_place=True)
    with pytest.raises(ValueError, match="set by the layer call"):
        L.ReLU(x, top=["y"])


def test_params_give_message_classes_and_enums() -> None:
    assert P.Data.LMDB == 1 and P.Data.LEVELDB == 0
    assert P.Pooling.MAX == caffe_pb2.PoolingParameter.MAX
    assert P.InnerProduct is caffe_pb2.InnerProductParameter
    with pytest.raises(AttributeError, match="NoSuch"):
        P.NoSuch


def test_item_access() -> None:
    n = caffe.NetSpec()
    n["data"] = L.Input(shape=dict(dim=[2]))
    assert n["data"] is n.data
    assert list(n.tops) == ["data"]


def test_netspec_input_net_loads_in_caffe(tmp_path: Path) -> None:
    n = caffe.NetSpec()
    n.data, n.label = L.Input(ntop=2, shape=[dict(dim=[2, 3]), dict(dim=[2])])
    path = tmp_path / "spec.prototxt"
    path.write_text(str(n.to_proto()))
    net = caffe.Net(str(path), caffe.TEST)
    assert list(net.blobs) == ["data", "label"]
    assert net.blobs["data"].shape == (2, 3) and net.blobs["label"].shape == (2,)


@pytest.mark.skipif(not {"InnerProduct", "ReLU", "SoftmaxWithLoss"} <= set(caffe.layer_type_list()),
                    reason="InnerProduct/ReLU/SoftmaxWithLoss not built yet")
def test_netspec_mlp_runs(tmp_path: Path) -> None:
    n = caffe.NetSpec()
    n.data, n.label = L.Input(ntop=2, shape=[dict(dim=[8, 4]), dict(dim=[8])])
    n.ip1 = L.InnerProduct(n.data, num_output=16, weight_filler=dict(type="xavier"))
    n.relu1 = L.ReLU(n.ip1, in_place=True)
    n.ip2 = L.InnerProduct(n.relu1, num_output=3, weight_filler=dict(type="xavier"))
    n.loss = L.SoftmaxWithLoss(n.ip2, n.label)
    path = tmp_path / "mlp.prototxt"
    path.write_text(str(n.to_proto()))
    net = caffe.Net(str(path), caffe.TRAIN)
    out = net.forward(data=np.random.default_rng(0).normal(size=(8, 4)), label=np.zeros(8))
    assert list(out) == ["loss"] and np.isfinite(out["loss"]) and out["loss"] > 0
