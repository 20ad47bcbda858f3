"""Python layers (type "Python"): setup/reshape/forward/backward from a caffe.Layer subclass,
learnable blobs, gradients, data layers that train a net, error reporting, and the command-line
tool's message."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from google.protobuf import text_format

import caffe
from caffe.proto import caffe_pb2

# The layer classes below live in this module; the nets name it in python_param.module.
MODULE = __name__
REPO = Path(__file__).resolve().parents[2]

needs_layers = pytest.mark.skipif(
    not {"InnerProduct", "ReLU", "SoftmaxWithLoss", "EuclideanLoss"}
    <= set(caffe.layer_type_list()),
    reason="needs the InnerProduct, ReLU and loss layers")


@pytest.fixture(autouse=True)
def cpu_mode() -> Iterator[None]:
    caffe.set_mode_cpu()
    yield


# ---------------------------------------------------------------------------------------------
# Layers


class Double(caffe.Layer):
    """y = 2x."""

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        top[0].data[...] = 2 * bottom[0].data

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = 2 * top[0].diff


class ColumnScale(caffe.Layer):
    """y[n, j] = x[n, j] * w[j] with a learnable w (initial value from param_str)."""

    def setup(self, bottom, top):
        self.blobs.add_blob(bottom[0].shape[1])
        self.blobs[0].data[...] = float(self.param_str)

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data * self.blobs[0].data

    def backward(self, top, propagate_down, bottom):
        self.blobs[0].diff[...] += (top[0].diff * bottom[0].data).sum(axis=0)
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff * self.blobs[0].data


class GaussianClasses(caffe.Layer):
    """Data layer: batches of points around one centre per class.
    param_str: JSON {"batch": N, "dim": D, "classes": C, "seed": S}."""

    def setup(self, bottom, top):
        if bottom:
            raise ValueError("GaussianClasses takes no bottoms")
        config = json.loads(self.param_str)
        self.batch, self.dim, self.classes = config["batch"], config["dim"], config["classes"]
        self.rng = np.random.default_rng(config["seed"])
        self.centres = 3 * np.random.default_rng(0).standard_normal((self.classes, self.dim))
        top[0].reshape(self.batch, self.dim)
        top[1].reshape(self.batch)

    def forward(self, bottom, top):
        labels = self.rng.integers(0, self.classes, self.batch)
        points = self.centres[labels] + self.rng.standard_normal((self.batch, self.dim))
        top[0].data[...] = points
        top[1].data[...] = labels


class Recorder(caffe.Layer):
    """Identity that records what the net told it (param_str, phase, calls)."""
    instances: list["Recorder"] = []

    def __init__(self):
        self.calls: list[str] = []
        Recorder.instances.append(self)

    def setup(self, bottom, top):
        self.calls.append("setup")
        self.seen = (self.param_str, self.phase, len(self.blobs))

    def reshape(self, bottom, top):
        self.calls.append("reshape")
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        self.calls.append("forward")
        top[0].data[...] = bottom[0].data


class FailsInForward(Double):
    def forward(self, bottom, top):
        self.compute_something(bottom)

    def compute_something(self, bottom):
        raise ValueError(f"bad input of shape {bottom[0].shape}")


class InterruptedInForward(Double):
    def forward(self, bottom, top):
        raise KeyboardInterrupt


class AddsBlobInForward(Double):
    def forward(self, bottom, top):
        self.blobs.add_blob(3)


class ForgetsForward(caffe.Layer):
    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].shape)


class NotALayer:
    pass


# ---------------------------------------------------------------------------------------------
# Helpers


def python_layer(name: str, cls: type, bottoms: list[str], tops: list[str],
                 param_str: str = "", extra: str = "") -> str:
    links = "".join(f' bottom: "{b}"' for b in bottoms) + "".join(f' top: "{t}"' for t in tops)
    return (f'layer {{ name: "{name}" type: "Python"{links}\n'
            f'  python_param {{ module: "{MODULE}" layer: "{cls.__name__}" '
            f'param_str: \'{param_str}\' }} {extra} }}\n')


def input_layer(shape: tuple[int, ...], *tops: str) -> str:
    dims = " ".join(f"dim: {d}" for d in shape)
    shapes = " ".join(f"shape {{ {dims} }}" for _ in tops)
    names = "".join(f' top: "{t}"' for t in tops)
    return f'layer {{ name: "input" type: "Input"{names} input_param {{ {shapes} }} }}\n'


def make_net(tmp_path: Path, text: str, phase: int = caffe.TRAIN) -> caffe.Net:
    path = tmp_path / "net.prototxt"
    path.write_text(text)
    return caffe.Net(str(path), phase)


def numeric_gradient(loss_of: callable, values: np.ndarray, step: float = 1e-2) -> np.ndarray:
    """Central differences of loss_of() with respect to `values` (changed in place)."""
    gradient = np.zeros(values.shape, np.float64)
    for index in np.ndindex(values.shape):
        original = values[index]
        values[index] = original + step
        plus = loss_of()
        values[index] = original - step
        minus = loss_of()
        values[index] = original
        gradient[index] = (plus - minus) / (2 * step)
    return gradient


# ---------------------------------------------------------------------------------------------
# Forward, backward, learnable blobs


def test_double_layer_forward_and_backward(tmp_path: Path) -> None:
    net = make_net(tmp_path, "force_backward: true\n" + input_layer((2, 3), "x") +
                   python_layer("double", Double, ["x"], ["y"]))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert np.array_equal(net.forward(x=x)["y"], 2 * x)
    top_diff = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    assert np.array_equal(net.backward(y=top_diff)["x"], 2 * top_diff)
    assert net.layer_dict["double"].type == "Python"
    assert isinstance(net.layers[1], caffe.Layer)


@needs_layers
def test_gradients_through_python_layers_match_numeric(tmp_path: Path) -> None:
    text = ("force_backward: true\n" + input_layer((4, 3), "x", "target") +
            python_layer("double", Double, ["x"], ["doubled"]) +
            python_layer("scale", ColumnScale, ["doubled"], ["scaled"], param_str="0.5") +
            'layer { name: "loss" type: "EuclideanLoss" bottom: "scaled" bottom: "target" '
            'top: "loss" }\n')
    net = make_net(tmp_path, text)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    target = rng.standard_normal((4, 3)).astype(np.float32)
    scale = net.params["scale"][0]
    assert scale.shape == (3,) and np.all(scale.data == 0.5)
    scale.data[...] = [0.5, -1.5, 2.0]

    def loss() -> float:
        return float(net.forward(x=x, target=target)["loss"])

    loss()
    net.clear_param_diffs()
    x_diff = net.backward()["x"]
    w_diff = scale.diff.copy()
    np.testing.assert_allclose(x_diff, numeric_gradient(loss, x), rtol=1e-2, atol=1e-3)
    np.testing.assert_allclose(w_diff, numeric_gradient(loss, scale.data), rtol=1e-2, atol=1e-3)
    # Exact values: d loss / d x = 2 w (2 x w - target) / N.
    expected = 2 * scale.data * (2 * x * scale.data - target) / 4
    np.testing.assert_allclose(x_diff, expected, rtol=1e-5, atol=1e-6)


@needs_layers
def test_python_layer_blobs_are_learned_and_saved(tmp_path: Path) -> None:
    text = (input_layer((8, 3), "x", "target") +
            python_layer("scale", ColumnScale, ["x"], ["scaled"], param_str="1.0") +
            'layer { name: "loss" type: "EuclideanLoss" bottom: "scaled" bottom: "target" '
            'top: "loss" }\n')
    (tmp_path / "net.prototxt").write_text(text)
    param = caffe_pb2.SolverParameter(net=str(tmp_path / "net.prototxt"), base_lr=0.2,
                                      lr_policy="fixed", random_seed=3, display=0,
                                      snapshot_prefix=str(tmp_path / "snap"))
    solver = caffe.Solver.from_param(param)
    true_scale = np.array([2.0, -1.0, 0.5], np.float32)

    def feed() -> None:
        x = np.random.default_rng(solver.iter).standard_normal((8, 3)).astype(np.float32)
        solver.net.blobs["x"].data[...] = x
        solver.net.blobs["target"].data[...] = x * true_scale

    solver.add_callback(feed, None)
    solver.step(150)
    np.testing.assert_allclose(solver.net.params["scale"][0].data, true_scale, atol=1e-3)

    caffemodel, _ = solver.snapshot()
    fresh = caffe.Net(str(tmp_path / "net.prototxt"), caffemodel, caffe.TEST)
    assert np.array_equal(fresh.params["scale"][0].data, solver.net.params["scale"][0].data)


@needs_layers
def test_python_data_layer_trains_an_mlp(tmp_path: Path) -> None:
    config = json.dumps({"batch": 16, "dim": 5, "classes": 3, "seed": 11})
    text = (python_layer("data", GaussianClasses, [], ["data", "label"], param_str=config) +
            'layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"\n'
            '  inner_product_param { num_output: 10 weight_filler { type: "xavier" } } }\n'
            'layer { name: "relu" type: "ReLU" bottom: "ip1" top: "ip1" }\n'
            'layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "score"\n'
            '  inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }\n'
            'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "score" bottom: "label" '
            'top: "loss" }\n')
    (tmp_path / "mlp.prototxt").write_text(text)
    solver_path = tmp_path / "solver.prototxt"
    solver_path.write_text(text_format.MessageToString(caffe_pb2.SolverParameter(
        net="mlp.prototxt", base_lr=0.05, momentum=0.9, lr_policy="fixed", random_seed=2,
        display=0)))
    solver = caffe.get_solver(str(solver_path))
    assert solver.net.blobs["data"].shape == (16, 5)
    assert solver.net.params.keys() == {"ip1", "ip2"}
    losses: list[float] = []
    solver.add_callback(None, lambda: losses.append(float(solver.net.blobs["loss"].data)))
    solver.step(100)
    assert np.mean(losses[-10:]) < 0.3 * np.mean(losses[:10])
    labels = solver.net.blobs["label"].data
    assert set(np.unique(labels)) <= {0.0, 1.0, 2.0}


def test_param_str_phase_and_call_order(tmp_path: Path) -> None:
    Recorder.instances.clear()
    text = (input_layer((2, 2), "x") +
            python_layer("recorder", Recorder, ["x"], ["y"], param_str='{"k": 1}'))
    train = make_net(tmp_path, text, caffe.TRAIN)
    test = make_net(tmp_path, text, caffe.TEST)
    train_layer, test_layer = Recorder.instances
    assert train_layer.seen == ('{"k": 1}', caffe.TRAIN, 0)
    assert test_layer.seen[1] == caffe.TEST
    assert train_layer.calls == ["setup", "reshape"]
    train.forward(x=np.ones((2, 2), np.float32))
    assert train_layer.calls == ["setup", "reshape", "reshape", "forward"]
    assert test_layer.calls == ["setup", "reshape"]
    del train, test


def test_blobs_handle_fails_cleanly_once_the_net_is_gone(tmp_path: Path) -> None:
    Recorder.instances.clear()
    net = make_net(tmp_path, input_layer((2, 2), "x") +
                   python_layer("recorder", Recorder, ["x"], ["y"]))
    layer = Recorder.instances[0]
    assert len(layer.blobs) == 0 and list(layer.blobs) == []
    del net
    with pytest.raises(caffe.CaffeError, match="no longer exists"):
        len(layer.blobs)


def test_blobs_exist_only_once_the_net_sets_the_layer_up() -> None:
    with pytest.raises(AttributeError, match="from setup"):
        Double().blobs


# ---------------------------------------------------------------------------------------------
# Errors


def test_exception_in_forward_carries_the_traceback_and_layer_name(tmp_path: Path) -> None:
    net = make_net(tmp_path, input_layer((2, 3), "x") +
                   python_layer("faulty", FailsInForward, ["x"], ["y"]))
    with pytest.raises(caffe.CaffeError) as info:
        net.forward()
    message = str(info.value)
    assert "layer 'faulty' (Python)" in message
    assert "forward() of Python layer class" in message and "FailsInForward" in message
    assert "Traceback (most recent call last)" in message
    assert "in compute_something" in message  # the frame where it happened
    assert "ValueError: bad input of shape (2, 3)" in message


def test_keyboard_interrupt_in_a_layer_is_not_wrapped(tmp_path: Path) -> None:
    net = make_net(tmp_path, input_layer((2, 3), "x") +
                   python_layer("interrupted", InterruptedInForward, ["x"], ["y"]))
    with pytest.raises(KeyboardInterrupt):
        net.forward()


def test_exception_in_setup_names_the_layer(tmp_path: Path) -> None:
    with pytest.raises(caffe.CaffeError, match=r"(?s)layer 'data' \(Python\).*setup\(\).*"
                                               r"GaussianClasses takes no bottoms"):
        make_net(tmp_path, input_layer((2,), "x") +
                 python_layer("data", GaussianClasses, ["x"], ["a", "b"], param_str="{}"))


def test_missing_forward_is_reported(tmp_path: Path) -> None:
    net = make_net(tmp_path, input_layer((2,), "x") +
                   python_layer("lazy", ForgetsForward, ["x"], ["y"]))
    with pytest.raises(caffe.CaffeError, match="ForgetsForward must implement forward"):
        net.forward()


def test_add_blob_outside_setup_is_an_error(tmp_path: Path) -> None:
    net = make_net(tmp_path, input_layer((2,), "x") +
                   python_layer("adder", AddsBlobInForward, ["x"], ["y"]))
    with pytest.raises(caffe.CaffeError, match=r"add_blob\(\) works only in setup\(\)"):
        net.forward()


@pytest.mark.parametrize("python_param, expected", [
    ('module: "no_such_module_xyz" layer: "Double"', "No module named 'no_such_module_xyz'"),
    (f'module: "{MODULE}" layer: "Missing"', "has no attribute 'Missing'"),
    (f'module: "{MODULE}" layer: "NotALayer"', "must be a class deriving from caffe.Layer"),
    (f'module: "{MODULE}"', "python_param needs `module`"),
])
def test_bad_python_param_is_reported_with_the_layer_name(tmp_path: Path, python_param: str,
                                                          expected: str) -> None:
    text = (input_layer((2,), "x") +
            f'layer {{ name: "py" type: "Python" bottom: "x" top: "y" '
            f'python_param {{ {python_param} }} }}\n')
    with pytest.raises(caffe.CaffeError) as info:
        make_net(tmp_path, text)
    assert "layer 'py'" in str(info.value) and expected in str(info.value)


def test_command_line_tool_explains_python_layers(tmp_path: Path) -> None:
    build = REPO / os.environ.get("CAFFE_BUILD_DIR", "build")
    tool = build / "tools" / "caffe"
    if not tool.exists():
        pytest.skip(f"{tool} is not built")
    model = tmp_path / "net.prototxt"
    model.write_text(input_layer((2, 3), "x") + python_layer("double", Double, ["x"], ["y"]))
    result = subprocess.run([str(tool), "time", f"--model={model}", "--iterations=1"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert ("Python layers run only from pycaffe (import caffe); the caffe command-line tool "
            "cannot load them") in result.stderr
    assert "layer 'double'" in result.stderr
