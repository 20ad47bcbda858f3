"""Tables and figures of the Øland & Raj reproduction (scripts/reproduce_compression.py).

Works on the JSON rows the script writes (one dict per run; see compression_runs.RunResult), so
the figures can be redrawn from a saved JSON file.
Figures (PNG): fig1 accuracy against fixed bits B (and the uncompressed baseline); fig4
accuracy and epochs to the accuracy peak of the dynamic codec, (a) along c + M = 10 and (b)
along M = 4; fig5 bits per parameter per epoch, quantized and after Huffman, at c = 5 and 6
with M = 4.
"""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Callable, Iterable

from lib.compression_runs import Setting

Row = dict  # one run, as written to the JSON file
PAPER = {"c=5,M=4": {"bits_quantized": 6.8, "bits_huffman": 3.55},
         "c=6,M=4": {"bits_huffman": 3.78}}
PAPER_NOTE = ("Paper (Øland & Raj, ICASSP 2015; 784-392-50-10 tanh MLP on MNIST, model "
              "averaging after each epoch): the dynamic codec keeps the baseline's accuracy; at "
              "M = 4 the weights cost on average 6.8 bits quantized and 3.55 bits after Huffman "
              "coding at c = 5, 3.78 bits after Huffman at c = 6.")


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def by_setting(rows: Iterable[Row]) -> dict[str, list[Row]]:
    """Rows grouped by setting, in the order settings first appear."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row["setting"], []).append(row)
    return groups


def markdown_table(rows: list[Row]) -> str:
    """One line per setting: mean ± std over its seeds."""
    def cell(group: list[Row], key: str, scale: float = 1.0, digits: int = 2) -> str:
        mean, std = mean_std([scale * row[key] for row in group])
        return f"{mean:.{digits}f} ± {std:.{digits}f}"

    lines = ["| setting | seeds | final accuracy (%) | peak accuracy (%) | epochs to peak | "
             "bits/param quantized | bits/param Huffman | package / float32 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, group in by_setting(rows).items():
        lines.append(f"| {name} | {len(group)} | {cell(group, 'accuracy', 100)} | "
                     f"{cell(group, 'peak_accuracy', 100)} | {cell(group, 'epochs_to_peak', 1, 1)}"
                     f" | {cell(group, 'bits_quantized')} | {cell(group, 'bits_huffman')} | "
                     f"{cell(group, 'package_ratio', 1, 4)} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Figures.

def series(groups: dict[str, list[Row]], names: list[str], key: Callable[[Setting], float],
           value: str, scale: float = 1.0) -> tuple[list[float], list[float], list[float]]:
    """x (from key(setting)), mean and std of `value` over seeds, for the names present."""
    xs, means, stds = [], [], []
    for name in sorted((n for n in names if n in groups), key=lambda n: key(Setting(n))):
        mean, std = mean_std([scale * row[value] for row in groups[name]])
        xs.append(key(Setting(name)))
        means.append(mean)
        stds.append(std)
    return xs, means, stds


def figure1(groups: dict[str, list[Row]], out: Path) -> Path | None:
    """Accuracy against fixed bits B, with the uncompressed baseline as a band."""
    fixed = [name for name in groups if Setting(name).fixed_bits is not None]
    if not fixed and "baseline" not in groups:
        return None
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(6.5, 4.5))
    xs, means, stds = series(groups, fixed, lambda s: s.fixed_bits, "accuracy", 100)
    if xs:
        axis.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label="fixed B bits + Huffman")
    if "baseline" in groups:
        mean, std = mean_std([100 * row["accuracy"] for row in groups["baseline"]])
        axis.axhline(mean, color="black", linestyle="--", label="baseline (float32)")
        axis.axhspan(mean - std, mean + std, color="black", alpha=0.1)
    axis.set(xlabel="bits per weight B (fixed quantization)", ylabel="test accuracy (%)",
             title="Fig. 1: accuracy against fixed quantization")
    return finish(fig, [axis], out)


def dynamic_panel(axis, groups: dict[str, list[Row]], names: list[str], title: str) -> bool:
    """Accuracy (left axis) and epochs to peak (right axis) against c; False if no data."""
    xs, accuracy, accuracy_std = series(groups, names, lambda s: s.dynamic[0], "accuracy", 100)
    if not xs:
        return False
    _, epochs, epochs_std = series(groups, names, lambda s: s.dynamic[0], "epochs_to_peak")
    labels = {s.dynamic[0]: s.name for s in map(Setting, names) if s.name in groups}
    axis.errorbar(xs, accuracy, yerr=accuracy_std, marker="o", capsize=3, color="tab:blue",
                  label="final accuracy")
    axis.set(xlabel="c   (setting)", ylabel="test accuracy (%)", title=title)
    axis.set_xticks(xs, [f"{x}\n({labels[x]})" for x in xs], fontsize="small")
    right = axis.twinx()
    right.errorbar(xs, epochs, yerr=epochs_std, marker="s", capsize=3, color="tab:orange",
                   linestyle=":", label="epochs to peak")
    right.set_ylabel("epochs to the accuracy peak")
    handles = [h for a in (axis, right) for h in a.get_legend_handles_labels()[0]]
    axis.legend(handles, [h.get_label() for h in handles], fontsize="small", loc="lower right")
    return True


def figure4(groups: dict[str, list[Row]], out: Path) -> Path | None:
    """(a) the dynamic codec along c + M = 10, (b) along M = 4, against c."""
    dynamic = [Setting(name) for name in groups if Setting(name).dynamic is not None]
    along_sum = [s.name for s in dynamic if sum(s.dynamic) == 10]
    along_m4 = [s.name for s in dynamic if s.dynamic[1] == 4]
    if not along_sum and not along_m4:
        return None
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    drawn = [axis for axis, names, title in ((left, along_sum, "Fig. 4a: dynamic, c + M = 10"),
                                             (right, along_m4, "Fig. 4b: dynamic, M = 4"))
             if dynamic_panel(axis, groups, names, title)]
    for axis in (left, right):
        if axis not in drawn:
            axis.set_axis_off()
    return finish(fig, drawn, out, legend=False)


def figure5(groups: dict[str, list[Row]], out: Path) -> Path | None:
    """Bits per parameter per epoch at c = 5 and 6 (M = 4): quantized N and after Huffman."""
    names = [name for name in ("c=5,M=4", "c=6,M=4") if name in groups]
    if not names:
        return None
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axis = plt.subplots(figsize=(10, 4.5))
    for name, color in zip(names, ("tab:blue", "tab:red")):
        for key, style, what in (("bits_quantized", "--", "quantized"),
                                 ("bits_huffman", "-", "after Huffman")):
            per_epoch: dict[int, list[float]] = {}
            for row in groups[name]:
                for record in row["epochs"]:
                    per_epoch.setdefault(record["epoch"], []).append(record[key])
            epochs = sorted(per_epoch)
            stats = [mean_std(per_epoch[e]) for e in epochs]
            axis.errorbar(epochs, [m for m, _ in stats], yerr=[s for _, s in stats], color=color,
                          linestyle=style, marker="o", capsize=3, label=f"{name} {what}")
            if key in PAPER.get(name, {}):
                axis.axhline(PAPER[name][key], color=color, linestyle=style, alpha=0.35,
                             label=f"paper's mean, {name} {what}")
    axis.set(xlabel="epoch", ylabel="bits per parameter",
             title="Fig. 5: bits per parameter per epoch (rank 0's packages)")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the lines
    return finish(fig, [axis], out, legend=False)


def finish(fig, axes, out: Path, legend: bool = True) -> Path:
    import matplotlib.pyplot as plt

    for axis in axes:
        axis.grid(alpha=0.3)
        if legend:
            axis.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def figures(rows: list[Row], out_dir: Path, prefix: str = "compression") -> list[Path]:
    """Writes the figures the rows have data for; returns their paths."""
    import matplotlib
    matplotlib.use("Agg")
    groups = by_setting(rows)
    drawn = [figure1(groups, out_dir / f"{prefix}_fig1.png"),
             figure4(groups, out_dir / f"{prefix}_fig4.png"),
             figure5(groups, out_dir / f"{prefix}_fig5.png")]
    return [path for path in drawn if path is not None]
