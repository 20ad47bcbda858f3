#!/usr/bin/env python3
"""Write the CIFAR-10 models of models/cifar10_{alexnet,resnet18,mobilenet}: lib/cifar_models.py's
command line (--help)."""
import sys

from lib.cifar_models import main

if __name__ == "__main__":
    sys.exit(main())
