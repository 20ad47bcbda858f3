"""Pattern-schedule generator for Approximate Random Dropout (Song et al., arXiv 1805.08939).

An approximate-dropout layer keeps unit j (ROW) or tile t (TILE) iff ``j mod dp == b`` for the
iteration's pattern (period dp, offset b).  Period i drops a fraction (i-1)/i, so the mix of
periods sets the dropout rate and the number of distinct patterns sets how many different
sub-models training visits.  This module implements the paper's Algorithm 1:

    v in R^N,  d = softmax(v),  p_u = [(i-1)/i] for i = 1..N
    E_p  = (d . p_u - p)^2               (rate error)
    E_n  = (1/N) sum_i d_i log d_i       (negative entropy, scaled by 1/N)
    loss = lambda1 E_p + lambda2 E_n,    lambda1 + lambda2 = 1

plain gradient descent on v (analytic gradient through the softmax) from v = 0 until the loss
changes by less than ``threshold`` in one step (or ``max_steps`` is reached).  The iteration
budget is then split as counts_i = d_i * iterations (largest-remainder rounding, so the counts
sum exactly), unfolded into a sequence of periods, shuffled with a seeded numpy Generator, and
each iteration's offset is drawn uniformly from [0, period).  The result is written as a binary
``DropoutSchedule`` protobuf that the layers index by solver iteration.

Because every offset is equally likely, every unit (or tile) is dropped with probability
sum_i d_i (i-1)/i whatever its index, exactly as with Bernoulli dropout.

Defaults and why
----------------
* ``lambda1 = 0.999`` (``lambda2 = 0.001``).  The stationary points of the loss are Gibbs
  distributions d_i ~ exp(-beta p_u_i) whose rate misses the target by
  beta * lambda2 / (2 lambda1 N); with lambda2 = 0.001 that bias stays below 0.005 for targets
  0.1..0.9 and N = 2..64 (it grows only when the target approaches the limit (N-1)/N).  Larger
  lambda2 buys entropy at the cost of a visibly wrong rate (lambda1 = 0.99 already misses by 0.02).
* ``learning_rate = 10``.  The loss is flat in v (its curvature is at most about 0.06), so a
  unit step size needs thousands of steps; 10 is stable and reaches the target rate in tens of
  steps, after which the small entropy term keeps spreading the mass while it still pays.
* ``threshold = 1e-10`` on |delta loss|: the rate converges long before this, so the remaining
  steps only raise the entropy (at most a few thousand steps, under 0.5 s, for N <= 64).
  ``max_steps = 100000`` (about 2 s) guards the loop.
* ``max_period = ceil(2 / (1 - p))`` (p = 0.3: 3, 0.5: 4, 0.7: 7; at most 16), capped by the
  layer width (units for ROW, tiles for TILE).  A kept unit is scaled by its iteration's period,
  so this bounds the scaling at twice standard dropout's mean 1/(1 - p), and (N-1)/N >= (1+p)/2
  keeps every target reachable.  See default_max_period for the measurement behind it.

Effect on accuracy
------------------
Starting from v = 0 (the uniform, maximum-entropy distribution) and weighting entropy makes the
search return a distribution close to the maximum-entropy one for the target rate.  More entropy
means more distinct sub-models (the number of (period, offset) pairs that occur is the sum of the
periods used: 136 for N = 16), so training averages over a richer ensemble and behaves more like
Bernoulli dropout's regulariser; the paper makes this point when motivating the entropy term.
A larger N raises the entropy further (p = 0.5: 1.38 nats at N = 4, 1.94 at N = 8, 2.31 at
N = 16) but the maximum-entropy mix turns bimodal: some iterations drop nothing (period 1) and
the rest drop heavily with survivors scaled by up to N, whereas Bernoulli dropout drops close to
p every iteration.  Past about 2/(1-p) the scaling destabilises SGD (measured on the MNIST MLP:
N = 16 diverged at lr 0.01 where N = 4 matched standard dropout), so the default stops there;
raise ``--max-period`` only with a lower learning rate.

Net mode
--------
``--net`` finds every InnerProductApproxDropout / LSTMApproxDropout layer of the TRAIN phase and
takes its pattern, drop side, dropout_ratio, tile_size and schedule_file from
approx_dropout_param.  The width the pattern ranges over is num_output (ROW, OUTPUT side), the
input width K (ROW, INPUT side; followed back through the prototxt to an Input shape or to the
num_output of an InnerProduct/Embed/LSTM producer, through shape-preserving layers such as ReLU
or Dropout), or ceil(M/ts) * ceil(K/ts) tiles (TILE; M = 4H for the LSTM's W_xc).  An unset
drop_side means INPUT for LSTMApproxDropout, which never drops its outputs.  Relative
schedule_file paths resolve against --out-dir, else the current directory (as Caffe resolves
every path in a prototxt, and as the C++ layers open them).  Each layer's seed
is derived from --seed and its name, so layers do not share a drop sequence.

Usage
-----
    python -m caffe.approx_dropout --ratio 0.5 --iterations 10000 --out fc6.schedule
    python -m caffe.approx_dropout --net train_val.prototxt --iterations 10000 [--out-dir DIR]
    python -m caffe.approx_dropout --show fc6.schedule

The algorithm functions (search_distribution, unfold_schedule, summarize) use only numpy; the
protobuf side needs only ``caffe.proto.caffe_pb2`` and ``google.protobuf``.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence, Union

import numpy as np
from google.protobuf import text_format
from google.protobuf.message import DecodeError

from caffe.proto import caffe_pb2

DEFAULT_LAMBDA1 = 0.999
DEFAULT_LEARNING_RATE = 10.0
DEFAULT_THRESHOLD = 1e-10
DEFAULT_MAX_STEPS = 100_000
# Cap on the default max period (see default_max_period).
MAX_DEFAULT_PERIOD = 16
DEFAULT_SEED = 0
# The generator warns when the searched rate misses the target by more than this.
RATE_TOLERANCE = 0.01

APPROX_LAYER_TYPES = ("InnerProductApproxDropout", "LSTMApproxDropout")


def default_max_period(ratio: float) -> int:
    """N = ceil(2 / (1 - ratio)), capped at MAX_DEFAULT_PERIOD.

    A kept unit is scaled by its iteration's period dp, so N bounds the activation scaling at
    twice standard dropout's mean scaling 1/(1 - p) — and (N-1)/N >= (1+p)/2 > p, so the target
    is always reachable.  A large N raises the entropy but makes SGD unstable: with N = 16 at
    p = 0.5, 38% of iterations drop nothing and the rest scale the survivors by up to 16x per
    layer; the MNIST MLP (lr 0.01, momentum 0.9) then reached a test loss of 14.8 after 60
    iterations where standard dropout had 0.51, while N = 4 trained like standard dropout.
    """
    if not 0.0 < ratio < 1.0:
        raise ScheduleError(f"dropout ratio {ratio} must be in (0, 1)")
    return min(MAX_DEFAULT_PERIOD, max(2, math.ceil(2.0 / (1.0 - ratio) - 1e-9)))
_ApproxParam = caffe_pb2.ApproxDropoutParameter
# Layers whose tops have the shape of their first bottom (for input-width inference).
_SHAPE_PRESERVING_TYPES = frozenset(
    ("ReLU", "Dropout", "TanH", "Sigmoid", "Split", "BatchNorm", "Scale", "Eltwise", "Softmax"))


class ScheduleError(ValueError):
    """A user error: bad generator settings, an unreadable schedule, or an unusable net."""


# ---------------------------------------------------------------------------------------------
# The search (Algorithm 1), pure numpy.

def drop_rates(max_period: int) -> np.ndarray:
    """p_u: the fraction (i-1)/i that period i drops, for i = 1..max_period."""
    periods = np.arange(1, max_period + 1, dtype=np.float64)
    return (periods - 1.0) / periods


def achieved_rate(distribution: np.ndarray) -> float:
    """The dropout rate sum_i d_i (i-1)/i of a distribution over periods 1..N."""
    d = np.asarray(distribution, dtype=np.float64)
    return float(d @ drop_rates(d.size))


def entropy(distribution: np.ndarray) -> float:
    """Shannon entropy of the distribution, in nats."""
    d = np.asarray(distribution, dtype=np.float64)
    nonzero = d[d > 0]
    return float(-(nonzero @ np.log(nonzero)))


def check_ratio(ratio: float, max_period: int) -> None:
    """Raise ScheduleError unless 0 < ratio < 1 and periods 1..max_period can reach it."""
    if not (0.0 < ratio < 1.0):
        raise ScheduleError(f"dropout ratio must lie in (0, 1), got {ratio}")
    if max_period < 1:
        raise ScheduleError(f"max period must be at least 1, got {max_period}")
    largest = (max_period - 1) / max_period
    if ratio > largest + 1e-9:
        needed = math.ceil(1.0 / (1.0 - ratio) - 1e-9)
        raise ScheduleError(
            f"dropout ratio {ratio} is not achievable with max period {max_period}: the largest "
            f"rate periods 1..N reach is (N-1)/N = {largest:.4f}; use a max period of at least "
            f"{needed} (and a layer at least that wide)")


def _softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max())
    return e / e.sum()


def _resolve_lambdas(lambda1: float, lambda2: Optional[float]) -> tuple[float, float]:
    if lambda2 is None:
        lambda2 = 1.0 - lambda1
    if lambda1 < 0 or lambda2 < 0 or abs(lambda1 + lambda2 - 1.0) > 1e-6:
        raise ScheduleError(
            f"lambda1 and lambda2 must be non-negative and sum to 1, got {lambda1} and {lambda2}")
    return lambda1, lambda2


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ScheduleError(f"{name} must be positive, got {value}")


def search_distribution(ratio: float, max_period: Optional[int] = None,
                        lambda1: float = DEFAULT_LAMBDA1, lambda2: Optional[float] = None,
                        lr: float = DEFAULT_LEARNING_RATE, threshold: float = DEFAULT_THRESHOLD,
                        max_steps: int = DEFAULT_MAX_STEPS) -> np.ndarray:
    """Algorithm 1: the distribution d over periods 1..max_period for the target ratio.

    max_period defaults to default_max_period(ratio); lambda2 to 1 - lambda1.  Warns if
    max_steps pass before |delta loss| < threshold.
    """
    if max_period is None:
        max_period = default_max_period(ratio)
    check_ratio(ratio, max_period)
    lambda1, lambda2 = _resolve_lambdas(lambda1, lambda2)
    _check_positive("learning rate", lr)
    _check_positive("threshold", threshold)
    if max_steps < 1:
        raise ScheduleError(f"max steps must be at least 1, got {max_steps}")
    p_u = drop_rates(max_period)
    tiny = np.finfo(np.float64).tiny
    v = np.zeros(max_period)
    previous_loss = math.inf
    for _ in range(max_steps):
        d = _softmax(v)
        rate_error = float(d @ p_u) - ratio
        log_d = np.log(np.maximum(d, tiny))
        loss = lambda1 * rate_error ** 2 + lambda2 * float(d @ log_d) / max_period
        if abs(previous_loss - loss) < threshold:
            return d
        previous_loss = loss
        # dloss/dd, then through the softmax Jacobian diag(d) - d d^T.  The "+1" of
        # d(d log d)/dd is constant across i and cancels in the Jacobian product.
        grad_d = 2.0 * lambda1 * rate_error * p_u + (lambda2 / max_period) * log_d
        v -= lr * d * (grad_d - d @ grad_d)
    warnings.warn(f"pattern search stopped after max_steps={max_steps} steps before |delta loss| "
                  f"fell below {threshold}", RuntimeWarning, stacklevel=2)
    return _softmax(v)


# ---------------------------------------------------------------------------------------------
# Unfolding the distribution into a per-iteration sequence, pure numpy.

def period_counts(distribution: np.ndarray, iterations: int) -> np.ndarray:
    """counts_i = d_i * iterations, largest-remainder rounded so they sum to iterations.

    Ties between equal remainders go to the shorter period.
    """
    d = np.asarray(distribution, dtype=np.float64)
    if d.ndim != 1 or d.size == 0:
        raise ScheduleError("the distribution must be a non-empty 1-D array")
    if not np.all(np.isfinite(d)) or np.any(d < 0) or d.sum() <= 0:
        raise ScheduleError("the distribution must be finite, non-negative and not all zero")
    if iterations < 1:
        raise ScheduleError(f"iterations must be at least 1, got {iterations}")
    exact = d / d.sum() * iterations
    counts = np.floor(exact).astype(np.int64)
    shortfall = iterations - int(counts.sum())
    by_remainder = np.argsort(-(exact - counts), kind="stable")
    counts[by_remainder[:shortfall]] += 1
    return counts


def unfold_schedule(distribution: np.ndarray, iterations: int,
                    seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(periods, offsets): one pattern per iteration, shuffled by a Generator seeded with seed."""
    counts = period_counts(distribution, iterations)
    rng = np.random.default_rng(seed)
    ordered = np.repeat(np.arange(1, counts.size + 1, dtype=np.int64), counts)
    periods = rng.permutation(ordered)
    offsets = rng.integers(0, periods)
    return periods.astype(np.uint32), offsets.astype(np.uint32)


# ---------------------------------------------------------------------------------------------
# Schedule messages and files.

def _pattern_value(pattern: Union[str, int]) -> int:
    if isinstance(pattern, str):
        try:
            return _ApproxParam.Pattern.Value(pattern.upper())
        except ValueError:
            raise ScheduleError(f"unknown pattern '{pattern}': use row or tile") from None
    if pattern not in _ApproxParam.Pattern.values():
        raise ScheduleError(f"unknown pattern value {pattern}: use ROW (0) or TILE (1)")
    return int(pattern)


def layer_seed(seed: int, layer_name: str) -> int:
    """A per-layer uint64 seed, so layers sharing a base seed still draw different sequences."""
    sequence = np.random.SeedSequence([seed, zlib.crc32(layer_name.encode("utf-8"))])
    return int(sequence.generate_state(1, dtype=np.uint64)[0])


def make_schedule(ratio: float, max_period: int, iterations: int, *,
                  pattern: Union[str, int] = "row", seed: int = DEFAULT_SEED,
                  lambda1: float = DEFAULT_LAMBDA1, lambda2: Optional[float] = None,
                  lr: float = DEFAULT_LEARNING_RATE, threshold: float = DEFAULT_THRESHOLD,
                  max_steps: int = DEFAULT_MAX_STEPS, width: Optional[int] = None,
                  tile_size: Optional[int] = None,
                  layer_name: Optional[str] = None) -> caffe_pb2.DropoutSchedule:
    """Search, unfold and pack a DropoutSchedule.

    width is the number of units (ROW) or tiles (TILE) the pattern ranges over; when given it
    caps max_period (a period longer than the width would keep at most one unit).
    """
    pattern_value = _pattern_value(pattern)
    if width is not None:
        if width < 1:
            raise ScheduleError(f"width must be at least 1, got {width}")
        max_period = min(max_period, width)
    if not 0 <= seed < 2 ** 64:
        raise ScheduleError(f"seed must lie in [0, 2^64), got {seed}")
    lambda1, lambda2 = _resolve_lambdas(lambda1, lambda2)
    distribution = search_distribution(ratio, max_period, lambda1, lambda2, lr, threshold,
                                       max_steps)
    rate = achieved_rate(distribution)
    if abs(rate - ratio) > RATE_TOLERANCE:
        warnings.warn(f"achieved rate {rate:.4f} misses the target {ratio} by more than "
                      f"{RATE_TOLERANCE}; raise lambda1 or max_period", RuntimeWarning,
                      stacklevel=2)
    periods, offsets = unfold_schedule(distribution, iterations, seed)
    schedule = caffe_pb2.DropoutSchedule(
        pattern=pattern_value, target_ratio=ratio, max_period=max_period, seed=seed,
        lambda1=lambda1, lambda2=lambda2, learning_rate=lr, threshold=threshold,
        achieved_ratio=rate)
    schedule.distribution.extend(distribution.astype(np.float32).tolist())
    schedule.period.extend(periods.tolist())
    schedule.offset.extend(offsets.tolist())
    if width is not None:
        schedule.width = width
    if tile_size is not None:
        schedule.tile_size = tile_size
    if layer_name is not None:
        schedule.layer_name = layer_name
    return schedule


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


def _validate_schedule(schedule: caffe_pb2.DropoutSchedule, source: str) -> None:
    hint = "(regenerate it with python -m caffe.approx_dropout)"
    periods = np.asarray(schedule.period, dtype=np.int64)
    offsets = np.asarray(schedule.offset, dtype=np.int64)
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
        max_period=schedule.max_period)


def format_summary(schedule: caffe_pb2.DropoutSchedule) -> str:
    """A human-readable block describing the schedule."""
    s = summarize(schedule)
    pattern = _ApproxParam.Pattern.Name(schedule.pattern)
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
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Net mode: one schedule per approximate-dropout layer of a prototxt.

@dataclass(frozen=True)
class _Shape:
    """A blob shape as far as the prototxt tells.

    dims holds every axis when rank_known, else only the known trailing axes.  None marks an
    axis the prototxt does not fix (for example the batch size of a Data layer).
    """

    dims: tuple[Optional[int], ...]
    rank_known: bool

    def feature_width(self, axis: int) -> Optional[int]:
        """Product of the axes from `axis` on (what InnerProduct and LSTM contract over)."""
        if self.rank_known:
            start = axis + len(self.dims) if axis < 0 else axis
            if not 0 <= start < len(self.dims):
                return None
            features = self.dims[start:]
        elif axis < 0 and -axis <= len(self.dims):
            features = self.dims[axis:]
        else:
            # Only the producer's own output width is known (e.g. Embed over an HDF5 blob):
            # take it as the feature width, as a net built from this prototxt would have it.
            features = self.dims
        if not features or any(dim is None for dim in features):
            return None
        return math.prod(features)  # type: ignore[arg-type]


_UNKNOWN = _Shape((), False)


@dataclass(frozen=True)
class _Producer:
    shape: _Shape
    layer: str      # "" for a net-level input
    kind: str


def _rule_matches(rule: caffe_pb2.NetStateRule, state: caffe_pb2.NetState) -> bool:
    if rule.HasField("phase") and rule.phase != state.phase:
        return False
    if rule.HasField("min_level") and state.level < rule.min_level:
        return False
    if rule.HasField("max_level") and state.level > rule.max_level:
        return False
    stages = set(state.stage)
    return all(s in stages for s in rule.stage) and not any(s in stages for s in rule.not_stage)


def _in_state(layer: caffe_pb2.LayerParameter, state: caffe_pb2.NetState) -> bool:
    if layer.include:
        return any(_rule_matches(rule, state) for rule in layer.include)
    return not any(_rule_matches(rule, state) for rule in layer.exclude)


def _known_shape(dims: Iterable[int]) -> _Shape:
    return _Shape(tuple(int(dim) for dim in dims), True)


def _net_input_shapes(net: caffe_pb2.NetParameter) -> dict[str, _Shape]:
    shapes: dict[str, _Shape] = {}
    for index, name in enumerate(net.input):
        if index < len(net.input_shape):
            shapes[name] = _known_shape(net.input_shape[index].dim)
        elif len(net.input_dim) >= 4 * (index + 1):
            shapes[name] = _known_shape(net.input_dim[4 * index:4 * index + 4])
        else:
            shapes[name] = _UNKNOWN
    return shapes


def _top_shapes(layer: caffe_pb2.LayerParameter, bottoms: list[_Shape]) -> list[_Shape]:
    """The shapes of a layer's tops, as far as the prototxt fixes them."""
    first = bottoms[0] if bottoms else _UNKNOWN
    count = len(layer.top)
    if layer.type == "Input":
        shapes = layer.input_param.shape
        if len(shapes) == 1:
            return [_known_shape(shapes[0].dim)] * count
        if len(shapes) == count:
            return [_known_shape(shape.dim) for shape in shapes]
    elif layer.type in ("InnerProduct", "InnerProductApproxDropout"):
        axis, outputs = layer.inner_product_param.axis, layer.inner_product_param.num_output
        if first.rank_known:
            start = axis + len(first.dims) if axis < 0 else axis
            if 0 <= start < len(first.dims):
                return [_Shape(first.dims[:start] + (outputs,), True)] * count
        elif axis >= 0:
            return [_Shape((None,) * axis + (outputs,), True)] * count
        else:
            return [_Shape((outputs,), False)] * count
    elif layer.type in ("LSTM", "LSTMApproxDropout"):
        leading = first.dims[:2] if first.rank_known and len(first.dims) >= 2 else (None, None)
        hidden = _Shape(tuple(leading) + (layer.recurrent_param.num_output,), True)
        return [hidden] + [_UNKNOWN] * (count - 1)
    elif layer.type == "Embed":
        return [_Shape(first.dims + (layer.embed_param.num_output,), first.rank_known)] * count
    elif layer.type == "Flatten" and first.rank_known:
        rank = len(first.dims)
        start = layer.flatten_param.axis % rank if rank else 0
        end = layer.flatten_param.end_axis % rank if rank else 0
        merged = first.dims[start:end + 1]
        size = None if any(dim is None for dim in merged) else math.prod(merged)  # type: ignore
        return [_Shape(first.dims[:start] + (size,) + first.dims[end + 1:], True)] * count
    elif layer.type in _SHAPE_PRESERVING_TYPES:
        return [first] * count
    return [_UNKNOWN] * count


@dataclass(frozen=True)
class LayerPlan:
    """What the generator will write for one approximate-dropout layer."""

    layer_name: str
    layer_type: str
    pattern: int
    drop_side: int
    ratio: float
    max_period: int
    width: Optional[int]
    tile_size: Optional[int]
    path: str


def _drop_side(layer: caffe_pb2.LayerParameter) -> int:
    param = layer.approx_dropout_param
    if layer.type == "LSTMApproxDropout":
        # The LSTM drops its input connections; an unset side means INPUT there.
        if param.HasField("drop_side") and param.drop_side == _ApproxParam.OUTPUT \
                and param.pattern == _ApproxParam.ROW:
            raise ScheduleError(f"layer '{layer.name}' (LSTMApproxDropout) drops only its input "
                                "connections: use drop_side: INPUT or pattern: TILE")
        return _ApproxParam.INPUT
    return param.drop_side


def _layer_width(layer: caffe_pb2.LayerParameter, side: int, bottom: _Producer) -> Optional[int]:
    """Units (ROW) or tiles (TILE) the layer's pattern ranges over; None if not inferable."""
    param = layer.approx_dropout_param
    if layer.type == "LSTMApproxDropout":
        rows, inputs = 4 * layer.recurrent_param.num_output, bottom.shape.feature_width(2)
        outputs_field = "recurrent_param.num_output"
    else:
        rows = layer.inner_product_param.num_output
        inputs = bottom.shape.feature_width(layer.inner_product_param.axis)
        outputs_field = "inner_product_param.num_output"
    if rows == 0:
        raise ScheduleError(f"layer '{layer.name}' ({layer.type}) has no {outputs_field}")
    if param.pattern == _ApproxParam.ROW and side == _ApproxParam.OUTPUT:
        return rows
    if inputs is None:
        return None
    if param.pattern == _ApproxParam.ROW:
        return inputs
    if param.tile_size == 0:
        raise ScheduleError(f"layer '{layer.name}' ({layer.type}) has tile_size 0")
    return math.ceil(rows / param.tile_size) * math.ceil(inputs / param.tile_size)


def _resolve_path(schedule_file: str, out_dir: Optional[str]) -> str:
    if os.path.isabs(schedule_file):
        return schedule_file
    # The C++ layers open schedule_file relative to the working directory, like every other
    # path in a prototxt; --out-dir lets a caller write the files somewhere else on purpose.
    return os.path.join(out_dir, schedule_file) if out_dir is not None else schedule_file


def _read_net(prototxt_path: str) -> caffe_pb2.NetParameter:
    try:
        with open(prototxt_path, "r", encoding="utf-8") as stream:
            text = stream.read()
    except OSError as error:
        raise ScheduleError(f"cannot read net '{prototxt_path}': {error.strerror}") from error
    net = caffe_pb2.NetParameter()
    try:
        text_format.Parse(text, net)
    except text_format.ParseError as error:
        raise ScheduleError(f"cannot parse net '{prototxt_path}': {error}") from error
    return net


def plan_net(prototxt_path: str, out_dir: Optional[str] = None,
             max_period: Optional[int] = None) -> list[LayerPlan]:
    """One LayerPlan per approximate-dropout layer of the TRAIN net, in prototxt order.

    max_period caps every layer's N (default: default_max_period of the layer's ratio, capped by
    its width).  A width the prototxt does not fix (e.g. behind a Data layer) does not cap N;
    the layer checks N against its real width when it loads the schedule.
    """
    net = _read_net(prototxt_path)
    state = caffe_pb2.NetState(phase=caffe_pb2.TRAIN, level=net.state.level,
                               stage=list(net.state.stage))
    producers = {name: _Producer(shape, "", "input")
                 for name, shape in _net_input_shapes(net).items()}
    plans: list[LayerPlan] = []
    for layer in net.layer:
        if not _in_state(layer, state):
            continue
        bottoms = [producers.get(blob) for blob in layer.bottom]
        if layer.type in APPROX_LAYER_TYPES:
            plans.append(_plan_layer(layer, bottoms[0] if bottoms else None, out_dir,
                                     max_period))
        shapes = _top_shapes(layer, [b.shape if b else _UNKNOWN for b in bottoms])
        for top, shape in zip(layer.top, shapes):
            producers[top] = _Producer(shape, layer.name, layer.type)
    if not plans:
        raise ScheduleError(f"net '{prototxt_path}' has no {' or '.join(APPROX_LAYER_TYPES)} "
                            "layer in the TRAIN phase")
    return plans


def _plan_layer(layer: caffe_pb2.LayerParameter, producer: Optional[_Producer],
                out_dir: Optional[str], max_period: Optional[int]) -> LayerPlan:
    param = layer.approx_dropout_param
    if not param.schedule_file:
        raise ScheduleError(f"layer '{layer.name}' ({layer.type}) has no "
                            "approx_dropout_param.schedule_file to write its schedule to")
    side = _drop_side(layer)
    width = _layer_width(layer, side, producer or _Producer(_UNKNOWN, "", ""))
    cap = default_max_period(param.dropout_ratio) if max_period is None else max_period
    return LayerPlan(
        layer_name=layer.name, layer_type=layer.type, pattern=param.pattern, drop_side=side,
        ratio=param.dropout_ratio, max_period=cap if width is None else min(cap, width),
        width=width, tile_size=param.tile_size if param.pattern == _ApproxParam.TILE else None,
        path=_resolve_path(param.schedule_file, out_dir))


def schedules_for_net(prototxt_path: str, iterations: int, out_dir: Optional[str] = None, *,
                      max_period: Optional[int] = None, seed: int = DEFAULT_SEED,
                      lambda1: float = DEFAULT_LAMBDA1, lambda2: Optional[float] = None,
                      lr: float = DEFAULT_LEARNING_RATE, threshold: float = DEFAULT_THRESHOLD,
                      max_steps: int = DEFAULT_MAX_STEPS,
                      echo: Optional[Callable[[str], None]] = print
                      ) -> list[tuple[LayerPlan, caffe_pb2.DropoutSchedule]]:
    """Write the schedule of every approximate-dropout layer of a net prototxt.

    Relative schedule_file paths resolve against out_dir if given, else the current directory.
    Each layer's seed is layer_seed(seed, layer name).  Every layer is planned and searched
    before any file is written, so a bad layer leaves no partial output.  echo (print by
    default, None for silence) receives the per-layer summary.
    """
    plans = plan_net(prototxt_path, out_dir, max_period)
    results = []
    for plan in plans:
        try:
            schedule = make_schedule(
                plan.ratio, plan.max_period, iterations,
                pattern=plan.pattern, seed=layer_seed(seed, plan.layer_name), lambda1=lambda1,
                lambda2=lambda2, lr=lr, threshold=threshold, max_steps=max_steps,
                width=plan.width, tile_size=plan.tile_size, layer_name=plan.layer_name)
        except ScheduleError as error:
            raise ScheduleError(f"layer '{plan.layer_name}' ({plan.layer_type}): {error}") \
                from error
        results.append((plan, schedule))
    for plan, schedule in results:
        write_schedule(schedule, plan.path)
        if echo is not None:
            side = _ApproxParam.Side.Name(plan.drop_side)
            echo(f"{format_summary(schedule)}\n  layer           {plan.layer_type}, "
                 f"drop side {side}\n  written to      {plan.path}")
    return results


# ---------------------------------------------------------------------------------------------
# Command line.

def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1), got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _seed(text: str) -> int:
    value = int(text)
    if not 0 <= value < 2 ** 64:
        raise argparse.ArgumentTypeError(f"must lie in [0, 2^64), got {text}")
    return value


def build_parser(prog: str = "python -m caffe.approx_dropout") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Generate Approximate Random Dropout pattern schedules (Song et al., "
                    "Algorithm 1): search a distribution over periods 1..N whose dropout rate "
                    "matches the target with high entropy, unfold it into a shuffled "
                    "(period, offset) sequence and write a binary DropoutSchedule.",
        epilog="Modes: --ratio R --iterations T [--out FILE] for one schedule; "
               "--net PROTOTXT --iterations T [--out-dir DIR] for every InnerProductApproxDropout "
               "and LSTMApproxDropout layer of a net; --show FILE to summarise a schedule.")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--ratio", type=_probability, help="target dropout rate p in (0, 1)")
    mode.add_argument("--net", metavar="PROTOTXT",
                      help="net prototxt: write a schedule for each approximate-dropout layer")
    mode.add_argument("--show", metavar="FILE", help="summarise an existing schedule file")
    parser.add_argument("--iterations", type=_positive_int,
                        help="schedule length (normally the solver's max_iter)")
    parser.add_argument("--pattern", choices=("row", "tile"), default="row",
                        help="pattern kind recorded in the schedule (default row)")
    parser.add_argument("--max-period", type=_positive_int, default=None,
                        help="largest period N (default ceil(2/(1-ratio)), at most "
                             f"{MAX_DEFAULT_PERIOD}, capped by the width); with --net it caps "
                             "every layer")
    parser.add_argument("--width", type=_positive_int, default=None,
                        help="units (row) or tiles (tile) the pattern ranges over; caps N")
    parser.add_argument("--tile-size", type=_positive_int, default=None,
                        help="tile size to record in a tile schedule")
    parser.add_argument("--layer-name", default=None, help="layer name to record")
    parser.add_argument("--lambda1", type=float, default=DEFAULT_LAMBDA1,
                        help=f"weight of the rate error (default {DEFAULT_LAMBDA1})")
    parser.add_argument("--lambda2", type=float, default=None,
                        help="weight of the negative entropy (default 1 - lambda1)")
    parser.add_argument("--lr", type=float, default=DEFAULT_LEARNING_RATE,
                        help=f"gradient-descent step size (default {DEFAULT_LEARNING_RATE:g})")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help=f"stop when |delta loss| < this (default {DEFAULT_THRESHOLD:g})")
    parser.add_argument("--max-steps", type=_positive_int, default=DEFAULT_MAX_STEPS,
                        help=f"gradient-descent step limit (default {DEFAULT_MAX_STEPS})")
    parser.add_argument("--seed", type=_seed, default=DEFAULT_SEED,
                        help=f"shuffle/offset seed (default {DEFAULT_SEED}); with --net each "
                             "layer uses a seed derived from this and its name")
    parser.add_argument("--out", metavar="FILE",
                        help="schedule file to write (--ratio mode; omit to only print)")
    parser.add_argument("--out-dir", metavar="DIR",
                        help="folder for relative schedule_file paths (--net mode; default: the "
                             "current directory, where the layers look for them)")
    return parser


def _check_mode_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.show is None and args.iterations is None:
        parser.error("--iterations is required with --ratio and --net")
    single_only = {"--out": args.out, "--width": args.width, "--tile-size": args.tile_size,
                   "--layer-name": args.layer_name}
    if args.net is not None:
        used = [flag for flag, value in single_only.items() if value is not None]
        if args.pattern != "row" or used:
            parser.error(f"{', '.join(used) or '--pattern'} cannot be used with --net (each "
                         "layer's pattern, ratio and width come from the prototxt)")
    elif args.out_dir is not None:
        parser.error("--out-dir is used only with --net")


def _run_single(args: argparse.Namespace) -> None:
    max_period = default_max_period(args.ratio) if args.max_period is None else args.max_period
    schedule = make_schedule(
        args.ratio, max_period, args.iterations, pattern=args.pattern, seed=args.seed,
        lambda1=args.lambda1, lambda2=args.lambda2, lr=args.lr, threshold=args.threshold,
        max_steps=args.max_steps, width=args.width, tile_size=args.tile_size,
        layer_name=args.layer_name)
    print(format_summary(schedule))
    if args.out is not None:
        write_schedule(schedule, args.out)
        print(f"  written to      {args.out}")


def main(argv: Optional[Sequence[str]] = None,
         prog: str = "python -m caffe.approx_dropout") -> int:
    """Command-line entry point; returns the exit status (1 on a ScheduleError)."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    _check_mode_options(parser, args)
    try:
        if args.show is not None:
            print(format_summary(read_schedule(args.show)))
        elif args.net is not None:
            schedules_for_net(args.net, args.iterations, args.out_dir,
                              max_period=args.max_period, seed=args.seed, lambda1=args.lambda1,
                              lambda2=args.lambda2, lr=args.lr, threshold=args.threshold,
                              max_steps=args.max_steps)
        else:
            _run_single(args)
    except ScheduleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
