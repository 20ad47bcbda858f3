"""Endurance (scripts/endurance.py): resident memory stays flat over 1,000 pycaffe nets and
solvers created and dropped, and over 200,000 iterations of `caffe train` on a tiny net (each
growth, after a warm-up, under 20 MiB).  The C++ counterpart is tests/cpp/test_endurance.cpp.

The binary is $CAFFE_BUILD_DIR/tools/caffe."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import caffe
import pytest
from conftest import BUILD_DIR, REPO

LIMIT_MIB = 20.0

# The sanitizer pass of scripts/run_tests.sh sets CAFFE_UNDER_ASAN: AddressSanitizer keeps freed
# blocks in a quarantine of up to 256 MiB, so resident memory grows by design there, and
# LeakSanitizer checks the tools for leaks instead.
pytestmark = pytest.mark.skipif(os.environ.get("CAFFE_UNDER_ASAN") == "1",
                                reason="RSS is not a leak measure under AddressSanitizer")


def run_endurance(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "endurance.json"
    # The child imports caffe the way this process did.
    env = dict(os.environ, PYTHONPATH=str(Path(caffe.__file__).parents[1]))
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "endurance.py"), *args,
                             "--caffe-bin", str(BUILD_DIR / "tools"), "--json", str(out)],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(out.read_text())


def test_a_thousand_pycaffe_nets_and_solvers_keep_memory_flat(tmp_path: Path) -> None:
    figures = run_endurance(tmp_path, "--loops", "1000", "--iterations", "0")["pycaffe"]
    assert figures["loops"] == 1000
    assert figures["growth_mib"] < LIMIT_MIB, figures


def test_200k_iterations_of_caffe_train_keep_memory_flat(tmp_path: Path) -> None:
    figures = run_endurance(tmp_path, "--loops", "0", "--iterations", "200000")["train"]
    assert [iteration for iteration, _ in figures["samples"]] == list(range(0, 200000, 2000))
    assert figures["baseline_iteration"] == 20000
    assert figures["growth_mib"] < LIMIT_MIB, figures
