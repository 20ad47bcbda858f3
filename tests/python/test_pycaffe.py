"""The `caffe` package's C++ bindings: module functions, errors, Net and Blob."""
from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

import caffe
from caffe.proto import caffe_pb2

# ---------------------------------------------------------------------------------------------
# Nets used below

INPUT_NET = """\
name: "inputs"
layer {
  name: "input"
  type: "Input"
  top: "data"
  top: "label"
  input_param { shape { dim: 2 dim: 3 } shape { dim: 2 } }
}
layer {
  name: "extra_input"
  type: "Input"
  top: "extra"
  input_param { shape { dim: 1 dim: 2 dim: 3 dim: 4 } }
}
"""

# Input -> InnerProduct -> ReLU (in place) -> InnerProduct -> SoftmaxWithLoss.
MLP_NET = """\
name: "mlp"
force_backward: true
layer {
  name: "input"
  type: "Input"
  top: "data"
  top: "label"
  input_param { shape { dim: 4 dim: 5 } shape { dim: 4 } }
}
layer {
  name: "ip1"
  type: "InnerProduct"
  bottom: "data"
  top: "ip1"
  inner_product_param {
    num_output: 6
    weight_filler { type: "gaussian" std: 0.5 }
    bias_filler { type: "uniform" min: -0.5 max: 0.5 }
  }
}
layer { name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }
layer {
  name: "ip2"
  type: "InnerProduct"
  bottom: "ip1"
  top: "ip2"
  inner_product_param {
    num_output: 3
    weight_filler { type: "gaussian" std: 0.5 }
    bias_filler { type: "uniform" min: -0.5 max: 0.5 }
  }
}
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }
"""

MLP_LAYERS = ("InnerProduct", "ReLU", "SoftmaxWithLoss")


def needs_layers(*types: str) -> pytest.MarkDecorator:
    """Skips a test until the layer types it uses are built into the core."""
    missing = [name for name in types if name not in caffe.layer_type_list()]
    return pytest.mark.skipif(bool(missing), reason=f"layer type(s) not built yet: {missing}")


needs_mlp_layers = needs_layers(*MLP_LAYERS)


@pytest.fixture(autouse=True)
def cpu_mode() -> Iterator[None]:
    caffe.set_mode_cpu()
    yield
    caffe.set_mode_cpu()


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def input_net_file(tmp_path: Path) -> Path:
    return write(tmp_path / "inputs.prototxt", INPUT_NET)


@pytest.fixture
def input_net(input_net_file: Path) -> caffe.Net:
    return caffe.Net(str(input_net_file), caffe.TEST)


@pytest.fixture
def mlp_file(tmp_path: Path) -> Path:
    return write(tmp_path / "mlp.prototxt", MLP_NET)


@pytest.fixture
def mlp(mlp_file: Path) -> caffe.Net:
    caffe.set_random_seed(1234)
    return caffe.Net(str(mlp_file), caffe.TRAIN)


def mlp_batch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(4, 5)).astype(np.float32)
    label = np.array([0, 2, 1, 2], dtype=np.float32)
    return data, label


# ---------------------------------------------------------------------------------------------
# Module

def test_package_exports_the_pycaffe_api() -> None:
    assert isinstance(caffe.__version__, str) and caffe.__version__
    for name in ("Net", "Blob", "NetSpec", "layers", "params", "io", "proto", "set_mode_cpu",
                 "set_mode_gpu", "set_device", "set_random_seed", "gpu_count", "cuda_compiled",
                 "blas_info", "set_blas_threads", "layer_type_list", "to_proto"):
        assert hasattr(caffe, name), name
    assert caffe.proto.caffe_pb2 is caffe_pb2
    assert caffe.TRAIN == 0 and caffe.TEST == 1
    assert caffe.TRAIN == caffe_pb2.TRAIN and caffe.TEST == caffe_pb2.TEST
    assert issubclass(caffe.CaffeError, RuntimeError)


def import_caffe_with_fake_protobuf(root: Path, version: str, with_builder: bool) -> str:
    """Imports caffe in a child process whose `google.protobuf` is a stand-in of `version`;
    returns its stderr."""
    package = root / "google" / "protobuf"
    (package / "internal").mkdir(parents=True)
    (root / "google" / "__init__.py").write_text("")
    (package / "__init__.py").write_text(f"__version__ = {version!r}\n")
    (package / "internal" / "__init__.py").write_text("")
    if with_builder:  # present, but the generated code cannot use it
        (package / "internal" / "builder.py").write_text(
            "raise TypeError('Descriptors cannot be created directly.')\n")
    build_python = Path(caffe.__file__).parent.parent
    env = dict(os.environ, PYTHONPATH=f"{root}{os.pathsep}{build_python}")
    result = subprocess.run([sys.executable, "-c", "import caffe"], env=env, capture_output=True,
                            text=True)
    assert result.returncode != 0
    return result.stderr


def test_too_old_protobuf_runtime_is_an_import_error_with_fix(tmp_path: Path) -> None:
    stderr = import_caffe_with_fake_protobuf(tmp_path, "3.19.6", with_builder=False)
    assert "ImportError" in stderr and "3.19.6" in stderr
    assert "pip install 'protobuf>=4.21,<5'" in stderr


def test_protobuf_that_rejects_the_generated_code_is_an_import_error_with_fix(
        tmp_path: Path) -> None:
    stderr = import_caffe_with_fake_protobuf(tmp_path, "4.0.0", with_builder=True)
    assert "ImportError" in stderr and "Descriptors cannot be created directly" in stderr
    assert "pip install 'protobuf>=4.21,<5'" in stderr


def test_mode_switches() -> None:
    caffe.set_mode_cpu()
    assert caffe.get_mode() == "CPU"
    if caffe.gpu_count() == 0:
        with pytest.raises(caffe.CaffeError, match="GPU mode requested"):
            caffe.set_mode_gpu()
        assert caffe.get_mode() == "CPU"
    else:
        caffe.set_mode_gpu()
        assert caffe.get_mode() == "GPU"
        caffe.set_mode_cpu()
        assert caffe.get_mode() == "CPU"


def test_set_device_rejects_missing_device() -> None:
    with pytest.raises(caffe.CaffeError, match="CUDA device"):
        caffe.set_device(caffe.gpu_count())


def test_cuda_build_flags_are_consistent() -> None:
    assert isinstance(caffe.cuda_compiled(), bool)
    if not caffe.cuda_compiled():
        assert caffe.gpu_count() == 0


def test_blas_threads() -> None:
    before = caffe.blas_threads()
    try:
        caffe.set_blas_threads(1)
        assert caffe.blas_threads() == 1
        assert "1 thread" in caffe.blas_info()
    finally:
        caffe.set_blas_threads(before)
    with pytest.raises(ValueError):
        caffe.set_blas_threads(0)


def test_gemm_backend_switches_and_gives_the_same_products(tmp_path) -> None:
    """Both libraries compute an InnerProduct alike (to float rounding); a bad name is a
    ValueError and leaves the choice alone."""
    path = tmp_path / "ip.prototxt"
    path.write_text('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 33 '
                    'dim: 70 } } }\nlayer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" '
                    'inner_product_param { num_output: 45 weight_filler { type: "gaussian" } } }\n')
    net = caffe.Net(str(path), caffe.TEST)
    net.blobs["x"].data[...] = np.random.default_rng(3).standard_normal((33, 70))
    before = caffe.gemm_backend()
    outputs = {}
    try:
        for name in ("openblas", "onednn"):
            caffe.set_gemm_backend(name)
            net.forward()
            outputs[caffe.gemm_backend()] = net.blobs["y"].data.copy()
            assert f"GEMM on {caffe.gemm_backend()}" in caffe.blas_info()
        with pytest.raises(ValueError, match="expected 'onednn' or 'openblas'"):
            caffe.set_gemm_backend("mkl")
        assert caffe.gemm_backend() == "oneDNN"
    finally:
        caffe.set_gemm_backend(before.lower())
    reference = net.blobs["x"].data @ net.params["ip"][0].data.T + net.params["ip"][1].data
    for output in outputs.values():
        np.testing.assert_allclose(output, reference, rtol=1e-4, atol=1e-4)


def test_layer_type_list_is_sorted_and_has_input() -> None:
    types = caffe.layer_type_list()
    assert "Input" in types
    assert types == sorted(types)


# ---------------------------------------------------------------------------------------------
# Errors

def test_missing_prototxt_is_a_caffe_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.prototxt"
    with pytest.raises(caffe.CaffeError, match="missing.prototxt"):
        caffe.Net(str(missing), caffe.TEST)


def test_unknown_layer_type_lists_known_types(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.prototxt", 'layer { name: "x" type: "NoSuchLayer" top: "x" }\n')
    with pytest.raises(caffe.CaffeError) as error:
        caffe.Net(str(path), caffe.TEST)
    assert "NoSuchLayer" in str(error.value)
    assert "Input" in str(error.value)  # the known types are listed


def test_malformed_prototxt_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.prototxt", 'name: "n"\nlayer {\n  nme: "x"\n}\n')
    with pytest.raises(caffe.CaffeError, match=rf"{path}:3:"):
        caffe.Net(str(path), caffe.TEST)


@needs_layers("InnerProduct")
def test_legacy_v1_net_is_upgraded(tmp_path: Path) -> None:
    path = write(tmp_path / "v1.prototxt", """\
input: "x" input_dim: 2 input_dim: 3 input_dim: 1 input_dim: 1
layers { name: "ip" type: INNER_PRODUCT bottom: "x" top: "y" blobs_lr: 1 blobs_lr: 2
         inner_product_param { num_output: 4 } }
""")
    net = caffe.Net(str(path), caffe.TEST)
    assert list(net.layer_dict) == ["input", "ip"]
    assert net.layers[1].type == "InnerProduct"
    assert net.params["ip"][0].data.shape == (4, 3)
    assert net.blobs["y"].data.shape == (2, 4)


def test_missing_and_corrupt_weights_are_caffe_errors(input_net_file: Path, tmp_path: Path) -> None:
    with pytest.raises(caffe.CaffeError, match="nothing.caffemodel"):
        caffe.Net(str(input_net_file), str(tmp_path / "nothing.caffemodel"), caffe.TEST)
    corrupt = tmp_path / "corrupt.caffemodel"
    corrupt.write_bytes(b"\xff\xfe this is not a protobuf \x00\x01" * 10)
    with pytest.raises(caffe.CaffeError):
        caffe.Net(str(input_net_file), str(corrupt), caffe.TEST)
    net = caffe.Net(str(input_net_file), caffe.TEST)
    with pytest.raises(caffe.CaffeError):
        net.copy_from(str(corrupt))


def test_bad_phase_is_a_value_error(input_net_file: Path) -> None:
    with pytest.raises(ValueError, match="phase"):
        caffe.Net(str(input_net_file), 7)


# ---------------------------------------------------------------------------------------------
# Net structure (Input-only nets)

def test_constructor_forms(input_net_file: Path, tmp_path: Path) -> None:
    by_keyword = caffe.Net(network_file=str(input_net_file), phase=caffe.TRAIN)
    assert by_keyword.phase == caffe.TRAIN
    by_path = caffe.Net(input_net_file, caffe.TEST)  # os.PathLike works too
    assert by_path.phase == caffe.TEST
    weights = tmp_path / "inputs.caffemodel"
    by_path.save(str(weights))
    assert caffe.Net(str(input_net_file), str(weights), caffe.TEST).name == "inputs"
    assert caffe.Net(str(input_net_file), caffe.TEST, weights=str(weights)).name == "inputs"
    assert caffe.Net(str(input_net_file), 1).phase == caffe.TEST  # a plain int phase
    assert caffe.Net(str(input_net_file), caffe.TEST, level=0, stages=None).name == "inputs"


def test_phase_level_and_stage_filter_layers(tmp_path: Path) -> None:
    path = write(tmp_path / "staged.prototxt", """\
layer { name: "always" type: "Input" top: "a" input_param { shape { dim: 1 } } }
layer { name: "train_only" type: "Input" top: "b" input_param { shape { dim: 1 } }
        include { phase: TRAIN } }
layer { name: "deploy_only" type: "Input" top: "c" input_param { shape { dim: 1 } }
        include { stage: "deploy" } }
layer { name: "level2" type: "Input" top: "d" input_param { shape { dim: 1 } }
        include { min_level: 2 } }
""")
    assert caffe.Net(str(path), caffe.TEST)._layer_names == ["always"]
    assert caffe.Net(str(path), caffe.TRAIN)._layer_names == ["always", "train_only"]
    staged = caffe.Net(str(path), caffe.TEST, stages=["deploy"], level=2)
    assert staged._layer_names == ["always", "deploy_only", "level2"]


def test_blobs_layers_and_names_follow_net_order(input_net: caffe.Net) -> None:
    assert isinstance(input_net.blobs, OrderedDict)
    assert list(input_net.blobs) == ["data", "label", "extra"]
    assert input_net._blob_names == ["data", "label", "extra"]
    assert input_net._layer_names == ["input", "extra_input"]
    assert [blob.shape for blob in input_net.blobs.values()] == [(2, 3), (2,), (1, 2, 3, 4)]
    assert input_net.inputs == ["data", "label", "extra"]
    # Outputs are listed by name, as in Caffe (its net keeps them in a sorted set).
    assert input_net.outputs == ["data", "extra", "label"]
    assert [layer.type for layer in input_net.layers] == ["Input", "Input"]
    assert [layer.name for layer in input_net.layers] == ["input", "extra_input"]
    assert all(layer.blobs == [] for layer in input_net.layers)
    assert list(input_net.layer_dict) == ["input", "extra_input"]
    assert input_net.layer_dict["extra_input"].type == "Input"
    assert input_net.params == OrderedDict()
    assert input_net.blob_loss_weights == OrderedDict(data=0.0, label=0.0, extra=0.0)
    assert input_net.top_names == OrderedDict(input=["data", "label"], extra_input=["extra"])
    assert input_net.bottom_names == OrderedDict(input=[], extra_input=[])


def test_blob_properties(input_net: caffe.Net) -> None:
    blob = input_net.blobs["extra"]
    assert (blob.num, blob.channels, blob.height, blob.width) == (1, 2, 3, 4)
    assert blob.count == 24 and blob.num_axes == 4
    short = input_net.blobs["data"]
    assert (short.num, short.channels, short.height, short.width) == (2, 3, 1, 1)


def test_data_and_diff_are_writable_float32_views(input_net: caffe.Net) -> None:
    blob = input_net.blobs["data"]
    view = blob.data
    assert view.dtype == np.float32 and view.shape == (2, 3)
    view[...] = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(blob.data, np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(input_net.forward()["data"], np.arange(6).reshape(2, 3))
    blob.diff[1, 2] = 7.0
    assert input_net.blobs["data"].diff[1, 2] == 7.0
    assert blob.data[0, 0] == 0.0  # data and diff are separate memory


def test_views_outlive_the_net(input_net_file: Path) -> None:
    net = caffe.Net(str(input_net_file), caffe.TEST)
    blob = net.blobs["extra"]
    data = blob.data
    data[...] = 3.0
    del net
    gc.collect()
    assert data.base is not None
    np.testing.assert_array_equal(data, np.full((1, 2, 3, 4), 3.0))
    data[0, 0, 0, 0] = 5.0  # still writable memory, still the blob's
    assert blob.data[0, 0, 0, 0] == 5.0
    del blob
    gc.collect()
    assert float(data.sum()) == 3.0 * 23 + 5.0


def test_data_assignment_copies_with_shape_check(input_net: caffe.Net) -> None:
    blob = input_net.blobs["data"]
    blob.data = [[1, 2, 3], [4, 5, 6]]
    np.testing.assert_array_equal(blob.data, [[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        blob.data = np.zeros((3, 2))
    with pytest.raises(TypeError):
        blob.diff = "not numbers"


def test_blob_reshape_and_net_reshape(input_net: caffe.Net) -> None:
    input_net.blobs["data"].reshape(4, 3)
    input_net.reshape()
    assert input_net.blobs["data"].data.shape == (4, 3)
    input_net.blobs["data"].reshape((5, 3))
    assert input_net.blobs["data"].shape == (5, 3)
    out = input_net.forward(data=np.ones((5, 3)))
    assert out["data"].shape == (5, 3)


def test_standalone_blob() -> None:
    blob = caffe.Blob(2, 3)
    assert blob.shape == (2, 3)
    np.testing.assert_array_equal(blob.data, np.zeros((2, 3)))
    assert caffe.Blob([4]).shape == (4,)
    blob.reshape(0, 3)
    assert blob.count == 0 and blob.data.shape == (0, 3)


def test_bad_blob_shapes_are_errors() -> None:
    blob = caffe.Blob(2)
    with pytest.raises(caffe.CaffeError, match="negative"):
        blob.reshape(-1)
    with pytest.raises(caffe.CaffeError, match="too large"):
        blob.reshape(100000, 100000)
    with pytest.raises(TypeError, match="must be ints"):
        caffe.Blob("x")
    assert blob.shape == (2,)


# ---------------------------------------------------------------------------------------------
# forward / backward (Input-only nets)

def test_forward_sets_inputs_by_name_and_returns_copies(input_net: caffe.Net) -> None:
    data = np.arange(6, dtype=np.float64).reshape(2, 3)  # converted to float32
    label = np.array([1, 0])
    out = input_net.forward(data=data, label=label)
    assert list(out) == ["data", "extra", "label"]
    np.testing.assert_array_equal(out["data"], data)
    np.testing.assert_array_equal(out["label"], label)
    assert out["data"].dtype == np.float32
    out["data"][...] = -1.0  # a copy: the net is not affected
    np.testing.assert_array_equal(input_net.blobs["data"].data, data)


def test_forward_shape_mismatch_names_blob_and_shapes(input_net: caffe.Net) -> None:
    with pytest.raises(ValueError) as error:
        input_net.forward(data=np.zeros((5, 3), dtype=np.float32))
    message = str(error.value)
    assert "'data'" in message and "(5, 3)" in message and "(2, 3)" in message


def test_forward_unknown_input_lists_blobs(input_net: caffe.Net) -> None:
    with pytest.raises(ValueError, match="'nope'.*Blobs: data, label, extra"):
        input_net.forward(nope=np.zeros(2))


def test_forward_start_end_and_extra_blobs(input_net: caffe.Net) -> None:
    out = input_net.forward(start="input", end="input", blobs=["extra"])
    assert list(out) == ["data", "label", "extra"]
    assert list(input_net.forward(end="extra_input")) == ["extra"]
    with pytest.raises(ValueError, match="'nope' is not a layer"):
        input_net.forward(start="nope")
    with pytest.raises(ValueError, match="start layer comes after end layer"):
        input_net.forward(start="extra_input", end="input")
    with pytest.raises(ValueError, match="'missing'"):
        input_net.forward(blobs=["missing"])


def test_backward_sets_and_returns_input_diffs(input_net: caffe.Net) -> None:
    gradient = np.full((2, 3), 0.5, dtype=np.float32)
    diffs = input_net.backward(data=gradient)
    assert list(diffs) == ["data", "label", "extra"]
    np.testing.assert_array_equal(diffs["data"], gradient)
    np.testing.assert_array_equal(diffs["extra"], np.zeros((1, 2, 3, 4)))
    with pytest.raises(ValueError, match=r"\(2,\)"):
        input_net.backward(label=np.zeros(3))


def test_save_writes_a_caffemodel_with_every_layer(input_net: caffe.Net, tmp_path: Path) -> None:
    path = tmp_path / "saved.caffemodel"
    input_net.save(str(path))
    saved = caffe_pb2.NetParameter.FromString(path.read_bytes())
    assert saved.name == "inputs"
    assert [layer.name for layer in saved.layer] == ["input", "extra_input"]
    input_net.copy_from(str(path))  # loads back without complaint


def test_net_repr_mentions_name_and_phase(input_net: caffe.Net) -> None:
    assert "inputs" in repr(input_net) and "TEST" in repr(input_net)
    assert "extra_input" in repr(input_net.layers[1])


@pytest.mark.gpu
def test_gpu_forward_of_inputs(input_net: caffe.Net) -> None:
    caffe.set_mode_gpu()
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(input_net.forward(data=data)["data"], data)


# ---------------------------------------------------------------------------------------------
# The MLP: Input -> InnerProduct -> ReLU -> InnerProduct -> SoftmaxWithLoss

def mlp_reference(params: dict[str, list[np.ndarray]], data: np.ndarray,
                  label: np.ndarray) -> dict[str, np.ndarray]:
    """Forward and backward of MLP_NET in float64 numpy."""
    w1, b1 = (p.astype(np.float64) for p in params["ip1"])
    w2, b2 = (p.astype(np.float64) for p in params["ip2"])
    x = data.astype(np.float64)
    pre1 = x @ w1.T + b1
    hidden = np.maximum(pre1, 0)
    scores = hidden @ w2.T + b2
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    prob = shifted / shifted.sum(axis=1, keepdims=True)
    rows = np.arange(len(label))
    labels = label.astype(int)
    loss = -np.log(prob[rows, labels]).mean()
    d_scores = prob.copy()
    d_scores[rows, labels] -= 1
    d_scores /= len(label)
    d_hidden = (d_scores @ w2) * (pre1 > 0)
    return {"ip2": scores, "loss": np.array(loss), "d_data": d_hidden @ w1,
            "d_w2": d_scores.T @ hidden, "d_b2": d_scores.sum(axis=0), "d_w1": d_hidden.T @ x}


def current_params(net: caffe.Net) -> dict[str, list[np.ndarray]]:
    return {name: [blob.data.copy() for blob in blobs] for name, blobs in net.params.items()}


@needs_mlp_layers
def test_mlp_structure(mlp: caffe.Net) -> None:
    assert list(mlp.blobs) == ["data", "label", "ip1", "ip2", "loss"]
    assert list(mlp.params) == ["ip1", "ip2"]
    assert [[blob.shape for blob in blobs] for blobs in mlp.params.values()] == \
        [[(6, 5), (6,)], [(3, 6), (3,)]]
    assert [layer.type for layer in mlp.layers] == \
        ["Input", "InnerProduct", "ReLU", "InnerProduct", "SoftmaxWithLoss"]
    assert mlp.outputs == ["loss"]
    assert mlp.inputs == ["data", "label"]
    assert mlp.blob_loss_weights["loss"] == 1.0 and mlp.blob_loss_weights["ip2"] == 0.0
    assert mlp.layer_dict["ip1"].blobs[0].shape == (6, 5)


@needs_mlp_layers
def test_mlp_forward_matches_numpy(mlp: caffe.Net) -> None:
    data, label = mlp_batch()
    out = mlp.forward(blobs=["ip2"], data=data, label=label)
    reference = mlp_reference(current_params(mlp), data, label)
    np.testing.assert_allclose(out["ip2"], reference["ip2"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["loss"], reference["loss"], rtol=1e-5)


@needs_mlp_layers
def test_param_views_write_through(mlp: caffe.Net) -> None:
    data, label = mlp_batch()
    before = mlp.forward(blobs=["ip2"], data=data, label=label)["ip2"]
    weights, bias = mlp.params["ip2"]
    weights.data[...] = 0.0  # through the view: no assignment back needed
    bias.data[...] = [1.0, 2.0, 3.0]
    after = mlp.forward(blobs=["ip2"], data=data, label=label)["ip2"]
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, np.tile([1.0, 2.0, 3.0], (4, 1)))


@needs_mlp_layers
def test_mlp_backward_returns_input_diffs(mlp: caffe.Net) -> None:
    data, label = mlp_batch(1)
    mlp.forward(data=data, label=label)
    mlp.clear_param_diffs()
    diffs = mlp.backward()
    assert list(diffs) == ["data", "label"]
    reference = mlp_reference(current_params(mlp), data, label)
    np.testing.assert_allclose(diffs["data"], reference["d_data"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(mlp.params["ip2"][0].diff, reference["d_w2"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(mlp.params["ip2"][1].diff, reference["d_b2"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(mlp.params["ip1"][0].diff, reference["d_w1"], rtol=1e-4, atol=1e-6)
    partial = mlp.backward(start="loss", end="ip2", diffs=["ip2"])
    assert list(partial) == ["ip1", "ip2"]


@needs_mlp_layers
def test_random_seed_makes_fills_reproducible(mlp_file: Path) -> None:
    caffe.set_random_seed(7)
    first = caffe.Net(str(mlp_file), caffe.TEST)
    caffe.set_random_seed(7)
    second = caffe.Net(str(mlp_file), caffe.TEST)
    caffe.set_random_seed(8)
    third = caffe.Net(str(mlp_file), caffe.TEST)
    np.testing.assert_array_equal(first.params["ip1"][0].data, second.params["ip1"][0].data)
    assert not np.array_equal(first.params["ip1"][0].data, third.params["ip1"][0].data)


@needs_mlp_layers
def test_save_and_copy_from_round_trip(mlp: caffe.Net, mlp_file: Path, tmp_path: Path) -> None:
    data, label = mlp_batch(2)
    expected = mlp.forward(blobs=["ip2"], data=data, label=label)
    weights = tmp_path / "mlp.caffemodel"
    mlp.save(str(weights))

    caffe.set_random_seed(99)
    other = caffe.Net(str(mlp_file), caffe.TRAIN)
    assert not np.array_equal(other.params["ip1"][0].data, mlp.params["ip1"][0].data)
    other.copy_from(str(weights))
    for name in ("ip1", "ip2"):
        for mine, theirs in zip(mlp.params[name], other.params[name]):
            np.testing.assert_array_equal(mine.data, theirs.data)
    np.testing.assert_array_equal(other.forward(blobs=["ip2"], data=data, label=label)["ip2"],
                                  expected["ip2"])
    loaded = caffe.Net(str(mlp_file), str(weights), caffe.TEST)
    np.testing.assert_array_equal(loaded.params["ip2"][1].data, mlp.params["ip2"][1].data)


@needs_mlp_layers
def test_share_with_shares_weight_memory(mlp: caffe.Net, mlp_file: Path) -> None:
    other = caffe.Net(str(mlp_file), caffe.TEST)
    other.share_with(mlp)
    mlp.params["ip1"][0].data[0, 0] = 42.0
    assert other.params["ip1"][0].data[0, 0] == 42.0


def legacy_blob(values: np.ndarray) -> caffe_pb2.BlobProto:
    """A BlobProto as old BVLC Caffe wrote it: 4-d legacy dims with leading ones, no shape."""
    dims = (1,) * (4 - values.ndim) + values.shape
    blob = caffe_pb2.BlobProto(num=dims[0], channels=dims[1], height=dims[2], width=dims[3])
    blob.data.extend(values.ravel().tolist())
    return blob


@needs_mlp_layers
@pytest.mark.parametrize("v1", [False, True], ids=["current", "v1"])
def test_loads_a_bvlc_style_caffemodel(mlp_file: Path, tmp_path: Path, v1: bool) -> None:
    """A caffemodel as BVLC Caffe wrote it; the model zoo's are V1 (`layers`, enum types)."""
    rng = np.random.default_rng(3)
    params = {"ip1": [rng.normal(size=(6, 5)), rng.normal(size=6)],
              "ip2": [rng.normal(size=(3, 6)), rng.normal(size=3)]}
    params = {name: [p.astype(np.float32) for p in blobs] for name, blobs in params.items()}
    model = caffe_pb2.NetParameter(name="mlp")
    if v1:
        inner_product = caffe_pb2.V1LayerParameter.INNER_PRODUCT
        layers = model.layers
        layers.add(name="data", type=caffe_pb2.V1LayerParameter.DATA)
    else:
        inner_product = "InnerProduct"
        layers = model.layer
        layers.add(name="input", type="Input")
    for name, blobs in params.items():
        layer = layers.add(name=name, type=inner_product)
        layer.blobs.extend(legacy_blob(values) for values in blobs)
    layers.add(name="not_in_this_net", type=inner_product).blobs.append(
        legacy_blob(np.ones((2, 2), dtype=np.float32)))  # ignored: matched by name
    weights = tmp_path / "bvlc.caffemodel"
    weights.write_bytes(model.SerializeToString())

    net = caffe.Net(str(mlp_file), str(weights), caffe.TEST)
    for name, blobs in params.items():
        for blob, values in zip(net.params[name], blobs):
            np.testing.assert_array_equal(blob.data, values)
    data, label = mlp_batch(4)
    out = net.forward(blobs=["ip2"], data=data, label=label)
    reference = mlp_reference(params, data, label)
    np.testing.assert_allclose(out["ip2"], reference["ip2"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["loss"], reference["loss"], rtol=1e-5)


@needs_mlp_layers
def test_weights_with_wrong_shape_name_the_layer(mlp_file: Path, tmp_path: Path) -> None:
    model = caffe_pb2.NetParameter()
    layer = model.layer.add(name="ip2", type="InnerProduct")
    layer.blobs.extend([legacy_blob(np.zeros((4, 6), np.float32)),
                        legacy_blob(np.zeros(4, np.float32))])
    weights = tmp_path / "wrong.caffemodel"
    weights.write_bytes(model.SerializeToString())
    with pytest.raises(caffe.CaffeError, match="ip2"):
        caffe.Net(str(mlp_file), str(weights), caffe.TEST)


@needs_layers("Dropout")
def test_each_forward_pass_draws_a_new_dropout_mask(tmp_path: Path) -> None:
    path = write(tmp_path / "dropout.prototxt", """\
layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 1 dim: 256 } } }
layer { name: "drop" type: "Dropout" bottom: "x" top: "y" dropout_param { dropout_ratio: 0.5 } }
""")
    net = caffe.Net(str(path), caffe.TRAIN)
    ones = np.ones((1, 256), dtype=np.float32)
    masks = [net.forward(x=ones)["y"] != 0 for _ in range(2)]
    masks.append(net.forward(end="drop", x=ones)["y"] != 0)  # a pass from the first layer
    assert not np.array_equal(masks[0], masks[1])
    assert not np.array_equal(masks[1], masks[2])
    # A pass that starts later in the net belongs to the current step: it does not advance.
    mid_net = [net.forward(start="drop", x=ones)["y"] != 0 for _ in range(2)]
    np.testing.assert_array_equal(mid_net[0], mid_net[1])


@pytest.mark.gpu
@needs_mlp_layers
def test_gpu_forward_backward_match_cpu(mlp: caffe.Net) -> None:
    data, label = mlp_batch(5)
    cpu_out = mlp.forward(blobs=["ip2"], data=data, label=label)
    cpu_diffs = mlp.backward()
    caffe.set_mode_gpu()
    gpu_out = mlp.forward(blobs=["ip2"], data=data, label=label)
    gpu_diffs = mlp.backward()
    np.testing.assert_allclose(gpu_out["ip2"], cpu_out["ip2"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gpu_diffs["data"], cpu_diffs["data"], rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Skipping the zero columns approximate dropout leaves

def test_column_skip_switch_gives_the_same_training_step(tmp_path: Path) -> None:
    from caffe import approx_dropout
    schedule = tmp_path / "ip1.schedule"
    approx_dropout.write_schedule(approx_dropout.make_schedule(0.5, 2, 4, pattern="ROW", seed=3),
                                  schedule)
    net_text = f"""
layer {{ name: "data" type: "Input" top: "data" top: "label"
  input_param {{ shape {{ dim: 4 dim: 6 }} shape {{ dim: 4 }} }} }}
layer {{ name: "ip1" type: "InnerProductApproxDropout" bottom: "data" top: "ip1"
  inner_product_param {{ num_output: 8 weight_filler {{ type: "gaussian" std: 0.5 }} }}
  approx_dropout_param {{ pattern: ROW dropout_ratio: 0.5 schedule_file: "{schedule}" }} }}
layer {{ name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }}
layer {{ name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
  inner_product_param {{ num_output: 3 weight_filler {{ type: "gaussian" std: 0.5 }} }} }}
layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }}
"""
    (tmp_path / "net.prototxt").write_text(net_text)
    solver_text = (f'net: "{tmp_path / "net.prototxt"}"\nbase_lr: 0.1\nmomentum: 0.9\n'
                   'lr_policy: "fixed"\nmax_iter: 10\nsnapshot_after_train: false\n'
                   'solver_mode: CPU\nrandom_seed: 5\n')
    (tmp_path / "solver.prototxt").write_text(solver_text)
    data, label = mlp_batch()
    data = np.concatenate([data, data[:, :1]], axis=1)
    weights = {}
    assert caffe.column_skip_enabled()
    try:
        for skip in (True, False):
            caffe.set_column_skip(skip)
            assert caffe.column_skip_enabled() is skip
            solver = caffe.get_solver(str(tmp_path / "solver.prototxt"))
            solver.net.blobs["data"].data[...] = data
            solver.net.blobs["label"].data[...] = label
            solver.step(3)
            weights[skip] = [p.data.copy() for p in solver.net.params["ip2"]]
    finally:
        caffe.set_column_skip(True)
    for with_skip, without in zip(weights[True], weights[False]):
        np.testing.assert_allclose(with_skip, without, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# The sparse backward of Convolution and InnerProduct

SPARSE_NET = """
layer { name: "data" type: "Input" top: "data" top: "label"
  input_param { shape { dim: 4 dim: 16 dim: 6 dim: 6 } shape { dim: 4 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 24 kernel_size: 3 pad: 1 weight_filler { type: "msra" } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "ip" type: "InnerProduct" bottom: "conv" top: "ip"
  inner_product_param { num_output: 5 weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
"""


def test_sparse_backward_policies_give_the_same_training_step(tmp_path: Path) -> None:
    (tmp_path / "net.prototxt").write_text(SPARSE_NET)
    (tmp_path / "solver.prototxt").write_text(
        f'net: "{tmp_path / "net.prototxt"}"\nbase_lr: 0.1\nmomentum: 0.9\nlr_policy: "fixed"\n'
        'max_iter: 10\nsnapshot_after_train: false\nsolver_mode: CPU\nrandom_seed: 5\n')
    rng = np.random.default_rng(4)
    data = rng.standard_normal((4, 16, 6, 6)).astype(np.float32)
    label = rng.integers(0, 5, 4).astype(np.float32)
    assert caffe.sparse_backward() == "auto"
    weights = {}
    try:
        for policy in ("never", "always", "auto"):
            caffe.set_sparse_backward(policy)
            assert caffe.sparse_backward() == policy
            solver = caffe.get_solver(str(tmp_path / "solver.prototxt"))
            solver.net.blobs["data"].data[...] = data
            solver.net.blobs["label"].data[...] = label
            solver.step(3)
            weights[policy] = [p.data.copy() for name in ("conv", "ip")
                               for p in solver.net.params[name]]
    finally:
        caffe.set_sparse_backward("auto")
    for policy in ("always", "auto"):
        for sparse, dense in zip(weights[policy], weights["never"]):
            np.testing.assert_allclose(sparse, dense, rtol=1e-4, atol=1e-6)


def test_sparse_backward_rejects_unknown_policy() -> None:
    with pytest.raises(ValueError, match="'auto', 'never' or 'always'"):
        caffe.set_sparse_backward("sometimes")
    assert caffe.sparse_backward() == "auto"


def test_sparse_backward_environment_switch() -> None:
    code = "import caffe; print(caffe.sparse_backward())"
    for value, expected in (("1", "never"), ("0", "auto"), ("", "auto")):
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                env={**os.environ, "CAFFE_NO_SPARSE_BACKWARD": value}, check=True)
        assert result.stdout.strip() == expected
