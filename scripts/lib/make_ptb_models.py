"""Write the Penn Treebank word-level LSTM language models of models/ptb_lstm.

Every net is: HDF5Data (data, target, cont: T x N blocks of the [S, N] arrays written by
scripts/prepare_ptb.py --streams 20) -> Embed (10000 -> H) -> [dropout] -> LSTM (H) ->
[dropout] -> LSTM (H) [-> dropout -> LSTM (H) for the 3-layer config] -> [dropout] ->
InnerProduct (axis 2, 10000 words) -> SoftmaxWithLoss (axis 2, reports perplexity) and, in TEST,
Accuracy (axis 2).  The dropout variants:

  nodrop        no dropout (Zaremba et al.'s small configuration)
  standard_pP   Dropout layers with ratio P/100 on the embedding, between the LSTMs and before
                the decoder
  row_pP        approximate dropout (ROW pattern) in those three places: each LSTM becomes an
  tile_pP       LSTMApproxDropout dropping its inputs (drop_side INPUT) and the decoder an
                InnerProductApproxDropout with drop_side INPUT; TILE drops weight tiles of the
                LSTMs' W_xc and of the decoder instead.  Each has a schedule_file under
                models/ptb_lstm/schedules/ (not committed: --schedules writes them, or run
                python -m caffe.approx_dropout --net <train_val> --iterations <max_iter>)

for P in 30, 50, 70, in four sizes: small (2 x 200), medium (2 x 650), large (2 x 1500, the
Approximate Random Dropout paper's) and deep3 (3 x 650).  Each variant gets
<config>/<variant>_train_val.prototxt and <config>/<variant>_solver.prototxt.  The files are
generated: edit this script, not them, and rerun it.

    python3 scripts/make_ptb_models.py                 # (re)write models/ptb_lstm/*/
    python3 scripts/make_ptb_models.py --check         # exit 1 if a written file is stale
    python3 scripts/make_ptb_models.py --schedules [--only small/row_p50]
                                                       # + the approximate-dropout schedules
                                                       #   (needs `import caffe`)

Learning rate (see models/ptb_lstm/README.md): our SoftmaxWithLoss is the mean cross-entropy
over the T x N = 700 tokens of a batch, whereas Zaremba et al. train with lr 1 on the loss
summed over the T = 35 steps (mean over the N streams) and clip its gradient norm at 5.  We use
base_lr 20 with clip_gradients 0.25 (the recipe of PyTorch's word_language_model example, which
shares our loss): the largest step is then lr x clip = 5, exactly Zaremba's 1 x 5, and an
unclipped step is 20/35 of his.  The decay follows Zaremba's schedules per size (constant for
the first epochs, then a fixed factor per epoch), written as multistep at epoch boundaries.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = Path("models") / "ptb_lstm"      # relative to the repository root
SCHEDULES_DIR = MODELS_DIR / "schedules"
DATA_DIR = "data/ptb"                          # where `prepare_ptb.py --out data/ptb` writes

VOCABULARY = 10000
STEPS = 35                    # T: the truncated-BPTT length (hdf5 batch_size)
STREAMS = 20                  # N: parallel streams (prepare_ptb.py --streams 20)
TRAIN_ROWS = 46479            # S of train.h5 for N = 20: (929589 - 1) // 20
VALID_ROWS = 3687             # (73760 - 1) // 20
TEST_ROWS = 4121              # (82430 - 1) // 20
# Batches wrap around the rows (HDF5Data reads row (b*T + k) mod S), so an epoch is S/T
# iterations, rounded: the boundary drifts by one row per epoch, which does not matter.
EPOCH = round(TRAIN_ROWS / STEPS)         # 1328
VALID_BATCHES = VALID_ROWS // STEPS       # 105 (3675 of the 3687 rows)
TEST_BATCHES = TEST_ROWS // STEPS         # 117 (4095 of the 4121 rows)
TEST_SPLIT_STAGE = "test-split"           # caffe test --stage test-split reads test.h5

RATIOS = (0.3, 0.5, 0.7)
KINDS = ("standard", "row", "tile")


@dataclass(frozen=True)
class Config:
    """One model size and its training schedule (after Zaremba et al., 2014)."""
    name: str
    layers: int
    hidden: int
    init_scale: float     # weights ~ U(-init_scale, init_scale)
    epochs: int
    constant_epochs: int  # epochs at base_lr before the decay starts
    decay: float          # lr factor per epoch after that
    note: str


CONFIGS = (
    Config("small", 2, 200, 0.1, 13, 4, 0.5,
           "Zaremba et al.'s small model: 13 epochs, lr constant for 4, then halved every epoch"),
    Config("medium", 2, 650, 0.05, 39, 6, 1 / 1.2,
           "Zaremba et al.'s medium model: 39 epochs, lr constant for 6, then / 1.2 every epoch"),
    Config("large", 2, 1500, 0.04, 55, 14, 1 / 1.15,
           "Zaremba et al.'s large model (the Approximate Random Dropout paper's): 55 epochs, "
           "lr constant for 14, then / 1.15 every epoch"),
    Config("deep3", 3, 650, 0.05, 39, 6, 1 / 1.2,
           "3 x 650 (a third LSTM on the medium model), with the medium schedule"),
)
BASE_LR = 20.0
CLIP_GRADIENTS = 0.25
RANDOM_SEED = 1


@dataclass(frozen=True)
class Variant:
    kind: str                       # "nodrop", "standard", "row" or "tile"
    ratio: Optional[float] = None

    @property
    def name(self) -> str:
        return self.kind if self.ratio is None else f"{self.kind}_p{round(self.ratio * 100)}"


VARIANTS = (Variant("nodrop"),) + tuple(Variant(kind, ratio) for kind in KINDS for ratio in RATIOS)


def ratio_text(ratio: float) -> str:
    return f"{ratio:g}"


def uniform(scale: float) -> str:
    return f'{{ type: "uniform" min: {-scale:g} max: {scale:g} }}'


def data_layers() -> str:
    text = ""
    for phase, split, rule in (("TRAIN", "train", ""),
                               ("TEST", "valid", f' not_stage: "{TEST_SPLIT_STAGE}"'),
                               ("TEST", "test", f' stage: "{TEST_SPLIT_STAGE}"')):
        text += (f'layer {{\n  name: "data"\n  type: "HDF5Data"\n  top: "data"\n  top: "target"\n'
                 f'  top: "cont"\n  include {{ phase: {phase}{rule} }}\n'
                 f'  hdf5_data_param {{ source: "{DATA_DIR}/{split}_list.txt" batch_size: {STEPS} }}\n'
                 f'}}\n')
    return text


def schedule_path(config: Config, variant: Variant, layer: str) -> str:
    return (SCHEDULES_DIR / config.name / f"{variant.name}_{layer}.schedule").as_posix()


def approx_param(config: Config, variant: Variant, layer: str) -> str:
    return (f'  approx_dropout_param {{ pattern: {variant.kind.upper()} drop_side: INPUT '
            f'dropout_ratio: {ratio_text(variant.ratio)} '
            f'schedule_file: "{schedule_path(config, variant, layer)}" }}\n')


def dropout_layer(name: str, bottom: str, ratio: float) -> str:
    return (f'layer {{ name: "{name}" type: "Dropout" bottom: "{bottom}" top: "{name}" '
            f'dropout_param {{ dropout_ratio: {ratio_text(ratio)} }} }}\n')


def approximate(variant: Variant) -> bool:
    return variant.kind in ("row", "tile")


def dropped_layer_start(variant: Variant, index: int, bottom: str, name: str, kind: str) -> str:
    """A standard Dropout "drop<index>" on `bottom` (standard variants), then the opening lines of
    layer `name`: `kind`, or its approximate-dropout form, on the (dropped) bottom."""
    text = ""
    if variant.kind == "standard":
        text = dropout_layer(f"drop{index}", bottom, variant.ratio)
        bottom = f"drop{index}"
    if approximate(variant):
        kind += "ApproxDropout"
    return text + f'layer {{\n  name: "{name}"\n  type: "{kind}"\n  bottom: "{bottom}"\n'


def dropped_layer_end(config: Config, variant: Variant, name: str) -> str:
    """The approx_dropout_param of an approximate variant's layer `name`, and the closing brace."""
    return (approx_param(config, variant, name) if approximate(variant) else "") + "}\n"


def train_val(config: Config, variant: Variant) -> str:
    """The net prototxt of one variant."""
    init = uniform(config.init_scale)
    text = (f'# Generated by scripts/make_ptb_models.py: edit the script, not this file.\n'
            f'# PTB word LM, {config.name}: {config.layers} x {config.hidden} LSTM, '
            f'{describe_variant(variant)}.\n'
            f'# Data: python3 scripts/prepare_ptb.py --out {DATA_DIR} --streams {STREAMS}; '
            f'caffe test --stage {TEST_SPLIT_STAGE} --iterations {TEST_BATCHES} scores the test split.\n'
            f'name: "ptb_{config.name}_{variant.name}"\n')
    text += data_layers()
    text += (f'layer {{\n  name: "embed"\n  type: "Embed"\n  bottom: "data"\n  top: "embed"\n'
             f'  embed_param {{ input_dim: {VOCABULARY} num_output: {config.hidden} '
             f'bias_term: false weight_filler {init} }}\n}}\n')
    bottom = "embed"
    for index in range(1, config.layers + 1):
        name = f"lstm{index}"
        text += dropped_layer_start(variant, index, bottom, name, "LSTM")
        text += (f'  bottom: "cont"\n  top: "{name}"\n'
                 f'  recurrent_param {{ num_output: {config.hidden} weight_filler {init} '
                 f'bias_filler {{ type: "constant" value: 0 }} }}\n')
        text += dropped_layer_end(config, variant, name)
        bottom = name
    text += dropped_layer_start(variant, config.layers + 1, bottom, "decoder", "InnerProduct")
    text += (f'  top: "decoder"\n  inner_product_param {{ num_output: {VOCABULARY} axis: 2 '
             f'weight_filler {init} bias_filler {{ type: "constant" value: 0 }} }}\n')
    text += dropped_layer_end(config, variant, "decoder")
    text += ('layer {\n  name: "loss"\n  type: "SoftmaxWithLoss"\n  bottom: "decoder"\n'
             '  bottom: "target"\n  top: "loss"\n  softmax_param { axis: 2 }\n'
             '  loss_param { report_perplexity: true }\n}\n'
             'layer {\n  name: "accuracy"\n  type: "Accuracy"\n  bottom: "decoder"\n'
             '  bottom: "target"\n  top: "accuracy"\n  accuracy_param { axis: 2 }\n'
             '  include { phase: TEST }\n}\n')
    return text


def describe_variant(variant: Variant) -> str:
    if variant.kind == "nodrop":
        return "no dropout"
    if variant.kind == "standard":
        return f"Dropout {ratio_text(variant.ratio)} on the embedding, between the LSTMs and before the decoder"
    return (f"approximate dropout ({variant.kind.upper()}, ratio {ratio_text(variant.ratio)}) on "
            "the LSTMs' inputs and the decoder's input")


def max_iter(config: Config) -> int:
    return config.epochs * EPOCH


def setting(line: str, comment: str = "") -> str:
    """One solver line, its comment aligned."""
    return f"{line:<28}# {comment}\n" if comment else line + "\n"


def solver(config: Config, variant: Variant) -> str:
    """The solver prototxt of one variant."""
    prefix = (Path("examples_out") / "ptb_lstm" / config.name / variant.name).as_posix()
    net = (MODELS_DIR / config.name / f"{variant.name}_train_val.prototxt").as_posix()
    text = (
        f"# Generated by scripts/make_ptb_models.py: edit the script, not this file.\n"
        f"# {config.note}.\n"
        f"# One epoch = {TRAIN_ROWS} rows / T {STEPS} = {EPOCH} iterations.  lr {BASE_LR:g} on the\n"
        f"# per-token mean loss, clip_gradients {CLIP_GRADIENTS:g}: the largest step, "
        f"{BASE_LR * CLIP_GRADIENTS:g}, is Zaremba's lr 1 x clip 5\n"
        f"# on the time-summed loss (models/ptb_lstm/README.md).\n"
        f'net: "{net}"\n')
    text += setting(f"test_iter: {VALID_BATCHES}", f"{VALID_BATCHES} x {STEPS} = "
                    f"{VALID_BATCHES * STEPS} of the {VALID_ROWS} validation rows (x {STREAMS} streams)")
    text += setting(f"test_interval: {EPOCH}", "every epoch")
    text += setting("test_initialization: false")
    text += setting(f"base_lr: {BASE_LR:g}")
    text += setting('lr_policy: "multistep"')
    text += setting(f"gamma: {config.decay:.6g}", f"at every epoch boundary after the first "
                    f"{config.constant_epochs} epochs")
    for epoch in range(config.constant_epochs, config.epochs):
        text += setting(f"stepvalue: {epoch * EPOCH}", f"end of epoch {epoch}")
    text += setting("momentum: 0")
    text += setting("weight_decay: 0")
    text += setting(f"clip_gradients: {CLIP_GRADIENTS:g}")
    text += setting("display: 100")
    text += setting("average_loss: 100")
    text += setting(f"max_iter: {max_iter(config)}", f"{config.epochs} epochs")
    text += setting(f"snapshot: {EPOCH}", "every epoch")
    text += setting(f'snapshot_prefix: "{prefix}"', f"mkdir -p {Path(prefix).parent.as_posix()}")
    text += setting("solver_mode: GPU", "falls back to the CPU, with a warning, without a GPU")
    text += setting(f"random_seed: {RANDOM_SEED}")
    return text


def generated_files() -> dict[Path, str]:
    files: dict[Path, str] = {}
    for config in CONFIGS:
        for variant in VARIANTS:
            folder = MODELS_DIR / config.name
            files[folder / f"{variant.name}_train_val.prototxt"] = train_val(config, variant)
            files[folder / f"{variant.name}_solver.prototxt"] = solver(config, variant)
    return files


def write_schedules(selected: Sequence[str]) -> None:
    """Runs the pattern generator on every approximate-dropout variant (or the selected
    'config/variant' names) for its solver's max_iter iterations."""
    for config in CONFIGS:
        for variant in VARIANTS:
            if not approximate(variant):
                continue
            if selected and f"{config.name}/{variant.name}" not in selected:
                continue
            net = MODELS_DIR / config.name / f"{variant.name}_train_val.prototxt"
            command = [sys.executable, "-m", "caffe.approx_dropout", "--net", net.as_posix(),
                       "--iterations", str(max_iter(config))]
            print("$ " + " ".join(command), flush=True)
            subprocess.run(command, cwd=REPO_ROOT, check=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make_ptb_models.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a generated file is missing or differs")
    parser.add_argument("--schedules", action="store_true",
                        help="also write the approximate-dropout schedules (needs `import caffe`: "
                             "PYTHONPATH=build/python)")
    parser.add_argument("--only", action="append", default=[], metavar="CONFIG/VARIANT",
                        help="with --schedules: only these variants (e.g. small/row_p50); repeatable")
    args = parser.parse_args(argv)
    known = {f"{c.name}/{v.name}" for c in CONFIGS for v in VARIANTS if approximate(v)}
    unknown = sorted(set(args.only) - known)
    if unknown:
        parser.error(f"--only {', '.join(unknown)}: not an approximate-dropout variant; "
                     f"known: {', '.join(sorted(known))}")

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
    print(f"wrote {len(files)} files under {MODELS_DIR}/ "
          f"({len(CONFIGS)} configs x {len(VARIANTS)} variants, net + solver each)")
    if args.schedules:
        write_schedules(args.only)
    return 0

