"""ApproxCaffe's Python interface, compatible with BVLC Caffe's pycaffe.

    import caffe
    caffe.set_mode_cpu()
    net = caffe.Net("deploy.prototxt", "weights.caffemodel", caffe.TEST)
    out = net.forward(data=batch)

Blob ``.data`` / ``.diff`` are float32 numpy views of the blob memory (writes go to the net).
``caffe.NetSpec`` with ``caffe.layers`` / ``caffe.params`` writes prototxt from Python;
``caffe.io`` converts between numpy arrays and the protobuf messages of ``caffe.proto.caffe_pb2``;
``caffe.compression`` encodes weights with the quantization + Huffman codec (encode / decode /
inspect).
``caffe.get_solver(file)`` / ``caffe.SGDSolver(file)`` / ``caffe.Solver.from_param(param)`` train
nets (``step``, ``solve``, ``snapshot``, ``restore``, ``apply_update``, callbacks); ``caffe.Layer``
is the base class of Python layers (layer type "Python").
``caffe.Classifier`` / ``caffe.Detector`` classify images and score image windows;
``caffe.coord_map`` aligns NetSpec tops (``crop``); ``caffe.draw`` draws nets (needs pydot and
Graphviz, so it is imported on demand: ``import caffe.draw``).
"""
from __future__ import annotations

from ._loader import load_caffe_pb2, load_extension

# Protobuf first: an incompatible runtime is reported with its fix before anything else fails.
load_caffe_pb2()
load_extension()

from . import proto  # noqa: E402
from ._caffe import (  # noqa: E402
    TEST,
    TRAIN,
    AdaDeltaSolver,
    AdaGradSolver,
    AdamSolver,
    Blob,
    CaffeError,
    NesterovSolver,
    Net,
    Phase,
    RMSPropSolver,
    SGDSolver,
    Solver,
    blas_info,
    blas_threads,
    column_skip_enabled,
    cuda_compiled,
    gemm_backend,
    get_mode,
    get_solver,
    gpu_count,
    has_nccl,
    layer_type_list,
    set_blas_threads,
    set_column_skip,
    set_device,
    set_gemm_backend,
    set_mode_cpu,
    set_mode_gpu,
    set_random_seed,
    set_sparse_backward,
    sparse_backward,
)
from . import compression, io, pycaffe  # noqa: E402  (pycaffe adds Net's Python methods)
from .classifier import Classifier  # noqa: E402
from .detector import Detector  # noqa: E402
from .layer import Layer  # noqa: E402
from .net_spec import NetSpec, layers, params, to_proto  # noqa: E402
from . import coord_map  # noqa: E402

__version__ = "1.0.0"

__all__ = [
    "TEST", "TRAIN", "AdaDeltaSolver", "AdaGradSolver", "AdamSolver", "Blob", "CaffeError",
    "Classifier", "Detector", "Layer", "NesterovSolver", "Net", "NetSpec", "Phase", "RMSPropSolver",
    "SGDSolver", "Solver", "blas_info", "blas_threads", "column_skip_enabled", "compression",
    "coord_map", "cuda_compiled", "gemm_backend", "get_mode", "get_solver", "gpu_count", "has_nccl", "io",
    "layer_type_list", "layers", "params", "proto", "pycaffe", "set_blas_threads",
    "set_column_skip", "set_device", "set_gemm_backend", "set_mode_cpu", "set_mode_gpu", "set_random_seed",
    "set_sparse_backward", "sparse_backward", "to_proto", "__version__",
]
