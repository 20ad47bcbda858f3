"""The command line of the schedule generator (``python -m caffe.approx_dropout --help``).

    python -m caffe.approx_dropout --ratio 0.5 --iterations 10000 --out fc6.schedule
    python -m caffe.approx_dropout --net train_val.prototxt --iterations 10000 [--out-dir DIR]
    python -m caffe.approx_dropout --show fc6.schedule
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from .algorithm import (DEFAULT_LAMBDA1, DEFAULT_LEARNING_RATE, DEFAULT_MAX_STEPS, DEFAULT_SEED,
                        DEFAULT_THRESHOLD, MAX_DEFAULT_PERIOD, PERIOD_SCALE_LIMIT, ScheduleError,
                        default_max_period, make_schedule)
from .planning import schedules_for_net
from .schedule_io import format_summary, read_schedule, write_schedule

PROG = "python -m caffe.approx_dropout"


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1), got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _seed(text: str) -> int:
    value = int(text)
    if not 0 <= value < 2 ** 64:
        raise argparse.ArgumentTypeError(f"must lie in [0, 2^64), got {text}")
    return value


def _add_mode_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--ratio", type=_probability, help="target dropout rate p in (0, 1)")
    mode.add_argument("--net", metavar="PROTOTXT",
                      help="net prototxt: write a schedule for each approximate-dropout layer")
    mode.add_argument("--show", metavar="FILE", help="summarise an existing schedule file")
    parser.add_argument("--iterations", type=_positive_int,
                        help="schedule length (normally the solver's max_iter)")


def _add_layer_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pattern", choices=("row", "tile"), default="row",
                        help="pattern kind recorded in the schedule (default row)")
    parser.add_argument("--max-period", type=_positive_int, default=None,
                        help="largest period N (default ceil(2/(1-ratio)), at most "
                             f"{MAX_DEFAULT_PERIOD}, capped by the width); with --net it caps "
                             "every layer")
    parser.add_argument("--min-period", type=_positive_int, default=1,
                        help="smallest period m (default 1): periods below it get no mass, so "
                             "the kept fraction 1/dp varies less between iterations; with --net "
                             "it applies to every layer")
    parser.add_argument("--width", type=_positive_int, default=None,
                        help="units (row) or tiles (tile) the pattern ranges over; caps N")
    parser.add_argument("--tile-size", type=_positive_int, default=None,
                        help="tile size to record in a tile schedule")
    parser.add_argument("--layer-name", default=None, help="layer name to record")
    parser.add_argument("--tile-order", choices=("staggered", "row-major"), default="staggered",
                        help="tile numbering recorded in a tile schedule (default staggered: tile "
                             "(r, c) kept iff (r + c) mod dp = b; row-major: the first "
                             "releases' r*C + c)")
    parser.add_argument("--scale", choices=("global", "period"), default=None,
                        help="the layer's approx_dropout_param.scale, if known: a warning says "
                             f"when the largest period would scale activations beyond "
                             f"{PERIOD_SCALE_LIMIT}x under period")


def _add_search_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lambda1", type=float, default=DEFAULT_LAMBDA1,
                        help=f"weight of the rate error (default {DEFAULT_LAMBDA1})")
    parser.add_argument("--lambda2", type=float, default=None,
                        help="weight of the negative entropy (default 1 - lambda1)")
    parser.add_argument("--lr", type=float, default=DEFAULT_LEARNING_RATE,
                        help=f"gradient-descent step size (default {DEFAULT_LEARNING_RATE:g})")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help=f"stop when |delta loss| < this (default {DEFAULT_THRESHOLD:g})")
    parser.add_argument("--max-steps", type=_positive_int, default=DEFAULT_MAX_STEPS,
                        help=f"gradient-descent step limit (default {DEFAULT_MAX_STEPS})")
    parser.add_argument("--seed", type=_seed, default=DEFAULT_SEED,
                        help=f"shuffle/offset seed (default {DEFAULT_SEED}); with --net each "
                             "layer uses a seed derived from this and its name")


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="FILE",
                        help="schedule file to write (--ratio mode; omit to only print)")
    parser.add_argument("--out-dir", metavar="DIR",
                        help="folder for relative schedule_file paths (--net mode; default: the "
                             "current directory, where the layers look for them)")


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Generate Approximate Random Dropout pattern schedules (Song et al., "
                    "Algorithm 1): search a distribution over periods 1..N whose dropout rate "
                    "matches the target with high entropy, unfold it into a shuffled "
                    "(period, offset) sequence and write a binary DropoutSchedule.",
        epilog="Modes: --ratio R --iterations T [--out FILE] for one schedule; "
               "--net PROTOTXT --iterations T [--out-dir DIR] for every InnerProductApproxDropout "
               "and LSTMApproxDropout layer of a net; --show FILE to summarise a schedule.")
    _add_mode_arguments(parser)
    _add_layer_arguments(parser)
    _add_search_arguments(parser)
    _add_output_arguments(parser)
    return parser


def _check_mode_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.show is None and args.iterations is None:
        parser.error("--iterations is required with --ratio and --net")
    single_only = {"--out": args.out, "--width": args.width, "--tile-size": args.tile_size,
                   "--layer-name": args.layer_name, "--scale": args.scale}
    if args.net is not None:
        used = [flag for flag, value in single_only.items() if value is not None]
        used += ["--pattern"] if args.pattern != "row" else []
        used += ["--tile-order"] if args.tile_order != "staggered" else []
        if used:
            parser.error(f"{', '.join(used)} cannot be used with --net (each layer's pattern, "
                         "ratio, tile order, scale and width come from the prototxt)")
    elif args.out_dir is not None:
        parser.error("--out-dir is used only with --net")


def _run_single(args: argparse.Namespace) -> None:
    max_period = default_max_period(args.ratio) if args.max_period is None else args.max_period
    schedule = make_schedule(
        args.ratio, max_period, args.iterations, pattern=args.pattern, seed=args.seed,
        lambda1=args.lambda1, lambda2=args.lambda2, lr=args.lr, threshold=args.threshold,
        max_steps=args.max_steps, width=args.width, tile_size=args.tile_size,
        layer_name=args.layer_name, tile_order=args.tile_order, scale=args.scale,
        min_period=args.min_period)
    print(format_summary(schedule))
    if args.out is not None:
        write_schedule(schedule, args.out)
        print(f"  written to      {args.out}")


def _run(args: argparse.Namespace) -> None:
    if args.show is not None:
        print(format_summary(read_schedule(args.show)))
    elif args.net is not None:
        schedules_for_net(args.net, args.iterations, args.out_dir,
                          max_period=args.max_period, min_period=args.min_period,
                          seed=args.seed, lambda1=args.lambda1,
                          lambda2=args.lambda2, lr=args.lr, threshold=args.threshold,
                          max_steps=args.max_steps)
    else:
        _run_single(args)


def main(argv: Optional[Sequence[str]] = None, prog: str = PROG) -> int:
    """Command-line entry point; returns the exit status (1 on a ScheduleError)."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    _check_mode_options(parser, args)
    try:
        _run(args)
    except ScheduleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
