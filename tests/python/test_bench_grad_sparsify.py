"""scripts/bench_grad_sparsify.py: the convolution shapes it finds in the CIFAR models, its
crossover interpolation, a tiny run of part conv, the density it reports and how it merges JSON."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

import bench_grad_sparsify as bench

caffe = pytest.importorskip("caffe")
from caffe.proto import caffe_pb2  # noqa: E402


def test_conv_shapes_are_the_distinct_convolutions_of_alexnet_and_resnet18() -> None:
    shapes = bench.conv_shapes(caffe, caffe_pb2, batch=2)
    names = [shape.name for shape in shapes]
    assert names[:5] == [f"alexnet.conv{i}" for i in range(1, 6)]
    assert "resnet18.conv1" in names and "resnet18.res4a_proj" in names
    assert len(names) == len(set(names))
    by_name = {shape.name: shape for shape in shapes}
    # The first convolution of each net reads the data: no input gradient, as in training.
    assert not by_name["alexnet.conv1"].input_gradient
    assert not by_name["resnet18.conv1"].input_gradient
    assert by_name["alexnet.conv2"].input_gradient
    assert by_name["alexnet.conv1"].bottom == (2, 3, 32, 32)
    assert by_name["alexnet.conv3"].bottom == (2, 256, 9, 9)


def test_crossover_interpolates_where_dense_and_sparse_cost_the_same() -> None:
    def rows(ratios: list[float]) -> list[dict]:
        return [{"density": d, "ms_dense": r, "ms_sparse": 1.0}
                for d, r in zip([0.1, 0.2, 0.3], ratios)]
    assert bench.crossover(rows([2.0, 1.5, 0.5])) == pytest.approx(0.25)
    assert bench.crossover(rows([0.9, 0.5, 0.2])) == 0.0
    assert bench.crossover(rows([3.0, 2.0, 1.5])) == 0.3


def test_part_conv_runs_and_writes_its_rows(tmp_path: Path) -> None:
    args = argparse.Namespace(batch=1, densities=[0.2], iterations=1, warmup=0, block=1,
                              clock="cpu")
    rows = bench.bench_conv(caffe, caffe_pb2, args)
    assert {row["shape"] for row in rows} == {s.name for s in bench.conv_shapes(caffe, caffe_pb2, 1)}
    assert all(row["ms_dense"] >= 0 and row["ms_sparse"] >= 0 for row in rows)
    assert caffe.sparse_backward() == "auto"


def test_gradient_density_counts_convolution_and_inner_product_tops(tmp_path: Path) -> None:
    (tmp_path / "net.prototxt").write_text("""
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 4 dim: 4 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 2 kernel_size: 1 } }
layer { name: "ip" type: "InnerProduct" bottom: "conv" top: "ip" inner_product_param { num_output: 4 } }
""")
    net = caffe.Net(str(tmp_path / "net.prototxt"), caffe.TRAIN)
    net.blobs["conv"].diff[...] = 0.0
    net.blobs["conv"].diff[0, 0, 0, :] = 1.0  # 4 of 64
    net.blobs["ip"].diff[...] = np.array([[1, 0, 0, 0], [0, 0, 0, 0]])  # 1 of 8
    assert bench.gradient_density(net) == pytest.approx(5 / 72)


def test_results_merge_into_an_existing_file_by_net_and_shape(tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    bench.write_results(str(path), {"train_cpu": [{"net": "a", "p": 0}, {"net": "b", "p": 0}],
                                    "conv_cpu": [{"shape": "s", "density": 0.1}]}, "first")
    bench.write_results(str(path), {"train_cpu": [{"net": "b", "p": 1}]}, "second")
    written = json.loads(path.read_text())
    assert written["train_cpu"] == [{"net": "a", "p": 0}, {"net": "b", "p": 1}]
    assert written["conv_cpu"] == [{"shape": "s", "density": 0.1}]
    assert written["commands"] == {"train_cpu": "second", "conv_cpu": "first"}
