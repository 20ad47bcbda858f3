"""Where MPI is missing: plain `caffe train` never starts MPI, and a caffe built without it
(-DCAFFE_USE_MPI=OFF, which links no libmpi) refuses what needs it with how to get it.  The
tests of such a build skip in a build with MPI, and the other way round."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from test_distributed import CAFFE, built_with_mpi, error_lines, write_hdf5, write_solver

MPIRUN = shutil.which("mpirun")
without_mpi = pytest.mark.skipif(built_with_mpi(), reason="needs a build configured with "
                                 "-DCAFFE_USE_MPI=OFF")
HOW_TO_GET_MPI = ("this caffe was built without MPI (cmake -DCAFFE_USE_MPI=OFF); to train on "
                  "several processes, install OpenMPI (Debian: apt-get install openmpi-bin "
                  "libopenmpi-dev), rebuild with -DCAFFE_USE_MPI=ON and start mpirun -np K caffe "
                  "train --solver S.prototxt")


def test_plain_train_does_not_start_mpi(tmp_path: Path) -> None:
    """One process without mpirun trains without MPI_Init: OpenMPI would create its session
    directory under the TMPDIR given here."""
    solver = write_solver(tmp_path, write_hdf5(tmp_path), max_iter=10, test=False)
    sessions = tmp_path / "tmp"
    sessions.mkdir()
    result = subprocess.run([str(CAFFE), "train", f"--solver={solver}"], capture_output=True,
                            text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "TMPDIR": str(sessions),
                                 "OMPI_MCA_orte_tmpdir_base": str(sessions)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert list(sessions.iterdir()) == []


@without_mpi
def test_the_tool_links_no_libmpi() -> None:
    libraries = subprocess.run(["ldd", str(CAFFE)], capture_output=True, text=True).stdout
    assert "libcaffe" in libraries and "libmpi" not in libraries, libraries


@without_mpi
def test_data_parallel_flags_say_the_build_has_no_mpi(tmp_path: Path) -> None:
    result = subprocess.run([str(CAFFE), "train", "--solver=s.prototxt", "--codec=fp16"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert error_lines(result)[0] == ("caffe: --codec is for data-parallel training; " +
                                      HOW_TO_GET_MPI + " --codec ...")


@without_mpi
@pytest.mark.skipif(MPIRUN is None, reason="mpirun not found")
def test_mpirun_of_a_build_without_mpi_stops_every_process_with_how_to_get_it(
        tmp_path: Path) -> None:
    """Without the check, each process would train the whole job alone and all would write
    the same snapshots."""
    solver = write_solver(tmp_path, write_hdf5(tmp_path), max_iter=10, test=False)
    result = subprocess.run([MPIRUN, "--oversubscribe", "--allow-run-as-root", "-np", "2",
                             str(CAFFE), "train", f"--solver={solver}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    lines = error_lines(result)
    assert sorted(lines) == [f"caffe: started by mpirun (rank {r}), but {HOW_TO_GET_MPI}"
                             for r in (0, 1)], result.stderr[-3000:]
    assert not list(tmp_path.glob("*.caffemodel"))
