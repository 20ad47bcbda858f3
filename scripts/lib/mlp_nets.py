"""Prototxt text for the MNIST MLPs the benchmarks and reproductions use: 784-H-H-10 with
standard dropout, approximate dropout (ROW/TILE) or no dropout (the dense-k physical limit)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class HiddenLayer:
    """How a hidden layer is built: 'standard' (InnerProduct + ReLU + Dropout), 'row' or 'tile'
    (InnerProductApproxDropout + ReLU) or 'dense' (InnerProduct + ReLU, no dropout)."""
    kind: str
    ratio: float = 0.5
    schedule_file: Optional[str] = None
    scale: Optional[str] = None       # approx_dropout_param.scale (GLOBAL, PERIOD); None: default
    tile_order: Optional[str] = None  # approx_dropout_param.tile_order for 'tile'; None: default
    row_layout: Optional[str] = None  # approx_dropout_param.row_layout for 'row'; None: default


def _inner_product(name: str, bottom: str, width: int, layer: HiddenLayer) -> str:
    body = (f'  inner_product_param {{ num_output: {width} weight_filler {{ type: "xavier" }} '
            f'bias_filler {{ type: "constant" }} }}\n')
    if layer.kind in ("row", "tile"):
        options = f' schedule_file: "{layer.schedule_file}"' if layer.schedule_file else ""
        options += f" scale: {layer.scale}" if layer.scale else ""
        options += f" tile_order: {layer.tile_order}" if layer.tile_order else ""
        options += f" row_layout: {layer.row_layout}" if layer.row_layout else ""
        body += (f'  approx_dropout_param {{ pattern: {layer.kind.upper()} '
                 f'dropout_ratio: {layer.ratio}{options} }}\n')
        kind = "InnerProductApproxDropout"
    else:
        kind = "InnerProduct"
    return (f'layer {{\n  name: "{name}"\n  type: "{kind}"\n  bottom: "{bottom}"\n  top: "{name}"\n'
            f'{body}}}\n')


def mlp_layers(hidden: list[int], layers: list[HiddenLayer], bottom: str = "data") -> str:
    """The hidden stack and classifier (ending in blob 'ip_out')."""
    text = ""
    for index, (width, layer) in enumerate(zip(hidden, layers), start=1):
        name = f"ip{index}"
        text += _inner_product(name, bottom, width, layer)
        text += f'layer {{ name: "relu{index}" type: "ReLU" bottom: "{name}" top: "{name}" }}\n'
        if layer.kind == "standard":
            text += (f'layer {{ name: "drop{index}" type: "Dropout" bottom: "{name}" '
                     f'top: "{name}" dropout_param {{ dropout_ratio: {layer.ratio} }} }}\n')
        bottom = name
    text += _inner_product("ip_out", bottom, 10, HiddenLayer("dense"))
    return text


def input_mlp(hidden: list[int], layers: list[HiddenLayer], batch: int) -> str:
    """MLP fed by Input layers (for benchmarks: data and labels are set from numpy)."""
    return (f'name: "mlp_bench"\n'
            f'layer {{ name: "input" type: "Input" top: "data" top: "label" '
            f'input_param {{ shape {{ dim: {batch} dim: 784 }} shape {{ dim: {batch} }} }} }}\n'
            + mlp_layers(hidden, layers)
            + 'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip_out" bottom: "label" '
              'top: "loss" }\n')


def lmdb_mlp(hidden: list[int], layers: list[HiddenLayer], train_lmdb: str, test_lmdb: str,
             batch: int = 128) -> str:
    """MLP fed by the MNIST LMDBs, with accuracy in the TEST phase."""
    data = ""
    for phase, source, size in (("TRAIN", train_lmdb, batch), ("TEST", test_lmdb, 100)):
        data += (f'layer {{ name: "mnist" type: "Data" top: "data" top: "label" '
                 f'include {{ phase: {phase} }} transform_param {{ scale: 0.00390625 }} '
                 f'data_param {{ source: "{source}" batch_size: {size} backend: LMDB }} }}\n')
    return ('name: "mnist_mlp"\n' + data + mlp_layers(hidden, layers)
            + 'layer { name: "accuracy" type: "Accuracy" bottom: "ip_out" bottom: "label" '
              'top: "accuracy" include { phase: TEST } }\n'
            + 'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip_out" bottom: "label" '
              'top: "loss" }\n')
