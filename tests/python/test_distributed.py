"""Data-parallel `caffe train` under OpenMPI (`mpirun -np K`): equality with plain training,
identical weights on every rank after each sync, exact resume, and how a job ends when a rank
dies, fails, sends a damaged package or was set up differently.  Tiny MLPs on data the tests
write (HDF5, and an LMDB made by convert_mnist_data), and one end-to-end accuracy check on the
real MNIST (marked e2e); skipped, with the reason, where mpirun is not installed or the build has
no MPI.

The binaries are $CAFFE_BUILD_DIR/tools/{caffe,convert_mnist_data}."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import BUILD_DIR, REPO, write_quadrant_lmdb

CAFFE = BUILD_DIR / "tools" / "caffe"
MPIRUN = shutil.which("mpirun")


def built_with_mpi() -> bool:
    """False for a build configured with -DCAFFE_USE_MPI=OFF (its CMakeCache says so)."""
    cache = BUILD_DIR / "CMakeCache.txt"
    return not (cache.exists() and "CAFFE_USE_MPI:BOOL=OFF" in cache.read_text())


pytestmark = [pytest.mark.skipif(MPIRUN is None, reason="mpirun not found: install Debian's "
                                 "openmpi-bin (scripts/install.sh does)"),
              pytest.mark.skipif(not built_with_mpi(), reason="this build has no MPI "
                                 "(-DCAFFE_USE_MPI=OFF); tests/python/test_without_mpi.py "
                                 "covers it")]
TIMEOUT = 120  # seconds: no test may hang on a job that fails to end


def mpirun_command(ranks: int, *args: str) -> list[str]:
    # CI runs as root on 2 cores: both flags are needed there.
    return [MPIRUN, "--oversubscribe", "--allow-run-as-root", "-np", str(ranks), str(CAFFE),
            "train", *args]


def run(command: list[str], expect_success: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    if expect_success:
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result


def mpi_train(ranks: int, *args: str, expect_success: bool = True) -> subprocess.CompletedProcess:
    return run(mpirun_command(ranks, *args), expect_success)


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines()
            if line.startswith("caffe: ")]


# ---- data and nets ----

def write_hdf5(directory: Path, rows: int = 240, features: int = 8, classes: int = 3,
               nan_rows: slice | None = None) -> Path:
    """A linearly separable problem in one .h5 file; returns the list file HDF5Data reads."""
    import h5py

    rng = np.random.default_rng(7)
    x = rng.normal(size=(rows, features)).astype(np.float32)
    y = np.argmax(x @ rng.normal(size=(features, classes)), axis=1).astype(np.float32)
    if nan_rows is not None:
        x[nan_rows] = np.nan
    with h5py.File(directory / "train.h5", "w") as f:
        f["data"] = x
        f["label"] = y
    (directory / "train.txt").write_text(f"{directory / 'train.h5'}\n")
    return directory / "train.txt"


def data_layer(source: Path, batch: int) -> str:
    if source.is_dir():
        return (f'layer {{ name: "d" type: "Data" top: "data" top: "label" include {{ phase: TRAIN }}'
                f' transform_param {{ scale: 0.00390625 }}'
                f' data_param {{ source: "{source}" batch_size: {batch} backend: LMDB }} }}')
    return (f'layer {{ name: "d" type: "HDF5Data" top: "data" top: "label" '
            f'hdf5_data_param {{ source: "{source}" batch_size: {batch} }} }}')


def write_solver(directory: Path, source: Path, *, batch: int = 8, hidden: int = 16,
                 max_iter: int = 60, momentum: float = 0.9, snapshot: int = 0,
                 test: bool = True, name: str = "solver") -> Path:
    """A two-layer MLP on `source` (HDF5 list or LMDB), SGD, fixed seed."""
    net = f"""name: "mlp"
{data_layer(source, batch)}
layer {{ name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"
  inner_product_param {{ num_output: {hidden} weight_filler {{ type: "xavier" }} }} }}
layer {{ name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }}
layer {{ name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
  inner_product_param {{ num_output: 4 weight_filler {{ type: "xavier" }} }} }}
layer {{ name: "accuracy" type: "Accuracy" bottom: "ip2" bottom: "label" top: "accuracy"
  include {{ phase: TEST }} }}
layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }}
"""
    if source.is_dir():  # the LMDB net reads its test phase from the same database
        net = net.replace("include { phase: TRAIN }", "", 1)
    (directory / f"{name}_net.prototxt").write_text(net)
    tests = f"test_iter: 3\ntest_interval: {max_iter}\n" if test else ""
    solver = directory / f"{name}.prototxt"
    solver.write_text(f"""net: "{directory / f'{name}_net.prototxt'}"
{tests}base_lr: 0.05
momentum: {momentum}
weight_decay: 0.0005
lr_policy: "fixed"
display: 10
max_iter: {max_iter}
snapshot: {snapshot}
snapshot_prefix: "{directory / name}"
random_seed: 5
""")
    return solver


def final_weights(directory: Path, name: str, iteration: int) -> dict[str, np.ndarray]:
    import caffe

    net = caffe.Net(str(directory / f"{name}_net.prototxt"),
                    str(directory / f"{name}_iter_{iteration}.caffemodel"), caffe.TEST)
    return {f"{layer}[{i}]": blob.data.copy() for layer, blobs in net.params.items()
            for i, blob in enumerate(blobs)}


HASH_LINE = re.compile(r"Iteration (\d+), weight hashes:((?: rank \d+ [0-9a-f]{8})+)")
SYNC_LINE = re.compile(r"Iteration (\d+), (?:weight sync|gradient exchange) \(([^)]*)\)[^:]*: "
                       r"(\d+) bytes sent, ([0-9.]+) bits/param quantized, ([0-9.]+) after Huffman"
                       r" \(([0-9.]+) with headers\), compression ([0-9.]+)x, encode ([0-9.]+) ms,"
                       r" decode ([0-9.]+) ms, communication ([0-9.]+) ms")


# ---- guarantees ----

@pytest.mark.parametrize("sync", ["model_average", "gradient_allreduce"])
def test_one_process_without_compression_is_plain_training_bit_for_bit(tmp_path: Path,
                                                                       sync: str) -> None:
    """mpirun -np 1 --codec none: the caffemodel and solverstate equal plain `caffe train`'s,
    byte for byte (LMDB data, momentum, a mid-run snapshot, syncs every 7 iterations)."""
    db = write_quadrant_lmdb(tmp_path)
    plain, single = tmp_path / "plain", tmp_path / "single"
    plain.mkdir()
    single.mkdir()
    run([str(CAFFE), "train", f"--solver={write_solver(plain, db, snapshot=20)}", "--threads=1"])
    interval = ["--sync_interval=7"] if sync == "model_average" else []
    mpi_train(1, f"--solver={write_solver(single, db, snapshot=20)}", "--threads=1",
              "--codec=none", f"--sync={sync}", *interval)
    for iteration in [20, 60]:
        name = f"solver_iter_{iteration}"
        assert (single / f"{name}.caffemodel").read_bytes() == \
            (plain / f"{name}.caffemodel").read_bytes(), name
        assert solver_state(single / f"{name}.solverstate") == \
            solver_state(plain / f"{name}.solverstate"), name


def solver_state(path: Path) -> bytes:
    """A .solverstate without its learned_net path (which names the run's folder)."""
    from caffe.proto import caffe_pb2

    state = caffe_pb2.SolverState.FromString(path.read_bytes())
    assert state.learned_net.endswith(".caffemodel")
    state.ClearField("learned_net")
    return state.SerializeToString()


@pytest.mark.parametrize("ranks,sync,codec", [(2, "model_average", "dynamic"),
                                              (3, "gradient_allreduce", "fixed:6")])
def test_every_rank_holds_the_same_weights_after_every_sync(tmp_path: Path, ranks: int, sync: str,
                                                            codec: str) -> None:
    """--log_weight_hash: after each sync rank 0 logs every rank's weight hash; all agree at
    every sync, and training moves them.  Only rank 0 logs, tests and snapshots."""
    solver = write_solver(tmp_path, write_hdf5(tmp_path), max_iter=30)
    interval = ["--sync_interval=4"] if sync == "model_average" else []
    result = mpi_train(ranks, f"--solver={solver}", f"--codec={codec}", f"--sync={sync}",
                       "--log_weight_hash", *interval)
    log = result.stderr
    syncs = [(int(m.group(1)), re.findall(r"rank \d+ ([0-9a-f]{8})", m.group(2)))
             for m in HASH_LINE.finditer(log)]
    # model_average: every 4 iterations, at the test and the last iteration; gradients: every one
    expected = [4, 8, 12, 16, 20, 24, 28, 30] if sync == "model_average" else list(range(1, 31))
    assert [iteration for iteration, _ in syncs] == expected, log[-3000:]
    for iteration, hashes in syncs:
        assert len(hashes) == ranks and len(set(hashes)) == 1, (iteration, hashes)
    assert len({hashes[0] for _, hashes in syncs}) == len(syncs)
    assert log.count("Solving mlp") == 1 and log.count("Creating test net") == 1
    assert len(re.findall(r"Test net output #\d+: accuracy", log)) == 2  # iteration 0, and 30
    assert len(list(tmp_path.glob("*.caffemodel"))) == 1  # rank 0's snapshot_after_train


def test_sync_log_reports_bytes_bits_ratio_and_times(tmp_path: Path) -> None:
    """Each sync logs bytes sent, bits/param quantized and after Huffman, the compression ratio
    and the encode / decode / communication times; `none` costs 32 bits, `dynamic` fewer."""
    solver = write_solver(tmp_path, write_hdf5(tmp_path), hidden=256, max_iter=12)
    params = 8 * 256 + 256 + 256 * 4 + 4
    rows = {}
    for codec in ["none", "dynamic", "dynamic --codec_c=2", "fp16"]:
        log = mpi_train(2, f"--solver={solver}", *f"--codec={codec}".split(),
                        "--sync_interval=6").stderr
        lines = SYNC_LINE.findall(log)
        assert [int(line[0]) for line in lines] == [6, 12], log[-2000:]
        rows[codec] = [float(x) for x in lines[-1][2:]]
    sent, quantized, huffman, with_headers, ratio = rows["none"][:5]
    assert (quantized, huffman) == (32, 32) and ratio < 1
    assert params * 4 < sent < params * 4 + 1000
    assert with_headers == pytest.approx(8 * sent / params, rel=1e-3)
    assert rows["fp16"][1:3] == [16, 16]
    sent, quantized, huffman, _, ratio = rows["dynamic"][:5]
    assert 1 <= huffman <= quantized <= 10 and ratio > 1  # (code tables weigh on tiny blobs)
    assert ratio == pytest.approx(32 * params / (8 * sent), rel=1e-2)
    assert all(ms >= 0 for ms in rows["dynamic"][5:])
    coarser = rows["dynamic --codec_c=2"]  # N = round(H) + c: four bits fewer (or the ceiling)
    assert coarser[1] <= quantized - 3 and coarser[2] < huffman and coarser[4] > ratio


@pytest.mark.parametrize("sync,extra", [("gradient_allreduce", []),
                                        ("model_average", ["--sync_interval=1"])])
def test_two_ranks_without_compression_train_like_one_process_with_twice_the_batch(
        tmp_path: Path, sync: str, extra: list[str]) -> None:
    """Rank r reads records i = r (mod 2), so two ranks of batch B read, per iteration, the
    records one process of batch 2B reads.  Averaging gradients (or, without momentum, weights
    after every step) over them is SGD on the mean loss of those 2B records: the weights match
    up to the order of float sums."""
    data = write_hdf5(tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    run([str(CAFFE), "train", "--threads=1",
         f"--solver={write_solver(one, data, batch=16, momentum=0.0, max_iter=40)}"])
    mpi_train(2, f"--solver={write_solver(two, data, batch=8, momentum=0.0, max_iter=40)}",
              "--codec=none", f"--sync={sync}", *extra)
    expected, got = final_weights(one, "solver", 40), final_weights(two, "solver", 40)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_snapshot_resumes_exactly_with_the_same_ranks_only(tmp_path: Path) -> None:
    """K = 2 with momentum: 40 iterations straight equal 20, a snapshot, and 20 resumed, byte for
    byte (each rank's momentum is in the snapshot; both runs sync at the snapshot).  Resuming
    with 3 ranks, or with plain `caffe train`, is one clear error."""
    data = write_hdf5(tmp_path)
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    straight.mkdir()
    halves.mkdir()
    mpi_train(2, f"--solver={write_solver(straight, data, max_iter=40, snapshot=20)}",
              "--sync_interval=6")
    solver = write_solver(halves, data, max_iter=40, snapshot=20)
    mpi_train(2, f"--solver={solver}", "--sync_interval=6", "--iterations=20")
    state = halves / "solver_iter_20.solverstate"
    mpi_train(2, f"--solver={solver}", "--sync_interval=6", f"--snapshot={state}")
    assert (halves / "solver_iter_40.caffemodel").read_bytes() == \
        (straight / "solver_iter_40.caffemodel").read_bytes()

    wrong = mpi_train(3, f"--solver={solver}", "--sync_interval=6", f"--snapshot={state}",
                      expect_success=False)
    assert wrong.returncode != 0
    assert error_lines(wrong) == [
        f"caffe: '{state}' holds the update history of 2 process(es), but this job has 3; resume "
        "it with the same number of processes (mpirun -np 2)"], wrong.stderr[-3000:]
    plain = run([str(CAFFE), "train", f"--solver={solver}", f"--snapshot={state}"],
                expect_success=False)
    assert plain.returncode == 1
    assert "data-parallel run of 2 processes: resume it with mpirun -np 2" in plain.stderr


def test_ranks_set_up_differently_fail_at_start_naming_the_blob(tmp_path: Path) -> None:
    """A net or codec that differs on one rank (mpirun's MPMD form) stops the job before
    training, with one message that names the blob or the setting and both values."""
    data = write_hdf5(tmp_path)
    same = write_solver(tmp_path, data, name="same")
    wider = write_solver(tmp_path, data, hidden=20, name="wider")
    base = [MPIRUN, "--oversubscribe", "--allow-run-as-root"]
    net = run(base + ["-np", "1", str(CAFFE), "train", f"--solver={same}", ":",
                      "-np", "1", str(CAFFE), "train", f"--solver={wider}"], expect_success=False)
    assert net.returncode != 0
    assert error_lines(net) == [
        "caffe: ranks differ: learnable blob 'ip1[0]' is 'shape 16 8 (128), lr_mult 1' on "
        "rank 0 but 'shape 20 8 (160), lr_mult 1' on rank 1; every rank must train the "
        "same net with the same data-parallel settings"], net.stderr[-3000:]
    codec = run(base + ["-np", "1", str(CAFFE), "train", f"--solver={same}", ":",
                        "-np", "1", str(CAFFE), "train", f"--solver={same}", "--codec=fp16"],
                expect_success=False)
    assert codec.returncode != 0
    assert error_lines(codec) == [
        "caffe: ranks differ: the codec is 'dynamic c=6 M=4 F=0.03 ceiling=10' on rank 0 but "
        "'fp16' on rank 1; every rank must train the same net with the same data-parallel "
        "settings"], codec.stderr[-3000:]
    assert not list(tmp_path.glob("*.caffemodel"))


def test_a_setup_error_on_every_rank_is_one_message(tmp_path: Path) -> None:
    result = mpi_train(3, f"--solver={tmp_path / 'missing.prototxt'}", expect_success=False)
    assert result.returncode != 0
    lines = error_lines(result)
    assert len(lines) == 1 and "missing.prototxt" in lines[0], result.stderr[-3000:]
    bad = mpi_train(2, f"--solver={write_solver(tmp_path, write_hdf5(tmp_path))}",
                    "--codec=fixed:99", expect_success=False)
    assert error_lines(bad) == ["caffe: unknown codec mode 'fixed:99': use dynamic, fixed:B "
                                "(B = 1..16), fp16 or none"], bad.stderr[-3000:]


def test_an_error_on_one_rank_ends_every_rank_with_one_message(tmp_path: Path) -> None:
    """Rank 1's records are NaN: its loss is NaN at iteration 0 while rank 0 waits for it in
    the first sync.  Rank 1 says so and the job ends (MPI_Abort), with no hang."""
    data = write_hdf5(tmp_path, nan_rows=slice(1, None, 2))
    solver = write_solver(tmp_path, data, max_iter=100000, test=False)
    start = time.monotonic()
    result = mpi_train(2, f"--solver={solver}", "--sync_interval=50", expect_success=False)
    assert time.monotonic() - start < 60
    assert result.returncode != 0
    lines = error_lines(result)
    assert len(lines) == 1 and lines[0].startswith("caffe: rank 1 of 2: loss is NaN at iteration 0"), \
        result.stderr[-3000:]


@pytest.mark.parametrize("sync,sender", [("model_average", 1), ("gradient_allreduce", 0)])
def test_a_damaged_package_names_its_sender_and_blob_and_ends_every_rank(
        tmp_path: Path, sync: str, sender: int) -> None:
    """CAFFE_TEST_CORRUPT_PACKAGE=r:i (test-only fault injection) flips a byte of rank r's first
    package, blob ip1[0], after it is encoded in the exchange of iteration i.  Every rank finds
    the checksum wrong in the same gathered bytes, so the job ends at once with one message
    naming the iteration, the sender and the blob, exit status 1 on every rank, no hang, and
    no model written."""
    solver = write_solver(tmp_path, write_hdf5(tmp_path), max_iter=40)
    interval = ["--sync_interval=4"] if sync == "model_average" else []
    command = mpirun_command(3, f"--solver={solver}", f"--sync={sync}", *interval)
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT,
                            env={**os.environ, "CAFFE_TEST_CORRUPT_PACKAGE": f"{sender}:8"})
    assert result.returncode == 1, result.stderr[-3000:]
    assert error_lines(result) == [
        f"caffe: the weight exchange of iteration 8: codec package from rank {sender}, blob "
        "'ip1[0]': checksum mismatch: the package was damaged in transit or storage"], \
        result.stderr[-3000:]
    assert not list(tmp_path.glob("*.caffemodel"))
    if sync == "model_average":
        assert [int(m.group(1)) for m in SYNC_LINE.finditer(result.stderr)] == [4]


def test_a_malformed_fault_injection_setting_is_an_error(tmp_path: Path) -> None:
    solver = write_solver(tmp_path, write_hdf5(tmp_path), max_iter=8)
    result = subprocess.run(mpirun_command(2, f"--solver={solver}", "--sync_interval=4"),
                            capture_output=True, text=True, timeout=TIMEOUT,
                            env={**os.environ, "CAFFE_TEST_CORRUPT_PACKAGE": "1-4"})
    assert result.returncode != 0
    lines = error_lines(result)
    assert lines and all(line.endswith("CAFFE_TEST_CORRUPT_PACKAGE='1-4': expected "
                                       "RANK:ITERATION") for line in lines), result.stderr[-3000:]


def rank_processes(mpirun_pid: int) -> dict[int, int]:
    """{rank: pid} of the processes mpirun started (its children), from their environment."""
    ranks = {}
    for child in Path(f"/proc/{mpirun_pid}/task/{mpirun_pid}/children").read_text().split():
        try:
            environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for entry in environ:
            if entry.startswith(b"OMPI_COMM_WORLD_RANK="):
                ranks[int(entry.split(b"=")[1])] = int(child)
    return ranks


@pytest.mark.parametrize("victim", [0, 1])
def test_a_killed_rank_ends_the_job(tmp_path: Path, victim: int) -> None:
    """kill -9 of one rank in the middle of training: mpirun ends the others and exits non-zero
    within seconds, saying which rank died; no process is left behind."""
    solver = write_solver(tmp_path, write_hdf5(tmp_path), max_iter=10**7, test=False)
    log = tmp_path / "log.txt"
    with log.open("w") as out:
        job = subprocess.Popen(mpirun_command(2, f"--solver={solver}", "--sync_interval=20"),
                               stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while "weight sync" not in log.read_text() and time.monotonic() < deadline:
                assert job.poll() is None, log.read_text()[-3000:]
                time.sleep(0.2)
            ranks = rank_processes(job.pid)
            assert sorted(ranks) == [0, 1], ranks
            os.kill(ranks[victim], signal.SIGKILL)
            returncode = job.wait(timeout=60)
        finally:
            if job.poll() is None:
                job.kill()
    assert returncode != 0
    text = log.read_text()
    assert f"rank {victim}" in text and "signal 9" in text, text[-3000:]
    for pid in ranks.values():
        assert not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_data_parallel_flags_without_mpirun_say_how_to_start_it(tmp_path: Path) -> None:
    result = run([str(CAFFE), "train", "--solver=s.prototxt", "--codec=fp16"], expect_success=False)
    assert result.returncode == 1
    assert error_lines(result)[0] == ("caffe: --codec is for data-parallel training; start it "
                                      "with mpirun -np K caffe train --solver S.prototxt --codec ...")


# ---- end to end on the real MNIST ----

MNIST = REPO.parent / "shared" / "data" / "mnist"


@pytest.fixture(scope="module")
def mnist_lmdbs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mnist")
    subprocess.run([sys.executable, str(REPO / "scripts" / "get_mnist.py"), "--dataset", "mnist",
                    "--data-dir", str(MNIST), "--out", str(out),
                    "--caffe-bin", str(BUILD_DIR / "tools")], check=True, capture_output=True)
    return out


@pytest.mark.e2e
@pytest.mark.skipif(not (MNIST / "train-images-idx3-ubyte.gz").exists(),
                    reason=f"real MNIST not found in {MNIST}")
def test_mnist_mlp_on_2_and_4_ranks_is_within_half_a_point_of_one_process(
        mnist_lmdbs: Path, tmp_path: Path) -> None:
    """models/mnist_tanh_dist (the paper's 784-392-50-10 tanh MLP, 6 epochs for one process):
    the same solver under mpirun -np 2 and -np 4 (model averaging once per epoch of each
    rank's share, the dynamic codec at its defaults) reaches a test accuracy within 0.5 points
    of one process."""
    model = REPO / "models" / "mnist_tanh_dist"
    net = (model / "train_val.prototxt").read_text().replace("data/mnist/", f"{mnist_lmdbs}/")
    (tmp_path / "train_val.prototxt").write_text(net)
    solver = (model / "solver.prototxt").read_text()
    solver = re.sub(r'net: ".*"', f'net: "{tmp_path}/train_val.prototxt"', solver)
    solver = re.sub(r'snapshot_prefix: ".*"', f'snapshot_prefix: "{tmp_path}/mlp"', solver)
    (tmp_path / "solver.prototxt").write_text(solver)
    args = [f"--solver={tmp_path / 'solver.prototxt'}"]

    def accuracy(log: str) -> float:
        found = re.findall(r"Test net output #\d+: accuracy = ([0-9.]+)", log)
        assert found, log[-3000:]
        return float(found[-1])

    single = accuracy(run([str(CAFFE), "train", *args]).stderr)
    for ranks in [2, 4]:
        log = mpi_train(ranks, *args).stderr
        syncs = SYNC_LINE.findall(log)
        sent, quantized, huffman = int(syncs[-1][2]), float(syncs[-1][3]), float(syncs[-1][4])
        print(f"MNIST tanh MLP: 1 process {single:.4f}, {ranks} ranks {accuracy(log):.4f} "
              f"({len(syncs)} syncs; the last: {sent} bytes per rank, {quantized:.2f} bits/param "
              f"quantized, {huffman:.2f} after Huffman)")
        assert abs(accuracy(log) - single) <= 0.005
