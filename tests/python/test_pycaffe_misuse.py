"""pycaffe used in the wrong order raises a Python exception and never aborts the interpreter."""
from __future__ import annotations

import _thread
import gc
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import caffe

DROPOUT_NET = """
layer { name: "in" type: "Input" top: "x" top: "label"
  input_param { shape { dim: 4 dim: 6 } shape { dim: 4 } } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "ip"
  inner_product_param { num_output: 5 weight_filler { type: "xavier" } } }
layer { name: "drop" type: "Dropout" bottom: "ip" top: "ip" dropout_param { dropout_ratio: 0.5 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
"""


@pytest.fixture
def dropout_net(tmp_path: Path) -> caffe.Net:
    path = tmp_path / "dropout.prototxt"
    path.write_text(DROPOUT_NET)
    caffe.set_mode_cpu()
    net = caffe.Net(str(path), caffe.TRAIN)
    net.blobs["x"].data[...] = np.random.default_rng(0).standard_normal((4, 6))
    net.blobs["label"].data[...] = [0, 1, 2, 3]
    return net


def test_backward_before_forward_raises(dropout_net: caffe.Net) -> None:
    with pytest.raises(caffe.CaffeError, match=r"layer 'drop' \(Dropout\).*run forward first"):
        dropout_net.backward()


def test_backward_after_forward_works(dropout_net: caffe.Net) -> None:
    dropout_net.forward()
    dropout_net.backward()
    assert np.isfinite(dropout_net.params["ip"][0].diff).all()
    assert np.abs(dropout_net.params["ip"][0].diff).sum() > 0


# ---------------------------------------------------------------------------------------------
# Helpers

BROKEN_NET = """
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 4 dim: 6 } } }
layer { name: "ip" type: "InnerProduct" bottom: "missing" top: "ip"
  inner_product_param { num_output: 5 } }
"""


def write_solver(directory: Path, net_text: str) -> Path:
    (directory / "net.prototxt").write_text(net_text)
    path = directory / "solver.prototxt"
    path.write_text(f'net: "{directory / "net.prototxt"}"\nbase_lr: 0.01\n'
                    f'snapshot_prefix: "{directory / "snap"}"\n')
    return path


def run_isolated(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Runs `code` in a fresh interpreter: a misuse that aborted or crashed would otherwise take
    pytest down with it.  The child imports caffe the way this process did."""
    # Not resolved: the build's package links to the sources, which lack the compiled parts.
    env = dict(os.environ, PYTHONPATH=str(Path(caffe.__file__).parents[1]))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def assert_prints(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 0, f"rc {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert expected in result.stdout, result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------
# Solvers whose net does not build


@pytest.mark.parametrize("make_solver", [caffe.get_solver, caffe.SGDSolver, caffe.AdamSolver])
def test_solver_with_a_broken_net_raises(tmp_path: Path,
                                         make_solver: Callable[[str], caffe.Solver]) -> None:
    with pytest.raises(caffe.CaffeError, match="bottom blob 'missing' is not produced"):
        make_solver(str(write_solver(tmp_path, BROKEN_NET)))


@pytest.mark.parametrize("half_built", [
    # A subclass that keeps `self` before its base __init__ fails.
    """
    class Kept(caffe.SGDSolver):
        def __init__(self, path):
            global kept
            kept = self
            super().__init__(path)
    try:
        Kept("solver.prototxt")
    except caffe.CaffeError:
        pass
    solver = kept
    """,
    # __new__ without __init__.
    "solver = caffe.SGDSolver.__new__(caffe.SGDSolver)",
])
def test_a_half_built_solver_cannot_be_used(tmp_path: Path, half_built: str) -> None:
    write_solver(tmp_path, BROKEN_NET)
    use_it = """
    for use in (lambda: solver.step(1), lambda: solver.iter, lambda: solver.net,
                lambda: repr(solver)):
        try:
            print("used:", use())
        except TypeError as error:
            print("TypeError:", error)
    """
    result = run_isolated("import caffe\n" + textwrap.dedent(half_built) + textwrap.dedent(use_it),
                          tmp_path)
    assert_prints(result, "object was not initialised (its __init__ did not run or failed), so "
                          "'step' cannot be used")
    for attribute in ("iter", "net", "__repr__"):
        assert f"so '{attribute}' cannot be used" in result.stdout
    assert "used:" not in result.stdout


@pytest.mark.parametrize("expression", [
    "caffe.Net.__new__(caffe.Net).forward()",
    "caffe.Blob.__new__(caffe.Blob).reshape(2)",
    "len(caffe._caffe._LayerBlobs.__new__(caffe._caffe._LayerBlobs))",
    "caffe._caffe.Layer.__new__(caffe._caffe.Layer).name",
])
def test_no_bound_class_runs_cpp_code_before_init(tmp_path: Path, expression: str) -> None:
    result = run_isolated(f"""
    import caffe
    try:
        {expression}
    except TypeError as error:
        print(error)
    """, tmp_path)
    assert_prints(result, "object was not initialised")


# ---------------------------------------------------------------------------------------------
# start= / end= naming no layer


@pytest.mark.parametrize("call, argument", [
    ("forward", "start"), ("forward", "end"), ("backward", "start"), ("backward", "end")])
def test_unknown_start_or_end_layer_raises(dropout_net: caffe.Net, call: str,
                                           argument: str) -> None:
    dropout_net.forward()
    with pytest.raises(ValueError, match=rf"{argument}='nope' is not a layer of net .*"
                                         r"Layers: in, ip, drop, loss"):
        getattr(dropout_net, call)(**{argument: "nope"})


@pytest.mark.parametrize("call, start, end, message", [
    ("forward", "loss", "in", "start layer comes after end layer"),
    ("backward", "in", "loss", "start layer comes before end layer"),
])
def test_start_past_end_raises(dropout_net: caffe.Net, call: str, start: str, end: str,
                               message: str) -> None:
    dropout_net.forward()
    with pytest.raises(ValueError, match=message):
        getattr(dropout_net, call)(start=start, end=end)


@pytest.mark.parametrize("lookup", ["blobs", "params", "layer_dict"])
def test_unknown_names_in_the_net_dicts_raise_key_error(dropout_net: caffe.Net,
                                                        lookup: str) -> None:
    with pytest.raises(KeyError, match="nope"):
        getattr(dropout_net, lookup)["nope"]


@pytest.mark.parametrize("call", [
    lambda net: net.forward(blobs=["nope"]),
    lambda net: net.backward(diffs=["nope"]),
    lambda net: net.forward(nope=np.zeros((4, 6))),
])
def test_unknown_blob_names_in_forward_and_backward_raise(dropout_net: caffe.Net,
                                                          call: Callable[[caffe.Net], object]
                                                          ) -> None:
    dropout_net.forward()
    with pytest.raises(ValueError, match="'nope' is not a blob of net .*Blobs: x, label, ip, "
                                         "loss"):
        call(dropout_net)


# ---------------------------------------------------------------------------------------------
# Writes of the wrong shape or type


def test_forward_with_an_input_of_the_wrong_shape_raises(dropout_net: caffe.Net) -> None:
    before = dropout_net.blobs["x"].data.copy()
    with pytest.raises(ValueError, match=r"input 'x' has shape \(3, 6\) but the blob has shape "
                                         r"\(4, 6\)"):
        dropout_net.forward(x=np.zeros((3, 6)))
    assert np.array_equal(dropout_net.blobs["x"].data, before)


@pytest.mark.parametrize("target, values, error, message", [
    ("blob data", np.zeros((3, 3)), ValueError, r"data has shape \(3, 3\) but the blob has shape "
                                                r"\(4, 6\)"),
    ("blob diff", np.zeros(24), ValueError, r"diff has shape \(24,\)"),
    ("param data", np.zeros((5, 5)), ValueError, r"blob has shape \(5, 6\)"),
    ("param diff", np.zeros(()), ValueError, r"diff has shape \(\)"),
    ("blob data", "abc", TypeError, "expected an array of numbers, got str"),
    ("param data", np.array([object()] * 30).reshape(5, 6), TypeError,
     "expected an array of numbers"),
])
def test_assigning_a_wrong_array_raises(dropout_net: caffe.Net, target: str, values: object,
                                        error: type[Exception], message: str) -> None:
    owner, field = target.split()
    blob = dropout_net.blobs["x"] if owner == "blob" else dropout_net.params["ip"][0]
    before = getattr(blob, field).copy()
    with pytest.raises(error, match=message):
        setattr(blob, field, values)
    assert np.array_equal(getattr(blob, field), before)  # nothing was written


def test_writing_a_view_with_the_wrong_shape_is_numpys_error(dropout_net: caffe.Net) -> None:
    with pytest.raises(ValueError, match="could not broadcast"):
        dropout_net.params["ip"][0].data[...] = np.zeros((3, 3))


def test_assignment_converts_other_dtypes(dropout_net: caffe.Net) -> None:
    dropout_net.blobs["x"].data = np.arange(24, dtype=np.int64).reshape(4, 6)
    assert dropout_net.blobs["x"].data.dtype == np.float32
    assert dropout_net.blobs["x"].data[3, 5] == 23


# ---------------------------------------------------------------------------------------------
# blob.reshape


@pytest.mark.parametrize("dims, error, message", [
    ((-1, 6), caffe.CaffeError, "negative blob dimension"),
    ((100_000, 100_000), caffe.CaffeError, "is too large"),
    ((2**40,), TypeError, "blob dimensions must be ints"),
    (("4", 6), TypeError, "blob dimensions must be ints"),
])
def test_reshape_to_impossible_dims_raises(dropout_net: caffe.Net, dims: tuple[object, ...],
                                          error: type[Exception], message: str) -> None:
    blob = dropout_net.blobs["x"]
    with pytest.raises(error, match=message):
        blob.reshape(*dims)
    assert blob.shape == (4, 6)


def test_an_empty_batch_runs_through_the_net(dropout_net: caffe.Net) -> None:
    dropout_net.blobs["x"].reshape(0, 6)
    dropout_net.blobs["label"].reshape(0)
    dropout_net.reshape()
    assert dropout_net.blobs["ip"].data.shape == (0, 5)
    dropout_net.forward()
    diffs = dropout_net.backward(diffs=["x"])
    assert diffs["x"].shape == (0, 6)


def test_a_zero_dim_that_does_not_fit_the_weights_raises(dropout_net: caffe.Net) -> None:
    dropout_net.blobs["x"].reshape(4, 0)
    with pytest.raises(caffe.CaffeError, match=r"layer 'ip' \(InnerProduct\).*has 0 inputs"):
        dropout_net.reshape()


# ---------------------------------------------------------------------------------------------
# Views that outlive their Net


def test_views_keep_working_after_the_net_is_gone(dropout_net: caffe.Net) -> None:
    dropout_net.forward()
    data = dropout_net.blobs["x"].data
    weights = dropout_net.params["ip"][0].data
    expected = (data.copy(), weights.copy())
    blob = dropout_net.blobs["ip"]
    del dropout_net
    gc.collect()
    assert np.array_equal(data, expected[0]) and np.array_equal(weights, expected[1])
    data[...] = 1  # still writable memory of its own
    assert data.sum() == data.size
    assert blob.shape == (4, 5) and np.isfinite(blob.data).all()


def test_a_net_taken_from_a_solver_outlives_the_solver(tmp_path: Path) -> None:
    solver = caffe.SGDSolver(str(write_solver(tmp_path, DROPOUT_NET)))
    net, weights = solver.net, solver.net.params["ip"][0].data
    del solver
    gc.collect()
    net.blobs["x"].data[...] = 1
    net.blobs["label"].data[...] = [0, 1, 2, 3]
    assert np.isfinite(net.forward()["loss"])
    assert np.array_equal(weights, net.params["ip"][0].data)


# ---------------------------------------------------------------------------------------------
# Python layers that raise

# The nets below name this module in python_param.module.
MODULE = __name__


class LayerError(Exception):
    pass


class FailsIn(caffe.Layer):
    """Identity that raises LayerError from the method named by param_str."""

    def fail_if(self, method: str) -> None:
        if self.param_str == method:
            raise LayerError(f"{method} went wrong")

    def setup(self, bottom, top):
        self.fail_if("setup")

    def reshape(self, bottom, top):
        self.fail_if("reshape")
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        self.fail_if("forward")
        top[0].data[...] = bottom[0].data

    def backward(self, top, propagate_down, bottom):
        self.fail_if("backward")
        bottom[0].diff[...] = top[0].diff


def failing_layer_net(tmp_path: Path, method: str) -> Callable[[], caffe.Net]:
    """A function building a net whose Python layer raises in `method`."""
    path = tmp_path / "python_layer.prototxt"
    path.write_text(
        'force_backward: true\n'  # the layer's bottom is an input: backward would skip it
        'layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }\n'
        'layer { name: "py" type: "Python" bottom: "x" top: "y" '
        f'python_param {{ module: "{MODULE}" layer: "FailsIn" param_str: "{method}" }} }}\n'
        'layer { name: "loss" type: "EuclideanLoss" bottom: "y" bottom: "x" top: "loss" }\n')
    return lambda: caffe.Net(str(path), caffe.TRAIN)


def run_pass(net: caffe.Net) -> None:
    net.blobs["x"].data[...] = 1
    net.forward()
    net.backward()


@pytest.mark.parametrize("method", ["setup", "reshape", "forward", "backward"])
def test_an_exception_in_a_python_layer_is_raised(tmp_path: Path, method: str) -> None:
    # setup and reshape run while the Net is built, forward and backward in the pass.
    with pytest.raises(caffe.CaffeError,
                       match=rf"(?s)layer 'py' \(Python\).*LayerError: {method} went wrong"):
        run_pass(failing_layer_net(tmp_path, method)())
    # Nothing was left half done: the same layer works when it does not raise.
    healthy = failing_layer_net(tmp_path, "nothing")()
    run_pass(healthy)
    assert np.array_equal(healthy.blobs["x"].diff, np.zeros((2, 3)))


# ---------------------------------------------------------------------------------------------
# Ctrl-C during solver.step


@pytest.fixture
def solver(tmp_path: Path) -> caffe.Solver:
    solver = caffe.SGDSolver(str(write_solver(tmp_path, DROPOUT_NET)))
    solver.net.blobs["x"].data[...] = np.random.default_rng(0).standard_normal((4, 6))
    solver.net.blobs["label"].data[...] = [0, 1, 2, 3]
    return solver


def test_keyboard_interrupt_from_a_callback_stops_step(solver: caffe.Solver) -> None:
    interrupt_at = {"iter": 2}

    def on_start() -> None:
        if solver.iter == interrupt_at["iter"]:
            raise KeyboardInterrupt

    solver.add_callback(on_start, None)
    with pytest.raises(KeyboardInterrupt):
        solver.step(10)
    assert solver.iter == 2  # the interrupted iteration applied no update

    interrupt_at["iter"] = -1
    solver.step(3)  # and the solver carries on from there
    assert solver.iter == 5


@pytest.mark.parametrize("call", [
    lambda solver: solver.step(1),
    lambda solver: solver.solve(),
    lambda solver: solver.add_callback(None, None),
])
def test_solver_calls_from_inside_a_step_raise(solver: caffe.Solver,
                                               call: Callable[[caffe.Solver], object]) -> None:
    solver.add_callback(lambda: call(solver), None)
    with pytest.raises(ValueError, match="cannot be called while the solver is running a step"):
        solver.step(3)
    assert solver.iter == 0


def test_ctrl_c_stops_step_between_iterations(solver: caffe.Solver) -> None:
    solver.step(3)
    # interrupt_main only flags a pending SIGINT, as Ctrl-C does, and no Python code runs while
    # the net trains: the flag set in iteration 3's on_start is seen by the check that starts
    # iteration 4, before any update of iteration 4.
    solver.add_callback(_thread.interrupt_main, None)
    with pytest.raises(KeyboardInterrupt):
        solver.step(10)
    assert solver.iter == 4
    # The solver stays usable: the next step runs iteration 4 and stops again the same way.
    with pytest.raises(KeyboardInterrupt):
        solver.step(10)
    assert solver.iter == 5
    assert np.isfinite(solver.net.params["ip"][0].data).all()
