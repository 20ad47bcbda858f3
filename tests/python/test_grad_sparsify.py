"""Gradient sparsification from Python: the placement tool ``python -m caffe.grad_sparsify`` on
the project's models (the nets it writes build, train a step and report densities; the counts of
inserted layers follow the rule), its handling of in-place layers and shared blobs, its command
line, ``Layer.density``, and training stopped by a NaN gradient."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from google.protobuf import text_format

import caffe
from caffe import grad_sparsify
from caffe.proto import caffe_pb2

MODULE = __name__  # the Python layer below lives here
REPO = Path(__file__).resolve().parents[2]
# Input shape (C, H, W) of each model's data.
MODELS = {"cifar10_alexnet": (3, 32, 32), "cifar10_resnet18": (3, 32, 32),
          "cifar10_mobilenet": (3, 32, 32), "cifar10_quick": (3, 32, 32), "lenet": (1, 28, 28)}
# What the rule gives: Conv-ReLU nets one layer per convolution but the first (on the data),
# Conv-BN nets one per convolution (ResNet-18: 1 + 8 blocks x 2 + 3 projections; MobileNet:
# 1 + 13 x (depthwise + pointwise)).
EXPECTED = {"cifar10_alexnet": ("Conv-ReLU", 4), "cifar10_resnet18": ("Conv-BN", 20),
            "cifar10_mobilenet": ("Conv-BN", 27), "cifar10_quick": ("Conv-ReLU", 2),
            "lenet": ("Conv-ReLU", 1)}


@pytest.fixture(autouse=True)
def cpu_mode() -> Iterator[None]:
    caffe.set_mode_cpu()
    yield


def with_dummy_data(net: caffe_pb2.NetParameter, shape: tuple[int, ...],
                    batch: int = 2) -> caffe_pb2.NetParameter:
    """The net with each Data layer replaced by DummyData of the same tops (Gaussian images,
    label 0), so that it builds without the LMDBs."""
    result = caffe_pb2.NetParameter()
    result.CopyFrom(net)
    for layer in result.layer:
        if layer.type != "Data":
            continue
        layer.type = "DummyData"
        layer.ClearField("data_param")
        layer.ClearField("transform_param")
        layer.dummy_data_param.shape.add(dim=[batch, *shape])
        layer.dummy_data_param.shape.add(dim=[batch])
        layer.dummy_data_param.data_filler.add(type="gaussian", std=1.0)
        layer.dummy_data_param.data_filler.add(type="constant", value=0.0)
    return result


def build(net: caffe_pb2.NetParameter, path: Path, phase: int = caffe.TRAIN) -> caffe.Net:
    path.write_text(text_format.MessageToString(net))
    return caffe.Net(str(path), phase)


def sparsified_layers(net: caffe_pb2.NetParameter) -> list[caffe_pb2.LayerParameter]:
    return [layer for layer in net.layer if layer.type == "GradSparsify"]


@pytest.mark.parametrize("model", sorted(MODELS))
def test_models_get_the_layers_the_rule_places(model: str, tmp_path: Path) -> None:
    source = caffe.io.load_net_param(REPO / "models" / model / "train_val.prototxt")
    result, placements = grad_sparsify.sparsify_net(source, 0.9)
    block, count = EXPECTED[model]
    inserted = sparsified_layers(result)
    assert len(inserted) == count
    assert {p.block for p in placements if p.layer} == {block}
    convs = [layer.name for layer in source.layer if layer.type == "Convolution"]
    assert [p.conv for p in placements] == convs
    names = [layer.name for layer in result.layer]
    for placement in placements:
        if placement.layer is None:  # only the first convolution of a Conv-ReLU net, on the data
            assert block == "Conv-ReLU" and placement.blob == "data"
            continue
        at = names.index(placement.layer)
        gs = result.layer[at]
        assert gs.grad_sparsify_param.percentile == pytest.approx(0.9)
        if block == "Conv-BN":  # conv, then GradSparsify in place on its output, then BatchNorm
            assert names[at - 1] == placement.conv and result.layer[at + 1].type == "BatchNorm"
            assert list(gs.bottom) == list(gs.top) == list(result.layer[at - 1].top)
        else:  # GradSparsify on the conv's input, right before it
            assert names[at + 1] == placement.conv
            assert list(result.layer[at + 1].bottom) == list(gs.top)
    assert sparsified_layers(source) == []  # the input is left as it was

    train = build(with_dummy_data(result, MODELS[model]), tmp_path / "net.prototxt")
    train.forward()
    train.backward()
    for layer in inserted:
        density = train.layer_dict[layer.name].density
        assert density is not None and 0.0 < density <= 1.0, (layer.name, density)
    assert train.layer_dict[convs[0]].density is None
    build(with_dummy_data(result, MODELS[model]), tmp_path / "test.prototxt", caffe.TEST)


def parse_net(text: str) -> caffe_pb2.NetParameter:
    net = caffe_pb2.NetParameter()
    text_format.Merge(text, net)
    return net


CONV = ("layer {{ name: '{name}' type: 'Convolution' bottom: '{bottom}' top: '{name}' "
        "convolution_param {{ num_output: 4 kernel_size: 1 weight_filler {{ type: 'msra' }} }} "
        "}}\n")
HEAD = ("layer { name: 'data' type: 'DummyData' top: 'data' top: 'target' dummy_data_param { "
        "shape { dim: 2 dim: 3 dim: 4 dim: 4 } shape { dim: 2 dim: 1 } "
        "data_filler { type: 'gaussian' } } }\n"
        + CONV.format(name="conv1", bottom="data")
        + "layer { name: 'relu1' type: 'ReLU' bottom: 'conv1' top: 'conv1' }\n")
LOSS = ("layer {{ name: 'ip' type: 'InnerProduct' bottom: '{bottom}' top: 'ip' "
        "inner_product_param {{ num_output: 1 weight_filler {{ type: 'msra' }} }} }}\n"
        "layer {{ name: 'loss' type: 'EuclideanLoss' bottom: 'ip' bottom: 'target' "
        "top: 'loss' }}\n")


def test_in_place_relu_output_read_by_the_conv_alone_is_sparsified_in_place() -> None:
    net = parse_net(HEAD + CONV.format(name="conv2", bottom="conv1") + LOSS.format(bottom="conv2"))
    result, placements = grad_sparsify.sparsify_net(net, 0.95)
    assert [(p.conv, p.layer, p.new_blob) for p in placements] == [
        ("conv1", None, None), ("conv2", "conv2_gs", None)]
    assert [layer.name for layer in result.layer] == [
        "data", "conv1", "relu1", "conv2_gs", "conv2", "ip", "loss"]
    assert list(result.layer[3].bottom) == list(result.layer[3].top) == ["conv1"]


def test_blob_with_other_readers_gets_a_new_blob_only_the_conv_reads(tmp_path: Path) -> None:
    # conv1's output feeds conv2, a conv named like the layer the tool makes, and an Eltwise:
    # each conv gets its own pruned copy (names made unique), the Eltwise the dense gradient.
    net = parse_net(HEAD + CONV.format(name="conv2", bottom="conv1")
                    + CONV.format(name="conv2_gs", bottom="conv1")  # takes the first name
                    + "layer { name: 'sum' type: 'Eltwise' bottom: 'conv2' bottom: 'conv1' "
                      "bottom: 'conv2_gs' top: 'sum' }\n"
                    + LOSS.format(bottom="sum"))
    result, placements = grad_sparsify.sparsify_net(net, 0.9)
    made = {p.conv: p for p in placements}
    assert made["conv2"].layer == "conv2_gs_2" and made["conv2"].new_blob == "conv2_gs_2"
    assert made["conv2_gs"].layer == "conv2_gs_gs" and made["conv2_gs"].new_blob == "conv2_gs_gs"
    layers = {layer.name: layer for layer in result.layer}
    assert list(layers["conv2_gs_2"].bottom) == ["conv1"]
    assert list(layers["conv2"].bottom) == ["conv2_gs_2"]
    assert list(layers["conv2_gs"].bottom) == ["conv2_gs_gs"]
    assert list(layers["sum"].bottom) == ["conv2", "conv1", "conv2_gs"]
    assert "new blob 'conv2_gs_2'" in made["conv2"].describe()
    built = build(result, tmp_path / "net.prototxt")
    built.forward()
    built.backward()
    assert 0.0 < built.layer_dict["conv2_gs_2"].density < 1.0


def test_mixed_net_classifies_each_conv_by_its_block() -> None:
    net = parse_net(HEAD + CONV.format(name="conv2", bottom="conv1")
                    + "layer { name: 'bn2' type: 'BatchNorm' bottom: 'conv2' top: 'conv2' }\n"
                    + CONV.format(name="conv3", bottom="conv2") + LOSS.format(bottom="conv3"))
    _, placements = grad_sparsify.sparsify_net(net, 0.9)
    assert [(p.conv, p.block, p.layer) for p in placements] == [
        ("conv1", "Conv-ReLU", None), ("conv2", "Conv-BN", "conv2_gs"),
        ("conv3", "Conv-ReLU", "conv3_gs")]


def test_net_that_already_has_the_layers_and_bad_percentiles_are_refused() -> None:
    net = parse_net(HEAD + CONV.format(name="conv2", bottom="conv1") + LOSS.format(bottom="conv2"))
    once, _ = grad_sparsify.sparsify_net(net, 0.9)
    with pytest.raises(grad_sparsify.PlacementError, match="already has GradSparsify layers"):
        grad_sparsify.sparsify_net(once, 0.9)
    for bad in (1.0, 0.4):
        with pytest.raises(grad_sparsify.PlacementError, match=r"\[0.5, 1\)"):
            grad_sparsify.sparsify_net(net, bad)


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "caffe.grad_sparsify", *args],
                          capture_output=True, text=True)


def test_command_line(tmp_path: Path) -> None:
    out = tmp_path / "alexnet_gs.prototxt"
    result = run_tool("--percentile", "0.95", str(REPO / "models/cifar10_alexnet/train_val.prototxt"),
                      str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("skip conv1: its input 'data' gets no gradient")
    assert lines[1] == ("conv2_gs: before Convolution 'conv2', in place on 'pool1' (Conv-ReLU "
                        "block: prunes conv2's input gradient)")
    assert lines[-1] == f"inserted 4 GradSparsify layer(s) (percentile 0.95) -> {out}"
    written = caffe.io.load_net_param(out)
    assert [layer.grad_sparsify_param.percentile for layer in sparsified_layers(written)] \
        == [pytest.approx(0.95)] * 4

    assert run_tool("--help").returncode == 0
    refused = run_tool("--percentile", "1.0", "a", "b")
    assert refused.returncode == 2 and "must lie in [0.5, 1)" in refused.stderr
    missing = run_tool(str(tmp_path / "absent.prototxt"), str(out))
    assert missing.returncode == 1 and "absent.prototxt" in missing.stderr


# ---------------------------------------------------------------------------------------------
# Layer.density and a NaN gradient in training


class NanGradientAtIteration2(caffe.Layer):
    """Identity; its backward sends a NaN at the third training iteration."""

    def setup(self, bottom, top):
        self.backward_passes = 0

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data

    def backward(self, top, propagate_down, bottom):
        bottom[0].diff[...] = top[0].diff
        if self.backward_passes == 2:
            bottom[0].diff[0, 0, 0, 0] = np.nan
        self.backward_passes += 1


def sparsified_net(between: str = "") -> str:
    return (HEAD + "layer { name: 'gs1' type: 'GradSparsify' bottom: 'conv1' top: 'conv1' "
            "grad_sparsify_param { percentile: 0.9 } }\n" + between
            + CONV.format(name="conv2", bottom="conv1") + LOSS.format(bottom="conv2"))


def test_density_is_none_until_a_backward_and_for_other_layers(tmp_path: Path) -> None:
    net = build(parse_net(sparsified_net()), tmp_path / "net.prototxt")
    assert net.layer_dict["gs1"].density is None
    net.forward()
    net.backward(end="gs1")  # conv1's diff is then what gs1 wrote
    density = net.layer_dict["gs1"].density
    assert isinstance(density, float) and 0.0 < density < 1.0
    assert density == np.count_nonzero(net.blobs["conv1"].diff) / net.blobs["conv1"].count
    assert net.layer_dict["conv2"].density is None


def test_nan_gradient_stops_training_naming_iteration_and_layer(tmp_path: Path) -> None:
    injector = (f"layer {{ name: 'inject' type: 'Python' bottom: 'conv1' top: 'conv1' "
                f"python_param {{ module: '{MODULE}' layer: 'NanGradientAtIteration2' }} }}\n")
    net = tmp_path / "net.prototxt"
    net.write_text(sparsified_net(injector))
    solver_file = tmp_path / "solver.prototxt"
    solver_file.write_text(f'net: "{net}"\nbase_lr: 0.01\nmax_iter: 10\ndisplay: 0\n'
                           'snapshot_after_train: false\nrandom_seed: 3\n')
    solver = caffe.SGDSolver(str(solver_file))
    with pytest.raises(caffe.CaffeError) as raised:
        solver.step(10)
    message = str(raised.value)
    assert message.startswith("iteration 2: layer 'gs1' (GradSparsify): the incoming gradient")
    assert "holds a NaN" in message
    assert solver.iter == 2
