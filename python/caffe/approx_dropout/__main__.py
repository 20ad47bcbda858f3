"""``python -m caffe.approx_dropout``: the schedule generator's command line (see cli.py)."""
import sys

from .cli import main

sys.exit(main())
