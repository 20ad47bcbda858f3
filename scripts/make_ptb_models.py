#!/usr/bin/env python3
"""Write the PTB LSTM models of models/ptb_lstm: lib/make_ptb_models.py's command line (--help)."""
import sys

from lib.make_ptb_models import main

if __name__ == "__main__":
    sys.exit(main())
