"""Mechanics metrics and API: rank-independent weighted percentiles, serial vs parallel
metrics, anisotropic eigenstrain, concentration inputs, fields, solver failure.
Runs serially and on 2 ranks."""

from __future__ import annotations

import numpy as np
import pytest
from builders import Mechanics
from layered import layered_box

from fem_electrode.config import ConfigError, validate
from fem_electrode.fem.elastic_solver import ElasticSolveError
from fem_electrode.fem.fenicsx import MPI, dolfinx
from fem_electrode.outputs import statistics, stress
from fem_electrode.outputs.mechanics_fields import MechanicsFieldWriter

L = (2e-6, 2e-6, 3e-6)  # m
N = (3, 3, 6)
Z_IFACE = 2e-6


def reference_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Serial definition: the smallest sample whose cumulative weight reaches q·W."""
    order = np.argsort(values, kind="stable")
    cw = np.cumsum(weights[order])
    i = np.searchsorted(cw, q * cw[-1] * (1 - statistics.QUANTILE_RTOL), side="left")
    return float(values[order][i])


def test_weighted_quantile_is_rank_independent(comm):
    rng = np.random.default_rng(7)
    n = 1001
    values = rng.normal(size=n)
    values[::10] = values[0]  # ties in the values
    weights = np.where(np.arange(n) % 3 == 0, 1.0, rng.uniform(0.5, 2.0, n))
    weights[:400] = 1.0  # ties in the cumulative weights
    chunks = np.array_split(rng.permutation(n), comm.size + 1)  # uneven shares, shuffled
    mine = np.concatenate([chunks[comm.rank], chunks[-1]]) if comm.rank == 0 else chunks[comm.rank]
    for q in (0.0, 0.3, 0.5, 0.95, 0.99, 1.0):
        expected = reference_quantile(values, weights, q)
        assert statistics.weighted_quantile(values, weights, q, MPI.COMM_SELF) == expected
        assert statistics.weighted_quantile(values[mine], weights[mine], q, comm) == expected
    d = statistics.distribution(values[mine], weights[mine], comm, threshold=0.5)
    assert d["mean"] == pytest.approx(values @ weights / weights.sum(), rel=1e-12)
    assert d["fraction_above"] == pytest.approx(weights[values > 0.5].sum() / weights.sum(), rel=1e-12)
    assert (d["min"], d["max"]) == (values.min(), values.max())
    empty = statistics.distribution(np.zeros(0), np.zeros(0), comm)
    assert empty["p95"] is None and empty["mean"] is None


def _problem(comm, **mech) -> Mechanics:
    """Film + substrate, clamped separator and free sides (non-uniform stresses), MUMPS."""
    case = validate({"mechanics": {"separator_bc": "clamped", "lateral_bc": "free", **mech},
                     "solver": {"linear": "direct"}})
    domain = layered_box(comm, L, N, z_interface=Z_IFACE)
    mech_problem = Mechanics(domain, case)
    sub = domain.submesh("NVP")
    c = dolfinx.fem.Function(dolfinx.fem.functionspace(sub.mesh, ("Lagrange", 1)))
    c_max = case.materials.c_max
    c.interpolate(lambda x: c_max * (0.2 + 0.5 * x[0] / L[0] + 0.2 * (x[2] - Z_IFACE) / (L[2] - Z_IFACE)))
    mech_problem.solve(c)
    return mech_problem


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out[prefix + k] = float(v)
    return out


def test_metrics_identical_serial_and_parallel(comm):
    """The same case on COMM_WORLD and on COMM_SELF (each rank alone): identical metrics."""
    world = _problem(comm)
    m_world = _flatten(world.metrics())
    alone = _problem(MPI.COMM_SELF)
    m_self = _flatten(alone.metrics())
    assert m_world.keys() == m_self.keys()
    scale = abs(m_self["phases.NVP.von_mises.max"])
    for key, value in m_self.items():
        tol = 1e-8 * scale if ("traction" in key or "von_mises" in key or "hydrostatic" in key
                               or "principal" in key) else 0.0
        assert m_world[key] == pytest.approx(value, rel=1e-8, abs=tol), key
    assert m_self["phases.NVP.von_mises.p99"] > m_self["phases.NVP.von_mises.p95"]  # a real spread
    world.destroy()
    alone.destroy()


def test_anisotropic_film(comm):
    """Rollers, film state: σ_xx = σ_yy = −E e_a (y_ref − y)/(1 − ν); the c-axis strain is free.
    The lattice strains are required with the anisotropic model (no default) and distinct, so a
    swap of the a and c axes is caught."""
    with pytest.raises(ConfigError, match="needs lattice_strain_a and lattice_strain_c"):
        validate({"mechanics": {"strain_model": "anisotropic"}})
    case = validate({"mechanics": {"strain_model": "anisotropic", "lattice_strain_a": -0.0345,
                                   "lattice_strain_c": -0.0153}})
    domain = layered_box(comm, L, N, z_interface=Z_IFACE)
    mech = Mechanics(domain, case)
    y = 0.25
    mech.solve_y(y)
    m = mech.metrics()
    mat, mc = case.materials, case.mechanics
    e_a, e_c = mc.lattice_strain_a * (mc.y_ref - y), mc.lattice_strain_c * (mc.y_ref - y)
    sigma = -mat.E_nvp * e_a / (1 - mat.nu_nvp)
    assert m["phases"]["NVP"]["max_principal"]["mean"] == pytest.approx(sigma, rel=1e-6)
    assert m["phases"]["NVP"]["hydrostatic"]["mean"] == pytest.approx(2 * sigma / 3, rel=1e-6)
    # tr ε(u) = e_c + 2ν/(1−ν) e_a (plane biaxial constraint) over tr ε_ch = 2 e_a + e_c
    nu = mat.nu_nvp
    index = (e_c + 2 * nu / (1 - nu) * e_a) / (2 * e_a + e_c)
    assert m["strain_accommodation_index"] == pytest.approx(index, rel=1e-6)
    mech.destroy()


def test_concentration_inputs(comm):
    """A number, a submesh Function and a parent-mesh Function give the same solution."""
    case = validate({})
    domain = layered_box(comm, L, N, z_interface=Z_IFACE)
    mech = Mechanics(domain, case)
    c_val = 0.3 * case.materials.c_max
    mech.solve(c_val)
    u_ref = mech.u.x.array.copy()
    sub = dolfinx.fem.Function(dolfinx.fem.functionspace(domain.submesh("NVP").mesh, ("Lagrange", 1)))
    sub.x.array[:] = c_val
    mech.solve(sub)
    assert np.allclose(mech.u.x.array, u_ref, rtol=1e-8, atol=1e-8 * np.abs(u_ref).max())
    parent = dolfinx.fem.Function(dolfinx.fem.functionspace(domain.mesh, ("DG", 0)))
    parent.x.array[:] = c_val
    mech.solve(parent)
    assert np.allclose(mech.u.x.array, u_ref, rtol=1e-8, atol=1e-8 * np.abs(u_ref).max())
    p2 = dolfinx.fem.Function(dolfinx.fem.functionspace(domain.submesh("NVP").mesh, ("Lagrange", 2)))
    with pytest.raises(ValueError, match="c_degree=2"):
        mech.solve(p2)
    mech.destroy()


def test_write_fields_time_series(comm, mpi_tmp_path):
    domain = layered_box(comm, L, N, z_interface=Z_IFACE)
    mech = Mechanics(domain, validate({}))
    with mech.field_writer(mpi_tmp_path / "fields") as writer:
        for t, y in ((0.0, 0.9), (60.0, 0.5)):
            mech.solve_y(y)
            writer.write(t)
    comm.Barrier()
    names = ["displacement", "stress", *MechanicsFieldWriter.SCALARS, "interface_normal_traction",
             "interface_shear_traction"]
    if comm.rank == 0:
        for name in names:
            text = (mpi_tmp_path / "fields" / f"{name}.xdmf").read_text()
            assert text.count('<Time Value="60"') == 1 and text.count('<Time Value="0"') == 1, name
    mech.destroy()


def test_solver_failure_raises(comm):
    case = validate({"solver": {"petsc": {"mechanics_ksp_max_it": 1}}})
    domain = layered_box(comm, L, N, z_interface=Z_IFACE)
    mech = Mechanics(domain, case)
    with pytest.raises(ElasticSolveError, match=r"diverged: DIVERGED_(MAX_)?ITS? after 1 iterations"):
        mech.solve_y(0.0)
    mech.destroy()


@pytest.mark.parametrize(("separator", "lateral", "free"), [
    ("fixed_z", "rollers", 0), ("clamped", "free", 0), ("fixed_z", "free", 3), ("free", "rollers", 1),
])
def test_rigid_modes_left_free_by_the_bcs(comm, separator, lateral, free):
    """Free modes become the Krylov null space: the solve converges and u has no rigid part."""
    case = validate({"mechanics": {"separator_bc": separator, "lateral_bc": lateral}})
    domain = layered_box(comm, L, N, z_interface=Z_IFACE)
    mech = Mechanics(domain, case)
    assert mech.solver.free_modes == free
    info = mech.solve_y(0.0)
    assert info.reason.startswith("CONVERGED")
    for k in mech.solver._kernel:
        n = k.index_map.size_local * k.block_size
        dot = comm.allreduce(float(k.array[:n] @ mech.u.x.array[:n]), op=MPI.SUM)
        norm = comm.allreduce(float(mech.u.x.array[:n] @ mech.u.x.array[:n]), op=MPI.SUM) ** 0.5
        assert abs(dot) < 1e-8 * norm
    mech.destroy()


def test_hydrostatic_stress_hook(comm):
    """The two-way coupling hook: σ_h of NVP on a DG0 Function of the NVP submesh (film: 2σ_f/3)."""
    case = validate({})
    domain = layered_box(comm, L, N, z_interface=Z_IFACE)
    mech = Mechanics(domain, case)
    mech.solve_y(0.0)
    mat = case.materials
    film = mat.E_nvp * mat.omega_nvp * mat.c_max / 3.0 / (1 - mat.nu_nvp)
    target = dolfinx.fem.Function(dolfinx.fem.functionspace(domain.submesh("NVP").mesh, ("DG", 0)))
    mech.interpolate_hydrostatic(target)
    assert np.allclose(target.x.array, 2 * film / 3, rtol=1e-6)
    mech.destroy()


def test_invariants_against_numpy():
    rng = np.random.default_rng(3)
    s = rng.normal(size=(2000, 3, 3)) * 1e9
    s = 0.5 * (s + np.swapaxes(s, 1, 2))
    s[:3] = np.diag([2e9, 2e9, 2e9])  # degenerate: all principal stresses equal
    s[3] = np.diag([1e9, 1e9, -3e9])  # two equal
    eig = np.linalg.eigvalsh(s)
    assert np.allclose(stress.max_principal(s), eig[:, -1], rtol=1e-9, atol=1e-6 * 1e9)
    assert np.allclose(stress.hydrostatic(s), eig.sum(axis=1) / 3, rtol=1e-12, atol=1e-3)
    d01, d12, d20 = eig[:, 0] - eig[:, 1], eig[:, 1] - eig[:, 2], eig[:, 2] - eig[:, 0]
    vm = np.sqrt(0.5 * (d01**2 + d12**2 + d20**2))
    assert np.allclose(stress.von_mises(s), vm, rtol=1e-9, atol=1e-3)
