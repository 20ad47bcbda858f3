#!/usr/bin/env python3
"""Generate Approximate Random Dropout pattern schedules.

A thin wrapper around ``python -m caffe.approx_dropout`` (same options; see --help).  The
``caffe`` package must be importable: put the build's python folder on PYTHONPATH.
"""
import sys

try:
    from caffe.approx_dropout import main
except ImportError as error:
    sys.exit(f"error: cannot import caffe.approx_dropout ({error}); put the build's python "
             "folder on PYTHONPATH, e.g. PYTHONPATH=build/python")

if __name__ == "__main__":
    sys.exit(main(prog="generate_patterns.py"))
