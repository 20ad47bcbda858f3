#!/usr/bin/env python3
"""Endurance: does memory stay flat over many nets and many iterations?

Two measurements of resident memory (VmRSS in /proc/PID/status), each after a warm-up:
  pycaffe  --loops times (default 1000): build a caffe.Net and a solver, take numpy views of
           their blobs, run forward/backward and two solver steps with a Python callback that
           refers to the solver (a reference cycle through C++), drop everything; every 10
           loops, gc.collect().  Measured in this process: growth = RSS after the loops - RSS
           after --warmup loops.  Such a solver is freed by Python's cycle collector, not at
           `del`: without gc.collect() the solvers that wait for the next automatic collection
           hold their memory meanwhile (with this net a plateau of about 55 MiB, reached within
           100 loops, that does not grow after), so a loop over big solvers with callbacks
           should call gc.collect().
  train    `caffe train` of a tiny net (DummyData, InnerProduct, Dropout, softmax loss, a test
           net and periodic snapshots) for --iterations (default 200000) iterations.  RSS of the
           caffe process is read at every display line (100 over the run); growth = the largest
           reading after the first 10% of the iterations - the reading at 10%.

Each growth must stay under --limit-mib (default 20); the exit status is 1 otherwise.  CI runs
it with smaller numbers (tests/python/test_endurance.py); the full figures are measured by hand:

    PYTHONPATH=build/python python scripts/endurance.py --json endurance.json
"""
from __future__ import annotations

import argparse
import gc
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lib.bench_common import REPO, caffe_tool_env, import_caffe
from lib.caffe_tools import ScriptError, find_tool

PYCAFFE_NET = """name: "endurance"
layer { name: "data" type: "Input" top: "data" top: "label"
  input_param { shape { dim: 16 dim: 64 } shape { dim: 16 } } }
layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"
  inner_product_param { num_output: 512 weight_filler { type: "xavier" } } }
layer { name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }
layer { name: "drop1" type: "Dropout" bottom: "ip1" top: "ip1" }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
  inner_product_param { num_output: 4 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }
"""

TRAIN_NET = """name: "tiny"
layer { name: "data" type: "DummyData" top: "data" top: "label"
  dummy_data_param { shape { dim: 4 dim: 8 } shape { dim: 4 }
                     data_filler { type: "gaussian" } data_filler { type: "constant" } } }
layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"
  inner_product_param { num_output: 8 weight_filler { type: "xavier" } } }
layer { name: "drop1" type: "Dropout" bottom: "ip1" top: "ip1" }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
  inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }
"""

COLLECT_EVERY = 10  # pycaffe loops between gc.collect() calls
DISPLAY_LINE = re.compile(r"Iteration (\d+), loss = ")


def rss_mib(pid: int | str = "self") -> float:
    """VmRSS of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ScriptError(f"/proc/{pid}/status has no VmRSS line")


# ---- pycaffe ----

def create_use_and_drop(caffe, net_path: Path, solver_path: Path) -> None:
    net = caffe.Net(str(net_path), caffe.TRAIN)
    views = [net.blobs["data"].data, net.params["ip1"][0].data, net.params["ip1"][0].diff]
    views[0][...] = 0.5
    net.forward()
    net.backward()
    solver = caffe.get_solver(str(solver_path))
    solver.add_callback(lambda: solver.iter, None)  # a cycle: solver -> C++ -> callback -> solver
    solver.step(2)
    views.append(solver.net.blobs["ip2"].data)


def measure_pycaffe(workdir: Path, loops: int, warmup: int) -> dict:
    caffe = import_caffe()
    caffe.set_mode_cpu()
    net_path = workdir / "pycaffe_net.prototxt"
    net_path.write_text(PYCAFFE_NET)
    solver_path = workdir / "pycaffe_solver.prototxt"
    solver_path.write_text(f'net: "{net_path}"\nbase_lr: 0.01\nmomentum: 0.9\n'
                           f'snapshot_prefix: "{workdir / "pycaffe"}"\n')
    def run(count: int) -> float:
        """RSS after `count` loops, their garbage collected."""
        for done in range(1, count + 1):
            create_use_and_drop(caffe, net_path, solver_path)
            if done % COLLECT_EVERY == 0:
                gc.collect()
        gc.collect()
        return rss_mib()

    before = run(warmup)
    after = run(loops)
    return {"loops": loops, "warmup": warmup, "rss_before_mib": round(before, 2),
            "rss_after_mib": round(after, 2), "growth_mib": round(after - before, 2)}


# ---- caffe train ----

def write_train_solver(workdir: Path, iterations: int) -> Path:
    net_path = workdir / "train_net.prototxt"
    net_path.write_text(TRAIN_NET)
    solver_path = workdir / "train_solver.prototxt"
    solver_path.write_text(f"""net: "{net_path}"
test_iter: 2
test_interval: {max(1, iterations // 10)}
base_lr: 0.01
momentum: 0.9
lr_policy: "step"
gamma: 0.9
stepsize: {max(1, iterations // 20)}
display: {max(1, iterations // 100)}
max_iter: {iterations}
snapshot: {max(1, iterations // 4)}
snapshot_prefix: "{workdir / 'train'}"
random_seed: 1
""")
    return solver_path


def measure_train(caffe_bin: Path, workdir: Path, iterations: int) -> dict:
    caffe = find_tool(caffe_bin, "caffe")
    solver_path = write_train_solver(workdir, iterations)
    started = time.monotonic()
    process = subprocess.Popen([str(caffe), "train", "--solver", str(solver_path)],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               env=caffe_tool_env())
    samples, tail = [], []
    for line in process.stderr:
        tail = (tail + [line])[-20:]
        match = DISPLAY_LINE.search(line)
        if match:
            try:
                samples.append((int(match.group(1)), round(rss_mib(process.pid), 2)))
            except (OSError, ScriptError):
                break  # the process is ending
    process.wait()
    if process.returncode != 0:
        raise ScriptError(f"caffe train failed (exit {process.returncode}): {''.join(tail)}")
    warm = [sample for sample in samples if sample[0] >= iterations // 10]
    if len(warm) < 2:
        raise ScriptError(f"too few RSS samples after the warm-up: {samples}")
    baseline = warm[0][1]
    largest = max(mib for _, mib in warm)
    return {"iterations": iterations, "seconds": round(time.monotonic() - started, 1),
            "baseline_iteration": warm[0][0], "rss_baseline_mib": baseline,
            "rss_max_mib": largest, "rss_last_mib": warm[-1][1],
            "growth_mib": round(largest - baseline, 2), "samples": samples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--loops", type=int, default=1000,
                        help="pycaffe nets and solvers created and dropped (0: skip)")
    parser.add_argument("--warmup", type=int, default=50, help="pycaffe loops before measuring")
    parser.add_argument("--iterations", type=int, default=200_000,
                        help="caffe train iterations (0: skip)")
    parser.add_argument("--limit-mib", type=float, default=20.0,
                        help="largest growth allowed (exit status 1 above it)")
    parser.add_argument("--caffe-bin", type=Path, default=REPO / "build" / "tools",
                        help="folder of the caffe tool (default: build/tools)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    results: dict[str, dict] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="endurance.") as workdir:
            if args.loops > 0:
                results["pycaffe"] = measure_pycaffe(Path(workdir), args.loops, args.warmup)
            if args.iterations > 0:
                results["train"] = measure_train(args.caffe_bin, Path(workdir), args.iterations)
    except ScriptError as error:
        print(f"endurance.py: {error}", file=sys.stderr)
        return 1
    for name, figures in results.items():
        what = (f"{figures['loops']} nets and solvers" if name == "pycaffe"
                else f"{figures['iterations']} iterations of caffe train")
        before = figures.get("rss_before_mib", figures.get("rss_baseline_mib"))
        after = figures.get("rss_after_mib", figures.get("rss_max_mib"))
        print(f"{name}: {what}: RSS {before} -> {after} MiB, growth {figures['growth_mib']} MiB")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    over = [name for name, figures in results.items() if figures["growth_mib"] >= args.limit_mib]
    if over:
        print(f"endurance.py: memory grew by {args.limit_mib} MiB or more: {', '.join(over)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
