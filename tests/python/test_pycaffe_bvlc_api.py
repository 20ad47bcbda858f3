"""The parts of BVLC's pycaffe API on Net and Solver beyond the basics of test_pycaffe.py: index
based passes (_forward / _backward and the blob index lists), HDF5 weights, batched passes
(forward_all / forward_backward_all), solver.apply_update / share_weights, has_nccl."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import h5py
import numpy as np
import pytest
from google.protobuf import text_format

import caffe
from caffe.proto import caffe_pb2

pytestmark = pytest.mark.skipif(
    not {"InnerProduct", "ReLU", "EuclideanLoss"} <= set(caffe.layer_type_list()),
    reason="these tests need the InnerProduct, ReLU and EuclideanLoss layers")

# Input [4, 5] -> ip1 (6, weights shared with ip1b by name) -> ReLU in place -> ip2 (3)
# -> EuclideanLoss against target; ip1b reads the same input through the shared weights.
NET = """\
name: "bvlc_api"
force_backward: true
layer { name: "input" type: "Input" top: "data" top: "target"
        input_param { shape { dim: 4 dim: 5 } shape { dim: 4 dim: 3 } } }
layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"
        param { name: "shared_w" } param { name: "shared_b" }
        inner_product_param { num_output: 6 weight_filler { type: "gaussian" std: 0.5 }
                              bias_filler { type: "uniform" min: -0.5 max: 0.5 } } }
layer { name: "ip1b" type: "InnerProduct" bottom: "data" top: "ip1b"
        param { name: "shared_w" } param { name: "shared_b" }
        inner_product_param { num_output: 6 } }
layer { name: "relu" type: "ReLU" bottom: "ip1" top: "ip1" }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
        inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 0.5 }
                              bias_filler { type: "constant" value: 0.1 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "ip2" bottom: "target" top: "loss" }
"""

# Input [4, 5] -> ip (2): a deploy net for batching (force_backward: gradients reach the input).
DEPLOY_NET = """\
name: "deploy"
force_backward: true
layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 4 dim: 5 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "out"
        inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 1 }
                              bias_filler { type: "constant" value: 0.5 } } }
"""


@pytest.fixture(autouse=True)
def cpu_mode() -> Iterator[None]:
    caffe.set_mode_cpu()
    yield


@pytest.fixture
def net_file(tmp_path: Path) -> Path:
    path = tmp_path / "net.prototxt"
    path.write_text(NET)
    return path


@pytest.fixture
def net(net_file: Path) -> caffe.Net:
    caffe.set_random_seed(5)
    net = caffe.Net(str(net_file), caffe.TRAIN)
    rng = np.random.default_rng(0)
    net.blobs["data"].data[...] = rng.standard_normal((4, 5))
    net.blobs["target"].data[...] = rng.standard_normal((4, 3))
    return net


@pytest.fixture
def deploy(tmp_path: Path) -> caffe.Net:
    path = tmp_path / "deploy.prototxt"
    path.write_text(DEPLOY_NET)
    caffe.set_random_seed(9)
    return caffe.Net(str(path), caffe.TEST)


def param_values(net: caffe.Net) -> dict[str, list[np.ndarray]]:
    return {name: [blob.data.copy() for blob in blobs] for name, blobs in net.params.items()}


def assert_same_params(a: dict[str, list[np.ndarray]], b: dict[str, list[np.ndarray]]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert len(a[name]) == len(b[name])
        for left, right in zip(a[name], b[name]):
            np.testing.assert_array_equal(left, right, err_msg=name)


def perturb_params(net: caffe.Net) -> None:
    for blobs in net.params.values():
        for blob in blobs:
            blob.data[...] += 1.0


# ---------------------------------------------------------------------------------------------
# Index-based API

def test_blob_index_lists_follow_the_layers(net: caffe.Net) -> None:
    names = net._blob_names
    assert [blob.shape for blob in net._blobs] == [net.blobs[name].shape for name in names]
    assert [names[i] for i in net._inputs] == net.inputs == ["data", "target"]
    assert [names[i] for i in net._outputs] == net.outputs
    for index, layer in enumerate(net._layer_names):
        assert [names[i] for i in net._bottom_ids(index)] == net.bottom_names[layer]
        assert [names[i] for i in net._top_ids(index)] == net.top_names[layer]
    relu = net._layer_names.index("relu")
    assert net._bottom_ids(relu) == net._top_ids(relu)  # in place
    with pytest.raises(IndexError, match="layer=99"):
        net._top_ids(99)


def test_index_passes_match_named_passes(net: caffe.Net) -> None:
    last = len(net.layers) - 1
    loss = net._forward(0, last)
    assert loss == pytest.approx(float(net.blobs["loss"].data))
    named = net.forward()
    assert float(named["loss"]) == pytest.approx(loss)

    net.clear_param_diffs()
    net._backward(last, 0)
    by_index = net.blobs["data"].diff.copy()
    weight_gradient = net.params["ip2"][0].diff.copy()
    assert np.abs(by_index).sum() > 0 and np.abs(weight_gradient).sum() > 0
    net.clear_param_diffs()
    np.testing.assert_array_equal(net.backward()["data"], by_index)
    np.testing.assert_array_equal(net.params["ip2"][0].diff, weight_gradient)


def test_partial_index_passes_run_only_their_layers(net: caffe.Net) -> None:
    ip2 = net._layer_names.index("ip2")
    net.blobs["ip1"].data[...] = 1.0
    net._forward(ip2, ip2)
    weights, bias = (blob.data for blob in net.params["ip2"])
    np.testing.assert_allclose(net.blobs["ip2"].data, np.ones((4, 6)) @ weights.T + bias,
                               rtol=1e-5)
    net.blobs["ip2"].diff[...] = 1.0
    net._backward(ip2, ip2)
    np.testing.assert_allclose(net.blobs["ip1"].diff, np.ones((4, 3)) @ weights, rtol=1e-5)


def test_index_passes_reject_bad_ranges(net: caffe.Net) -> None:
    with pytest.raises(IndexError, match="end=7"):
        net._forward(0, 7)
    with pytest.raises(IndexError, match="start=-1"):
        net._backward(-1, 0)
    with pytest.raises(ValueError, match="start layer comes after end layer"):
        net._forward(3, 1)
    with pytest.raises(ValueError, match="start layer comes before end layer"):
        net._backward(1, 3)


def test_clear_param_diffs_zeroes_every_gradient(net: caffe.Net) -> None:
    net.forward()
    net.backward()
    views = [blob.diff for blobs in net.params.values() for blob in blobs]
    assert all(np.abs(view).sum() > 0 for view in views)
    net.clear_param_diffs()
    assert all((view == 0).all() for view in views)


def test_has_nccl_is_false() -> None:
    assert caffe.has_nccl() is False


# ---------------------------------------------------------------------------------------------
# HDF5 weights

def test_hdf5_round_trip_restores_every_param(net: caffe.Net, net_file: Path,
                                              tmp_path: Path) -> None:
    path = tmp_path / "weights.h5"
    saved = param_values(net)
    net.save_hdf5(str(path))
    perturb_params(net)
    net.load_hdf5(str(path))
    assert_same_params(param_values(net), saved)
    # BVLC's constructor forms and copy_from take the HDF5 file too.
    assert_same_params(param_values(caffe.Net(str(net_file), caffe.TRAIN, weights=str(path))),
                       saved)
    assert_same_params(param_values(caffe.Net(str(net_file), str(path), caffe.TRAIN)), saved)
    other = caffe.Net(str(net_file), caffe.TRAIN)
    other.copy_from(path)
    assert_same_params(param_values(other), saved)


def test_hdf5_layout_is_bvlcs(net: caffe.Net, tmp_path: Path) -> None:
    path = tmp_path / "weights.h5"
    net.params["ip2"][0].diff[...] = 3.0
    net.save_hdf5(str(path), write_diff=True)
    with h5py.File(path, "r") as file:
        assert sorted(file["data"]) == ["ip1", "ip1b", "ip2"]
        assert sorted(file["data/ip1"]) == ["0", "1"]
        np.testing.assert_array_equal(file["data/ip1/0"], net.params["ip1"][0].data)
        np.testing.assert_array_equal(file["data/ip2/1"], net.params["ip2"][1].data)
        assert file["data/ip2/0"].dtype == np.float32 and file["data/ip2/0"].shape == (3, 6)
        # Shared params are written once, under their first layer; diffs for every layer.
        assert len(file["data/ip1b"]) == 0
        assert sorted(file["diff/ip1b"]) == ["0", "1"]
        np.testing.assert_array_equal(file["diff/ip2/0"], np.full((3, 6), 3.0))
    net.save_hdf5(str(path))
    with h5py.File(path, "r") as file:
        assert "diff" not in file


def test_hdf5_from_another_writer_loads_shared_params(net: caffe.Net, tmp_path: Path) -> None:
    path = tmp_path / "external.h5"
    rng = np.random.default_rng(3)
    values = {("ip1", "0"): rng.standard_normal((6, 5)), ("ip1", "1"): rng.standard_normal(6),
              ("ip2", "0"): rng.standard_normal((3, 6)), ("ip2", "1"): rng.standard_normal(3)}
    with h5py.File(path, "w") as file:
        for (layer, index), array in values.items():
            file.create_dataset(f"data/{layer}/{index}", data=array)  # float64 on purpose
        file.create_dataset("data/not_in_net/0", data=np.zeros(2))
        file.create_group("data/ip1b")
    net.load_hdf5(str(path))
    for (layer, index), array in values.items():
        np.testing.assert_allclose(net.params[layer][int(index)].data, array, rtol=1e-6)
    # ip1b shares ip1's memory, so it sees the loaded values.
    np.testing.assert_array_equal(net.params["ip1b"][0].data, net.params["ip1"][0].data)


def test_hdf5_errors_name_the_problem(net: caffe.Net, tmp_path: Path) -> None:
    wrong_shape = tmp_path / "wrong_shape.h5"
    with h5py.File(wrong_shape, "w") as file:
        file.create_dataset("data/ip2/0", data=np.zeros((2, 6)))
        file.create_dataset("data/ip2/1", data=np.zeros(3))
    with pytest.raises(caffe.CaffeError, match=r"'ip2' blob 0.*\(2, 6\).*\(3, 6\)"):
        net.load_hdf5(str(wrong_shape))

    missing = tmp_path / "missing.h5"
    with h5py.File(missing, "w") as file:
        file.create_dataset("data/ip2/0", data=np.zeros((3, 6)))
    with pytest.raises(caffe.CaffeError, match="'ip2' has no dataset for parameter blob 1"):
        net.load_hdf5(str(missing))

    extra = tmp_path / "extra.h5"
    with h5py.File(extra, "w") as file:
        for index in range(3):
            file.create_dataset(f"data/ip2/{index}", data=np.zeros(1))
    with pytest.raises(caffe.CaffeError, match="'ip2' has 2 parameter blob"):
        net.load_hdf5(str(extra))

    no_data = tmp_path / "no_data.h5"
    with h5py.File(no_data, "w") as file:
        file.create_group("weights")
    with pytest.raises(caffe.CaffeError, match="no /data group"):
        net.load_hdf5(str(no_data))

    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(caffe.CaffeError, match="not an HDF5 file"):
        net.load_hdf5(str(text))


# ---------------------------------------------------------------------------------------------
# Batched passes

def linear_outputs(net: caffe.Net, data: np.ndarray) -> np.ndarray:
    weights, bias = (blob.data for blob in net.params["ip"])
    return data @ weights.T + bias


@pytest.mark.parametrize("count", [1, 4, 10])
def test_forward_all_batches_any_number_of_items(deploy: caffe.Net, count: int) -> None:
    data = np.random.default_rng(count).standard_normal((count, 5)).astype(np.float32)
    out = deploy.forward_all(data=data, blobs=["data"])
    assert sorted(out) == ["data", "out"]
    assert out["out"].shape == (count, 2)
    np.testing.assert_allclose(out["out"], linear_outputs(deploy, data), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out["data"], data)


def test_forward_all_checks_its_arguments(deploy: caffe.Net, net: caffe.Net) -> None:
    with pytest.raises(ValueError, match="'out' is not a blob this call can set"):
        deploy.forward_all(out=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="different numbers of items"):
        net.forward_all(data=np.zeros((5, 5)), target=np.zeros((4, 3)))
    # Without arrays it is one forward pass over what the blobs hold.
    deploy.blobs["data"].data[...] = 1.0
    np.testing.assert_allclose(deploy.forward_all()["out"],
                               linear_outputs(deploy, np.ones((4, 5))), rtol=1e-5)


def test_forward_all_stacks_outputs_that_are_not_per_item(net: caffe.Net) -> None:
    rng = np.random.default_rng(1)
    data, target = rng.standard_normal((6, 5)), rng.standard_normal((6, 3))
    out = net.forward_all(data=data, target=target)
    assert out["loss"].shape == (2,)  # one loss per batch of 4 (the second padded)
    first = net.forward(data=data[:4], target=target[:4])["loss"]
    assert out["loss"][0] == pytest.approx(float(first))


def test_forward_backward_all_returns_values_and_gradients(deploy: caffe.Net) -> None:
    rng = np.random.default_rng(2)
    data = rng.standard_normal((6, 5)).astype(np.float32)
    gradient = rng.standard_normal((6, 2)).astype(np.float32)
    values, gradients = deploy.forward_backward_all(data=data, out=gradient)
    np.testing.assert_allclose(values["out"], linear_outputs(deploy, data), rtol=1e-5, atol=1e-6)
    weights = deploy.params["ip"][0].data
    assert gradients["data"].shape == (6, 5)
    np.testing.assert_allclose(gradients["data"], gradient @ weights, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="needs input or output arrays"):
        deploy.forward_backward_all()


# ---------------------------------------------------------------------------------------------
# Solver

def write_solver(tmp_path: Path, **fields: object) -> Path:
    (tmp_path / "net.prototxt").write_text(NET)
    param = caffe_pb2.SolverParameter(net=str(tmp_path / "net.prototxt"), base_lr=0.1,
                                      lr_policy="fixed", max_iter=10, display=0,
                                      snapshot_prefix=str(tmp_path / "snap"), **fields)
    path = tmp_path / "solver.prototxt"
    path.write_text(text_format.MessageToString(param))
    return path


def test_apply_update_applies_the_rule_to_the_current_diffs(tmp_path: Path) -> None:
    solver = caffe.SGDSolver(str(write_solver(tmp_path, momentum=0.5, weight_decay=0.01)))
    weights = solver.net.params["ip2"][0]
    weights.data[...] = 2.0
    weights.diff[...] = 1.0
    solver.apply_update()
    # V = lr * (diff + decay * w) = 0.1 * (1 + 0.02); w = 2 - V
    first = 0.1 * (1.0 + 0.01 * 2.0)
    np.testing.assert_allclose(weights.data, 2.0 - first, rtol=1e-6)
    assert solver.iter == 0
    weights.diff[...] = 0.0
    solver.apply_update()  # momentum carries half of the last step
    second = 0.5 * first + 0.1 * 0.01 * (2.0 - first)
    np.testing.assert_allclose(weights.data, 2.0 - first - second, rtol=1e-5)


def test_share_weights_gives_a_net_the_solvers_weights(tmp_path: Path) -> None:
    solver = caffe.SGDSolver(str(write_solver(tmp_path)))
    other = caffe.Net(str(tmp_path / "net.prototxt"), caffe.TEST)
    solver.share_weights(other)
    solver.net.params["ip2"][0].data[...] = 7.0
    np.testing.assert_array_equal(other.params["ip2"][0].data, np.full((3, 6), 7.0))
