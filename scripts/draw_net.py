#!/usr/bin/env python3
"""Draw a net prototxt as an image (png, svg, pdf, ...: the output file's extension), as BVLC's
python/draw_net.py does.  Needs pydot and Graphviz's dot.

    scripts/draw_net.py models/lenet/train_val.prototxt lenet.png --phase TRAIN
"""
from __future__ import annotations

import argparse
import sys

import caffe
import caffe.draw

PHASES = {"TRAIN": caffe.TRAIN, "TEST": caffe.TEST, "ALL": None}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input_net_proto_file", help="the net prototxt")
    parser.add_argument("output_image_file", help="the image to write (its extension picks the "
                        "format)")
    parser.add_argument("--rankdir", default="LR", choices=("LR", "RL", "TB", "BT"),
                        help="direction of the graph: left-right, top-bottom, ... (default LR)")
    parser.add_argument("--phase", default="ALL", choices=tuple(PHASES),
                        help="draw only the layers of this phase (default ALL)")
    parser.add_argument("--display_lrm", action="store_true",
                        help="show the learning-rate multipliers of layers with parameters")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        net = caffe.io.load_net_param(args.input_net_proto_file)
    except (OSError, caffe.CaffeError) as error:
        print(f"draw_net.py: {error}", file=sys.stderr)
        return 1
    caffe.draw.draw_net_to_file(net, args.output_image_file, args.rankdir, PHASES[args.phase],
                                args.display_lrm)
    print(f"Drew {args.input_net_proto_file} to {args.output_image_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
