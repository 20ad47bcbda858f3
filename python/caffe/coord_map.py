"""Coordinate maps between the tops of a NetSpec, for aligning and cropping feature maps (the
fully convolutional pattern: upsample with Deconvolution, then Crop to the input's size).

A map is a triple ``(axis, a, b)``: along each axis after ``axis`` (the spatial axes of an
N x C x H x W blob for axis 1), position x in one top lies at ``a * x + b`` in the other.
``a`` and ``b`` are numbers, or numpy arrays with one value per spatial axis when a layer
treats the axes differently (kernel_size=[3, 5]).  ``axis`` is None for a map that holds along
every axis (element-wise layers).

    n.score = L.Deconvolution(n.pool5_score, ...)
    n.cropped = crop(n.score, n.data)          # a Crop layer aligning score with data

Layers with a map: Convolution, Deconvolution, Pooling (not global), Crop, and the layers that
keep positions (element-wise ones, normalisation, Concat, Eltwise, Split, ...).  Any other layer
on the path between two tops raises UndefinedMapException.
"""
from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any, Optional, Union

import numpy as np
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from .net_spec import Function, Top, layers as L

Value = Union[Fraction, float, np.ndarray]  # one value, or one per spatial axis
CoordMap = tuple[Optional[int], Value, Value]

# Layers whose tops keep the positions of their (first) bottom.
POSITION_PRESERVING = frozenset({
    "AbsVal", "BatchNorm", "Bias", "BNLL", "Clip", "Concat", "Dropout", "Eltwise", "ELU", "Exp",
    "Log", "LRN", "MVN", "Power", "PReLU", "ReLU", "Scale", "Sigmoid", "Softmax", "Split",
    "Swish", "TanH", "Threshold",
})
# The parameter message that holds each mapped layer's settings when given as a dict.
_PARAM_FIELD = {"Convolution": "convolution_param", "Deconvolution": "convolution_param",
                "Pooling": "pooling_param", "Crop": "crop_param"}
_IDENTITY: CoordMap = (None, Fraction(1), Fraction(0))


class UndefinedMapException(RuntimeError):
    """A layer on the path between two tops has no coordinate map (InnerProduct, ...)."""


class AxisMismatchException(RuntimeError):
    """Two maps apply to different axes and cannot be composed."""


# ---- the maps of single layers ----

def _arguments(fn: Function) -> dict[str, Any]:
    """The layer's keyword arguments with those given inside its parameter message merged in."""
    merged = {key: value for key, value in fn.params.items()}
    nested = merged.pop(_PARAM_FIELD.get(fn.type_name, ""), None)
    if isinstance(nested, Message):
        nested = MessageToDict(nested, preserving_proto_field_name=True)
    if isinstance(nested, Mapping):
        merged.update(nested)
    return merged


def _exact(value: Any) -> Value:
    """A number as a Fraction; a list of one number as that number; a longer list as an array."""
    if isinstance(value, (list, tuple, np.ndarray)):
        values = [Fraction(item) for item in np.asarray(value).ravel().tolist()]
        return values[0] if len(values) == 1 else np.array(values, dtype=object)
    return Fraction(value)


def _spatial(args: Mapping[str, Any], name: str, short: str, default: int) -> Value:
    """A spatial setting given as `name` (one value or one per axis) or `short`_h / `short`_w."""
    if f"{short}_h" in args or f"{short}_w" in args:
        return _exact([args.get(f"{short}_h", default), args.get(f"{short}_w", default)])
    return _exact(args.get(name, default))


def _window_map(fn: Function) -> CoordMap:
    """Convolution and Pooling: top position y covers bottom positions s*y - pad .. s*y - pad +
    k - 1, whose centre is x = s*y - pad + (k - 1)/2."""
    args = _arguments(fn)
    if args.get("global_pooling"):
        raise UndefinedMapException(f"{fn.type_name} with global_pooling has no coordinate map")
    kernel = _spatial(args, "kernel_size", "kernel", 1)
    stride = _spatial(args, "stride", "stride", 1)
    pad = _spatial(args, "pad", "pad", 0)
    if fn.type_name != "Pooling":
        kernel = _exact(args.get("dilation", 1)) * (kernel - 1) + 1
    axis = int(args.get("axis", 1)) if fn.type_name != "Pooling" else 1
    centre = (kernel - 1) / Fraction(2) - pad
    if fn.type_name == "Deconvolution":  # the transpose: bottom y maps to top x
        return axis, stride, centre
    return axis, 1 / stride, -centre / stride


def _crop_map(fn: Function) -> CoordMap:
    """Crop: top position y is bottom position y + offset along the axes from `axis` on."""
    args = _arguments(fn)
    axis = int(args.get("axis", 2))
    return axis - 1, Fraction(1), -_exact(args.get("offset", 0))


def coord_map(fn: Function) -> CoordMap:
    """The map from a layer's bottoms to its tops: (axis, a, b) with top = a * bottom + b."""
    if fn.type_name in ("Convolution", "Deconvolution", "Pooling"):
        return _window_map(fn)
    if fn.type_name == "Crop":
        return _crop_map(fn)
    if fn.type_name in POSITION_PRESERVING:
        return _IDENTITY
    raise UndefinedMapException(f"a {fn.type_name} layer has no coordinate map (its outputs "
                                "are not positions of its inputs)")


# ---- algebra of maps ----

def _common_axis(first: Optional[int], second: Optional[int]) -> Optional[int]:
    if first is None or second is None or first == second:
        return second if first is None else first
    raise AxisMismatchException(f"cannot compose a map along the axes after {first} with one "
                                f"along the axes after {second}")


def compose(base_map: CoordMap, next_map: CoordMap) -> CoordMap:
    """The map applying base_map, then next_map."""
    axis1, a1, b1 = base_map
    axis2, a2, b2 = next_map
    return _common_axis(axis1, axis2), a2 * a1, a2 * b1 + b2


def inverse(coord_map: CoordMap) -> CoordMap:
    """The map going the other way."""
    axis, a, b = coord_map
    return axis, 1 / a, -b / a


# ---- maps between tops ----

def _spatial_parent(top: Top) -> Optional[Top]:
    """The bottom whose positions `top` follows: the bottom of the same index for layers with as
    many bottoms as tops, else the first bottom; None for a top without bottoms."""
    fn = top.fn
    if not fn.inputs:
        return None
    return fn.inputs[top.index] if len(fn.inputs) == len(fn.tops) else fn.inputs[0]


def _lineage(top: Top) -> list[Top]:
    """`top`, its spatial parent, the parent's parent, ... up to a top without bottoms."""
    chain = [top]
    parent = _spatial_parent(top)
    while parent is not None:
        chain.append(parent)
        parent = _spatial_parent(parent)
    return chain


def _map_down(chain: list[Top]) -> CoordMap:
    """The map from the last top of `chain` (an ancestor) down to its first."""
    result = _IDENTITY
    for top in reversed(chain[:-1]):
        result = compose(result, coord_map(top.fn))
    return result


def _exact_map_from_to(top_from: Top, top_to: Top) -> CoordMap:
    from_chain = _lineage(top_from)
    to_chain = _lineage(top_to)
    to_positions = {id(top): index for index, top in enumerate(to_chain)}
    for from_index, ancestor in enumerate(from_chain):
        to_index = to_positions.get(id(ancestor))
        if to_index is not None:
            from_map = _map_down(from_chain[:from_index + 1])
            to_map = _map_down(to_chain[:to_index + 1])
            return compose(inverse(from_map), to_map)
    raise RuntimeError(f"no coordinate map between {top_from} and {top_to}: they share no "
                       "ancestor along the first bottoms of their layers")


def _as_float(value: Value) -> Union[float, np.ndarray]:
    return value.astype(float) if isinstance(value, np.ndarray) else float(value)


def coord_map_from_to(top_from: Top, top_to: Top) -> tuple[Optional[int], Any, Any]:
    """(axis, a, b) such that position x in top_from lies at a * x + b in top_to.

    The tops are followed up to their first common ancestor (through the first bottom of each
    layer, or the bottom of the same index), and the map of the from branch is inverted.
    Raises UndefinedMapException for a layer without a map on the way, RuntimeError when the
    tops have no common ancestor.
    """
    axis, a, b = _exact_map_from_to(top_from, top_to)
    return axis, _as_float(a), _as_float(b)


def crop(top_from: Top, top_to: Top) -> Top:
    """A Crop layer cutting top_from to the extent of top_to, aligned by their coordinate map.

    AssertionError when they cannot be aligned by cropping: a different scale (a != 1), a
    fractional shift, or top_from starting inside top_to (it would need a negative offset).
    """
    axis, a, b = _exact_map_from_to(top_from, top_to)
    if not np.all(a == 1):
        raise AssertionError(f"cannot crop {top_from} to {top_to}: their scales differ "
                             f"(a = {_as_float(a)})")
    shifts = np.atleast_1d(np.asarray(b, dtype=object))
    if not all(shift.denominator == 1 for shift in shifts):
        raise AssertionError(f"cannot crop {top_from} to {top_to}: they are shifted by a "
                             f"fraction of a position (b = {_as_float(b)})")
    if not all(shift <= 0 for shift in shifts):
        raise AssertionError(f"cannot crop {top_from} to {top_to}: it would need a negative "
                             f"offset (b = {_as_float(b)})")
    crop_axis = 2 if axis is None else axis + 1
    offsets = [int(-shift) for shift in shifts]
    return L.Crop(top_from, top_to, crop_param=dict(axis=crop_axis, offset=offsets))
