"""Net mode: one schedule per approximate-dropout layer of a net prototxt.

Every InnerProductApproxDropout / LSTMApproxDropout layer of the TRAIN phase (at the level and
stages of the net's own ``state``) takes its pattern, drop side, dropout_ratio, tile_size,
tile_order, scale and schedule_file from approx_dropout_param (a TILE schedule records the
tile order; a PERIOD layer is warned about when its largest period would scale activations beyond
PERIOD_SCALE_LIMIT).  The width its patterns range over (num_output for ROW
on the OUTPUT side, the input width K for ROW on the INPUT side, ceil(M/ts) * ceil(K/ts) tiles
for TILE with M = 4H for the LSTM's W_xc) is read from the layer itself: the C++ core builds the
TRAIN net without reading any schedule (``caffe._caffe.plan_approx_layers``).  When the net
cannot be built yet (e.g. a Data layer whose database does not exist), only the widths that need
no input shape are known; the others do not cap N, and the layers check N against their real
width when they load the schedule.  An unset drop_side means INPUT for LSTMApproxDropout, which
never drops its outputs.  Relative schedule_file paths resolve against out_dir, else the current
directory (as Caffe resolves every path in a prototxt, and as the C++ layers open them).  Each
layer's seed is derived from the base seed and its name, so layers do not share a drop sequence.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Optional

from caffe._caffe import CaffeError, plan_approx_layers
from caffe.proto import caffe_pb2

from .algorithm import (DEFAULT_LAMBDA1, DEFAULT_LEARNING_RATE, DEFAULT_MAX_STEPS, DEFAULT_SEED,
                        DEFAULT_THRESHOLD, ScheduleError, default_max_period, layer_seed,
                        make_schedule, period_band)
from .schedule_io import format_summary, write_schedule

APPROX_LAYER_TYPES = ("InnerProductApproxDropout", "LSTMApproxDropout")

_ApproxParam = caffe_pb2.ApproxDropoutParameter


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
    scale: int = _ApproxParam.GLOBAL
    min_period: int = 1
    tile_order: int = _ApproxParam.STAGGERED
    rotate_offset: bool = False


def _resolve_path(schedule_file: str, out_dir: Optional[str]) -> str:
    if os.path.isabs(schedule_file):
        return schedule_file
    # The C++ layers open schedule_file relative to the working directory, like every other
    # path in a prototxt; --out-dir lets a caller write the files somewhere else on purpose.
    return os.path.join(out_dir, schedule_file) if out_dir is not None else schedule_file


def _approx_layers(prototxt_path: str) -> list[dict[str, Any]]:
    """The core's plan of the net's approximate-dropout layers (see plan_approx_layers)."""
    try:
        return plan_approx_layers(prototxt_path)
    except CaffeError as error:
        raise ScheduleError(str(error)) from error


def _plan_layer(layer: dict[str, Any], out_dir: Optional[str],
                max_period: Optional[int], min_period: int) -> LayerPlan:
    param = _ApproxParam.FromString(layer["param"])
    if not param.schedule_file:
        raise ScheduleError(f"layer '{layer['name']}' ({layer['type']}) has no "
                            "approx_dropout_param.schedule_file to write its schedule to")
    width = layer["width"]
    cap = default_max_period(param.dropout_ratio) if max_period is None else max_period
    return LayerPlan(
        layer_name=layer["name"], layer_type=layer["type"], pattern=param.pattern,
        drop_side=param.drop_side, ratio=param.dropout_ratio,
        max_period=cap if width is None else min(cap, width), width=width,
        tile_size=param.tile_size if param.pattern == _ApproxParam.TILE else None,
        path=_resolve_path(param.schedule_file, out_dir), scale=param.scale,
        tile_order=param.tile_order, min_period=min_period, rotate_offset=param.rotate_offset)


def _warn_unknown_widths(prototxt_path: str, layers: list[dict[str, Any]]) -> None:
    unknown = [layer for layer in layers if layer["width"] is None]
    if not unknown:
        return
    reason = unknown[0]["unknown_width_reason"].splitlines()[0]
    names = ", ".join(f"'{layer['name']}'" for layer in unknown)
    warnings.warn(f"cannot build the TRAIN net of '{prototxt_path}' to measure layer widths "
                  f"({reason}); unknown widths ({names}) do not cap N: each layer checks N "
                  "against its width when it loads the schedule", RuntimeWarning, stacklevel=3)


def plan_net(prototxt_path: str, out_dir: Optional[str] = None,
             max_period: Optional[int] = None, min_period: int = 1) -> list[LayerPlan]:
    """One LayerPlan per approximate-dropout layer of the TRAIN net, in prototxt order.

    max_period caps every layer's N (default: default_max_period of the layer's ratio, capped by
    its width); min_period is every layer's smallest period (default 1).  A width unknown because
    the net cannot be built yet (e.g. behind a Data layer whose database is missing) does not cap
    N, and a RuntimeWarning says why; the layer checks N against its real width when it loads the
    schedule.
    """
    layers = _approx_layers(prototxt_path)
    if not layers:
        raise ScheduleError(f"net '{prototxt_path}' has no {' or '.join(APPROX_LAYER_TYPES)} "
                            "layer in the TRAIN phase")
    plans = [_plan_layer(layer, out_dir, max_period, min_period) for layer in layers]
    _warn_unknown_widths(prototxt_path, layers)
    return plans


def _layer_schedule(plan: LayerPlan, iterations: int, seed: int,
                    search: dict[str, Any]) -> caffe_pb2.DropoutSchedule:
    try:
        return make_schedule(
            plan.ratio, plan.max_period, iterations, pattern=plan.pattern,
            seed=layer_seed(seed, plan.layer_name), width=plan.width, tile_size=plan.tile_size,
            layer_name=plan.layer_name, tile_order=plan.tile_order, scale=plan.scale,
            min_period=plan.min_period, **search)
    except ScheduleError as error:
        raise ScheduleError(f"layer '{plan.layer_name}' ({plan.layer_type}): {error}") from error


def recurrent_pattern_advice(plans: list[LayerPlan], periods_chosen: bool = False
                           ) -> Optional[str]:
    """The advice for a net with LSTMApproxDropout layers whose schedules use the paper's wide
    period range (unless the caller chose the periods), or whose ROW input layers keep one offset
    for every token, or None.  One
    pattern covers all T·N tokens of an LSTM's iteration: the swing of the kept fraction 1/dp
    between iterations reaches every token at once, and every token drops the same units.  On the
    PTB LSTMs the band around 1/(1-p) with rotate_offset trained as well as standard dropout
    (docs/reproduction.md)."""
    if not any(plan.layer_type == "LSTMApproxDropout" for plan in plans):
        return None
    bands = {}
    for plan in plans:
        low, high = period_band(plan.ratio)
        if not periods_chosen and (plan.min_period < low or plan.max_period > high):
            bands[plan.ratio] = (low, min(high, plan.max_period))
    unrotated = [plan.layer_name for plan in plans
                 if plan.pattern == _ApproxParam.ROW and not plan.rotate_offset and
                 (plan.layer_type == "LSTMApproxDropout" or plan.drop_side == _ApproxParam.INPUT)]
    advice = [f"p = {ratio:g}: --min-period {low} --max-period {high}"
              for ratio, (low, high) in sorted(bands.items())]
    if unrotated:
        advice.append("approx_dropout_param { rotate_offset: true row_layout: BLOCKS } on "
                      + ", ".join(unrotated))
    if not advice:
        return None
    return ("this net has LSTMApproxDropout layers: one pattern covers every token of an "
            "iteration, so periods 1..N swing the kept fraction 1/dp for all tokens at once, and "
            "without rotate_offset all tokens drop the same units; on the PTB LSTMs the periods "
            "around 1/(1 - p) with rotated offsets trained as well as standard dropout "
            f"(docs/reproduction.md, 'Why ROW collapsed on the small net'): {'; '.join(advice)}")


def _layer_report(plan: LayerPlan, schedule: caffe_pb2.DropoutSchedule) -> str:
    side = _ApproxParam.Side.Name(plan.drop_side)
    return (f"{format_summary(schedule)}\n  layer           {plan.layer_type}, "
            f"drop side {side}\n  written to      {plan.path}")


def schedules_for_net(prototxt_path: str, iterations: int, out_dir: Optional[str] = None, *,
                      max_period: Optional[int] = None, min_period: int = 1,
                      seed: int = DEFAULT_SEED,
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
    search = dict(lambda1=lambda1, lambda2=lambda2, lr=lr, threshold=threshold,
                  max_steps=max_steps)
    plans = plan_net(prototxt_path, out_dir, max_period, min_period)
    results = [(plan, _layer_schedule(plan, iterations, seed, search)) for plan in plans]
    advice = recurrent_pattern_advice(plans, periods_chosen=(min_period, max_period) != (1, None))
    if advice is not None:
        warnings.warn(advice, RuntimeWarning, stacklevel=2)
    for plan, schedule in results:
        write_schedule(schedule, plan.path)
        if echo is not None:
            echo(_layer_report(plan, schedule))
    return results
