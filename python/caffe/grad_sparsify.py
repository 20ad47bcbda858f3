"""Place GradSparsify layers in a net (Ye et al., "Accelerating CNN Training by Sparsifying
Activation Gradients"): ``python -m caffe.grad_sparsify --percentile 0.9 in.prototxt out.prototxt``.

The rule, per Convolution, by the block it sits in (found from the net itself):
  Conv-BN block (the convolution's output feeds a BatchNorm): a GradSparsify layer right after
      the convolution, in place on its output, so the gradient arriving from BatchNorm -- the
      convolution's output gradient -- is pruned.
  Conv-ReLU block (any other convolution): a GradSparsify layer right before the convolution on
      its input blob, pruning the gradient the convolution sends to its input; the sparsity
      reaches the previous convolution through ReLU / pooling.  A convolution whose input gets no
      gradient (nothing before it learns: the first convolution on the data) is skipped.
      The layer works in place when the convolution is the only reader of that blob; otherwise
      it writes a new blob that only the convolution reads, so the other readers keep the
      dense gradient.
Each new layer is named ``<conv>_gs`` and copies the convolution's include / exclude rules.
One line per decision is printed.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Optional, Sequence

from ._caffe import CaffeError
from .io import load_net_param, save_net_param
from .proto import caffe_pb2

PROG = "python -m caffe.grad_sparsify"

# Layer types with learnable parameters: a blob downstream of one of them gets a gradient.
LEARNABLE_TYPES = frozenset({
    "Convolution", "Deconvolution", "InnerProduct", "InnerProductApproxDropout", "Scale",
    "Bias", "PReLU", "Embed", "LSTM", "LSTMApproxDropout", "RNN"})


class PlacementError(ValueError):
    """The net cannot be given GradSparsify layers as asked."""


@dataclass
class Placement:
    """One decision of the rule for one convolution."""
    conv: str
    block: str                  # "Conv-BN" or "Conv-ReLU"
    blob: str                   # the blob whose gradient is pruned
    layer: Optional[str] = None  # the GradSparsify layer inserted (None: skipped)
    new_blob: Optional[str] = None  # the blob it writes when not in place

    def describe(self) -> str:
        if self.layer is None:
            return (f"skip {self.conv}: its input '{self.blob}' gets no gradient "
                    "(nothing before it learns)")
        if self.block == "Conv-BN":
            return (f"{self.layer}: after Convolution '{self.conv}', in place on '{self.blob}' "
                    f"(Conv-BN block: prunes {self.conv}'s output gradient)")
        where = (f"in place on '{self.blob}'" if self.new_blob is None else
                 f"on '{self.blob}' -> new blob '{self.new_blob}' read by {self.conv} only "
                 f"('{self.blob}' has other readers)")
        return (f"{self.layer}: before Convolution '{self.conv}', {where} "
                f"(Conv-ReLU block: prunes {self.conv}'s input gradient)")


def _readers_of_version(layers: Sequence[caffe_pb2.LayerParameter], index: int,
                        blob: str) -> list[int]:
    """The layers reading the version of `blob` that layer `index` reads (or writes, when it
    produces it): from its last producer at or before `index` to the next producer.  Include /
    exclude rules are ignored, which can only add readers (and so choose a new blob name)."""
    producer = -1
    for i in range(index, -1, -1):
        if blob in layers[i].top and (i < index or blob not in layers[i].bottom):
            producer = i
            break
    readers = []
    for i in range(producer + 1, len(layers)):
        if blob in layers[i].bottom:
            readers.append(i)
        if blob in layers[i].top:
            break
    return readers


def _blobs_with_gradient(layers: Sequence[caffe_pb2.LayerParameter]) -> set[str]:
    """Blobs downstream of a layer with learnable parameters (a learnable type, or a `param`
    with lr_mult != 0)."""
    with_gradient: set[str] = set()
    for layer in layers:
        learns = layer.type in LEARNABLE_TYPES or any(spec.lr_mult != 0 for spec in layer.param)
        if learns or any(bottom in with_gradient for bottom in layer.bottom):
            with_gradient.update(layer.top)
    return with_gradient


def _copy(layer: caffe_pb2.LayerParameter) -> caffe_pb2.LayerParameter:
    copied = caffe_pb2.LayerParameter()
    copied.CopyFrom(layer)
    return copied


def _unique(name: str, taken: set[str]) -> str:
    candidate, suffix = name, 2
    while candidate in taken:
        candidate, suffix = f"{name}_{suffix}", suffix + 1
    taken.add(candidate)
    return candidate


def _sparsify_layer(name: str, conv: caffe_pb2.LayerParameter, bottom: str, top: str,
                    percentile: float, stochastic: bool) -> caffe_pb2.LayerParameter:
    layer = caffe_pb2.LayerParameter(name=name, type="GradSparsify", bottom=[bottom], top=[top])
    layer.grad_sparsify_param.percentile = percentile
    layer.grad_sparsify_param.stochastic = stochastic
    layer.include.extend(conv.include)
    layer.exclude.extend(conv.exclude)
    return layer


def sparsify_net(net: caffe_pb2.NetParameter, percentile: float, stochastic: bool = True
                 ) -> tuple[caffe_pb2.NetParameter, list[Placement]]:
    """A copy of `net` with GradSparsify layers placed by the rule (module docstring), and the
    decisions taken, one per convolution in net order."""
    if not 0.5 <= percentile < 1.0:
        raise PlacementError(f"percentile must be in [0.5, 1), got {percentile}")
    # Decisions read the net as given; the edits go to copies of its layers.
    original = list(net.layer)
    layers = [_copy(layer) for layer in original]
    existing = [layer.name for layer in layers if layer.type == "GradSparsify"]
    if existing:
        raise PlacementError("the net already has GradSparsify layers: " + ", ".join(existing))
    with_gradient = _blobs_with_gradient(original)
    layer_names = {layer.name for layer in layers}
    blob_names = {blob for layer in layers for blob in (*layer.bottom, *layer.top)}

    placements: list[Placement] = []
    before: dict[int, caffe_pb2.LayerParameter] = {}  # layer index -> layer to insert first
    after: dict[int, caffe_pb2.LayerParameter] = {}
    for index, conv in enumerate(layers):
        if conv.type != "Convolution":
            continue
        if len(conv.bottom) != 1 or len(conv.top) != 1:
            raise PlacementError(f"Convolution '{conv.name}' has {len(conv.bottom)} bottoms and "
                                 f"{len(conv.top)} tops; the rule handles one of each")
        output, source = conv.top[0], conv.bottom[0]
        feeds_batch_norm = any(original[i].type == "BatchNorm"
                               for i in _readers_of_version(original, index, output))
        name = _unique(f"{conv.name}_gs", layer_names)
        if feeds_batch_norm:
            after[index] = _sparsify_layer(name, conv, output, output, percentile, stochastic)
            placements.append(Placement(conv.name, "Conv-BN", output, name))
        elif source not in with_gradient:
            layer_names.discard(name)
            placements.append(Placement(conv.name, "Conv-ReLU", source))
        else:
            shared = _readers_of_version(original, index, source) != [index]
            top = _unique(f"{conv.name}_gs", blob_names) if shared else source
            before[index] = _sparsify_layer(name, conv, source, top, percentile, stochastic)
            if shared:
                conv.bottom[0] = top
            placements.append(Placement(conv.name, "Conv-ReLU", source, name,
                                        top if shared else None))

    result = caffe_pb2.NetParameter()
    result.CopyFrom(net)
    del result.layer[:]
    for index, layer in enumerate(layers):
        if index in before:
            result.layer.append(before[index])
        result.layer.append(layer)
        if index in after:
            result.layer.append(after[index])
    return result, placements


def _percentile(text: str) -> float:
    value = float(text)
    if not 0.5 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0.5, 1), got {text}")
    return value


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--percentile", type=_percentile, default=0.9,
                        help="p in [0.5, 1): tau = sigma * Phi^-1(p) (default 0.9)")
    parser.add_argument("--thresholding", action="store_true",
                        help="zero every |g| < tau instead of the unbiased stochastic rounding")
    parser.add_argument("input", help="net prototxt to read")
    parser.add_argument("output", help="net prototxt to write")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        net = load_net_param(args.input)
        sparsified, placements = sparsify_net(net, args.percentile, not args.thresholding)
    except (OSError, CaffeError, PlacementError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    for placement in placements:
        print(placement.describe())
    save_net_param(sparsified, args.output)
    inserted = sum(placement.layer is not None for placement in placements)
    print(f"inserted {inserted} GradSparsify layer(s) (percentile {args.percentile}) "
          f"-> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
