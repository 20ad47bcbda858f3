"""caffe.draw: the graph of a NetParameter (nodes, edges, labels, phases) and the image files."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import text_format

import caffe
from caffe.proto import caffe_pb2

pytest.importorskip("pydot", reason="caffe.draw needs pydot (requirements.txt)")
if shutil.which("dot") is None:
    pytest.skip("caffe.draw needs Graphviz's dot (apt-get install graphviz)",
                allow_module_level=True)

import caffe.draw  # noqa: E402  (after the skips: it imports pydot)

REPO = Path(__file__).resolve().parents[2]

NET = """\
name: "drawn"
layer { name: "mnist" type: "Data" top: "data" top: "label"
        data_param { source: "x" batch_size: 64 } include { phase: TRAIN } }
layer { name: "deploy_in" type: "Input" top: "data" input_param { shape { dim: 1 } }
        include { phase: TEST } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        param { lr_mult: 1 } param { lr_mult: 2 }
        convolution_param { num_output: 11 kernel_size: 5 stride: 2 pad: 1 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
        pooling_param { pool: AVE kernel_h: 3 kernel_w: 2 stride: 2 } }
layer { name: "ip" type: "InnerProduct" bottom: "pool1" top: "ip"
        inner_product_param { num_output: 7 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss"
        exclude { phase: TEST } }
"""


@pytest.fixture
def net() -> caffe_pb2.NetParameter:
    return text_format.Parse(NET, caffe_pb2.NetParameter())


def nodes_by_label(graph) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """label -> node names (a blob written in place has several nodes)."""
    found: dict[str, list[str]] = {}
    for node in graph.get_nodes():
        found.setdefault(node.get("label"), []).append(node.get_name())
    return found


def edges(graph) -> set[tuple[str, str, object]]:  # type: ignore[no-untyped-def]
    return {(edge.get_source(), edge.get_destination(), edge.get("label"))
            for edge in graph.get_edges()}


def test_graph_wires_blobs_and_layers(net: caffe_pb2.NetParameter) -> None:
    graph = caffe.draw.get_pydot_graph(net, "TB", phase=caffe.TRAIN)
    nodes = nodes_by_label(graph)
    conv = nodes["conv1 (Convolution) kernel size: 5 stride: 2 pad: 1"][0]
    relu = nodes["relu1 (ReLU)"][0]
    written, rewritten = nodes["conv1"]  # ReLU in place: a second node for its output
    data = nodes["data"][0]
    assert (data, conv, None) in edges(graph)
    assert (conv, written, "11") in edges(graph)
    assert {(written, relu, None), (relu, rewritten, None)} <= edges(graph)
    pool = nodes["pool1 (Pooling) pool: AVE kernel size: 3 x 2 stride: 2 pad: 0"][0]
    assert (rewritten, pool, None) in edges(graph)
    mnist = nodes["mnist (Data)"][0]
    assert (mnist, nodes["label"][0], "Batch 64") in edges(graph)
    assert (nodes["ip (InnerProduct)"][0], nodes["ip"][0], "7") in edges(graph)
    assert graph.get_rankdir() == "TB" and graph.get_name() == "drawn"


def test_phase_selects_layers(net: caffe_pb2.NetParameter) -> None:
    def layer_names(phase: int | None) -> set[str]:
        graph = caffe.draw.get_pydot_graph(net, "TB", phase=phase)
        return {node.get("label").split(" ")[0] for node in graph.get_nodes()
                if node.get("shape") == "box"}

    assert layer_names(caffe.TRAIN) == {"mnist", "conv1", "relu1", "pool1", "ip", "loss"}
    assert layer_names(caffe.TEST) == {"deploy_in", "conv1", "relu1", "pool1", "ip"}
    assert layer_names(None) == layer_names(caffe.TRAIN) | {"deploy_in"}


def test_labels_follow_the_orientation_and_options(net: caffe_pb2.NetParameter) -> None:
    conv = net.layer[2]
    assert caffe.draw.get_layer_label(conv, "LR") == \
        "conv1\n(Convolution)\nkernel size: 5\nstride: 2\npad: 1"
    assert caffe.draw.get_layer_label(conv, "BT", display_lrm=True).endswith("lr mult: 1, 2")
    assert caffe.draw.get_edge_label(net.layer[3]) is None
    unlabelled = caffe.draw.get_pydot_graph(net, "LR", label_edges=False)
    assert all(label is None for _, _, label in edges(unlabelled))
    assert caffe.draw.choose_color_by_layertype("Convolution") != \
        caffe.draw.choose_color_by_layertype("ReLU")
    assert caffe.draw.get_pooling_types_dict() == {0: "MAX", 1: "AVE", 2: "STOCHASTIC"}


def test_draw_net_returns_an_image(net: caffe_pb2.NetParameter) -> None:
    assert caffe.draw.draw_net(net, "LR").startswith(b"\x89PNG")
    assert b"<svg" in caffe.draw.draw_net(net, "TB", ext="svg")


def test_draw_net_to_file_uses_the_extension(net: caffe_pb2.NetParameter,
                                             tmp_path: Path) -> None:
    caffe.draw.draw_net_to_file(net, tmp_path / "net.svg", phase=caffe.TEST)
    svg = (tmp_path / "net.svg").read_text()
    assert "<svg" in svg and "deploy_in" in svg and "mnist" not in svg
    caffe.draw.draw_net_to_file(net, str(tmp_path / "net.png"))
    assert (tmp_path / "net.png").read_bytes().startswith(b"\x89PNG")


def test_names_with_graphviz_syntax_are_drawn(tmp_path: Path) -> None:
    net = text_format.Parse("""
        layer { name: "in {a|b}" type: "Input" top: "x>=0 \\"q\\""
                input_param { shape { dim: 1 } } }
        layer { name: "n/1:2" type: "ReLU" bottom: "x>=0 \\"q\\"" top: "y" }
    """, caffe_pb2.NetParameter())
    assert b"<svg" in caffe.draw.draw_net(net, "LR", ext="svg")


def run_draw_net(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run([sys.executable, str(REPO / "scripts" / "draw_net.py"), *args],
                          capture_output=True, text=True, env=env)


def test_draw_net_script_draws_a_model_of_the_repository(tmp_path: Path) -> None:
    output = tmp_path / "lenet.svg"
    result = run_draw_net(str(REPO / "models" / "lenet" / "train_val.prototxt"),
                          str(output), "--rankdir", "TB", "--phase", "TEST", "--display_lrm")
    assert result.returncode == 0, result.stderr
    svg = output.read_text()
    assert "<svg" in svg and "conv1" in svg and "lr mult" in svg
    missing = run_draw_net(str(tmp_path / "missing.prototxt"), str(output))
    assert missing.returncode == 1 and "missing.prototxt" in missing.stderr
