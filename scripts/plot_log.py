#!/usr/bin/env python3
"""Plot training loss and test outputs from a `caffe train` log: lib/plot_log.py's command line."""
import sys

from lib.plot_log import main

if __name__ == "__main__":
    sys.exit(main())
