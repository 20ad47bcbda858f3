"""The upgrade tools: upgrade_net_proto_text, upgrade_net_proto_binary, upgrade_solver_proto_text.

Each reads an old-format file and writes it in the current format (atomically); bad input is one
line "<tool>: <message>" on stderr and exit status 1.  The binaries are in
$CAFFE_BUILD_DIR/tools (CAFFE_BUILD_DIR defaults to <repo>/build)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import text_format

import caffe
from caffe import io
from caffe.proto import caffe_pb2

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("CAFFE_BUILD_DIR", REPO / "build"))
if not BUILD_DIR.is_absolute():
    BUILD_DIR = REPO / BUILD_DIR

V1 = caffe_pb2.V1LayerParameter

V1_NET = """\
name: "v1"
input: "data"
input_dim: 2 input_dim: 3 input_dim: 1 input_dim: 1
layers { name: "fc" type: INNER_PRODUCT bottom: "data" top: "fc"
         blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0
         inner_product_param { num_output: 4 } }
layers { name: "relu" type: RELU bottom: "fc" top: "fc" }
"""

V0_NET = """\
layers { layer { name: "pad" type: "padding" pad: 1 } bottom: "data" top: "padded" }
layers { layer { name: "conv" type: "conv" num_output: 2 kernelsize: 3 } bottom: "padded"
         top: "conv" }
"""


def tool(name: str) -> str:
    path = BUILD_DIR / "tools" / name
    if not path.exists():
        pytest.fail(f"{path} not found: build the project first or set CAFFE_BUILD_DIR")
    return str(path)


def run(name: str, *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool(name), *map(str, args)], capture_output=True, text=True,
                          timeout=60)


def expect_one_error(result: subprocess.CompletedProcess[str], name: str, *parts: str) -> None:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{name}: "), lines[0]
    for part in parts:
        assert part in lines[0], lines[0]


def read_text(path: Path, message_type=caffe_pb2.NetParameter):
    return text_format.Parse(path.read_text(), message_type())


def test_text_round_trip(tmp_path: Path) -> None:
    old = tmp_path / "v1.prototxt"
    old.write_text(V1_NET)
    new = tmp_path / "new.prototxt"
    result = run("upgrade_net_proto_text", old, new)
    assert result.returncode == 0, result.stderr
    assert "V1 layers" in result.stdout and "Input layer" in result.stdout
    net = read_text(new)
    assert not net.layers and not net.input
    assert [(layer.name, layer.type) for layer in net.layer] == [
        ("input", "Input"), ("fc", "InnerProduct"), ("relu", "ReLU")]
    assert [(p.lr_mult, p.decay_mult) for p in net.layer[1].param] == [(1, 1), (2, 0)]
    assert net == io.load_net_param(old)  # the loaders apply the same upgrade
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.prototxt", "v1.prototxt"]

    # The upgraded file is current: upgrading it again changes nothing.
    again = tmp_path / "again.prototxt"
    result = run("upgrade_net_proto_text", new, again)
    assert result.returncode == 0, result.stderr
    assert "already in the current format" in result.stdout
    assert read_text(again) == net


def test_text_v0_net_with_padding(tmp_path: Path) -> None:
    old = tmp_path / "v0.prototxt"
    old.write_text(V0_NET)
    new = tmp_path / "new.prototxt"
    assert run("upgrade_net_proto_text", old, new).returncode == 0
    net = read_text(new)
    assert [layer.name for layer in net.layer] == ["conv"]
    conv = net.layer[0]
    assert conv.type == "Convolution" and list(conv.bottom) == ["data"]
    assert list(conv.convolution_param.pad) == [1]
    assert list(conv.convolution_param.kernel_size) == [3]


@pytest.mark.skipif("InnerProduct" not in caffe.layer_type_list(),
                    reason="InnerProduct not built yet")
def test_binary_round_trip_keeps_the_weights(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    weights = rng.normal(size=(4, 3)).astype(np.float32)
    bias = rng.normal(size=4).astype(np.float32)
    model = caffe_pb2.NetParameter(name="zoo")
    layer = model.layers.add(name="fc", type=V1.INNER_PRODUCT, blobs_lr=[1, 2])
    for values in (weights, bias):
        dims = (1,) * (4 - values.ndim) + values.shape
        blob = layer.blobs.add(num=dims[0], channels=dims[1], height=dims[2], width=dims[3])
        blob.data.extend(values.ravel().tolist())
    old = tmp_path / "zoo.caffemodel"
    old.write_bytes(model.SerializeToString())
    new = tmp_path / "current.caffemodel"
    result = run("upgrade_net_proto_binary", old, new)
    assert result.returncode == 0, result.stderr

    upgraded = caffe_pb2.NetParameter.FromString(new.read_bytes())
    assert not upgraded.layers and upgraded.layer[0].type == "InnerProduct"
    np.testing.assert_array_equal(io.blobproto_to_array(upgraded.layer[0].blobs[1]).ravel(), bias)

    net_file = tmp_path / "net.prototxt"
    net_file.write_text(V1_NET)
    for caffemodel in (new, old):  # the upgraded file, and the V1 file upgraded at load
        net = caffe.Net(str(net_file), str(caffemodel), caffe.TEST)
        np.testing.assert_array_equal(net.params["fc"][0].data, weights)
        np.testing.assert_array_equal(net.params["fc"][1].data, bias)


def test_solver_type_becomes_type(tmp_path: Path) -> None:
    old = tmp_path / "solver.prototxt"
    old.write_text('net: "net.prototxt"\nbase_lr: 0.01\nsolver_type: RMSPROP\n')
    new = tmp_path / "new_solver.prototxt"
    result = run("upgrade_solver_proto_text", old, new)
    assert result.returncode == 0, result.stderr
    solver = read_text(new, caffe_pb2.SolverParameter)
    assert solver.type == "RMSProp" and not solver.HasField("solver_type")
    assert solver.net == "net.prototxt" and solver.base_lr == pytest.approx(0.01)


@pytest.mark.parametrize("name", ["upgrade_net_proto_text", "upgrade_net_proto_binary",
                                  "upgrade_solver_proto_text"])
def test_bad_input_is_one_message(tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "missing.prototxt"
    expect_one_error(run(name, missing, out), name, str(missing))
    expect_one_error(run(name, missing), name, "expected 2 arguments")
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\xff\xfe not a protobuf { \x00\x01")
    expect_one_error(run(name, garbage, out), name, str(garbage))
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage"]  # no temporary file left


def test_net_that_cannot_be_upgraded_is_one_message(tmp_path: Path) -> None:
    bad_v0 = tmp_path / "bad_v0.prototxt"
    bad_v0.write_text('layers { layer { name: "odd" type: "warp" } top: "x" }\n')
    expect_one_error(run("upgrade_net_proto_text", bad_v0, tmp_path / "out"),
                     "upgrade_net_proto_text", str(bad_v0), "'odd'", "unknown type 'warp'")
    empty = tmp_path / "empty.caffemodel"
    empty.write_bytes(b"")
    expect_one_error(run("upgrade_net_proto_binary", empty, tmp_path / "out"),
                     "upgrade_net_proto_binary", "holds no layers")
    assert not (tmp_path / "out").exists()
