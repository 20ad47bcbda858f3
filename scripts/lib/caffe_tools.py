"""Running the project's command-line tools (build/tools/*) from scripts.

A tool that is missing or fails becomes a ``ScriptError`` whose message says what to do, so a
script can print it as one line.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Sequence


class ScriptError(Exception):
    """A problem the user can fix; printed as one line."""


def find_tool(caffe_bin: Path, name: str) -> Path:
    """The executable ``caffe_bin/name``, or a ScriptError saying how to get it."""
    tool = caffe_bin / name
    if not (tool.is_file() and os.access(tool, os.X_OK)):
        raise ScriptError(f"{tool} not found; build the project first (cmake --build build) "
                          "or pass --caffe-bin")
    return tool


def run_tool(command: Sequence[object]) -> subprocess.CompletedProcess[str]:
    """Runs a tool and returns its result; a non-zero exit is a ScriptError with its stderr."""
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True)
    if result.returncode != 0:
        message = result.stderr.strip() or f"exit status {result.returncode}"
        raise ScriptError(f"{Path(str(command[0])).name} failed: {message}")
    return result
