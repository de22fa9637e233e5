"""Shared fixtures. Every test runs serially and under ``mpiexec -n 2`` unless marked
``serial``; after each test the communicator is synchronised (as DOLFINx's tests do)."""

from __future__ import annotations

import gc
import shutil
import tempfile
from pathlib import Path

import pytest

from mpi4py import MPI

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _mpi_sync():
    yield
    gc.collect()
    MPI.COMM_WORLD.Barrier()


@pytest.fixture
def comm() -> MPI.Comm:
    return MPI.COMM_WORLD


@pytest.fixture
def mpi_tmp_path(comm):
    """A temporary folder shared by all ranks (created on rank 0, broadcast)."""
    path = tempfile.mkdtemp(prefix="fem_electrode_") if comm.rank == 0 else None
    path = Path(comm.bcast(path, root=0))
    yield path
    comm.Barrier()
    if comm.rank == 0:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def examples() -> Path:
    return ROOT / "examples"
