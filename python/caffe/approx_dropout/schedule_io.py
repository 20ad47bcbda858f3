"""Schedule files: atomic writing, reading with validation, and the statistics printed for each.

A schedule is a binary ``caffe_pb2.DropoutSchedule``; the approximate-dropout layers read it by
solver iteration (layers/approx_dropout/dropout_schedule.hpp).
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
from google.protobuf.message import DecodeError

from caffe.proto import caffe_pb2

from .algorithm import ScheduleError, achieved_rate, entropy

_ApproxParam = caffe_pb2.ApproxDropoutParameter


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_schedule(schedule: caffe_pb2.DropoutSchedule, path: Union[str, os.PathLike]) -> None:
    """Write the binary schedule atomically (temporary file in the same folder + os.replace)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    payload = schedule.SerializeToString(deterministic=True)
    temporary = None
    try:
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
        with os.fdopen(handle, "wb") as stream:
            # mkstemp creates the file 0600; give it the mode open() would have.
            os.chmod(temporary, 0o666 & ~_current_umask())
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError as error:
        if temporary is not None and os.path.exists(temporary):
            os.remove(temporary)
        raise ScheduleError(f"cannot write schedule file '{path}': {error.strerror}") from error


def _check_entries(periods: np.ndarray, offsets: np.ndarray, source: str, hint: str) -> None:
    if periods.size == 0:
        raise ScheduleError(f"schedule file '{source}' holds no iterations {hint}")
    if offsets.size != periods.size:
        raise ScheduleError(f"schedule file '{source}' has {periods.size} periods but "
                            f"{offsets.size} offsets {hint}")
    if np.any(periods < 1):
        raise ScheduleError(f"schedule file '{source}' has a period below 1 {hint}")
    if np.any(offsets >= periods):
        bad = int(np.argmax(offsets >= periods))
        raise ScheduleError(f"schedule file '{source}': iteration {bad} has offset "
                            f"{offsets[bad]} >= period {periods[bad]} {hint}")


def _validate_schedule(schedule: caffe_pb2.DropoutSchedule, source: str) -> None:
    hint = "(regenerate it with python -m caffe.approx_dropout)"
    periods = np.asarray(schedule.period, dtype=np.int64)
    _check_entries(periods, np.asarray(schedule.offset, dtype=np.int64), source, hint)
    if schedule.max_period and periods.max() > schedule.max_period:
        raise ScheduleError(f"schedule file '{source}' uses period {periods.max()} above its "
                            f"max_period {schedule.max_period} {hint}")
    if len(schedule.distribution) not in (0, schedule.max_period):
        raise ScheduleError(f"schedule file '{source}' has {len(schedule.distribution)} "
                            f"distribution entries for max_period {schedule.max_period} {hint}")


def read_schedule(path: Union[str, os.PathLike]) -> caffe_pb2.DropoutSchedule:
    """Read and validate a binary DropoutSchedule; every failure is a ScheduleError."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as stream:
            payload = stream.read()
    except OSError as error:
        raise ScheduleError(f"cannot read schedule file '{path}': {error.strerror}") from error
    schedule = caffe_pb2.DropoutSchedule()
    try:
        schedule.ParseFromString(payload)
    except DecodeError as error:
        raise ScheduleError(f"schedule file '{path}' is not a binary DropoutSchedule protobuf: "
                            f"{error}") from error
    _validate_schedule(schedule, path)
    return schedule


# ---------------------------------------------------------------------------------------------
# Statistics printed for every schedule.

@dataclass(frozen=True)
class ScheduleSummary:
    """What the generator reports about one schedule."""

    target_rate: float
    achieved_rate: float          # sum d_i (i-1)/i of the searched distribution
    entropy: float                # of the distribution, nats
    max_entropy: float            # log N
    sub_models: int               # distinct (period, offset) pairs the sequence can use
    kept_fraction: float          # expected work kept, sum d_i / i
    empirical_rate: float         # mean of (period-1)/period over the unfolded sequence
    width_rate: Optional[float]   # exact mean dropped fraction over `width` units or tiles
    iterations: int
    max_period: int
    largest_period: int           # the largest period the sequence uses
    smallest_period: int          # the smallest period the sequence uses


def _width_drop_rate(periods: np.ndarray, offsets: np.ndarray, width: int) -> float:
    """Mean fraction of width units dropped when unit j is kept iff j mod period == offset."""
    kept = np.maximum(0, (width - offsets + periods - 1) // periods)
    return float(1.0 - np.mean(kept / width))


def summarize(schedule: caffe_pb2.DropoutSchedule) -> ScheduleSummary:
    """The rate, entropy and sub-model statistics of a schedule."""
    d = np.asarray(schedule.distribution, dtype=np.float64)
    periods = np.asarray(schedule.period, dtype=np.int64)
    offsets = np.asarray(schedule.offset, dtype=np.int64)
    used = np.unique(periods)
    width_rate = (_width_drop_rate(periods, offsets, schedule.width)
                  if schedule.width else None)
    return ScheduleSummary(
        target_rate=schedule.target_ratio,
        achieved_rate=achieved_rate(d) if d.size else float("nan"),
        entropy=entropy(d) if d.size else float("nan"),
        max_entropy=math.log(schedule.max_period) if schedule.max_period else float("nan"),
        sub_models=int(used.sum()),
        kept_fraction=float(d @ (1.0 / np.arange(1, d.size + 1))) if d.size else float("nan"),
        empirical_rate=float(np.mean((periods - 1) / periods)),
        width_rate=width_rate,
        iterations=int(periods.size),
        max_period=schedule.max_period,
        largest_period=int(periods.max()),
        smallest_period=int(periods.min()))


def format_summary(schedule: caffe_pb2.DropoutSchedule) -> str:
    """A human-readable block describing the schedule."""
    s = summarize(schedule)
    pattern = _ApproxParam.Pattern.Name(schedule.pattern)
    if schedule.pattern == _ApproxParam.TILE:  # files without tile_order meant ROW_MAJOR
        pattern += f" ({_ApproxParam.TileOrder.Name(schedule.tile_order)})"
    unit = "tiles" if schedule.pattern == _ApproxParam.TILE else "units"
    over = f" over {schedule.width} {unit}" if schedule.width else ""
    name = f" '{schedule.layer_name}'" if schedule.layer_name else ""
    lines = [
        f"schedule{name}: {pattern}{over}, max period {s.max_period}, "
        f"{s.iterations} iterations, seed {schedule.seed}",
        f"  target rate     {s.target_rate:.4f}",
        f"  achieved rate   {s.achieved_rate:.4f}   sum_i d_i (i-1)/i",
        f"  empirical rate  {s.empirical_rate:.4f}   mean (period-1)/period over the sequence",
    ]
    if s.width_rate is not None:
        lines.append(f"  exact rate      {s.width_rate:.4f}   dropped share of the "
                     f"{schedule.width} {unit}, remainders included")
    lines += [
        f"  work kept       {s.kept_fraction:.4f}   sum_i d_i / i",
        f"  entropy         {s.entropy:.3f} nats (max ln {s.max_period} = {s.max_entropy:.3f})",
        f"  sub-models      {s.sub_models} distinct (period, offset) pairs",
        f"  largest period  {s.largest_period}   the largest factor of kept units under scale: "
        "PERIOD",
        f"  smallest period {s.smallest_period}   kept fraction 1/dp ranges "
        f"{1 / s.largest_period:.3f}..{1 / s.smallest_period:.3f} between iterations",
    ]
    return "\n".join(lines)
