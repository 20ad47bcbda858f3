"""``Net.forward_all`` / ``Net.forward_backward_all``: run arrays of any length through a net
one batch at a time (the batch size is the first dimension of the net's first input blob).

    probs = net.forward_all(data=images)["prob"]     # images: (N, C, H, W), any N

The last batch is padded with zeros and the padding is dropped from the results.  An output
whose first dimension is the batch size is concatenated over the batches (and trimmed to N);
any other output (a scalar loss, say) is stacked, one entry per batch.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

Arrays = dict[str, np.ndarray]


def _items_of(arrays: Mapping[str, Any]) -> tuple[Arrays, int]:
    """The arrays as numpy arrays and their common number of items."""
    converted = {name: np.asarray(values) for name, values in arrays.items()}
    counts = {name: len(values) for name, values in converted.items()}
    if len(set(counts.values())) > 1:
        raise ValueError(f"the arrays given hold different numbers of items: {counts}")
    return converted, next(iter(counts.values()), 0)


def _batch_size(net: Any) -> int:
    if not net.inputs:
        raise ValueError("forward_all needs a net with input blobs (Input layers) to batch over")
    return int(net.blobs[net.inputs[0]].shape[0])


def _batches(arrays: Arrays, count: int, batch_size: int) -> Iterator[Arrays]:
    """Slices of batch_size items; the last one padded with zeros."""
    for start in range(0, count, batch_size):
        batch = {}
        for name, values in arrays.items():
            chunk = values[start:start + batch_size]
            if len(chunk) < batch_size:
                padding = np.zeros((batch_size - len(chunk),) + chunk.shape[1:], chunk.dtype)
                chunk = np.concatenate([chunk, padding])
            batch[name] = chunk
        yield batch


def _collect(results: Iterable[Arrays], count: int, batch_size: int) -> Arrays:
    """Per name: the batch results joined along the item axis (trimmed to count), or stacked
    when a result is not per item."""
    parts: dict[str, list[np.ndarray]] = {}
    for result in results:
        for name, values in result.items():
            parts.setdefault(name, []).append(values)
    joined = {}
    for name, values in parts.items():
        if all(value.ndim > 0 and value.shape[0] == batch_size for value in values):
            joined[name] = np.concatenate(values)[:count]
        else:
            joined[name] = np.stack(values)
    return joined


def _split_by_role(net: Any, arrays: Mapping[str, Any], roles: Mapping[str, list[str]]
                   ) -> list[Arrays]:
    """The arrays divided by which of the roles' blob lists names them."""
    groups: list[Arrays] = [{} for _ in roles]
    for name, values in arrays.items():
        for group, members in zip(groups, roles.values()):
            if name in members:
                group[name] = values
                break
        else:
            wanted = "; ".join(f"{role}: {members}" for role, members in roles.items())
            raise ValueError(f"'{name}' is not a blob this call can set ({wanted})")
    return groups


def forward_all(net: Any, blobs: list[str] | None = None, **inputs: Any) -> Arrays:
    """Forward passes over input arrays of any length, batch by batch.

    `inputs` maps input blob names to arrays of N items; `blobs` lists extra blobs to return
    besides the outputs.  Returns {blob name: array}, as described in the module docstring.
    """
    (arrays,) = _split_by_role(net, inputs, {"inputs": list(net.inputs)})
    if not arrays:
        return net.forward(blobs=blobs)
    batch_size = _batch_size(net)
    arrays, count = _items_of(arrays)
    results = (net.forward(blobs=blobs, **batch)
               for batch in _batches(arrays, count, batch_size))
    return _collect(results, count, batch_size)


def forward_backward_all(net: Any, blobs: list[str] | None = None,
                         diffs: list[str] | None = None,
                         **arrays: Any) -> tuple[Arrays, Arrays]:
    """Forward and backward passes over arrays of any length, batch by batch.

    Keyword arrays named after input blobs set their values; arrays named after output blobs
    set their gradients for the backward pass.  Returns ({blob: values}, {blob: gradients}):
    the outputs plus `blobs`, and the input gradients plus `diffs`.
    """
    values, gradients = _split_by_role(
        net, arrays, {"inputs": list(net.inputs), "outputs": list(net.outputs)})
    batch_size = _batch_size(net)
    given, count = _items_of({**values, **gradients})
    if not given:
        raise ValueError("forward_backward_all needs input or output arrays to batch over")
    forward_results: list[Arrays] = []
    backward_results: list[Arrays] = []
    for batch in _batches(given, count, batch_size):
        forward_results.append(net.forward(blobs=blobs, **{k: batch[k] for k in values}))
        backward_results.append(net.backward(diffs=diffs, **{k: batch[k] for k in gradients}))
    return (_collect(forward_results, count, batch_size),
            _collect(backward_results, count, batch_size))
