"""Pattern-schedule generator for Approximate Random Dropout (Song et al., arXiv 1805.08939).

An approximate-dropout layer keeps unit j (ROW) iff ``j mod dp == b`` for the iteration's
pattern (period dp, offset b), or tile (r, c) (TILE) iff ``(r + c) mod dp == b`` (STAGGERED;
ROW_MAJOR numbers them r C + c), read from a binary ``DropoutSchedule`` file indexed by
solver iteration.  This package writes those files:

* ``algorithm``: the paper's Algorithm 1 (a high-entropy distribution over periods 1..N whose
  dropout rate matches the target), the per-iteration unfolding and ``make_schedule``; its
  docstring explains the defaults and their effect on accuracy.
* ``schedule_io``: writing (atomic), reading with validation, and the printed statistics.
* ``planning``: one schedule per InnerProductApproxDropout / LSTMApproxDropout layer of a net,
  sized by the layers of the real TRAIN net (the C++ core builds it).
* ``cli``: the command line.

Usage
-----
    python -m caffe.approx_dropout --ratio 0.5 --iterations 10000 --out fc6.schedule
    python -m caffe.approx_dropout --net train_val.prototxt --iterations 10000 [--out-dir DIR]
    python -m caffe.approx_dropout --show fc6.schedule
"""
from __future__ import annotations

from .algorithm import (DEFAULT_LAMBDA1, DEFAULT_LEARNING_RATE, DEFAULT_MAX_STEPS, DEFAULT_SEED,
                        DEFAULT_THRESHOLD, MAX_DEFAULT_PERIOD, PERIOD_SCALE_LIMIT, RATE_TOLERANCE,
                        ScheduleError, achieved_rate, check_ratio, default_max_period, drop_rates,
                        entropy, layer_seed, make_schedule, period_band, period_counts, period_scale_warning,
                        search_distribution, unfold_schedule)
from .cli import build_parser, main
from .planning import APPROX_LAYER_TYPES, LayerPlan, plan_net, schedules_for_net
from .schedule_io import (ScheduleSummary, format_summary, read_schedule, summarize,
                          write_schedule)

__all__ = [
    "APPROX_LAYER_TYPES", "DEFAULT_LAMBDA1", "DEFAULT_LEARNING_RATE", "DEFAULT_MAX_STEPS",
    "DEFAULT_SEED", "DEFAULT_THRESHOLD", "MAX_DEFAULT_PERIOD", "PERIOD_SCALE_LIMIT",
    "RATE_TOLERANCE", "LayerPlan",
    "ScheduleError", "ScheduleSummary", "achieved_rate", "build_parser", "check_ratio",
    "default_max_period", "drop_rates", "entropy", "format_summary", "layer_seed", "main",
    "make_schedule", "period_band", "period_counts", "period_scale_warning", "plan_net", "read_schedule", "schedules_for_net",
    "search_distribution", "summarize", "unfold_schedule", "write_schedule",
]
