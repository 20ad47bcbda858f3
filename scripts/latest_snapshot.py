#!/usr/bin/env python3
"""Print the newest snapshot of a training run: the .solverstate to resume from.

    caffe train --solver S.prototxt --snapshot "$(python scripts/latest_snapshot.py PREFIX)"

PREFIX is the solver's snapshot_prefix (caffe train defaults it to the solver file's path
without its extension).  The newest snapshot is the PREFIX_iter_N.solverstate with the largest
N.  Every snapshot file is written to a temporary file beside it and renamed into place
(caffe/util/io.hpp), and the .caffemodel before its .solverstate, so any file of that name is
whole and its weights exist.  A run killed while writing may leave `.NAME.tmp.XXXXXX` files
behind: they are never picked here and can be deleted.

Exits 1, with a message on stderr, when the run has no snapshot yet.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path


def snapshot_iteration(path: Path, prefix_name: str) -> int | None:
    """N for PREFIX_iter_N.solverstate, None for any other file."""
    match = re.fullmatch(re.escape(prefix_name) + r"_iter_(\d+)\.solverstate", path.name)
    return int(match.group(1)) if match else None


def newest_snapshot(prefix: str | Path) -> Path | None:
    """The PREFIX_iter_N.solverstate with the largest N, or None when there is none."""
    prefix = Path(prefix)
    folder = prefix.parent
    if not folder.is_dir():
        return None
    found = [(iteration, path) for path in folder.iterdir()
             if (iteration := snapshot_iteration(path, prefix.name)) is not None]
    return max(found)[1] if found else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("prefix", help="the solver's snapshot_prefix")
    args = parser.parse_args(argv)
    newest = newest_snapshot(args.prefix)
    if newest is None:
        print(f"latest_snapshot: no {args.prefix}_iter_N.solverstate found", file=sys.stderr)
        return 1
    print(newest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
