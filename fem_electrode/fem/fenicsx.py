"""The one module that imports DOLFINx, PETSc and UFL.

When the PyPI wheel ``dolfinx-solver-real`` is installed its ``dolfinx_solver`` module
must be imported first (it sets up the bundled PETSc/MPI libraries). On a cluster a
DOLFINx 0.11 from a module, Spack or conda is used as it is. Everything else in the
package imports DOLFINx *from here*: ``from fem_electrode.fem.fenicsx import dolfinx, ufl``.
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("dolfinx_solver") is not None:  # the embedded wheel
    import dolfinx_solver  # noqa: F401  (must precede dolfinx / petsc4py)

import basix  # noqa: E402
import dolfinx  # noqa: E402
import dolfinx.fem.petsc  # noqa: E402,F401
import dolfinx.io  # noqa: E402,F401
import dolfinx.io.gmsh  # noqa: E402,F401
import dolfinx.mesh  # noqa: E402,F401
import ufl  # noqa: E402
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

REQUIRED_MAJOR_MINOR = (0, 11)


def _check_version() -> None:
    major, minor = (int(x) for x in dolfinx.__version__.split(".")[:2])
    if (major, minor) != REQUIRED_MAJOR_MINOR:
        raise ImportError(
            f"fem_electrode needs DOLFINx {REQUIRED_MAJOR_MINOR[0]}.{REQUIRED_MAJOR_MINOR[1]}.x, "
            f"found {dolfinx.__version__}; install the extra 'fem_electrode[wheel]' or load a "
            "DOLFINx 0.11 module on your cluster"
        )


_check_version()

__all__ = ["MPI", "PETSc", "basix", "dolfinx", "ufl"]
