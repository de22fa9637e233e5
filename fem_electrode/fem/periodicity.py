"""Periodic lateral faces for a vector Lagrange space, without ``dolfinx_mpc``.

``u(x + Lx e_x) = u(x)`` and ``u(x + Ly e_y) = u(x)``: every node on a max face (x = Lx or
y = Ly, edges and corners included) is a *slave* whose value is its image's on the min faces
(the *master*: x = 0 and/or y = 0; corners map straight to the corner at the origin, so there
are no chains). The constraint is a sparse operator P, u = P û, with P = I except on slave
rows, which pick their master's column. The constrained problem is

    (Pᵀ A P + D) û = Pᵀ b,    u = P û,

where D puts a 1 on the slave diagonals (their rows and columns of Pᵀ A P are empty, and
their û is 0). It keeps the parallel layout of A, so AMG and MUMPS see an ordinary matrix.
Lateral periodicity means zero mean in-plane strain of the cell: the RVE sits in an
endless electrode layer bonded to the thick pellet (like lateral rollers, but the faces
may warp and shear).

The mesh must be periodic: every node on a max face needs a node on the opposite min face
at the translated position (to :data:`MATCH_TOL` × box size). ``geometry.periodic = true``
builds such meshes; :class:`PeriodicityError` names what does not match otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fem_electrode.fem.domain import bounding_box
from fem_electrode.fem.fenicsx import MPI, PETSc, dolfinx

#: Nodes within this fraction of the box size of a plane lie on it; images match to it too.
MATCH_TOL = 1e-6
#: The lateral axes of the RVE (x, y); z runs from the separator to the current collector.
LATERAL_AXES = (0, 1)


class PeriodicityError(ValueError):
    """The mesh is not periodic where periodic conditions were asked for."""


@dataclass(frozen=True)
class PeriodicPairs:
    """Owned slave nodes (local indices) and their masters (global node indices)."""

    slaves: np.ndarray
    masters: np.ndarray
    lengths: np.ndarray  #: the periods (m) along the periodic axes

    @property
    def size(self) -> int:
        return int(self.slaves.size)


def _match(points: np.ndarray, targets: np.ndarray, tol: float) -> np.ndarray:
    """Index into ``targets`` of the point at each of ``points`` (−1 where none is within tol)."""
    found = np.full(len(points), -1, dtype=np.int64)
    if not len(points) or not len(targets):
        return found
    index = {tuple(k): i for i, k in enumerate(np.round(targets / tol).astype(np.int64))}
    for i, k in enumerate(np.round(points / tol).astype(np.int64)):
        j = index.get(tuple(k))
        if j is not None and np.max(np.abs(targets[j] - points[i])) <= tol:
            found[i] = j
    for m in np.nonzero(found < 0)[0]:  # a coordinate that rounds to the neighbouring bin
        d = np.max(np.abs(targets - points[m]), axis=1)
        nearest = int(np.argmin(d))
        if d[nearest] <= tol:
            found[m] = nearest
    return found


def lateral_pairs(V: dolfinx.fem.FunctionSpace, axes: tuple[int, ...] = LATERAL_AXES) -> PeriodicPairs:
    """Pair each owned node on a max face of ``axes`` with its master (collective).

    Raises :class:`PeriodicityError` when some slave has no node at its image.
    """
    mesh, imap = V.mesh, V.dofmap.index_map
    comm = mesh.comm
    lo, hi = bounding_box(mesh)
    tol = MATCH_TOL * float(np.max(hi - lo))
    n_owned = imap.size_local
    x = V.tabulate_dof_coordinates()[:n_owned]
    on_hi = np.zeros((n_owned, 3), dtype=bool)
    on_lo = np.zeros(n_owned, dtype=bool)
    for a in axes:
        on_hi[:, a] = np.abs(x[:, a] - hi[a]) <= tol
        on_lo |= np.abs(x[:, a] - lo[a]) <= tol
    slave = on_hi.any(axis=1)
    master = on_lo & ~slave
    image = x[slave].copy()
    for a in axes:
        image[on_hi[slave, a], a] = lo[a]
    cand_x = np.concatenate(comm.allgather(x[master]))
    cand_g = np.concatenate(comm.allgather(imap.local_range[0] + np.nonzero(master)[0]))
    found = _match(image, cand_x, tol)
    missing = int(comm.allreduce(int(np.count_nonzero(found < 0)), op=MPI.SUM))
    if missing:
        where = image[found < 0][:1]
        example = comm.allgather(where)
        first = next(e[0] for e in example if len(e))
        raise PeriodicityError(
            f"periodic lateral faces need a periodic mesh: {missing} node(s) on the faces "
            f"x = {hi[0]:.6g} m / y = {hi[1]:.6g} m have no node at their image on x = {lo[0]:.6g} / "
            f"y = {lo[1]:.6g} (first image at {np.array2string(first, precision=6)} m). Build the "
            "mesh with [geometry] periodic = true, or use mechanics.lateral_bc = 'rollers'")
    return PeriodicPairs(np.nonzero(slave)[0].astype(np.int32), cand_g[found].astype(np.int64),
                         (hi - lo)[list(axes)])


def constraint_operator(V: dolfinx.fem.FunctionSpace, pairs: PeriodicPairs,
                        fixed: np.ndarray) -> tuple[PETSc.Mat, np.ndarray]:
    """P (u = P û) and the owned slave dofs (local, unrolled) for a blocked space.

    ``fixed``: local unrolled dofs with Dirichlet conditions; they stay their own (a
    homogeneous condition holds on both sides of a periodic mesh alike).
    """
    imap, bs = V.dofmap.index_map, V.dofmap.index_map_bs
    comm = V.mesh.comm
    n = imap.size_local * bs
    N = imap.size_global * bs
    first = imap.local_range[0] * bs
    cols = first + np.arange(n, dtype=np.int64)
    slave_dofs = (bs * pairs.slaves[:, None] + np.arange(bs)).ravel()
    master_dofs = (bs * pairs.masters[:, None] + np.arange(bs)).ravel()
    keep = ~np.isin(slave_dofs, fixed)
    slave_dofs, master_dofs = slave_dofs[keep], master_dofs[keep]
    cols[slave_dofs] = master_dofs
    indptr = np.arange(n + 1, dtype=PETSc.IntType)
    P = PETSc.Mat().createAIJ(((n, N), (n, N)), bsize=bs, comm=comm,
                              csr=(indptr, cols.astype(PETSc.IntType), np.ones(n)))
    P.assemble()
    return P, slave_dofs.astype(np.int32)


def slave_identity(A: PETSc.Mat, slave_dofs: np.ndarray) -> PETSc.Mat:
    """D: 1 on the diagonal of the owned ``slave_dofs`` (local), 0 elsewhere; A's layout."""
    (n, N), _ = A.getSizes()
    first = A.getOwnershipRange()[0]
    mask = np.zeros(n, dtype=bool)
    mask[slave_dofs] = True
    indptr = np.concatenate([[0], np.cumsum(mask)]).astype(PETSc.IntType)
    cols = (first + np.nonzero(mask)[0]).astype(PETSc.IntType)
    D = PETSc.Mat().createAIJ(((n, N), (n, N)), bsize=A.getBlockSize(), comm=A.getComm(),
                              csr=(indptr, cols, np.ones(cols.size)))
    D.assemble()
    return D
