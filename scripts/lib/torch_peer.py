"""A PyTorch peer of a Caffe net, built from the same prototxt, for side-by-side benchmarks.

The TRAIN-phase layers of the net become torch modules in the same order and wiring (a DAG of
named blobs, as in Caffe).  BatchNorm followed in place by Scale becomes one BatchNorm2d with
affine parameters, PyTorch's own idiom for the pair.  Data layers are dropped: the peer takes the
`data` and `label` tensors directly.  Only the layer types of the benchmark nets are mapped; any
other is a ValueError naming it.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence, Tuple

from google.protobuf import text_format

DATA_TYPES = {"Data", "ImageData", "HDF5Data", "Input", "DummyData"}
SKIPPED_TYPES = {"Accuracy", "Silence"}


def read_train_layers(caffe_pb2: Any, prototxt: str) -> List[Any]:
    """The net's layers in the TRAIN phase (include/exclude rules on the phase only)."""
    net = caffe_pb2.NetParameter()
    with open(prototxt, encoding="utf-8") as file:
        text_format.Merge(file.read(), net)

    def in_train(layer: Any) -> bool:
        if layer.include:
            return any(not rule.HasField("phase") or rule.phase == caffe_pb2.TRAIN
                       for rule in layer.include)
        return not any(rule.HasField("phase") and rule.phase == caffe_pb2.TRAIN
                       for rule in layer.exclude)
    return [layer for layer in net.layer if in_train(layer)]


def input_net_text(caffe_pb2: Any, prototxt: str, batch: int, image: Tuple[int, int, int]) -> str:
    """The TRAIN net with its data layers replaced by one Input layer (tops data, label)."""
    net = caffe_pb2.NetParameter()
    net.name = "bench"
    feed = net.layer.add(name="input", type="Input", top=["data", "label"])
    feed.input_param.shape.add(dim=[batch, *image])
    feed.input_param.shape.add(dim=[batch])
    for layer in read_train_layers(caffe_pb2, prototxt):
        if layer.type not in DATA_TYPES | SKIPPED_TYPES:
            copy = net.layer.add()
            copy.CopyFrom(layer)
            del copy.include[:]
            del copy.exclude[:]
    return text_format.MessageToString(net)


def _pair(values: Sequence[int], single: int, h: int, w: int, default: int) -> Tuple[int, int]:
    if h or w:
        return h, w
    if len(values) == 1:
        return values[0], values[0]
    if len(values) == 2:
        return values[0], values[1]
    return (single, single) if single else (default, default)


def build_torch_net(torch: Any, caffe_pb2: Any, prototxt: str,
                    image: Tuple[int, int, int]) -> Any:
    """A torch.nn.Module whose forward(data, label) returns the training loss."""
    nn = torch.nn
    layers = [layer for layer in read_train_layers(caffe_pb2, prototxt)
              if layer.type not in DATA_TYPES | SKIPPED_TYPES]
    ops: List[Tuple[List[str], List[str], Callable[..., Any]]] = []
    modules = nn.ModuleDict()
    fused_scales = set()

    for index, layer in enumerate(layers):
        if layer.name in fused_scales:
            continue
        kind, name = layer.type, layer.name
        module: Any = None
        if kind == "Convolution":
            p = layer.convolution_param
            kernel = _pair(p.kernel_size, 0, p.kernel_h, p.kernel_w, 1)
            stride = _pair(p.stride, 0, p.stride_h, p.stride_w, 1)
            pad = _pair(p.pad, 0, p.pad_h, p.pad_w, 0)
            dilation = _pair(p.dilation, 0, 0, 0, 1)
            module = nn.LazyConv2d(p.num_output, kernel, stride, pad, dilation, p.group,
                                   bias=p.bias_term)
        elif kind == "Pooling":
            p = layer.pooling_param
            kernel = (p.kernel_h, p.kernel_w) if p.kernel_h else (p.kernel_size, p.kernel_size)
            stride = (p.stride_h, p.stride_w) if p.stride_h else (p.stride, p.stride)
            pad = (p.pad_h, p.pad_w) if (p.pad_h or p.pad_w) else (p.pad, p.pad)
            if p.global_pooling:
                module = (nn.AdaptiveMaxPool2d(1) if p.pool == p.MAX
                          else nn.AdaptiveAvgPool2d(1))
            elif p.pool == p.MAX:
                module = nn.MaxPool2d(kernel, stride, pad, ceil_mode=True)
            else:
                module = nn.AvgPool2d(kernel, stride, pad, ceil_mode=True)
        elif kind == "ReLU":
            module = nn.ReLU()
        elif kind == "Dropout":
            module = nn.Dropout(layer.dropout_param.dropout_ratio)
        elif kind == "InnerProduct":
            module = nn.Sequential(nn.Flatten(), nn.LazyLinear(layer.inner_product_param.num_output))
        elif kind == "LRN":
            p = layer.lrn_param
            module = nn.LocalResponseNorm(p.local_size, p.alpha, p.beta, p.k)
        elif kind == "BatchNorm":
            following = layers[index + 1] if index + 1 < len(layers) else None
            affine = (following is not None and following.type == "Scale"
                      and list(following.bottom) == list(layer.top))
            if affine:
                fused_scales.add(following.name)
            p = layer.batch_norm_param
            module = nn.LazyBatchNorm2d(eps=p.eps, momentum=1 - p.moving_average_fraction,
                                        affine=affine)
        elif kind == "Eltwise":
            operation = layer.eltwise_param.operation
            if operation == caffe_pb2.EltwiseParameter.SUM:
                ops.append((list(layer.bottom), list(layer.top), lambda *xs: sum(xs)))
            elif operation == caffe_pb2.EltwiseParameter.PROD:
                ops.append((list(layer.bottom), list(layer.top),
                            lambda first, *rest: torch.stack([first, *rest]).prod(0)))
            else:
                ops.append((list(layer.bottom), list(layer.top),
                            lambda *xs: torch.stack(xs).amax(0)))
            continue
        elif kind == "SoftmaxWithLoss":
            module = nn.CrossEntropyLoss()
            modules[name] = module
            ops.append((list(layer.bottom), list(layer.top),
                        lambda scores, label, m=module: m(scores, label.long())))
            continue
        else:
            raise ValueError(f"layer '{name}': type {kind} has no PyTorch peer here")
        modules[name] = module
        ops.append((list(layer.bottom), list(layer.top), module))

    class PrototxtNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = modules

        def forward(self, data: Any, label: Any) -> Any:
            blobs: Dict[str, Any] = {"data": data, "label": label}
            last = None
            for bottoms, tops, op in ops:
                last = op(*(blobs[b] for b in bottoms))
                blobs[tops[0]] = last
            return last

    model = PrototxtNet()
    with torch.no_grad():  # materialise the lazy modules' shapes
        model(torch.zeros(2, *image), torch.zeros(2))
    return model
