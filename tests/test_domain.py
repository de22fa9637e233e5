"""Domain: tags by name, submeshes, interface data with a fixed "+" side, measures.

Runs serially and on 2 ranks; global figures must not depend on the number of ranks.
"""

from __future__ import annotations

import numpy as np
import pytest
from layered import layered_box

from fem_electrode import tags
from fem_electrode.fem.domain import Domain
from fem_electrode.fem.fenicsx import MPI, dolfinx, ufl

L = (2e-6, 1e-6, 4e-6)  # m
N = (4, 2, 8)


@pytest.fixture
def column(comm) -> Domain:
    return layered_box(comm, L, N, z_interface=2e-6)


def test_phase_volumes_and_interface_area(column):
    assert column.volume("NVP") == pytest.approx(L[0] * L[1] * 2e-6, rel=1e-12)
    assert column.volume("NZSP") == pytest.approx(L[0] * L[1] * 2e-6, rel=1e-12)
    one = dolfinx.fem.Constant(column.mesh, 1.0)
    area = column.mesh.comm.allreduce(
        dolfinx.fem.assemble_scalar(dolfinx.fem.form(one * column.dS())), op=MPI.SUM)
    assert area == pytest.approx(L[0] * L[1], rel=1e-12)


def test_interface_plus_side_is_nvp(column):
    ent = column.interface_entities()
    assert np.all(column.cell_phase(ent[:, 0]) == tags.cell_tag("NVP"))
    assert np.all(column.cell_phase(ent[:, 2]) == tags.cell_tag("NZSP"))
    counts = column.global_counts()
    assert counts["facets_interface_nvp_nzsp"] == 2 * N[0] * N[1]  # two triangles per square
    assert counts["cells_NVP"] == counts["cells_NZSP"] == 6 * N[0] * N[1] * N[2] // 2


def test_plus_side_restriction_sees_nvp_values(column):
    """A DG0 phase indicator restricted ("+") on the interface is the NVP value everywhere."""
    V = dolfinx.fem.functionspace(column.mesh, ("DG", 0))
    ind = dolfinx.fem.Function(V)
    ind.x.array[:] = (column._cell_marker == tags.cell_tag("NVP")).astype(float)
    plus = column.mesh.comm.allreduce(
        dolfinx.fem.assemble_scalar(dolfinx.fem.form(ind("+") * column.dS())), op=MPI.SUM)
    minus = column.mesh.comm.allreduce(
        dolfinx.fem.assemble_scalar(dolfinx.fem.form(ind("-") * column.dS())), op=MPI.SUM)
    assert plus == pytest.approx(L[0] * L[1], rel=1e-12)
    assert minus == pytest.approx(0.0, abs=1e-30)


def test_phase_boundary_measure(column):
    one = dolfinx.fem.Constant(column.mesh, 1.0)
    comm = column.mesh.comm

    def area(measure):
        return comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(one * measure)), op=MPI.SUM)

    assert area(column.ds("current_collector", "NVP")) == pytest.approx(L[0] * L[1], rel=1e-12)
    assert area(column.ds("current_collector", "NZSP")) == pytest.approx(0.0, abs=1e-30)
    assert area(column.ds("separator")) == pytest.approx(L[0] * L[1], rel=1e-12)


def test_submesh_function_in_parent_form(column):
    """Integrate a submesh function over the parent interface measure via entity maps."""
    nvp = column.submesh("NVP")
    V = dolfinx.fem.functionspace(nvp.mesh, ("Lagrange", 1))
    c = dolfinx.fem.Function(V)
    c.interpolate(lambda x: 1.0 + x[0] / L[0])
    form = dolfinx.fem.form(c("+") * column.dS(), entity_maps=column.entity_maps)
    value = column.mesh.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)
    assert value == pytest.approx(1.5 * L[0] * L[1], rel=1e-12)
    x = ufl.SpatialCoordinate(nvp.mesh)
    vol = nvp.mesh.comm.allreduce(
        dolfinx.fem.assemble_scalar(dolfinx.fem.form(x[2] * ufl.dx(domain=nvp.mesh))), op=MPI.SUM)
    assert vol == pytest.approx(L[0] * L[1] * (4e-6**2 - 2e-6**2) / 2, rel=1e-12)


def test_unknown_name_fails_loudly(column):
    with pytest.raises(tags.TagError, match="unknown cell name 'NPV'"):
        column.cells("NPV")
    with pytest.raises(ValueError, match="not an interior grid plane"):
        layered_box(column.mesh.comm, L, N, z_interface=1.1e-6)
