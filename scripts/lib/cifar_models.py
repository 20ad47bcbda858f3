"""Write the CIFAR-10 nets of the gradient-sparsification paper (Ye et al.) as Caffe models.

  cifar10_alexnet    AlexNet's five convolutions (96, 256, 384, 384, 256) with the paper's
                     changes for 32x32 inputs: the first two convolutions are 3x3, pad 2,
                     stride 1; 3x3 stride-2 max pooling after conv1, conv2 and conv5 leaves
                     256 x 4 x 4 = 4096 features; FC 4096x2048, 2048x2048 (ReLU + dropout 0.5),
                     then 10 outputs.
  cifar10_resnet18   ResNet-18 for CIFAR: a 3x3 stride-1 first convolution (64), four stages of
                     two basic blocks (64, 128, 256, 512; stride 2 from stage 2 on, with a 1x1
                     projection shortcut), every convolution followed by BatchNorm + Scale
                     (+ ReLU), 4x4 average pooling, FC 512x10.
  cifar10_mobilenet  MobileNet (v1) for CIFAR: a 3x3 stride-1 first convolution (32), then 13
                     depthwise-separable blocks (a 3x3 depthwise convolution written as a
                     Convolution with group = channels, then a 1x1 pointwise one, each with
                     BatchNorm + Scale + ReLU), 2x2 average pooling, FC 1024x10.

Solvers (the paper's): SGD, momentum 0.9, weight decay 5e-4, base lr 0.05 (AlexNet) or 0.1,
x0.1 every 100 epochs, 300 epochs, written as iterations of batch 128.  Data: the LMDBs and the
mean image of scripts/get_cifar10.py --out data/cifar10; training mirrors at random.

    python3 scripts/make_cifar_models.py           # (re)write models/cifar10_{alexnet,...}/
    python3 scripts/make_cifar_models.py --check   # exit 1 if a written file is stale

The files are generated: edit this script, not them.
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Sequence

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = "data/cifar10"
TRAIN_IMAGES = 50000
TEST_IMAGES = 10000
TRAIN_BATCH = 128
TEST_BATCH = 100
EPOCHS = 300
DECAY_EVERY_EPOCHS = 100
INPUT_SCALE = 0.017  # about 1 / (the pixels' standard deviation), after the mean image


@dataclass
class NetText:
    """A prototxt under construction: layer blocks appended in order."""
    name: str
    blocks: List[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.blocks.append(text)

    def render(self, header: str) -> str:
        return header + f'name: "{self.name}"\n' + "".join(self.blocks)


def data_layers(net: NetText) -> None:
    for phase, lmdb, batch, mirror in (("TRAIN", "train_lmdb", TRAIN_BATCH, "true"),
                                       ("TEST", "test_lmdb", TEST_BATCH, "false")):
        net.add(f"""layer {{
  name: "cifar"
  type: "Data"
  top: "data"
  top: "label"
  include {{ phase: {phase} }}
  transform_param {{
    mean_file: "{DATA_DIR}/mean.binaryproto"
    scale: {INPUT_SCALE}
    mirror: {mirror}
  }}
  data_param {{ source: "{DATA_DIR}/{lmdb}" batch_size: {batch} backend: LMDB }}
}}
""")


def conv(net: NetText, name: str, bottom: str, outputs: int, kernel: int, stride: int = 1,
         pad: int = 0, group: int = 1, bias: bool = True) -> str:
    group_line = f"\n    group: {group}" if group > 1 else ""
    bias_line = ("\n    bias_filler { type: \"constant\" }" if bias
                 else "\n    bias_term: false")
    params = '  param { lr_mult: 1 decay_mult: 1 }\n'
    if bias:
        params += '  param { lr_mult: 2 decay_mult: 0 }\n'
    net.add(f"""layer {{
  name: "{name}"
  type: "Convolution"
  bottom: "{bottom}"
  top: "{name}"
{params}  convolution_param {{
    num_output: {outputs}
    kernel_size: {kernel}
    stride: {stride}
    pad: {pad}{group_line}
    weight_filler {{ type: "msra" }}{bias_line}
  }}
}}
""")
    return name


# The running statistics' decay: 0.9 is PyTorch's BatchNorm default (momentum 0.1), which the
# paper's nets used.  Caffe's default, 0.999, averages over the last ~1000 iterations, so after a
# few epochs of a budget run the test net's statistics still carry the first iterations' (at lr
# 0.1 their activations are many times larger) and its accuracy is chance.
BATCH_NORM_DECAY = 0.9


def batch_norm_scale(net: NetText, name: str, blob: str) -> None:
    """BatchNorm (statistics only, never learned) then Scale (the learned gamma and beta), in
    place on `blob`."""
    net.add(f"""layer {{
  name: "{name}_bn"
  type: "BatchNorm"
  bottom: "{blob}"
  top: "{blob}"
  batch_norm_param {{ moving_average_fraction: {BATCH_NORM_DECAY} }}
}}
layer {{
  name: "{name}_scale"
  type: "Scale"
  bottom: "{blob}"
  top: "{blob}"
  scale_param {{ bias_term: true }}
}}
""")


def relu(net: NetText, name: str, blob: str) -> None:
    net.add(f'layer {{ name: "{name}" type: "ReLU" bottom: "{blob}" top: "{blob}" }}\n')


def pool(net: NetText, name: str, bottom: str, method: str, kernel: int, stride: int) -> str:
    net.add(f"""layer {{
  name: "{name}"
  type: "Pooling"
  bottom: "{bottom}"
  top: "{name}"
  pooling_param {{ pool: {method} kernel_size: {kernel} stride: {stride} }}
}}
""")
    return name


def fully_connected(net: NetText, name: str, bottom: str, outputs: int) -> str:
    net.add(f"""layer {{
  name: "{name}"
  type: "InnerProduct"
  bottom: "{bottom}"
  top: "{name}"
  param {{ lr_mult: 1 decay_mult: 1 }}
  param {{ lr_mult: 2 decay_mult: 0 }}
  inner_product_param {{
    num_output: {outputs}
    weight_filler {{ type: "msra" }}
    bias_filler {{ type: "constant" }}
  }}
}}
""")
    return name


def dropout(net: NetText, name: str, blob: str) -> None:
    net.add(f'layer {{ name: "{name}" type: "Dropout" bottom: "{blob}" top: "{blob}" '
            'dropout_param { dropout_ratio: 0.5 } }\n')


def loss_and_accuracy(net: NetText, scores: str) -> None:
    net.add(f"""layer {{
  name: "accuracy"
  type: "Accuracy"
  bottom: "{scores}"
  bottom: "label"
  top: "accuracy"
  include {{ phase: TEST }}
}}
layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "{scores}" bottom: "label" top: "loss" }}
""")


def conv_bn_relu(net: NetText, name: str, bottom: str, outputs: int, kernel: int, stride: int,
                 pad: int, group: int = 1, with_relu: bool = True) -> str:
    top = conv(net, name, bottom, outputs, kernel, stride, pad, group, bias=False)
    batch_norm_scale(net, name, top)
    if with_relu:
        relu(net, f"{name}_relu", top)
    return top


def alexnet() -> NetText:
    net = NetText("cifar10_alexnet")
    data_layers(net)
    blob = "data"
    for index, (outputs, kernel, pad, pooled) in enumerate(
            ((96, 3, 2, True), (256, 3, 2, True), (384, 3, 1, False), (384, 3, 1, False),
             (256, 3, 1, True)), start=1):
        blob = conv(net, f"conv{index}", blob, outputs, kernel, pad=pad)
        relu(net, f"relu{index}", blob)
        if pooled:
            blob = pool(net, f"pool{index}", blob, "MAX", 3, 2)
    for index, outputs in ((6, 2048), (7, 2048)):
        blob = fully_connected(net, f"fc{index}", blob, outputs)
        relu(net, f"relu{index}", blob)
        dropout(net, f"drop{index}", blob)
    loss_and_accuracy(net, fully_connected(net, "fc8", blob, 10))
    return net


def basic_block(net: NetText, name: str, bottom: str, channels: int, stride: int,
                in_channels: int) -> str:
    """Two 3x3 Conv-BN-Scale(-ReLU) and a shortcut (identity, or 1x1 projection when the shape
    changes), summed, then ReLU."""
    branch = conv_bn_relu(net, f"{name}_conv1", bottom, channels, 3, stride, 1)
    branch = conv_bn_relu(net, f"{name}_conv2", branch, channels, 3, 1, 1, with_relu=False)
    shortcut = bottom
    if stride != 1 or in_channels != channels:
        shortcut = conv_bn_relu(net, f"{name}_proj", bottom, channels, 1, stride, 0,
                                with_relu=False)
    net.add(f"""layer {{
  name: "{name}_sum"
  type: "Eltwise"
  bottom: "{branch}"
  bottom: "{shortcut}"
  top: "{name}"
  eltwise_param {{ operation: SUM }}
}}
""")
    relu(net, f"{name}_relu", name)
    return name


def resnet18() -> NetText:
    net = NetText("cifar10_resnet18")
    data_layers(net)
    blob = conv_bn_relu(net, "conv1", "data", 64, 3, 1, 1)
    channels_in = 64
    for stage, channels in enumerate((64, 128, 256, 512), start=1):
        for block in (1, 2):
            stride = 2 if stage > 1 and block == 1 else 1
            blob = basic_block(net, f"res{stage}{'ab'[block - 1]}", blob, channels, stride,
                               channels_in)
            channels_in = channels
    blob = pool(net, "pool", blob, "AVE", 4, 4)
    loss_and_accuracy(net, fully_connected(net, "fc", blob, 10))
    return net


# MobileNet v1's separable blocks for 32x32 inputs: (pointwise outputs, depthwise stride).
MOBILENET_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1),
                    (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def mobilenet() -> NetText:
    net = NetText("cifar10_mobilenet")
    data_layers(net)
    blob = conv_bn_relu(net, "conv1", "data", 32, 3, 1, 1)
    channels = 32
    for index, (outputs, stride) in enumerate(MOBILENET_BLOCKS, start=1):
        blob = conv_bn_relu(net, f"dw{index}", blob, channels, 3, stride, 1, group=channels)
        blob = conv_bn_relu(net, f"pw{index}", blob, outputs, 1, 1, 0)
        channels = outputs
    blob = pool(net, "pool", blob, "AVE", 2, 2)
    loss_and_accuracy(net, fully_connected(net, "fc", blob, 10))
    return net


def solver_text(model: str, base_lr: float) -> str:
    epoch = TRAIN_IMAGES / TRAIN_BATCH
    return f"""# {model}: the gradient-sparsification paper's schedule, SGD with momentum 0.9, weight decay
# 5e-4, lr {base_lr} x0.1 every {DECAY_EVERY_EPOCHS} epochs, {EPOCHS} epochs of batch {TRAIN_BATCH}
# (one epoch = {epoch:.1f} iterations).  Generated by scripts/make_cifar_models.py.
net: "models/{model}/train_val.prototxt"
test_iter: {TEST_IMAGES // TEST_BATCH}
test_interval: {math.ceil(epoch)}
base_lr: {base_lr}
momentum: 0.9
weight_decay: 0.0005
lr_policy: "step"
gamma: 0.1
stepsize: {round(DECAY_EVERY_EPOCHS * epoch)}
display: 100
max_iter: {round(EPOCHS * epoch)}
snapshot: {math.ceil(epoch) * 10}
snapshot_prefix: "examples_out/{model}/{model}"
solver_mode: CPU
random_seed: 1
"""


@dataclass(frozen=True)
class Model:
    build: Callable[[], NetText]
    base_lr: float
    summary: str  # the first comment line of the written net


MODELS: Dict[str, Model] = {
    "cifar10_alexnet": Model(alexnet, 0.05, "AlexNet for CIFAR-10 after Ye et al.: 3x3 pad-2 "
                             "stride-1 conv1/conv2, FC 4096x2048 and 2048x2048."),
    "cifar10_resnet18": Model(resnet18, 0.1, "ResNet-18 for CIFAR-10: Conv-BN-Scale-ReLU basic "
                              "blocks, 3x3 stride-1 first conv, 4x4 average pooling, FC 512x10."),
    "cifar10_mobilenet": Model(mobilenet, 0.1, "MobileNet v1 for CIFAR-10: depthwise blocks as "
                               "group convolutions, first stride 1, FC 1024x10."),
}


def generated_files() -> Dict[Path, str]:
    files: Dict[Path, str] = {}
    for name, model in MODELS.items():
        header = (f"# {model.summary}\n# Generated by scripts/make_cifar_models.py "
                  "(see its docstring); edit the script, not this file.\n")
        files[Path("models") / name / "train_val.prototxt"] = model.build().render(header)
        files[Path("models") / name / "solver.prototxt"] = solver_text(name, model.base_lr)
    return files


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make_cifar_models.py",
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a generated file is missing or differs")
    args = parser.parse_args(argv)
    files = generated_files()
    if args.check:
        stale = [path for path, text in files.items()
                 if not (REPO_ROOT / path).is_file() or (REPO_ROOT / path).read_text() != text]
        for path in stale:
            print(f"stale: {path}")
        return 1 if stale else 0
    for path, text in files.items():
        (REPO_ROOT / path).parent.mkdir(parents=True, exist_ok=True)
        (REPO_ROOT / path).write_text(text)
    print(f"wrote {len(files)} files: " + ", ".join(str(path) for path in files))
    return 0
