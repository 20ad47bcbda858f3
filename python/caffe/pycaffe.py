"""The Net and solver classes under BVLC's module name, ``caffe.pycaffe``, with the Net methods
written in Python attached to the compiled class:

- ``forward_all`` / ``forward_backward_all`` (caffe.net_batches): arrays of any length, batch by
  batch;
- ``save_hdf5`` / ``load_hdf5`` (caffe.net_hdf5): weights in BVLC's HDF5 layout.

Everything else of Net (forward / backward with start= / end=, _forward / _backward, blobs,
params, layer_dict, top_names / bottom_names, save, copy_from, share_with, ...) is compiled.
"""
from __future__ import annotations

from . import net_batches, net_hdf5
from ._caffe import (
    AdaGradSolver,
    AdamSolver,
    NesterovSolver,
    Net,
    RMSPropSolver,
    SGDSolver,
    Solver,
)

Net.forward_all = net_batches.forward_all
Net.forward_backward_all = net_batches.forward_backward_all
Net.save_hdf5 = net_hdf5.save_hdf5
Net.load_hdf5 = net_hdf5.load_hdf5

__all__ = ["AdaGradSolver", "AdamSolver", "NesterovSolver", "Net", "RMSPropSolver", "SGDSolver",
           "Solver"]
