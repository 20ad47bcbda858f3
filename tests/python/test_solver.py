"""pycaffe solvers: construction, stepping, learning-rate policies, shared memory with solver.net,
snapshots and exact resumption, callbacks (order, exceptions, stop requests), testing, and the
SolverParameter round trip."""
from __future__ import annotations

import gc
import os
import signal
import threading
import weakref
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
from google.protobuf import text_format

import caffe
from caffe import layers as L
from caffe.proto import caffe_pb2

pytestmark = pytest.mark.skipif(
    not {"InnerProduct", "EuclideanLoss", "SoftmaxWithLoss", "Accuracy", "Dropout"}
    <= set(caffe.layer_type_list()),
    reason="the solver tests need the InnerProduct, loss, Accuracy and Dropout layers")

BATCH = 8
TRUE_W = np.array([[1.0, -2.0, 0.5, 3.0]], np.float32)
TRUE_B = np.float32(0.25)

# Linear regression: data [8, 4] -> pred [8, 1], EuclideanLoss against target.
REGRESSION_NET = """\
name: "regression"
layer { name: "input" type: "Input" top: "data" top: "target"
        input_param { shape { dim: 8 dim: 4 } shape { dim: 8 dim: 1 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "pred"
        inner_product_param { num_output: 1 weight_filler { type: "gaussian" std: 0.1 }
                              bias_filler { type: "constant" value: 0 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "pred" bottom: "target" top: "loss" }
"""

# The same task through a hidden layer with dropout, so that resuming must also continue the
# random masks.
DROPOUT_NET = """\
name: "dropout_regression"
layer { name: "input" type: "Input" top: "data" top: "target"
        input_param { shape { dim: 8 dim: 4 } shape { dim: 8 dim: 1 } } }
layer { name: "hidden" type: "InnerProduct" bottom: "data" top: "hidden"
        inner_product_param { num_output: 16 weight_filler { type: "gaussian" std: 0.3 }
                              bias_filler { type: "constant" value: 0.1 } } }
layer { name: "drop" type: "Dropout" bottom: "hidden" top: "hidden"
        dropout_param { dropout_ratio: 0.5 } }
layer { name: "ip" type: "InnerProduct" bottom: "hidden" top: "pred"
        inner_product_param { num_output: 1 weight_filler { type: "gaussian" std: 0.3 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "pred" bottom: "target" top: "loss" }
"""

# Four-class softmax classifier; Accuracy only in the TEST phase.
CLASSIFIER_NET = """\
name: "classifier"
layer { name: "input" type: "Input" top: "data" top: "label"
        input_param { shape { dim: 6 dim: 3 } shape { dim: 6 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "score"
        inner_product_param { num_output: 4 weight_filler { type: "gaussian" std: 1 }
                              bias_filler { type: "uniform" min: -1 max: 1 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "score" bottom: "label" top: "loss" }
layer { name: "accuracy" type: "Accuracy" bottom: "score" bottom: "label" top: "accuracy"
        include { phase: TEST } }
"""

# Settings valid for every update rule, per rule.
RULES = [
    (caffe.SGDSolver, dict(momentum=0.9, weight_decay=0.01)),
    (caffe.NesterovSolver, dict(momentum=0.9)),
    (caffe.AdaGradSolver, dict()),
    (caffe.RMSPropSolver, dict(rms_decay=0.95)),
    (caffe.AdaDeltaSolver, dict(momentum=0.95, delta=1e-6, base_lr=1.0)),
    (caffe.AdamSolver, dict(momentum=0.9, momentum2=0.999, base_lr=0.01)),
]


@pytest.fixture(autouse=True)
def cpu_mode() -> Iterator[None]:
    caffe.set_mode_cpu()
    yield


def solver_file(directory: Path, net_text: str = REGRESSION_NET, **fields: Any) -> Path:
    """Writes net.prototxt and solver.prototxt (which names the net relative to itself)."""
    (directory / "net.prototxt").write_text(net_text)
    settings: dict[str, Any] = dict(net="net.prototxt", base_lr=0.05, lr_policy="fixed",
                                    max_iter=10, random_seed=7, display=0,
                                    snapshot_prefix=str(directory / "snap"))
    settings.update(fields)
    param = caffe_pb2.SolverParameter(**settings)
    path = directory / "solver.prototxt"
    path.write_text(text_format.MessageToString(param))
    return path


def regression_batch(index: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(index)
    data = rng.standard_normal((BATCH, 4)).astype(np.float32)
    return data, data @ TRUE_W.T + TRUE_B


def feed_regression(solver: caffe.Solver) -> None:
    """Feeds batch number solver.iter into the Input blobs at the start of each iteration."""
    net = solver.net

    def on_start() -> None:
        data, target = regression_batch(solver.iter)
        net.blobs["data"].data[...] = data
        net.blobs["target"].data[...] = target

    solver.add_callback(on_start, None)


def weights(solver: caffe.Solver) -> dict[str, list[np.ndarray]]:
    return {name: [blob.data.copy() for blob in blobs]
            for name, blobs in solver.net.params.items()}


def assert_same_weights(a: dict[str, list[np.ndarray]], b: dict[str, list[np.ndarray]]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        for index, (left, right) in enumerate(zip(a[name], b[name])):
            assert np.array_equal(left, right), f"{name}[{index}] differs"


# ---------------------------------------------------------------------------------------------
# Construction and stepping


def test_step_advances_iter_and_trains(tmp_path: Path) -> None:
    solver = caffe.SGDSolver(str(solver_file(tmp_path, base_lr=0.1)))
    feed_regression(solver)
    assert solver.iter == 0 and solver.type == "SGD"
    losses: list[float] = []
    solver.add_callback(None, lambda: losses.append(float(solver.net.blobs["loss"].data)))
    solver.step(3)
    assert solver.iter == 3
    solver.step(57)
    assert solver.iter == 60
    assert np.mean(losses[-5:]) < 0.01 * np.mean(losses[:5])
    np.testing.assert_allclose(solver.net.params["ip"][0].data, TRUE_W, atol=0.05)


LR_POLICIES: list[tuple[dict[str, Any], Callable[[int], float]]] = [
    (dict(lr_policy="fixed"), lambda it: 0.05),
    (dict(lr_policy="step", gamma=0.5, stepsize=2), lambda it: 0.05 * 0.5 ** (it // 2)),
    (dict(lr_policy="exp", gamma=0.9), lambda it: 0.05 * 0.9 ** it),
    (dict(lr_policy="inv", gamma=0.1, power=0.75), lambda it: 0.05 * (1 + 0.1 * it) ** -0.75),
    (dict(lr_policy="multistep", gamma=0.1, stepvalue=[1, 3]),
     lambda it: 0.05 * 0.1 ** ((it >= 1) + (it >= 3))),
    (dict(lr_policy="poly", power=2.0, max_iter=10), lambda it: 0.05 * (1 - it / 10) ** 2),
    (dict(lr_policy="sigmoid", gamma=-0.5, stepsize=3),
     lambda it: 0.05 / (1 + np.exp(0.5 * (it - 3)))),
]


@pytest.mark.parametrize("fields, expected", LR_POLICIES,
                         ids=[fields["lr_policy"] for fields, _ in LR_POLICIES])
def test_lr_follows_the_policy(tmp_path: Path, fields: dict[str, Any],
                               expected: Callable[[int], float]) -> None:
    solver = caffe.get_solver(str(solver_file(tmp_path, **fields)))
    feed_regression(solver)
    seen: list[tuple[int, float]] = []
    solver.add_callback(lambda: seen.append((solver.iter, solver.lr)), None)
    solver.step(5)
    assert [it for it, _ in seen] == [0, 1, 2, 3, 4]
    for it, lr in seen:
        assert lr == pytest.approx(expected(it), rel=1e-5), f"iteration {it}"
    assert solver.lr == pytest.approx(expected(5), rel=1e-5)


def test_weights_set_through_solver_net_drive_the_update(tmp_path: Path) -> None:
    solver = caffe.SGDSolver(str(solver_file(tmp_path, base_lr=0.1)))
    feed_regression(solver)
    net = solver.net
    assert solver.net is net  # one Python object per net
    w = np.array([[0.5, 0.5, -1.0, 2.0]], np.float32)
    b = np.float32(-0.3)
    net.params["ip"][0].data[...] = w
    net.params["ip"][1].data[...] = b
    solver.step(1)

    data, target = regression_batch(0)
    pred = data @ w.T + b
    assert float(net.blobs["loss"].data) == pytest.approx(((pred - target) ** 2).sum() / (2 * BATCH),
                                                          rel=1e-5)
    gradient = (pred - target) / BATCH  # d loss / d pred
    np.testing.assert_allclose(net.params["ip"][0].data, w - 0.1 * gradient.T @ data,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net.params["ip"][1].data, b - 0.1 * gradient.sum(axis=0),
                               rtol=1e-5, atol=1e-6)


def test_net_keeps_the_solver_alive_and_is_a_full_net(tmp_path: Path) -> None:
    path = solver_file(tmp_path, net_text=CLASSIFIER_NET, test_iter=[1], test_interval=100)
    solver = caffe.SGDSolver(str(path))
    net, test_net = solver.net, solver.test_nets[0]
    assert net.phase == caffe.TRAIN and test_net.phase == caffe.TEST
    del solver
    gc.collect()
    assert [layer.name for layer in net.layers] == ["input", "ip", "loss"]
    assert test_net.layer_dict["accuracy"].type == "Accuracy"
    out = net.forward(data=np.ones((6, 3), np.float32), label=np.zeros(6, np.float32))
    assert np.isfinite(out["loss"]).all()
    # The test net shares the train net's weights.
    net.params["ip"][0].data[...] = 0.5
    assert np.all(test_net.params["ip"][0].data == 0.5)


def test_get_solver_and_from_param_build_the_same_solver(tmp_path: Path) -> None:
    path = solver_file(tmp_path, base_lr=0.02, momentum=0.9)
    from_file = caffe.get_solver(str(path))
    from_param = caffe.Solver.from_param(from_file.param)
    for solver in (from_file, from_param):
        feed_regression(solver)
        solver.step(4)
    assert_same_weights(weights(from_file), weights(from_param))


def test_get_solver_accepts_path_objects(tmp_path: Path) -> None:
    assert caffe.get_solver(solver_file(tmp_path)).iter == 0
    assert caffe.AdamSolver(solver_file(tmp_path)).type == "Adam"


# ---------------------------------------------------------------------------------------------
# Update rules and their types


@pytest.mark.parametrize("type_name, cls", [
    ("SGD", caffe.SGDSolver), ("Nesterov", caffe.NesterovSolver),
    ("AdaGrad", caffe.AdaGradSolver), ("RMSProp", caffe.RMSPropSolver), ("Adam", caffe.AdamSolver),
    ("adam", caffe.AdamSolver), ("nesterov", caffe.NesterovSolver)])
def test_get_solver_honours_type(tmp_path: Path, type_name: str, cls: type) -> None:
    solver = caffe.get_solver(str(solver_file(tmp_path, type=type_name)))
    assert type(solver) is cls
    assert isinstance(solver, caffe.Solver)
    assert solver.type == cls.__name__[:-len("Solver")]
    assert solver.type in repr(solver)


def test_get_solver_defaults_to_sgd(tmp_path: Path) -> None:
    solver = caffe.get_solver(str(solver_file(tmp_path)))
    assert type(solver) is caffe.SGDSolver and solver.param.type == "SGD"


@pytest.mark.parametrize("cls, _fields", RULES, ids=[cls.__name__ for cls, _ in RULES])
def test_rule_classes_force_their_type(tmp_path: Path, cls: type, _fields: dict) -> None:
    expected = cls.__name__[:-len("Solver")]
    other = "Adam" if expected != "Adam" else "SGD"
    solver = cls(str(solver_file(tmp_path, type=other)))
    assert type(solver) is cls and solver.type == expected and solver.param.type == expected


def test_rules_are_really_different(tmp_path: Path) -> None:
    results = {}
    for cls, fields in RULES:
        solver = cls(str(solver_file(tmp_path, **fields)))
        feed_regression(solver)
        solver.step(3)
        results[cls.__name__] = solver.net.params["ip"][0].data.copy()
    names = list(results)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            assert not np.array_equal(results[first], results[second]), (first, second)


def test_legacy_enum_solver_type_picks_the_rule(tmp_path: Path) -> None:
    # An old solver file names its rule by enum (solver_type: ADADELTA) and has no `type`.
    path = solver_file(tmp_path, solver_type=caffe_pb2.SolverParameter.ADADELTA, momentum=0.9)
    lines = path.read_text().splitlines()
    assert "solver_type: ADADELTA" in lines and not any(line.startswith("type:") for line in lines)
    solver = caffe.get_solver(str(path))
    assert type(solver) is caffe.AdaDeltaSolver and solver.type == "AdaDelta"


# ---------------------------------------------------------------------------------------------
# Snapshots and resumption


@pytest.mark.parametrize("cls, fields", RULES, ids=[cls.__name__ for cls, _ in RULES])
def test_snapshot_restore_equals_uninterrupted_training(tmp_path: Path, cls: type,
                                                        fields: dict[str, Any]) -> None:
    path = str(solver_file(tmp_path, net_text=DROPOUT_NET, **fields))

    def trained(cls: type) -> caffe.Solver:
        solver = cls(path)
        feed_regression(solver)
        return solver

    straight = trained(cls)
    straight.step(6)

    first_half = trained(cls)
    first_half.step(3)
    caffemodel, solverstate = first_half.snapshot()
    assert Path(caffemodel) == tmp_path / "snap_iter_3.caffemodel"
    assert Path(solverstate) == tmp_path / "snap_iter_3.solverstate"
    assert Path(caffemodel).is_file() and Path(solverstate).is_file()

    resumed = trained(cls)
    resumed.restore(solverstate)
    assert resumed.iter == 3
    assert_same_weights(weights(resumed), weights(first_half))
    resumed.step(3)
    assert resumed.iter == 6
    assert_same_weights(weights(resumed), weights(straight))


def test_solve_trains_to_max_iter_and_resumes(tmp_path: Path) -> None:
    path = solver_file(tmp_path, max_iter=4, momentum=0.9)
    solver = caffe.SGDSolver(str(path))
    feed_regression(solver)
    solver.solve()
    assert solver.iter == 4
    state = tmp_path / "snap_iter_4.solverstate"
    assert state.is_file() and (tmp_path / "snap_iter_4.caffemodel").is_file()

    straight = caffe.SGDSolver(str(solver_file(tmp_path, max_iter=7, momentum=0.9)))
    feed_regression(straight)
    straight.step(7)
    resumed = caffe.SGDSolver(str(path.parent / "solver.prototxt"))  # now max_iter 7
    feed_regression(resumed)
    resumed.solve(resume_file=state)
    assert resumed.iter == 7
    assert_same_weights(weights(resumed), weights(straight))


def test_restoring_an_adam_state_into_sgd_names_the_type(tmp_path: Path) -> None:
    path = str(solver_file(tmp_path, momentum=0.9))
    adam = caffe.AdamSolver(path)
    feed_regression(adam)
    adam.step(1)
    _, solverstate = adam.snapshot()
    sgd = caffe.SGDSolver(path)
    with pytest.raises(caffe.CaffeError, match="Adam") as info:
        sgd.restore(solverstate)
    assert "SGD" in str(info.value)
    assert sgd.iter == 0


def test_restore_rejects_weights_and_missing_files(tmp_path: Path) -> None:
    solver = caffe.SGDSolver(str(solver_file(tmp_path)))
    caffemodel, _ = solver.snapshot()
    with pytest.raises(caffe.CaffeError, match="not a .solverstate"):
        solver.restore(caffemodel)
    with pytest.raises(caffe.CaffeError, match="missing.solverstate"):
        solver.restore(str(tmp_path / "missing.solverstate"))


# ---------------------------------------------------------------------------------------------
# Callbacks


def test_callbacks_run_in_order_around_the_gradients(tmp_path: Path) -> None:
    solver = caffe.SGDSolver(str(solver_file(tmp_path)))
    feed_regression(solver)
    events: list[tuple[str, int]] = []
    seen_gradients: list[float] = []
    weights_at_start: list[np.ndarray] = []

    def on_gradients_ready() -> None:
        events.append(("grad1", solver.iter))
        seen_gradients.append(float(np.abs(solver.net.params["ip"][0].diff).sum()))
        # The update has not happened yet.
        assert np.array_equal(solver.net.params["ip"][0].data, weights_at_start[-1])

    def on_start() -> None:
        events.append(("start1", solver.iter))
        weights_at_start.append(solver.net.params["ip"][0].data.copy())

    solver.add_callback(on_start, on_gradients_ready)
    solver.add_callback(lambda: events.append(("start2", solver.iter)), None)
    solver.add_callback(None, lambda: events.append(("grad2", solver.iter)))
    solver.step(2)
    assert events == [("start1", 0), ("start2", 0), ("grad1", 0), ("grad2", 0),
                      ("start1", 1), ("start2", 1), ("grad1", 1), ("grad2", 1)]
    assert all(total > 0 for total in seen_gradients)


class Boom(Exception):
    pass


@pytest.mark.parametrize("failing_hook", ["on_start", "on_gradients_ready"])
def test_callback_exception_propagates_and_stops_before_the_update(tmp_path: Path,
                                                                   failing_hook: str) -> None:
    solver = caffe.SGDSolver(str(solver_file(tmp_path)))
    feed_regression(solver)
    boom = Boom("stop at iteration 2")
    weights_at_start: dict[int, np.ndarray] = {}
    calls: list[int] = []
    fail = {"at": 2}

    def record() -> None:
        weights_at_start[solver.iter] = solver.net.params["ip"][0].data.copy()

    def hook() -> None:
        calls.append(solver.iter)
        if solver.iter == fail["at"]:
            raise boom

    solver.add_callback(record, None)
    if failing_hook == "on_start":
        solver.add_callback(hook, None)
    else:
        solver.add_callback(None, hook)
    with pytest.raises(Boom) as info:
        solver.step(5)
    assert info.value is boom
    assert any(entry.name == "hook" for entry in info.traceback)
    assert solver.iter == 2 and calls == [0, 1, 2]
    # The failed iteration applied no update.
    assert np.array_equal(solver.net.params["ip"][0].data, weights_at_start[2])

    # The solver stays usable: the next step redoes iteration 2.
    fail["at"] = -1
    solver.step(2)
    assert solver.iter == 4 and calls == [0, 1, 2, 2, 3]


def test_builtin_exception_types_propagate_unchanged(tmp_path: Path) -> None:
    solver = caffe.SGDSolver(str(solver_file(tmp_path)))
    solver.add_callback(lambda: {}["missing key"], None)
    with pytest.raises(KeyError, match="missing key"):
        solver.step(1)
    assert solver.iter == 0


def test_request_stop_ends_step_after_the_current_iteration(tmp_path: Path) -> None:
    solver = caffe.SGDSolver(str(solver_file(tmp_path)))
    feed_regression(solver)
    solver.add_callback(lambda: solver.request_stop() if solver.iter == 1 else None, None)
    solver.step(10)
    assert solver.iter == 2
    solver.step(3)  # the stop request was used up
    assert solver.iter == 5


def test_solver_methods_are_not_reentrant_from_callbacks(tmp_path: Path) -> None:
    solver = caffe.SGDSolver(str(solver_file(tmp_path)))
    solver.add_callback(lambda: solver.step(1), None)
    with pytest.raises(ValueError, match=r"step\(\) cannot be called while the solver is running"):
        solver.step(1)
    assert solver.iter == 0


def test_add_callback_rejects_non_callables(tmp_path: Path) -> None:
    solver = caffe.SGDSolver(str(solver_file(tmp_path)))
    calls: list[int] = []
    with pytest.raises(TypeError, match="callables or None"):
        solver.add_callback(42, None)
    with pytest.raises(TypeError, match="callables or None, got 'later'"):
        solver.add_callback(lambda: calls.append(solver.iter), "later")
    solver.step(1)
    assert calls == []  # a rejected pair adds neither callback


def test_callback_cycles_are_collected(tmp_path: Path) -> None:
    solver = caffe.SGDSolver(str(solver_file(tmp_path)))
    feed_regression(solver)  # the callback's closure refers to the solver
    solver.step(1)
    alive = weakref.ref(solver)
    del solver
    gc.collect()
    assert alive() is None


def test_ctrl_c_interrupts_a_long_step(tmp_path: Path) -> None:
    solver = caffe.SGDSolver(str(solver_file(tmp_path)))  # no Python callbacks at all
    iterations = 2_000_000
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            solver.step(iterations)
    finally:
        timer.cancel()
    assert 0 < solver.iter < iterations


# ---------------------------------------------------------------------------------------------
# Losses and testing


def test_smoothed_loss_is_the_mean_of_the_last_average_loss_losses(tmp_path: Path) -> None:
    solver = caffe.SGDSolver(str(solver_file(tmp_path, average_loss=3)))
    feed_regression(solver)
    losses: list[float] = []
    solver.add_callback(None, lambda: losses.append(float(solver.net.blobs["loss"].data)))
    solver.step(1)
    assert solver.smoothed_loss == pytest.approx(losses[0], rel=1e-6)
    solver.step(4)
    assert solver.smoothed_loss == pytest.approx(np.mean(losses[-3:]), rel=1e-6)


def test_test_all_returns_the_accuracy(tmp_path: Path) -> None:
    path = solver_file(tmp_path, net_text=CLASSIFIER_NET, test_iter=[1], test_interval=100)
    solver = caffe.SGDSolver(str(path))
    rng = np.random.default_rng(3)
    data = rng.standard_normal((6, 3)).astype(np.float32)
    labels = np.array([0, 1, 2, 3, 1, 2], np.float32)
    test_net = solver.test_nets[0]
    test_net.blobs["data"].data[...] = data
    test_net.blobs["label"].data[...] = labels

    w, b = (blob.data for blob in solver.net.params["ip"])
    scores = data @ w.T + b
    accuracy = np.mean(scores.argmax(axis=1) == labels)
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_prob[np.arange(6), labels.astype(int)].mean()

    results = solver.test_all()
    assert len(results) == 1 and list(results[0]) == ["accuracy", "loss"]
    assert results[0]["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert results[0]["loss"] == pytest.approx(loss, rel=1e-5)
    assert solver.test(0) == results[0]
    with pytest.raises(caffe.CaffeError, match="1 test net"):
        solver.test(1)


# ---------------------------------------------------------------------------------------------
# SolverParameter round trip and from_param


def test_param_is_a_copy_of_the_solver_settings(tmp_path: Path) -> None:
    path = solver_file(tmp_path, type="Adam", base_lr=0.003, momentum=0.9, stepvalue=[5, 9],
                       lr_policy="multistep", gamma=0.5)
    solver = caffe.get_solver(str(path))
    param = solver.param
    assert isinstance(param, caffe_pb2.SolverParameter)
    assert param.type == "Adam" and param.lr_policy == "multistep"
    assert param.base_lr == pytest.approx(0.003) and list(param.stepvalue) == [5, 9]
    assert param.net == str(tmp_path / "net.prototxt")  # resolved beside the solver file
    param.base_lr = 1.0
    assert solver.param.base_lr == pytest.approx(0.003)  # a copy: the solver is unchanged
    assert text_format.MessageToString(caffe.Solver.from_param(solver.param).param) == \
        text_format.MessageToString(solver.param)


def test_from_param_builds_a_solver_without_files(tmp_path: Path) -> None:
    n = caffe.NetSpec()
    n.data, n.target = L.Input(shape=[dict(dim=[BATCH, 4]), dict(dim=[BATCH, 1])], ntop=2)
    n.ip = L.InnerProduct(n.data, num_output=1, weight_filler=dict(type="gaussian", std=0.1))
    n.loss = L.EuclideanLoss(n.ip, n.target)
    param = caffe_pb2.SolverParameter(type="Nesterov", base_lr=0.05, momentum=0.9, max_iter=5,
                                      random_seed=1, snapshot_prefix=str(tmp_path / "inline"))
    param.net_param.CopyFrom(n.to_proto())

    solver = caffe.Solver.from_param(param)
    assert type(solver) is caffe.NesterovSolver
    feed_regression(solver)
    solver.solve()
    assert solver.iter == 5 and (tmp_path / "inline_iter_5.caffemodel").is_file()
    assert caffe.SGDSolver.from_param(param).type == "SGD"
    assert caffe.AdamSolver.from_param(param).param.type == "Adam"


def test_from_param_rejects_other_messages() -> None:
    with pytest.raises(TypeError, match="SolverParameter"):
        caffe.Solver.from_param(caffe_pb2.NetParameter())
    with pytest.raises(TypeError, match="SolverParameter"):
        caffe.SGDSolver.from_param("base_lr: 0.1")


# ---------------------------------------------------------------------------------------------
# Errors


def test_errors_are_caffe_errors(tmp_path: Path) -> None:
    with pytest.raises(caffe.CaffeError, match="missing.prototxt"):
        caffe.SGDSolver(str(tmp_path / "missing.prototxt"))
    with pytest.raises(caffe.CaffeError, match="unknown solver type 'AdaMax'.*Known types"):
        caffe.get_solver(str(solver_file(tmp_path, type="AdaMax")))
    with pytest.raises(caffe.CaffeError, match="names no train net"):
        caffe.Solver.from_param(caffe_pb2.SolverParameter(base_lr=0.1))
    solver = caffe.SGDSolver(str(solver_file(tmp_path)))
    with pytest.raises(caffe.CaffeError, match="must be >= 0"):
        solver.step(-1)
