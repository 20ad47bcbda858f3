"""The paper's Algorithm 1 (Song et al., arXiv 1805.08939): search, counts, unfolding, schedules.

An approximate-dropout layer keeps unit j (ROW) iff ``j mod dp == b`` for the iteration's
pattern (period dp, offset b), and tile (r, c) (TILE) iff ``(r + c) mod dp == b`` (tile_order
STAGGERED) or ``(r C + c) mod dp == b`` (ROW_MAJOR, over C tile columns).  Period i drops a fraction (i-1)/i, so the mix of
periods sets the dropout rate and the number of distinct patterns sets how many different
sub-models training visits.  Algorithm 1:

    v in R^N,  d = softmax(v),  p_u = [(i-1)/i] for i = 1..N
    E_p  = (d . p_u - p)^2               (rate error)
    E_n  = (1/N) sum_i d_i log d_i       (negative entropy, scaled by 1/N)
    loss = lambda1 E_p + lambda2 E_n,    lambda1 + lambda2 = 1

plain gradient descent on v (analytic gradient through the softmax) from v = 0 until the loss
changes by less than ``threshold`` in one step (or ``max_steps`` is reached).  The iteration
budget is then split as counts_i = d_i * iterations (largest-remainder rounding, so the counts
sum exactly), unfolded into a sequence of periods, shuffled with a seeded numpy Generator, and
each iteration's offset is drawn uniformly from [0, period).  The result is a ``DropoutSchedule``
protobuf that the layers index by solver iteration.

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
  layer width (units for ROW, tiles for TILE); (N-1)/N >= (1+p)/2 keeps every target reachable.
  Under scale: PERIOD a kept unit is multiplied by its iteration's period, so N bounds that
  factor at twice standard dropout's 1/(1 - p); beyond PERIOD_SCALE_LIMIT = 8 the generator
  warns.  Under scale: GLOBAL (the layers' default) the factor is 1/(1 - p) whatever N, and
  training no longer diverges at large N, but accuracy still falls as N grows (measured on the
  MNIST MLP at 1,500 iterations, docs/reproduction.md), so the default N is the same for both.
* ``min_period = 1``: the paper searches periods 1..N.  A larger smallest period m narrows the
  kept fraction 1/dp to [1/N, 1/m] in every iteration (p = 0.7 with m = 3, N = 4: 25-33% kept
  instead of 14-100%).  On the PTB LSTMs, whose ROW masks are shared by all tokens of an
  iteration, that narrow band trained much better early on (docs/reproduction.md, "Why ROW
  collapsed"); the MNIST MLPs did not need it, so the default stays the paper's.

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
p every iteration.  Under scale: PERIOD, past about 2/(1-p) the scaling destabilises SGD
(the MNIST MLP diverged at N = 16 and 64), so the default stops there; under scale: GLOBAL large
N trains, but less accurately than the default N after the same number of iterations.

The search and unfolding use only numpy; make_schedule packs a ``caffe_pb2.DropoutSchedule``.
"""
from __future__ import annotations

import math
import warnings
import zlib
from typing import Optional, Union

import numpy as np

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
# The generator warns when a schedule's largest period would scale kept activations by more than
# this under scale: PERIOD (the MNIST MLP diverged at N = 16 and 64 with PERIOD scaling).
PERIOD_SCALE_LIMIT = 8

_ApproxParam = caffe_pb2.ApproxDropoutParameter


class ScheduleError(ValueError):
    """A user error: bad generator settings, an unreadable schedule, or an unusable net."""


def default_max_period(ratio: float) -> int:
    """N = ceil(2 / (1 - ratio)), capped at MAX_DEFAULT_PERIOD, for either scale.

    Under scale: PERIOD a kept unit is scaled by its iteration's period dp, so N bounds the
    activation scaling at twice standard dropout's mean scaling 1/(1 - p) — and
    (N-1)/N >= (1+p)/2 > p, so the target is always reachable.  Under GLOBAL, N = 16 and 64
    trained but lost 0.4 and 1.4 points against this N on the MNIST MLP (p = 0.5, 1,500
    iterations), so the default is the same.  A large N raises the entropy, but under PERIOD it
    makes SGD unstable: with N = 16 at p = 0.5, 38% of iterations drop nothing and the rest
    scale the survivors by up to 16x per layer; the MNIST MLP (lr 0.01, momentum 0.9) then
    reached a test loss of 14.8 after 60 iterations where standard dropout had 0.51, while N = 4
    trained like standard dropout.
    """
    if not 0.0 < ratio < 1.0:
        raise ScheduleError(f"dropout ratio {ratio} must be in (0, 1)")
    return min(MAX_DEFAULT_PERIOD, max(2, math.ceil(2.0 / (1.0 - ratio) - 1e-9)))


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


def check_ratio(ratio: float, max_period: int, min_period: int = 1) -> None:
    """Raise ScheduleError unless 0 < ratio < 1 and periods min_period..max_period reach it."""
    if not (0.0 < ratio < 1.0):
        raise ScheduleError(f"dropout ratio must lie in (0, 1), got {ratio}")
    if max_period < 1:
        raise ScheduleError(f"max period must be at least 1, got {max_period}")
    if not 1 <= min_period <= max_period:
        raise ScheduleError(f"min period must lie in [1, max period {max_period}], got "
                            f"{min_period}")
    largest = (max_period - 1) / max_period
    if ratio > largest + 1e-9:
        needed = math.ceil(1.0 / (1.0 - ratio) - 1e-9)
        raise ScheduleError(
            f"dropout ratio {ratio} is not achievable with max period {max_period}: the largest "
            f"rate periods 1..N reach is (N-1)/N = {largest:.4f}; use a max period of at least "
            f"{needed} (and a layer at least that wide)")
    smallest = (min_period - 1) / min_period
    if ratio < smallest - 1e-9:
        allowed = math.floor(1.0 / (1.0 - ratio) + 1e-9)
        raise ScheduleError(
            f"dropout ratio {ratio} is not achievable with min period {min_period}: the smallest "
            f"rate periods m..N reach is (m-1)/m = {smallest:.4f}; use a min period of at most "
            f"{allowed}")


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


def _loss_and_gradient(d: np.ndarray, ratio: float, p_u: np.ndarray, lambda1: float,
                       lambda2: float) -> tuple[float, np.ndarray]:
    """The loss at d and its gradient with respect to d."""
    max_period = d.size
    rate_error = float(d @ p_u) - ratio
    log_d = np.log(np.maximum(d, np.finfo(np.float64).tiny))
    loss = lambda1 * rate_error ** 2 + lambda2 * float(d @ log_d) / max_period
    # The "+1" of d(d log d)/dd is constant across i and cancels in the softmax Jacobian.
    return loss, 2.0 * lambda1 * rate_error * p_u + (lambda2 / max_period) * log_d


def search_distribution(ratio: float, max_period: Optional[int] = None,
                        lambda1: float = DEFAULT_LAMBDA1, lambda2: Optional[float] = None,
                        lr: float = DEFAULT_LEARNING_RATE, threshold: float = DEFAULT_THRESHOLD,
                        max_steps: int = DEFAULT_MAX_STEPS, min_period: int = 1) -> np.ndarray:
    """Algorithm 1: the distribution d over periods 1..max_period for the target ratio.

    max_period defaults to default_max_period(ratio); lambda2 to 1 - lambda1.  Periods below
    min_period get no mass: the search runs over min_period..max_period only (N in the entropy
    term is their count), which narrows how much the kept fraction 1/dp varies between
    iterations.  Warns if max_steps pass before |delta loss| < threshold.
    """
    if max_period is None:
        max_period = default_max_period(ratio)
    check_ratio(ratio, max_period, min_period)
    lambda1, lambda2 = _resolve_lambdas(lambda1, lambda2)
    _check_positive("learning rate", lr)
    _check_positive("threshold", threshold)
    if max_steps < 1:
        raise ScheduleError(f"max steps must be at least 1, got {max_steps}")
    p_u = drop_rates(max_period)[min_period - 1:]
    v = np.zeros(p_u.size)
    previous_loss = math.inf
    for _ in range(max_steps):
        d = _softmax(v)
        loss, grad_d = _loss_and_gradient(d, ratio, p_u, lambda1, lambda2)
        if abs(previous_loss - loss) < threshold:
            break
        previous_loss = loss
        # Through the softmax Jacobian diag(d) - d d^T.
        v -= lr * d * (grad_d - d @ grad_d)
    else:
        warnings.warn(f"pattern search stopped after max_steps={max_steps} steps before "
                      f"|delta loss| fell below {threshold}", RuntimeWarning, stacklevel=2)
        d = _softmax(v)
    return np.concatenate([np.zeros(min_period - 1), d])


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
# Schedule messages.

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


def _capped_period(max_period: int, width: Optional[int]) -> int:
    if width is None:
        return max_period
    if width < 1:
        raise ScheduleError(f"width must be at least 1, got {width}")
    return min(max_period, width)


def _scale_value(scale: Union[str, int, None]) -> Optional[int]:
    if scale is None or isinstance(scale, int):
        return scale
    try:
        return _ApproxParam.Scale.Value(scale.upper())
    except ValueError:
        raise ScheduleError(f"unknown scale '{scale}': use global or period") from None


def _tile_order_value(order: Union[str, int]) -> int:
    if isinstance(order, int):
        return order
    try:
        return _ApproxParam.TileOrder.Value(order.upper().replace("-", "_"))
    except ValueError:
        raise ScheduleError(f"unknown tile order '{order}': use staggered or row-major") from None


def period_band(ratio: float) -> tuple[int, int]:
    """The smallest and largest periods whose kept fractions 1/dp bracket 1 - ratio:
    [floor(1/(1-p)), ceil(1/(1-p))], at least [1, 2] (p = 0.5: 2..2, p = 0.7: 3..4)."""
    middle = 1.0 / (1.0 - ratio)
    return max(1, math.floor(middle + 1e-9)), max(2, math.ceil(middle - 1e-9))


def period_scale_warning(largest_period: int, scale: Optional[int]) -> Optional[str]:
    """The warning for a schedule whose largest period exceeds PERIOD_SCALE_LIMIT, or None.

    scale is the layer's ApproxDropoutParameter.Scale value, None when unknown (a schedule
    generated for no particular layer): GLOBAL layers are never warned about.
    """
    if largest_period <= PERIOD_SCALE_LIMIT or scale == _ApproxParam.GLOBAL:
        return None
    who = "this layer (scale: PERIOD)" if scale == _ApproxParam.PERIOD else \
        "a layer with scale: PERIOD"
    return (f"the schedule's largest period is {largest_period}: {who} multiplies the kept "
            f"activations by up to {largest_period}x, beyond the {PERIOD_SCALE_LIMIT}x past which "
            "training diverged on the MNIST MLP; use scale: GLOBAL (constant 1/(1 - p)) or "
            f"--max-period {PERIOD_SCALE_LIMIT}")


def _warn_if_rate_missed(rate: float, ratio: float) -> None:
    if abs(rate - ratio) > RATE_TOLERANCE:
        warnings.warn(f"achieved rate {rate:.4f} misses the target {ratio} by more than "
                      f"{RATE_TOLERANCE}; raise lambda1 or max_period", RuntimeWarning,
                      stacklevel=3)


def make_schedule(ratio: float, max_period: int, iterations: int, *,
                  pattern: Union[str, int] = "row", seed: int = DEFAULT_SEED,
                  lambda1: float = DEFAULT_LAMBDA1, lambda2: Optional[float] = None,
                  lr: float = DEFAULT_LEARNING_RATE, threshold: float = DEFAULT_THRESHOLD,
                  max_steps: int = DEFAULT_MAX_STEPS, width: Optional[int] = None,
                  tile_size: Optional[int] = None, layer_name: Optional[str] = None,
                  tile_order: Union[str, int] = "staggered",
                  scale: Union[str, int, None] = None,
                  min_period: int = 1) -> caffe_pb2.DropoutSchedule:
    """Search, unfold and pack a DropoutSchedule.

    width is the number of units (ROW) or tiles (TILE) the pattern ranges over; when given it
    caps max_period (a period longer than the width would keep at most one unit).  A TILE
    schedule records tile_order.  scale is the layer's scaling (global, period, or None when
    unknown); a RuntimeWarning (period_scale_warning) says when the largest period used would
    scale activations beyond PERIOD_SCALE_LIMIT under PERIOD.  min_period leaves the periods
    below it out (see search_distribution); the distribution records it as zeros.
    """
    pattern_value = _pattern_value(pattern)
    order_value = _tile_order_value(tile_order)
    scale_value = _scale_value(scale)
    max_period = _capped_period(max_period, width)
    if not 0 <= seed < 2 ** 64:
        raise ScheduleError(f"seed must lie in [0, 2^64), got {seed}")
    lambda1, lambda2 = _resolve_lambdas(lambda1, lambda2)
    distribution = search_distribution(ratio, max_period, lambda1, lambda2, lr, threshold,
                                       max_steps, min_period)
    rate = achieved_rate(distribution)
    _warn_if_rate_missed(rate, ratio)
    periods, offsets = unfold_schedule(distribution, iterations, seed)
    warning = period_scale_warning(int(periods.max()), scale_value)
    if warning is not None:
        warnings.warn(warning, RuntimeWarning, stacklevel=2)
    schedule = caffe_pb2.DropoutSchedule(
        pattern=pattern_value, target_ratio=ratio, max_period=max_period, seed=seed,
        lambda1=lambda1, lambda2=lambda2, learning_rate=lr, threshold=threshold,
        achieved_ratio=rate, width=width, tile_size=tile_size, layer_name=layer_name)
    if pattern_value == _ApproxParam.TILE:
        schedule.tile_order = order_value
    schedule.distribution.extend(distribution.astype(np.float32).tolist())
    schedule.period.extend(periods.tolist())
    schedule.offset.extend(offsets.tolist())
    return schedule
