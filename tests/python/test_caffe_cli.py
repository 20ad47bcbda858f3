"""The `caffe` command line: error paths, device_query, and train/test/time on a net made only of
an Input layer (so these tests depend on no layer beyond the core).

The binary is $CAFFE_BUILD_DIR/tools/caffe (CAFFE_BUILD_DIR defaults to <repo>/build)."""
import os
import re
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("CAFFE_BUILD_DIR", REPO / "build"))
if not BUILD_DIR.is_absolute():
    BUILD_DIR = REPO / BUILD_DIR
CAFFE = BUILD_DIR / "tools" / "caffe"

INPUT_NET = textwrap.dedent("""\
    name: "tiny"
    layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 } } }
    """)


@pytest.fixture(scope="module")
def caffe_binary():
    if not CAFFE.exists():
        pytest.fail(f"{CAFFE} not found: build the project first or set CAFFE_BUILD_DIR")
    return str(CAFFE)


def run(caffe_binary, *args, cwd=None, env=None, timeout=60):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([caffe_binary, *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


def error_line(result):
    """The single 'caffe: ...' line the tool prints for an error."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("caffe: ")]
    assert lines, result.stderr
    return lines[0]


def expect_clean_failure(result):
    assert result.returncode == 1, result.stderr
    assert "Check failed" not in result.stderr and "*** " not in result.stderr  # no abort, no stack


@pytest.fixture
def tiny(tmp_path):
    """An Input-only net and a solver for it that snapshots every 2 of 4 iterations."""
    write(tmp_path / "net.prototxt", INPUT_NET)
    write(tmp_path / "solver.prototxt", """\
        net: "net.prototxt"
        base_lr: 0.1
        lr_policy: "step"
        gamma: 0.5
        stepsize: 2
        max_iter: 4
        snapshot: 2
        display: 1
        """)
    return tmp_path


# ---- usage errors ----

def test_no_command_prints_usage(caffe_binary):
    result = run(caffe_binary)
    expect_clean_failure(result)
    assert error_line(result) == "caffe: no command given"
    assert "usage: caffe <command>" in result.stderr


def test_unknown_command_prints_usage(caffe_binary):
    result = run(caffe_binary, "fly")
    expect_clean_failure(result)
    assert error_line(result) == "caffe: unknown command 'fly'"
    assert "device_query" in result.stderr


def test_train_without_solver(caffe_binary):
    result = run(caffe_binary, "train")
    expect_clean_failure(result)
    assert error_line(result) == "caffe: train needs --solver (the solver prototxt)"
    assert "usage: caffe <command>" in result.stderr


def test_test_and_time_need_their_flags(caffe_binary, tiny):
    result = run(caffe_binary, "test", "--model", str(tiny / "net.prototxt"))
    expect_clean_failure(result)
    assert "test needs --weights" in error_line(result)
    result = run(caffe_binary, "time")
    expect_clean_failure(result)
    assert "time needs --model" in error_line(result)


def test_snapshot_and_weights_are_exclusive(caffe_binary, tiny):
    result = run(caffe_binary, "train", "--solver", str(tiny / "solver.prototxt"),
                 "--snapshot", "a.solverstate", "--weights", "b.caffemodel")
    expect_clean_failure(result)
    assert "not both" in error_line(result)


def test_bad_flag_values(caffe_binary, tiny):
    result = run(caffe_binary, "train", "--solver", str(tiny / "solver.prototxt"),
                 "--sigint_effect", "explode")
    expect_clean_failure(result)
    assert "--sigint_effect 'explode': use stop, snapshot or none" in error_line(result)
    result = run(caffe_binary, "time", "--model", str(tiny / "net.prototxt"), "--phase", "VALIDATE")
    expect_clean_failure(result)
    assert "--phase 'VALIDATE'" in error_line(result)


# ---- file errors ----

def test_nonexistent_solver_file(caffe_binary, tmp_path):
    missing = tmp_path / "no_such_solver.prototxt"
    result = run(caffe_binary, "train", "--solver", str(missing))
    expect_clean_failure(result)
    assert error_line(result) == f"caffe: cannot open '{missing}': No such file or directory"


def test_malformed_solver_names_file_and_line(caffe_binary, tmp_path):
    solver = write(tmp_path / "broken.prototxt", """\
        net: "net.prototxt"
        base_lr: 0.01
        max_iter: lots
        """)
    result = run(caffe_binary, "train", "--solver", str(solver))
    expect_clean_failure(result)
    assert re.search(re.escape(str(solver)) + r":3:\d+: ", error_line(result)), result.stderr


def test_solver_with_missing_net(caffe_binary, tmp_path):
    solver = write(tmp_path / "solver.prototxt", 'net: "absent.prototxt"\nbase_lr: 0.1\n')
    result = run(caffe_binary, "train", "--solver", str(solver))
    expect_clean_failure(result)
    assert "net 'absent.prototxt' not found" in error_line(result)


def test_unknown_lr_policy(caffe_binary, tiny):
    write(tiny / "solver.prototxt", 'net: "net.prototxt"\nbase_lr: 0.1\nlr_policy: "cosine"\n')
    result = run(caffe_binary, "train", "--solver", str(tiny / "solver.prototxt"))
    expect_clean_failure(result)
    assert 'unknown lr_policy "cosine"' in error_line(result)


def test_unknown_layer_type(caffe_binary, tmp_path):
    net = write(tmp_path / "net.prototxt", """\
        name: "bad"
        layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 } } }
        layer { name: "mystery" type: "NoSuchLayer" bottom: "data" top: "out" }
        """)
    result = run(caffe_binary, "time", "--model", str(net))
    expect_clean_failure(result)
    assert "unknown type 'NoSuchLayer'" in error_line(result)


# ---- device_query and threads ----

def test_device_query(caffe_binary):
    result = run(caffe_binary, "device_query")
    assert result.returncode == 0, result.stderr
    assert re.search(r"no CUDA (device|support)|Device 0:", result.stdout, re.IGNORECASE), result.stdout


def test_gpu_flag_without_gpu_is_an_error(caffe_binary, tiny):
    if "Device 0:" in run(caffe_binary, "device_query").stdout:
        pytest.skip("a CUDA device is present")
    result = run(caffe_binary, "time", "--model", str(tiny / "net.prototxt"), "--gpu", "0")
    expect_clean_failure(result)
    assert "GPU" in error_line(result)


def test_blas_threads(caffe_binary):
    result = run(caffe_binary, "device_query", "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert re.search(r"BLAS: .*, 1 thread\(s\)", result.stderr), result.stderr
    result = run(caffe_binary, "device_query", env={"CAFFE_NUM_THREADS": "1"})
    assert re.search(r"BLAS: .*, 1 thread\(s\)", result.stderr), result.stderr
    result = run(caffe_binary, "device_query", env={"CAFFE_NUM_THREADS": "many"})
    expect_clean_failure(result)
    assert "CAFFE_NUM_THREADS='many'" in error_line(result)


def test_gemm_library_is_named_and_a_bad_choice_is_an_error(caffe_binary):
    result = run(caffe_binary, "device_query", "--threads", "1",
                 env={"CAFFE_GEMM": "openblas"})
    assert result.returncode == 0, result.stderr
    assert "GEMM on OpenBLAS" in result.stderr, result.stderr
    result = run(caffe_binary, "device_query", env={"CAFFE_GEMM": "mkl"})
    expect_clean_failure(result)
    assert "CAFFE_GEMM='mkl': expected 'onednn' or 'openblas'" in error_line(result)


# ---- train / test / time on the Input-only net ----

def test_train_snapshots_and_resumes(caffe_binary, tiny):
    result = run(caffe_binary, "train", "--solver", str(tiny / "solver.prototxt"), cwd="/")
    assert result.returncode == 0, result.stderr
    assert "Iteration 0, lr = 0.1" in result.stderr
    assert "Iteration 2, lr = 0.05" in result.stderr
    assert "Iteration 3, loss = 0" in result.stderr
    assert "Optimization Done." in result.stderr
    # No snapshot_prefix: snapshots are named after the solver file, beside it.
    for name in ["solver_iter_2.caffemodel", "solver_iter_2.solverstate",
                 "solver_iter_4.caffemodel", "solver_iter_4.solverstate"]:
        assert (tiny / name).exists(), name
    assert not [p for p in tiny.iterdir() if ".tmp" in p.name]

    result = run(caffe_binary, "train", "--solver", str(tiny / "solver.prototxt"),
                 "--snapshot", str(tiny / "solver_iter_2.solverstate"))
    assert result.returncode == 0, result.stderr
    assert "Resuming from" in result.stderr
    assert "Iteration 0," not in result.stderr
    assert "Iteration 2, lr = 0.05" in result.stderr


def test_train_rejects_swapped_snapshot_and_weights(caffe_binary, tiny):
    assert run(caffe_binary, "train", "--solver", str(tiny / "solver.prototxt")).returncode == 0
    result = run(caffe_binary, "train", "--solver", str(tiny / "solver.prototxt"),
                 "--snapshot", str(tiny / "solver_iter_4.caffemodel"))
    expect_clean_failure(result)
    assert "use --weights" in error_line(result)
    result = run(caffe_binary, "train", "--solver", str(tiny / "solver.prototxt"),
                 "--weights", str(tiny / "solver_iter_4.solverstate"))
    expect_clean_failure(result)
    assert "--snapshot" in error_line(result)


def test_iterations_overrides_max_iter(caffe_binary, tiny):
    result = run(caffe_binary, "train", "--solver", str(tiny / "solver.prototxt"),
                 "--iterations", "1")
    assert result.returncode == 0, result.stderr
    assert "Iteration 1," not in result.stderr
    assert (tiny / "solver_iter_1.solverstate").exists()


def test_test_command_prints_batches_and_means(caffe_binary, tiny):
    assert run(caffe_binary, "train", "--solver", str(tiny / "solver.prototxt")).returncode == 0
    result = run(caffe_binary, "test", "--model", str(tiny / "net.prototxt"),
                 "--weights", str(tiny / "solver_iter_4.caffemodel"), "--iterations", "2")
    assert result.returncode == 0, result.stderr
    assert "Batch 1, data = 0" in result.stderr
    assert "Loss: 0" in result.stderr
    assert re.search(r"\] data = 0$", result.stderr, re.MULTILINE), result.stderr


def test_time_command_reports_averages(caffe_binary, tiny):
    result = run(caffe_binary, "time", "--model", str(tiny / "net.prototxt"), "--iterations", "3")
    assert result.returncode == 0, result.stderr
    for line in ["Average Forward pass:", "Average Backward pass:", "Average Forward-Backward:",
                 "data\tforward:", "data\tbackward:"]:
        assert line in result.stderr, line


# ---- signals ----

def start_long_training(caffe_binary, tiny, *flags):
    write(tiny / "long.prototxt", """\
        net: "net.prototxt"
        base_lr: 0.1
        max_iter: 1000000000
        """)
    process = subprocess.Popen([caffe_binary, "train", "--solver", str(tiny / "long.prototxt"), *flags],
                               stderr=subprocess.PIPE, text=True)
    log = []
    for line in process.stderr:  # wait until the solver (and its signal routing) is up
        log.append(line)
        if "Starting Optimization" in line:
            break
    return process, log


def finish(process, log):
    _, remaining = process.communicate(timeout=60)
    return "".join(log) + remaining


def test_sigint_stops_with_a_snapshot(caffe_binary, tiny):
    process, log = start_long_training(caffe_binary, tiny)
    process.send_signal(signal.SIGINT)
    output = finish(process, log)
    assert process.returncode == 0, output
    assert "Optimization stopped early." in output
    assert list(tiny.glob("long_iter_*.solverstate")), output


def test_sighup_snapshots_and_training_goes_on(caffe_binary, tiny):
    process, log = start_long_training(caffe_binary, tiny, "--sigint_effect", "stop")
    process.send_signal(signal.SIGHUP)
    for line in process.stderr:
        log.append(line)
        if "Snapshotting solver state" in line:
            break
    assert process.poll() is None  # still training
    process.send_signal(signal.SIGINT)
    output = finish(process, log)
    assert process.returncode == 0, output
    assert "caffe: snapshot requested" in output
    assert len(list(tiny.glob("long_iter_*.solverstate"))) >= 1
