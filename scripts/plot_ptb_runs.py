#!/usr/bin/env python3
"""Validation-perplexity curves of PTB runs from several reproduce_ptb.py result files, one panel
per dropout rate, one line per run (pattern, periods, rotated offsets), with each run's test
perplexity and next-word accuracy in the legend.  Runs that appear in several files (the
STANDARD run that --resume reuses) are drawn once.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import reproduce_ptb


def load_runs(paths: list[Path]) -> list[reproduce_ptb.RunResult]:
    """The distinct runs of the result files, in the order first seen."""
    runs: dict[tuple, reproduce_ptb.RunResult] = {}
    for path in paths:
        try:
            rows = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise RuntimeError(f"cannot read {path}: {error}") from error
        for row in rows:
            try:
                row["curve"] = [tuple(point) for point in row["curve"]]
                run = reproduce_ptb.RunResult(**row)
            except (TypeError, KeyError) as error:
                raise RuntimeError(f"{path}: not a reproduce_ptb.py result row: {error}") from None
            runs.setdefault((run.config, run.ratio, reproduce_ptb.run_label(run), run.iterations),
                            run)
    return list(runs.values())


# One line of a panel: (dropout rate, label, curve of (iteration, seconds, validation perplexity)).
Curve = tuple[float, str, list]


def plot_curves(curves: list[Curve], out: Path, title: str) -> None:
    """Validation perplexity against iteration, one panel per dropout rate ("{title}, p = ...")."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratios = sorted({ratio for ratio, _, _ in curves})
    figure, axes = plt.subplots(1, len(ratios), figsize=(7 * len(ratios), 4.8), squeeze=False)
    for axis, ratio in zip(axes[0], ratios):
        for _, label, points in (curve for curve in curves if curve[0] == ratio):
            axis.plot([point[0] for point in points], [point[2] for point in points], marker="o",
                      label=label)
        axis.set(xlabel="iteration", ylabel="validation perplexity", yscale="log",
                 title=f"{title}, p = {ratio:g}")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def plot(runs: list[reproduce_ptb.RunResult], out: Path, title: str) -> None:
    plot_curves([(run.ratio, f"{reproduce_ptb.run_label(run)}: test ppl "
                  f"{run.test_perplexity:.1f}, acc {100 * run.test_accuracy:.2f}%", run.curve)
                 for run in runs], out, title)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="plot_ptb_runs.py", description=__doc__.splitlines()[0],
        epilog="Example: python3 scripts/plot_ptb_runs.py docs/data/reproduce_ptb_medium*.json "
               "--out docs/ptb_medium_runs.png --title 'PTB medium, 2 epochs'")
    parser.add_argument("results", type=Path, nargs="+", help="reproduce_ptb.py --json files")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--title", default="PTB", help="panel title before the rate")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        runs = load_runs(args.results)
    except RuntimeError as error:
        print(f"plot_ptb_runs: error: {error}", file=sys.stderr)
        return 1
    if not runs:
        print("plot_ptb_runs: error: the result files hold no runs", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot(runs, args.out, args.title)
    print(f"wrote {args.out} ({len(runs)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
