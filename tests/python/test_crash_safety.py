"""Crash-safe `caffe train`: a run killed (SIGKILL) at random moments, mid-snapshot included, and
resumed each time from its newest snapshot ends with the weights of an uninterrupted run, bit
for bit; a --snapshot that is not a whole solver state is one error; a full disk while a
snapshot is written stops training with an error naming the file and leaves the previous
snapshot intact and resumable; SIGINT and SIGHUP do what --sigint_effect / --sighup_effect say.

The net is an MLP with Dropout on an LMDB written here (so the data cursor and the random
masks must both be resumed).  Kills inside a snapshot write use the test hook of
caffe/util/io.cpp: with CAFFE_TEST_STOP_MID_WRITE=1 the process stops itself (SIGSTOP) halfway
through each temporary file, and the test kills it there or lets it go on (SIGCONT).  Nothing
here measures time: every wait is for an event (a log line, a stopped process, an exit), with
a generous timeout against hangs.

The binaries are $CAFFE_BUILD_DIR/tools/{caffe,convert_mnist_data}."""
from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from conftest import BUILD_DIR, write_quadrant_lmdb
from latest_snapshot import newest_snapshot

CAFFE = BUILD_DIR / "tools" / "caffe"
TIMEOUT = 120  # seconds: against a hang only; nothing is timed
POLL = 0.002  # seconds between looks at a running process

MAX_ITER = 48
SNAPSHOT_EVERY = 4


# ---- data, net, solver ----

@pytest.fixture(scope="module")
def lmdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 8x8 one-channel images in 4 classes (bright quadrant = class), as IDX files
    converted by convert_mnist_data."""
    directory = tmp_path_factory.mktemp("data")
    db = write_quadrant_lmdb(directory)
    (directory / "net.prototxt").write_text(f"""name: "mlp"
layer {{ name: "data" type: "Data" top: "data" top: "label"
  transform_param {{ scale: 0.00390625 }}
  data_param {{ source: "{db}" batch_size: 8 backend: LMDB }} }}
layer {{ name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"
  inner_product_param {{ num_output: 32 weight_filler {{ type: "xavier" }} }} }}
layer {{ name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }}
layer {{ name: "drop1" type: "Dropout" bottom: "ip1" top: "ip1"
  dropout_param {{ dropout_ratio: 0.5 }} }}
layer {{ name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
  inner_product_param {{ num_output: 4 weight_filler {{ type: "xavier" }} }} }}
layer {{ name: "accuracy" type: "Accuracy" bottom: "ip2" bottom: "label" top: "accuracy"
  include {{ phase: TEST }} }}
layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }}
""")
    return directory / "net.prototxt"


def write_solver(directory: Path, net: Path, *, max_iter: int = MAX_ITER,
                 snapshot: int = SNAPSHOT_EVERY, display: int = 1, extra: str = "") -> Path:
    """SGD with momentum and a step policy (history and the iteration both matter), a test
    pass, snapshots to directory/run_iter_N.*; a fixed random_seed, so that separate runs can
    be compared."""
    directory.mkdir(parents=True, exist_ok=True)
    solver = directory / "solver.prototxt"
    solver.write_text(f"""net: "{net}"
test_iter: 2
test_interval: 20
base_lr: 0.05
momentum: 0.9
weight_decay: 0.0005
lr_policy: "step"
gamma: 0.5
stepsize: 20
display: {display}
max_iter: {max_iter}
snapshot: {snapshot}
snapshot_prefix: "{directory / 'run'}"
random_seed: 5
{extra}""")
    return solver


def train(solver: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CAFFE), "train", "--solver", str(solver), *args],
                          capture_output=True, text=True, timeout=TIMEOUT)


def error_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("caffe: ")]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


@pytest.fixture(scope="module")
def reference(lmdb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run: its folder."""
    directory = tmp_path_factory.mktemp("reference")
    result = train(write_solver(directory, lmdb))
    assert result.returncode == 0, result.stderr[-3000:]
    return directory


def parse(path: Path, message: str):
    from caffe.proto import caffe_pb2

    parsed = getattr(caffe_pb2, message)()
    parsed.ParseFromString(path.read_bytes())
    return parsed


def history(solverstate: Path) -> list[bytes]:
    return [np.asarray(blob.data, dtype=np.float32).tobytes()
            for blob in parse(solverstate, "SolverState").history]


def expect_same_final_state(run: Path, reference: Path, iteration: int = MAX_ITER) -> None:
    """The final weights, byte for byte, and the update history, bit for bit."""
    name = f"run_iter_{iteration}"
    assert (run / f"{name}.caffemodel").read_bytes() == \
        (reference / f"{name}.caffemodel").read_bytes()
    assert history(run / f"{name}.solverstate") == history(reference / f"{name}.solverstate")


def temporary_files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.iterdir() if ".tmp." in path.name)


def expect_whole_snapshots(directory: Path) -> None:
    """Every run_iter_N.* file parses completely and holds what a snapshot holds."""
    for path in directory.glob("run_iter_*.caffemodel"):
        weights = parse(path, "NetParameter")
        with_blobs = {layer.name for layer in weights.layer if layer.blobs}
        assert with_blobs == {"ip1", "ip2"}, path
    for path in directory.glob("run_iter_*.solverstate"):
        state = parse(path, "SolverState")
        assert state.HasField("current_step") and state.HasField("random_seed"), path
        assert len(state.history) == 4, path
        assert Path(state.learned_net).exists(), path


# ---- a process the test drives ----

class LogWatcher:
    """Reads a growing log file, from where it last stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.text = ""

    def update(self) -> str:
        with open(self.path, "rb") as log:
            log.seek(self.offset)
            chunk = log.read()
        self.offset += len(chunk)
        self.text += chunk.decode(errors="replace")
        return self.text

    def wait_for(self, pattern: str, process: subprocess.Popen, start: int = 0) -> re.Match:
        """The first match of `pattern` at or after character `start`; fails if the process
        ends or TIMEOUT passes first."""
        deadline = time.monotonic() + TIMEOUT
        regex = re.compile(pattern)
        while True:
            match = regex.search(self.update(), start)
            if match:
                return match
            if process.poll() is not None:
                self.update()
                pytest.fail(f"caffe ended (rc {process.returncode}) before /{pattern}/:\n"
                            f"{self.text[-3000:]}")
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"no /{pattern}/ within {TIMEOUT} s:\n{self.text[-3000:]}")
            time.sleep(POLL)


def start_train(solver: Path, log_path: Path, *args: str,
                stop_mid_write: bool = False) -> tuple[subprocess.Popen, LogWatcher]:
    env = dict(os.environ)
    env.pop("CAFFE_TEST_STOP_MID_WRITE", None)
    if stop_mid_write:
        env["CAFFE_TEST_STOP_MID_WRITE"] = "1"
    with open(log_path, "w") as log:
        process = subprocess.Popen([str(CAFFE), "train", "--solver", str(solver), *args],
                                   stdout=log, stderr=subprocess.STDOUT, env=env)
    return process, LogWatcher(log_path)


def process_state(pid: int) -> str:
    """The state letter of /proc/PID/stat: R, S, D, T (stopped), Z, ...; "" once reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat[stat.rindex(")") + 2]


# ---- kills at random moments ----

@dataclass
class Kill:
    """When to kill: once the log reaches "Iteration <at>," (`kind` "iteration"), inside the
    <at>-th snapshot file write of the process ("write"; odd: a .caffemodel, even: its
    .solverstate), or <at> milliseconds after the start ("delay": startup, resume, training or
    writing, wherever the process is)."""
    kind: str
    at: int


@dataclass
class Outcome:
    killed: bool
    mid_write: Path | None = None  # the temporary file the process was killed inside
    log: str = ""


def target_of(temporary: Path) -> str:
    """The file a temporary `.NAME.tmp.XXXXXX` was to become."""
    return temporary.name[1:temporary.name.index(".tmp.")]


FINAL_WEIGHTS = f"run_iter_{MAX_ITER}.caffemodel"


def drive(process: subprocess.Popen, log: LogWatcher, kill: Kill | None,
          directory: Path, training_line: str = "Solving ") -> Outcome:
    """Runs the process to its end or to `kill`, letting every self-stop of the write hook go
    on (SIGCONT) except the one that is to be killed.  A stop is told apart from the previous
    one by its temporary file: each write has its own.  A "delay" kill counts its time from the
    log's `training_line` (the start of training, or of a resume), so that a slow start on a
    busy machine does not move it before the run has begun; one that has not come by the last
    snapshot's first write waits for its time there, so that it always happens."""
    started = time.monotonic()
    training_since: float | None = None
    known = set(temporary_files(directory))  # left by earlier, killed processes
    writes = 0
    while True:
        if process.poll() is not None:
            return Outcome(killed=False, log=log.update())
        if time.monotonic() - started > TIMEOUT:
            process.kill()
            pytest.fail(f"caffe did not finish within {TIMEOUT} s:\n{log.update()[-3000:]}")
        reached = False
        if kill is not None and kill.kind == "iteration":
            reached = re.search(rf"Iteration {kill.at},", log.update()) is not None
        elif kill is not None and kill.kind == "delay":
            if training_since is None and training_line in log.update():
                training_since = time.monotonic()
            reached = (training_since is not None and
                       (time.monotonic() - training_since) * 1000 >= kill.at)
        if reached:
            process.kill()
            process.wait(timeout=TIMEOUT)
            return Outcome(killed=True, log=log.update())
        if process_state(process.pid) == "T":
            new = [path for path in temporary_files(directory) if path not in known]
            if new:  # stopped inside a write it has not been let go from
                assert len(new) == 1, new
                known.add(new[0])
                writes += 1
                if kill is not None and kill.kind == "write" and kill.at == writes:
                    process.kill()
                    process.wait(timeout=TIMEOUT)
                    return Outcome(killed=True, mid_write=new[0], log=log.update())
                hold = (kill is not None and kill.kind == "delay" and
                        target_of(new[0]) == FINAL_WEIGHTS)
                if not hold:
                    process.send_signal(signal.SIGCONT)
                continue
        time.sleep(POLL)


def plan_kill(rng: random.Random, start_iter: int, forced: list[Kill]) -> Kill:
    """The next kill: the forced ones first, then a seeded random one that can still happen
    (an iteration or a snapshot still ahead of the resumed run)."""
    if forced:
        return forced.pop(0)
    ahead = MAX_ITER - start_iter
    kind = rng.choice(["iteration", "write", "delay"])
    if kind == "iteration":
        return Kill("iteration", rng.randrange(start_iter, MAX_ITER))
    if kind == "write":
        return Kill("write", rng.randint(1, 2 * (ahead // SNAPSHOT_EVERY)))
    return Kill("delay", rng.randrange(0, 1000))


def snapshot_iteration(path: Path | None) -> int:
    return int(re.search(r"_iter_(\d+)\.solverstate$", str(path)).group(1)) if path else 0


@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_at_random_moments_then_resume_equals_an_uninterrupted_run(
        lmdb: Path, reference: Path, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    run = tmp_path / "run"
    solver = write_solver(run, lmdb)
    # Inside the first .caffemodel write, then inside a .solverstate write (its .caffemodel is
    # whole and newer than the newest .solverstate), then at random.
    forced = [Kill("write", 1), Kill("write", 2)]
    kills, mid_write = [], []
    for attempt in range(9):
        newest = newest_snapshot(run / "run")
        start_iter = snapshot_iteration(newest)
        kill = plan_kill(rng, start_iter, forced) if len(kills) < 8 else None
        process, log = start_train(solver, tmp_path / f"log{attempt}.txt",
                                   *(["--snapshot", str(newest)] if newest else []),
                                   stop_mid_write=True)
        outcome = drive(process, log, kill, run,
                        training_line=f"Resuming from {newest}" if newest else "Solving ")
        if newest:
            assert f"Resuming from {newest}" in outcome.log
        expect_whole_snapshots(run)
        if not outcome.killed:
            assert kill is None, f"{kill} never came: the run finished first"
            assert process.returncode == 0, outcome.log[-3000:]
            break
        kills.append(kill)
        if outcome.mid_write is not None:
            # Killed with the temporary file half written: the file it was to become is
            # absent or an older whole one (expect_whole_snapshots), never the half.
            mid_write.append(target_of(outcome.mid_write))
            assert 0 < outcome.mid_write.stat().st_size
    else:
        pytest.fail(f"training never finished; kills: {kills}")
    assert len(kills) == 8, kills
    assert any(name.endswith(".caffemodel") for name in mid_write), mid_write
    assert any(name.endswith(".solverstate") for name in mid_write), mid_write
    expect_same_final_state(run, reference)
    # What the killed writes left: half-written temporaries, never a snapshot's name.
    assert len(temporary_files(run)) >= len(mid_write)


def test_kill_inside_every_write_of_one_snapshot(lmdb: Path, reference: Path,
                                                 tmp_path: Path) -> None:
    """Inside the .caffemodel and then inside the .solverstate of the same snapshot (the state
    of iteration 4 never exists, its weights do): each restart starts from scratch or from the
    newest whole snapshot and still ends bit-identical."""
    run = tmp_path / "run"
    solver = write_solver(run, lmdb)
    for kill in [Kill("write", 1), Kill("write", 2), Kill("write", 3), None]:
        newest = newest_snapshot(run / "run")
        process, log = start_train(solver, tmp_path / "log.txt",
                                   *(["--snapshot", str(newest)] if newest else []),
                                   stop_mid_write=True)
        outcome = drive(process, log, kill, run)
        assert outcome.killed == (kill is not None), outcome.log[-3000:]
        expect_whole_snapshots(run)
        if kill == Kill("write", 2):
            assert (run / "run_iter_4.caffemodel").exists()
            assert not (run / "run_iter_4.solverstate").exists()
            assert newest_snapshot(run / "run") is None
    assert process.returncode == 0
    expect_same_final_state(run, reference)


# ---- --snapshot naming something else than a whole solver state ----

@pytest.fixture(scope="module")
def snapshot_files(reference: Path) -> tuple[Path, Path]:
    return reference / "run_iter_8.solverstate", reference / "run_iter_8.caffemodel"


@pytest.mark.parametrize("damage", ["truncated", "cut between fields", "garbage", "empty",
                                    "weights truncated", "caffemodel", "caffemodel renamed"])
def test_resuming_from_a_damaged_snapshot_is_one_error(lmdb: Path, snapshot_files, tmp_path: Path,
                                                       damage: str) -> None:
    state_path, weights_path = snapshot_files
    state = state_path.read_bytes()
    bad = tmp_path / "bad.solverstate"
    named = bad
    if damage == "truncated":
        bad.write_bytes(state[:len(state) * 2 // 3])
    elif damage == "cut between fields":
        # Ends after the history, before current_step: protobuf parses it.
        from caffe.proto import caffe_pb2

        parsed = parse(state_path, "SolverState")
        head = caffe_pb2.SolverState(iter=parsed.iter, learned_net=parsed.learned_net)
        head.history.extend(parsed.history)
        bad.write_bytes(head.SerializeToString())
        assert state.startswith(bad.read_bytes())
    elif damage == "garbage":
        bad.write_bytes(random.Random(4).randbytes(len(state)))
    elif damage == "empty":
        bad.write_bytes(b"")
    elif damage == "weights truncated":
        weights = tmp_path / "cut.caffemodel"
        weights.write_bytes(weights_path.read_bytes()[:len(weights_path.read_bytes()) // 2])
        parsed = parse(state_path, "SolverState")
        parsed.learned_net = str(weights)
        bad.write_bytes(parsed.SerializeToString())
        named = weights
    elif damage == "caffemodel":
        bad = named = weights_path
    else:
        bad.write_bytes(weights_path.read_bytes())
    result = train(write_solver(tmp_path / "run", lmdb), "--snapshot", str(bad))
    assert result.returncode == 1, result.stderr[-3000:]
    line = error_line(result)
    assert str(named) in line, line
    assert "Check failed" not in result.stderr and "*** " not in result.stderr
    assert not list((tmp_path / "run").glob("run_iter_*")), "nothing was trained"


# ---- a full disk ----

@contextlib.contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                                  str(path)], capture_output=True, text=True, timeout=TIMEOUT)
    except FileNotFoundError:
        pytest.skip("the full-disk test needs the mount command")
    if mounted.returncode != 0:
        pytest.skip(f"the full-disk test mounts a small tmpfs and could not "
                    f"({mounted.stderr.strip()}); run it as root")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True, timeout=TIMEOUT)


# Each snapshot file is about 9 KB, 3 pages of tmpfs, and the solver file takes one: 56 KB
# hold two snapshots and run out in the third one's .caffemodel, 64 KB in its .solverstate.
@pytest.mark.parametrize("size, failing", [("56k", "caffemodel"), ("64k", "solverstate")])
def test_full_disk_while_snapshotting_stops_with_the_file_named_and_resumes(
        lmdb: Path, reference: Path, tmp_path: Path, size: str, failing: str) -> None:
    with small_tmpfs(tmp_path / "disk", size) as disk:
        solver = write_solver(disk, lmdb)
        result = train(solver)
        assert result.returncode == 1, result.stderr[-3000:]
        line = error_line(result)
        match = re.search(r"caffe: snapshot of iteration (\d+) failed: cannot write '(.*)': "
                          r"No space left on device; the last complete snapshot, '(.*)', is "
                          r"intact: resume from it", line)
        assert match, line
        failed_at, failed_file, last = int(match.group(1)), Path(match.group(2)), Path(match.group(3))
        assert failed_file == disk / f"run_iter_{failed_at}.{failing}"
        assert not failed_file.exists()
        assert temporary_files(disk) == []
        assert last == newest_snapshot(disk / "run")
        assert snapshot_iteration(last) == failed_at - SNAPSHOT_EVERY
        expect_whole_snapshots(disk)

        # Resumed with its snapshots going where there is room, it ends as if never stopped.
        roomy = tmp_path / "roomy"
        resumed = train(write_solver(roomy, lmdb), "--snapshot", str(last))
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        expect_same_final_state(roomy, reference)


# ---- SIGINT and SIGHUP ----

OTHER = {"sigint": "sighup", "sighup": "sigint"}
SIGNALS = {"sigint": signal.SIGINT, "sighup": signal.SIGHUP}
ITERATION = r"Iteration (\d+), loss"


def start_endless(lmdb: Path, tmp_path: Path, flags: dict[str, str],
                  extra: str = "") -> tuple[subprocess.Popen, LogWatcher, Path]:
    run = tmp_path / "run"
    solver = write_solver(run, lmdb, max_iter=1_000_000_000, snapshot=0, display=10, extra=extra)
    args = [f"--{name}_effect={effect}" for name, effect in flags.items()]
    process, log = start_train(solver, tmp_path / "log.txt", *args)
    log.wait_for(r"Iteration [1-9]\d*, loss", process)  # training (and signal routing) is up
    return process, log, run


def finish(process: subprocess.Popen, log: LogWatcher) -> str:
    process.wait(timeout=TIMEOUT)
    return log.update()


@pytest.mark.parametrize("name", ["sigint", "sighup"])
def test_stop_snapshots_then_exits_cleanly(lmdb: Path, tmp_path: Path, name: str) -> None:
    process, log, run = start_endless(lmdb, tmp_path, {name: "stop", OTHER[name]: "none"})
    process.send_signal(SIGNALS[name])
    output = finish(process, log)
    assert process.returncode == 0, output[-3000:]
    assert "caffe: stop requested; finishing the current iteration" in output
    assert "Optimization stopped early." in output
    stopped_at = int(re.findall(r"Snapshotting solver state to binary proto file .*_iter_(\d+)"
                                r"\.solverstate", output)[-1])
    newest = newest_snapshot(run / "run")
    assert snapshot_iteration(newest) == stopped_at > 0
    expect_whole_snapshots(run)
    # The snapshot resumes: two more iterations from where it stopped.
    resumed = train(run / "solver.prototxt", "--snapshot", str(newest),
                    "--iterations", str(stopped_at + 2))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resuming from {newest}" in resumed.stderr
    assert snapshot_iteration(newest_snapshot(run / "run")) == stopped_at + 2


@pytest.mark.parametrize("name", ["sigint", "sighup"])
def test_stop_without_snapshot_after_train_writes_nothing(lmdb: Path, tmp_path: Path,
                                                          name: str) -> None:
    process, log, run = start_endless(lmdb, tmp_path, {name: "stop", OTHER[name]: "none"},
                                      extra="snapshot_after_train: false\n")
    process.send_signal(SIGNALS[name])
    output = finish(process, log)
    assert process.returncode == 0, output[-3000:]
    assert "Optimization stopped early." in output
    assert not list(run.glob("run_iter_*")), output[-3000:]


@pytest.mark.parametrize("name", ["sigint", "sighup"])
def test_snapshot_snapshots_and_training_goes_on(lmdb: Path, tmp_path: Path, name: str) -> None:
    process, log, run = start_endless(lmdb, tmp_path, {name: "snapshot", OTHER[name]: "stop"})
    process.send_signal(SIGNALS[name])
    requested = log.wait_for(r"caffe: snapshot requested", process)
    snapshot = log.wait_for(r"Snapshotting solver state to binary proto file .*_iter_(\d+)"
                            r"\.solverstate", process, requested.end())
    snapshot_at = int(snapshot.group(1))
    # Training goes on past the snapshot.
    later = log.wait_for(ITERATION, process, snapshot.end())
    assert int(later.group(1)) >= snapshot_at
    assert process.poll() is None
    assert (run / f"run_iter_{snapshot_at}.solverstate").exists()
    process.send_signal(SIGNALS[OTHER[name]])
    output = finish(process, log)
    assert process.returncode == 0, output[-3000:]
    assert "Optimization stopped early." in output
    expect_whole_snapshots(run)


@pytest.mark.parametrize("name", ["sigint", "sighup"])
def test_none_ignores_the_signal(lmdb: Path, tmp_path: Path, name: str) -> None:
    process, log, run = start_endless(lmdb, tmp_path, {name: "none", OTHER[name]: "stop"})
    process.send_signal(SIGNALS[name])
    ignored = log.wait_for(rf"caffe: {name.upper()} ignored \(--{name}_effect none\)", process)
    # Training goes on, and nothing was snapshotted.
    log.wait_for(ITERATION, process, ignored.end())
    assert process.poll() is None
    assert not list(run.glob("run_iter_*"))
    assert "Snapshotting" not in log.update()
    process.send_signal(SIGNALS[OTHER[name]])
    output = finish(process, log)
    assert process.returncode == 0, output[-3000:]
    assert "Optimization stopped early." in output


# ---- finding the newest snapshot ----

def test_newest_snapshot_is_the_highest_iteration(tmp_path: Path) -> None:
    for name in ["run_iter_8.solverstate", "run_iter_12.solverstate", "run_iter_100.caffemodel",
                 ".run_iter_200.solverstate.tmp.x1Y2z3", "other_iter_50.solverstate",
                 "run_iter_9.solverstate.bak"]:
        (tmp_path / name).write_bytes(b"")
    assert newest_snapshot(tmp_path / "run") == tmp_path / "run_iter_12.solverstate"
    assert newest_snapshot(tmp_path / "other") == tmp_path / "other_iter_50.solverstate"
    assert newest_snapshot(tmp_path / "none") is None
    assert newest_snapshot(tmp_path / "missing" / "run") is None
    script = Path(__file__).parents[2] / "scripts" / "latest_snapshot.py"
    found = subprocess.run([sys.executable, str(script), str(tmp_path / "run")], capture_output=True,
                           text=True, timeout=TIMEOUT)
    assert (found.returncode, found.stdout) == (0, f"{tmp_path / 'run_iter_12.solverstate'}\n")
    missing = subprocess.run([sys.executable, str(script), str(tmp_path / "none")],
                             capture_output=True, text=True, timeout=TIMEOUT)
    assert missing.returncode == 1
    assert f"no {tmp_path / 'none'}_iter_N.solverstate found" in missing.stderr
