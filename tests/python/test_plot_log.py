"""scripts/plot_log.py parses Caffe-format training logs and writes a PNG."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lib import plot_log

REPO = Path(__file__).resolve().parents[2]

BVLC_STYLE_LOG = """\
I1125 15:00:00.000 123 solver.cpp:218] Iteration 0, loss = 2.3
I1125 15:00:00.000 123 solver.cpp:330] Iteration 0, Testing net (#0)
I1125 15:00:00.000 123 solver.cpp:397]     Test net output #0: accuracy = 0.1
I1125 15:00:00.000 123 solver.cpp:397]     Test net output #1: loss = 2.3 (* 1 = 2.3 loss)
I1125 15:00:01.000 123 solver.cpp:218] Iteration 100 (12.3 iter/s, 8.1s/100 iters), loss = 0.5
I1125 15:00:02.000 123 solver.cpp:330] Iteration 200, Testing net (#0)
I1125 15:00:02.000 123 solver.cpp:397]     Test net output #0: accuracy = 0.95
I1125 15:00:02.000 123 solver.cpp:330] Iteration 200, Testing net (#1)
I1125 15:00:02.000 123 solver.cpp:397]     Test net output #0: accuracy = 0.5
"""


def test_parse_reads_losses_and_test_net_zero_only() -> None:
    log = plot_log.parse_log(BVLC_STYLE_LOG.splitlines())
    assert log.loss_iterations == [0, 100]
    assert log.losses == [2.3, 0.5]
    assert log.test_outputs["accuracy"] == ([0, 200], [0.1, 0.95])
    assert log.test_outputs["loss"] == ([0], [2.3])


def test_cli_writes_png(tmp_path: Path) -> None:
    log_file = tmp_path / "train.log"
    log_file.write_text(BVLC_STYLE_LOG)
    out = tmp_path / "curves.png"
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "plot_log.py"), str(log_file),
                             "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_rejects_log_without_training_lines(tmp_path: Path) -> None:
    log_file = tmp_path / "empty.log"
    log_file.write_text("nothing here\n")
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "plot_log.py"), str(log_file)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "no 'Iteration N, loss" in result.stderr
