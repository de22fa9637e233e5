"""Write or read a checkpoint of fields with known values on a mesh, on any number of ranks.

    mpiexec -n R python tests/checkpoint_roundtrip.py write MESH.msh FILE.npz
    mpiexec -n R python tests/checkpoint_roundtrip.py read MESH.msh FILE.npz

``write`` fills c and φ_s (P1 on the NVP submesh) and φ_e (P1 on NZSP) with smooth functions
of the coordinates and writes the checkpoint; ``read`` restores them into fresh functions and
exits 1 unless every dof holds the written value (printed per field: matched dofs, largest
difference). The values are O(1) and a mismatched dof is off by O(1); the tolerance only
absorbs the round-off of the push-forward that places a vertex's dof (≈ 1e-15), which can
differ between the cells of two partitions.
"""

from __future__ import annotations

import sys

import numpy as np

from fem_electrode.fem.domain import Domain
from fem_electrode.fem.fenicsx import MPI, dolfinx
from fem_electrode.outputs import checkpoint

#: Largest accepted difference (values are of order 1 to 10).
TOLERANCE = 1e-12


def exact(x: np.ndarray, k: float) -> np.ndarray:
    return np.sin(k * 1e6 * x[0]) + np.cos(2e6 * x[1]) * x[2] * 1e6 + k


def fields(domain: Domain) -> list[dolfinx.fem.Function]:
    out = []
    for name, phase in (("c", "NVP"), ("phi_s", "NVP"), ("phi_e", "NZSP")):
        V = dolfinx.fem.functionspace(domain.submesh(phase).mesh, ("Lagrange", 1))
        out.append(dolfinx.fem.Function(V, name=name))
    return out


def main() -> int:
    mode, msh, path = sys.argv[1:4]
    comm = MPI.COMM_WORLD
    domain = Domain.from_msh(msh, comm)
    funcs = fields(domain)
    if mode == "write":
        for k, f in enumerate(funcs, start=1):
            f.interpolate(lambda x, k=k: exact(x, k))
        checkpoint.write(path, funcs, {"ranks": comm.size}, comm)
        return 0
    state = checkpoint.read(path, funcs, comm)
    worst = 0.0
    for k, f in enumerate(funcs, start=1):
        want = exact(f.function_space.tabulate_dof_coordinates().T, k)
        diff = comm.allreduce(float(np.max(np.abs(f.x.array - want), initial=0.0)), op=MPI.MAX)
        worst = max(worst, diff)
        if comm.rank == 0:
            print(f"{f.name}: {f.function_space.dofmap.index_map.size_global} dofs, max |diff| {diff:.3e}")
    if comm.rank == 0:
        print(f"written on {state['ranks']} rank(s), read on {comm.size}")
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
