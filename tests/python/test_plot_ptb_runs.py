"""scripts/plot_ptb_runs.py: result files merge (a reused STANDARD run drawn once), the PNG is
written, and unreadable or foreign files are clear errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import plot_ptb_runs


def result_row(pattern: str, ratio: float, rotate: bool = False, min_period: int = 1) -> dict:
    return {"config": "medium", "pattern": pattern, "ratio": ratio, "iterations": 20,
            "test_interval": 10, "threads": 1, "valid_perplexity": 150.0,
            "test_perplexity": 148.0, "test_accuracy": 0.21, "train_seconds": 5.0,
            "seconds_per_iteration": 0.25, "curve": [[10, 2.5, 300.0], [20, 5.0, 150.0]],
            "rotate_offset": rotate, "min_period": min_period, "max_period": min_period}


def test_runs_merge_and_the_png_is_written(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps([result_row("STANDARD", 0.5, min_period=1) | {"max_period": 0},
                                 result_row("ROW", 0.5, min_period=2)]))
    second.write_text(json.dumps([result_row("STANDARD", 0.5, min_period=1) | {"max_period": 0},
                                  result_row("ROW", 0.5, rotate=True, min_period=2),
                                  result_row("STANDARD", 0.7) | {"max_period": 0}]))
    runs = plot_ptb_runs.load_runs([first, second])
    assert len(runs) == 4  # STANDARD p = 0.5 once
    out = tmp_path / "plots" / "runs.png"
    assert plot_ptb_runs.main([str(first), str(second), "--out", str(out)]) == 0
    assert out.stat().st_size > 0
    assert "(4 runs)" in capsys.readouterr().out


def test_bad_files_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "missing.json"
    assert plot_ptb_runs.main([str(missing), "--out", str(tmp_path / "x.png")]) == 1
    assert f"cannot read {missing}" in capsys.readouterr().err
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps([{"name": "standard", "curve": []}]))
    assert plot_ptb_runs.main([str(foreign), "--out", str(tmp_path / "x.png")]) == 1
    assert "not a reproduce_ptb.py result row" in capsys.readouterr().err
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    assert plot_ptb_runs.main([str(empty), "--out", str(tmp_path / "x.png")]) == 1
    assert "hold no runs" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_help(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        plot_ptb_runs.parse_args(["--help"])
    assert exit_info.value.code == 0
    assert "--out" in capsys.readouterr().out
