"""Loads the compiled parts of the package with errors that say how to fix them.

The classic pycaffe failure is a protobuf Python runtime that cannot load the generated
caffe_pb2.py ("cannot import name 'builder'", "Descriptors cannot be created directly"); the
other is importing the source tree instead of the build directory.  Both become an ImportError
whose message names the cause and the fix.
"""
from __future__ import annotations

import importlib
import os
import re
from types import ModuleType

# caffe_pb2.py comes from the build's protoc (3.21 on Debian 12); its code needs the
# `google.protobuf.internal.builder` module, new in protobuf 3.20.
MIN_PROTOBUF = (3, 20)
PROTOBUF_FIX = "pip install 'protobuf>=4.21,<5'"
BUILD_HINT = ("build ApproxCaffe (cmake --build build) and put <build>/python on PYTHONPATH, "
              "not the source tree's python/ folder")


def parse_version(version: str) -> tuple[int, ...]:
    """The leading numeric components of a version string: '4.21.12' -> (4, 21, 12)."""
    numbers = re.match(r"\d+(\.\d+)*", version)
    if numbers is None:
        raise ValueError(f"cannot read version {version!r}")
    return tuple(int(part) for part in numbers.group(0).split("."))


def incompatible_protobuf(version: str, reason: str) -> ImportError:
    return ImportError(
        f"caffe cannot use the installed protobuf Python runtime {version}: {reason}. "
        f"Install a runtime that matches the generated caffe_pb2.py: {PROTOBUF_FIX}")


def check_protobuf_version(version: str) -> None:
    """Raises ImportError (with the fix) when `version` is too old for caffe_pb2.py."""
    if parse_version(version)[:2] < MIN_PROTOBUF:
        needed = ".".join(map(str, MIN_PROTOBUF))
        raise incompatible_protobuf(version, f"caffe_pb2.py needs protobuf >= {needed}")


def load_caffe_pb2() -> ModuleType:
    """Imports caffe.proto.caffe_pb2 after checking that the protobuf runtime can load it."""
    try:
        import google.protobuf
    except ImportError as error:
        raise ImportError(f"caffe needs the protobuf Python package: {PROTOBUF_FIX}") from error
    version = google.protobuf.__version__
    check_protobuf_version(version)
    try:
        return importlib.import_module("caffe.proto.caffe_pb2")
    except ModuleNotFoundError as error:
        if error.name is not None and error.name.startswith("caffe.proto"):
            raise ImportError(f"caffe.proto.caffe_pb2 is missing: {BUILD_HINT}") from error
        raise incompatible_protobuf(version, str(error)) from error
    except (ImportError, TypeError, AttributeError) as error:
        # Generated code and runtime disagree (e.g. "Descriptors cannot be created directly").
        raise incompatible_protobuf(version, str(error)) from error


def load_extension() -> ModuleType:
    """Imports the compiled _caffe module.  libgomp (oneDNN's threads) reads OMP_WAIT_POLICY when
    the extension loads it: unless the user chose one, PASSIVE keeps its idle threads from
    spinning on the cores that OpenBLAS and our own threads need (as the caffe tool does)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        return importlib.import_module("caffe._caffe")
    except ModuleNotFoundError as error:
        if error.name == "caffe._caffe":
            raise ImportError(
                f"the compiled module caffe._caffe is missing: {BUILD_HINT}") from error
        raise
