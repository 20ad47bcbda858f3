"""Draw a net (a caffe_pb2.NetParameter) as a graph with pydot and Graphviz's ``dot``.

    net = caffe.io.load_net_param("train_val.prototxt")
    caffe.draw.draw_net_to_file(net, "net.png", rankdir="LR", phase=caffe.TRAIN)

Layers are filled boxes (coloured by kind: convolutions, pooling, fully connected, the rest)
labelled with their name, type and main settings; blobs are grey octagons.  Edges run from
bottom blobs to a layer and from the layer to its tops; an edge out of a data, convolution or
fully connected layer is labelled with the batch size or the number of outputs.  A layer that
writes a blob in place gets a new node for the blob it writes, so the graph stays acyclic.
"""
from __future__ import annotations

import os
from typing import Optional, Union

from .proto import caffe_pb2

try:
    import pydot
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("caffe.draw needs pydot (pip install pydot) and Graphviz's dot "
                      "(apt-get install graphviz)") from error

PathLike = Union[str, "os.PathLike[str]"]

LAYER_STYLE = {"shape": "box", "style": "filled"}
BLOB_STYLE = {"shape": "octagon", "style": "filled", "fillcolor": "#E0E0E0"}
_COLORS = {"Convolution": "#FF5050", "Deconvolution": "#FF5050", "Pooling": "#FF9900",
           "InnerProduct": "#CC33FF"}
_DEFAULT_COLOR = "#6495ED"


def get_pooling_types_dict() -> dict[int, str]:
    """Pooling method number -> name (0 -> 'MAX', ...)."""
    methods = caffe_pb2.PoolingParameter.PoolMethod
    return {value: name for name, value in methods.items()}


def choose_color_by_layertype(layertype: str) -> str:
    """The fill colour of a layer of that type."""
    return _COLORS.get(layertype, _DEFAULT_COLOR)


def _batch_size(layer: caffe_pb2.LayerParameter) -> Optional[int]:
    """The batch_size of a data layer's parameter message, when it has one set."""
    for field, value in layer.ListFields():
        if field.message_type is not None and field.name.endswith("_param") and \
                "batch_size" in field.message_type.fields_by_name and value.HasField("batch_size"):
            return int(value.batch_size)
    return None


def get_edge_label(layer: caffe_pb2.LayerParameter) -> Optional[str]:
    """The label of the edges out of a layer: 'Batch N' for data layers, the number of outputs
    for convolutions and fully connected layers, else None."""
    if layer.type in ("Convolution", "Deconvolution"):
        return str(layer.convolution_param.num_output)
    if layer.type == "InnerProduct":
        return str(layer.inner_product_param.num_output)
    batch = _batch_size(layer)
    return None if batch is None else f"Batch {batch}"


def _spatial(values: list[int], height: int, width: int, default: int) -> str:
    """A per-axis setting as written: 'k', 'h x w' (from the _h/_w fields) or 'a x b x c'."""
    if height or width:
        return f"{height} x {width}"
    if not values:
        return str(default)
    return " x ".join(str(value) for value in values)


def _settings(layer: caffe_pb2.LayerParameter) -> list[str]:
    """The lines describing a convolution's or a pooling layer's window."""
    if layer.type in ("Convolution", "Deconvolution"):
        param = layer.convolution_param
        kernel = _spatial(list(param.kernel_size), param.kernel_h, param.kernel_w, 1)
        return [f"kernel size: {kernel}",
                f"stride: {_spatial(list(param.stride), param.stride_h, param.stride_w, 1)}",
                f"pad: {_spatial(list(param.pad), param.pad_h, param.pad_w, 0)}"]
    if layer.type == "Pooling":
        param = layer.pooling_param
        kernel = [param.kernel_size] if param.HasField("kernel_size") else []
        stride = [param.stride] if param.HasField("stride") else []
        pad = [param.pad] if param.HasField("pad") else []
        return [f"pool: {get_pooling_types_dict()[param.pool]}",
                f"kernel size: {_spatial(kernel, param.kernel_h, param.kernel_w, 1)}",
                f"stride: {_spatial(stride, param.stride_h, param.stride_w, 1)}",
                f"pad: {_spatial(pad, param.pad_h, param.pad_w, 0)}"]
    return []


def get_layer_lr_mult(layer: caffe_pb2.LayerParameter) -> list[float]:
    """The lr_mult of each param spec the layer gives (empty when it gives none)."""
    return [spec.lr_mult for spec in layer.param]


def get_layer_label(layer: caffe_pb2.LayerParameter, rankdir: str,
                    display_lrm: bool = False) -> str:
    """The text of a layer's node: name, type, window settings (and lr multipliers).  Words go
    on separate lines in a left-right graph and side by side in a top-bottom one."""
    separator = " " if rankdir in ("TB", "BT") else "\n"
    parts = [layer.name, f"({layer.type})"] + _settings(layer)
    if display_lrm and layer.param:
        parts.append("lr mult: " + ", ".join(f"{mult:g}" for mult in get_layer_lr_mult(layer)))
    return separator.join(parts)


def _rule_phase_matches(rule: caffe_pb2.NetStateRule, phase: int) -> bool:
    return not rule.HasField("phase") or rule.phase == phase


def _in_phase(layer: caffe_pb2.LayerParameter, phase: Optional[int]) -> bool:
    """Whether the layer's include / exclude rules keep it in `phase` (None keeps all); only the
    rules' phases count, as a drawing has no level or stages."""
    if phase is None:
        return True
    if layer.include and not any(_rule_phase_matches(rule, phase) for rule in layer.include):
        return False
    return not any(rule.HasField("phase") and rule.phase == phase for rule in layer.exclude)


class _Nodes:
    """Adds nodes with unique ids; tracks the node of each blob's current value (a top written
    by a layer gets a new node)."""

    def __init__(self, graph: pydot.Dot) -> None:
        self.graph = graph
        self.count = 0
        self.current_blob: dict[str, str] = {}

    def add(self, kind: str, **attributes: str) -> str:
        node_id = f"{kind}{self.count}"
        self.count += 1
        self.graph.add_node(pydot.Node(node_id, **attributes))
        return node_id

    def read_blob(self, blob: str) -> str:
        if blob not in self.current_blob:
            self.write_blob(blob)  # a net input (the legacy input: field) or a missing producer
        return self.current_blob[blob]

    def write_blob(self, blob: str) -> str:
        self.current_blob[blob] = self.add("blob", label=blob, **BLOB_STYLE)
        return self.current_blob[blob]


def get_pydot_graph(caffe_net: caffe_pb2.NetParameter, rankdir: str, label_edges: bool = True,
                    phase: Optional[int] = None, display_lrm: bool = False) -> pydot.Dot:
    """The net as a pydot graph (see the module docstring); `phase` (caffe.TRAIN / caffe.TEST)
    keeps only the layers of that phase, None all of them."""
    graph = pydot.Dot(caffe_net.name or "Default", graph_type="digraph", rankdir=rankdir)
    nodes = _Nodes(graph)
    for layer in caffe_net.layer:
        if not _in_phase(layer, phase):
            continue
        bottoms = [nodes.read_blob(bottom) for bottom in layer.bottom]
        layer_id = nodes.add("layer", label=get_layer_label(layer, rankdir, display_lrm),
                             fillcolor=choose_color_by_layertype(layer.type), **LAYER_STYLE)
        for bottom in bottoms:
            graph.add_edge(pydot.Edge(bottom, layer_id))
        label = get_edge_label(layer) if label_edges else None
        for top in layer.top:
            edge = pydot.Edge(layer_id, nodes.write_blob(top))
            if label is not None:
                edge.set_label(label)
            graph.add_edge(edge)
    return graph


def draw_net(caffe_net: caffe_pb2.NetParameter, rankdir: str, ext: str = "png",
             phase: Optional[int] = None, display_lrm: bool = False) -> bytes:
    """The drawing as image bytes in format `ext` (any Graphviz output format)."""
    graph = get_pydot_graph(caffe_net, rankdir, phase=phase, display_lrm=display_lrm)
    return graph.create(format=ext)


def draw_net_to_file(caffe_net: caffe_pb2.NetParameter, filename: PathLike, rankdir: str = "LR",
                     phase: Optional[int] = None, display_lrm: bool = False) -> None:
    """Writes the drawing to `filename`, in the format its extension names (png, pdf, svg...)."""
    extension = os.path.splitext(os.fspath(filename))[1].lstrip(".") or "png"
    image = draw_net(caffe_net, rankdir, extension, phase, display_lrm)
    with open(filename, "wb") as file:
        file.write(image)
