"""The cohesive NVP|NZSP interface in the finite-element mechanics, on a laminate whose
solution is uniform (closed forms written here, not the package's law).

Laminate: NZSP on 0 < z < L1 held at z = 0, NVP on L1 < z < L1 + L2 held at the collector
z = L1 + L2 (rollers), lateral rollers: uniaxial strain. NVP shrinks with the Vegard strain
ε* = (Ω/3)(c − c_ref) < 0 and pulls the interface open. With M = λ + 2μ (uniaxial-strain
modulus) and B = 3λ + 2μ, equilibrium (one σ_zz everywhere, equal to the normal traction t)
and compatibility (L1 ε1 + δ + L2 ε2 = 0) give

    δ = d − C σ,   C = L1/M1 + L2/M2,   d = −L2 B2 ε*/M2,

and σ = t(δ) from the bilinear law: K δ before the onset, N (δf − δ)/(δf − δ0) on the
softening branch (δ0 = N/K, δf = 2 G_I / N), (1 − D) K δ on the secant after unloading, and
K δ in compression whatever D. The two phases and the two modes have different constants
(a swap of E, of N and S or of G_I and G_II changes the numbers). Serial and 2 ranks.
"""

from __future__ import annotations

import numpy as np
import pytest
from layered import layered_box

from fem_electrode.fem.fenicsx import MPI, dolfinx
from fem_electrode.physics.cohesive import CohesiveLaw
from fem_electrode.problems.cohesive_mechanics import CohesiveMechanicsProblem
from fem_electrode.problems.mechanics import MechanicsError, MechanicsParams

L1, L2, LX = 1.0e-6, 1.0e-6, 0.5e-6  # m
E1, NU1, E2, NU2 = 100e9, 0.25, 60e9, 0.30  # NZSP, NVP (Pa, -)
N, S, G_I, G_II, K, ETA = 50e6, 80e6, 1.0, 2.0, 1e16, 2.0  # Pa, Pa, J/m², J/m², Pa/m, -
C_MAX = 1.0e4  # mol/m³
STRAIN_AT_EMPTY = 0.03  # |ε*| at y = 0 (isotropic Vegard strain, linear)

M1 = E1 * (1 - NU1) / ((1 + NU1) * (1 - 2 * NU1))
M2 = E2 * (1 - NU2) / ((1 + NU2) * (1 - 2 * NU2))
B2 = E2 / (1 - 2 * NU2)
C = L1 / M1 + L2 / M2
D0, DF = N / K, 2 * G_I / N


def drive(y: float) -> float:
    """d (m): the opening if the interface carried no traction."""
    eps = STRAIN_AT_EMPTY * (y - 1.0)
    return -L2 * B2 * eps / M2


def y_of_drive(d: float) -> float:
    return 1.0 - d * M2 / (L2 * B2 * STRAIN_AT_EMPTY)


def params(**kw) -> MechanicsParams:
    base = dict(E_nzsp=E1, nu_nzsp=NU1, E_nvp=E2, nu_nvp=NU2, omega=3 * STRAIN_AT_EMPTY / C_MAX, c_max=C_MAX,
                y_ref=1.0, strain_model="isotropic", lattice_strain_a=None, lattice_strain_c=None,
                separator_bc="fixed_z", lateral_bc="rollers", collector_bc="rollers", degree=1)
    base.update(kw)
    return MechanicsParams(**base)


@pytest.fixture(scope="module")
def laminate():
    domain = layered_box(MPI.COMM_WORLD, (LX, LX, L1 + L2), (1, 1, 4), L1)
    return domain


def make(domain) -> CohesiveMechanicsProblem:
    return CohesiveMechanicsProblem(domain, params(), CohesiveLaw(N, S, G_I, G_II, K, ETA), tolerance=1e-10)


class Probe:
    """The laminate's jump and stress after a solve (every facet and cell is alike)."""

    def __init__(self, problem: CohesiveMechanicsProblem):
        self.p = problem
        domain = problem.domain
        self._szz = dolfinx.fem.form(problem.stress("NVP")[2, 2] * domain.dx("NVP"))
        self._vol = domain.volume("NVP")

    def __call__(self, y: float) -> tuple[float, float, float]:
        """(δ_n, σ_zz, D) after solving at filling y; the jump is checked uniform and normal."""
        self.p.solve_y(y)
        comm = self.p.domain.mesh.comm
        dn, ds = self.p.facet_jumps()
        lo = comm.allreduce(float(np.min(dn, initial=np.inf)), op=MPI.MIN)
        hi = comm.allreduce(float(np.max(dn, initial=-np.inf)), op=MPI.MAX)
        assert hi - lo <= 1e-9 * abs(hi) + 1e-20
        assert comm.allreduce(float(np.max(ds, initial=0.0)), op=MPI.MAX) <= 1e-9 * abs(hi) + 1e-20
        sigma = comm.allreduce(dolfinx.fem.assemble_scalar(self._szz), op=MPI.SUM) / self._vol
        return hi, sigma, self.p.interface_state().max_damage


def test_loading_follows_the_bilinear_law_and_starts_to_fail_at_the_strength(laminate):
    probe = Probe(make(laminate))
    d_onset = D0 * (1 + C * K)
    # elastic, exactly at the onset (σ = N), on the softening branch, past complete separation
    for d in (0.5 * d_onset, d_onset, 1.5 * d_onset, 0.5 * (d_onset + DF), 0.9 * DF, 1.2 * DF):
        dn, sigma, damage = probe(y_of_drive(d))
        if d <= d_onset:
            delta = d / (1 + C * K)
            t = K * delta
        elif d < DF:
            ks = N / (DF - D0)
            delta = (d - C * ks * DF) / (1 - C * ks)
            t = N * (DF - delta) / (DF - D0)
        else:
            delta, t = d, 0.0
        assert dn == pytest.approx(delta, rel=1e-8)
        assert sigma == pytest.approx(t, rel=1e-7, abs=1e-5 * N)
        if d == d_onset:
            assert sigma == pytest.approx(N, rel=1e-8)
            assert damage == pytest.approx(0.0, abs=1e-8)
        if d > d_onset:
            assert sigma < N and damage > 0.0


def test_the_energy_dissipated_to_complete_separation_is_the_fracture_energy(laminate):
    """∫ σ dδ along the path (trapezoids over 60 load steps, from the FE stress and jump) and the
    problem's own dissipated energy both equal G_I at complete separation."""
    probe = Probe(make(laminate))
    d_onset = D0 * (1 + C * K)
    drives = np.concatenate([[0.0, d_onset], np.linspace(d_onset, 1.05 * DF, 60)[1:]])
    path = [(0.0, 0.0)] + [probe(y_of_drive(d))[:2] for d in drives[1:]]
    delta, sigma = np.array(path).T
    work = float(np.sum(0.5 * (sigma[1:] + sigma[:-1]) * np.diff(delta)))
    assert work == pytest.approx(G_I, rel=0.02)
    state = probe.p.interface_state()
    assert state.debonded_area == pytest.approx(state.area, rel=1e-12)
    assert state.dissipated_energy / state.area == pytest.approx(G_I, rel=1e-9)
    assert state.active_area == pytest.approx(0.0, abs=1e-12 * state.area)
    assert state.area == pytest.approx(LX * LX, rel=1e-12)


def test_unloading_follows_the_secant_reloading_does_not_heal_and_contact_holds(laminate):
    probe = Probe(make(laminate))
    d_peak = 0.5 * (D0 * (1 + C * K) + DF)
    _, _, damage = probe(y_of_drive(d_peak))
    ks = N / (DF - D0)
    delta_peak = (d_peak - C * ks * DF) / (1 - C * ks)
    expected_damage = DF * (delta_peak - D0) / (delta_peak * (DF - D0))
    assert damage == pytest.approx(expected_damage, rel=1e-8)
    # unloading to a third of the drive: on the damaged secant, no new damage
    k_secant = (1 - expected_damage) * K
    dn, sigma, d_after = probe(y_of_drive(d_peak / 3))
    assert dn == pytest.approx(d_peak / 3 / (1 + C * k_secant), rel=1e-8)
    assert sigma == pytest.approx(k_secant * dn, rel=1e-7)
    assert d_after == damage  # not a bit more
    # reloading to the old peak: the same state, still no new damage
    dn, sigma, d_after = probe(y_of_drive(d_peak))
    assert dn == pytest.approx(delta_peak, rel=1e-8)
    assert d_after == pytest.approx(damage, rel=1e-9)  # the secant iteration's tolerance (1e-10)
    # NVP swelling past its stress-free state presses the faces together: full stiffness K
    d_press = -0.5 * D0
    dn, sigma, d_after = probe(y_of_drive(d_press))
    assert dn < 0.0
    assert dn == pytest.approx(d_press / (1 + C * K), rel=1e-8)
    assert sigma == pytest.approx(K * dn, rel=1e-7)
    assert d_after == pytest.approx(damage, rel=1e-9)
    assert probe.p.interface_state().contact_area == pytest.approx(LX * LX, rel=1e-12)


def test_the_contact_fraction_of_the_nvp_cells_is_one_minus_the_damage(laminate):
    problem = make(laminate)
    problem.solve_y(y_of_drive(0.5 * (D0 * (1 + C * K) + DF)))
    damage = problem.interface_state().max_damage
    nvp = laminate.submesh("NVP").mesh
    target = dolfinx.fem.Function(dolfinx.fem.functionspace(nvp, ("DG", 0)))
    problem.contact_per_cell(target)
    # the cells with a face on the interface: all three vertices on z = L1
    n_local = nvp.topology.index_map(3).size_local
    z = nvp.geometry.x[:, 2]
    touching = np.sum(np.isclose(z[nvp.geometry.dofmaps[0][:n_local]], L1, atol=1e-12 * L1), axis=1) == 3
    values = target.x.array[:n_local]
    assert np.allclose(values[touching], 1.0 - damage, rtol=1e-12)
    assert np.allclose(values[~touching], 1.0)
    # the 1 x 1 interface square is two triangles, each with one NVP cell
    assert MPI.COMM_WORLD.allreduce(int(np.count_nonzero(touching)), op=MPI.SUM) == 2
    # "separation": the fraction of the strength still carried on the softening branch
    problem.contact_measure = "separation"
    problem.contact_per_cell(target)
    d_peak = 0.5 * (D0 * (1 + C * K) + DF)
    ks = N / (DF - D0)
    delta_peak = (d_peak - C * ks * DF) / (1 - C * ks)
    capacity = (DF - delta_peak) / (DF - D0)
    assert 0.3 < capacity < 0.7 and abs(capacity - (1.0 - damage)) > 0.2  # the two measures differ here
    values = target.x.array[:n_local]
    assert np.allclose(values[touching], capacity, rtol=1e-8)
    assert np.allclose(values[~touching], 1.0)


def test_a_cohesive_interface_rejects_what_it_cannot_hold(laminate):
    law = CohesiveLaw(N, S, G_I, G_II, K, ETA)
    with pytest.raises(MechanicsError, match="periodic"):
        CohesiveMechanicsProblem(laminate, params(lateral_bc="periodic"), law)
    with pytest.raises(MechanicsError, match="rollers"):
        CohesiveMechanicsProblem(laminate, params(lateral_bc="free"), law)
    with pytest.raises(ValueError, match="tolerance"):
        CohesiveMechanicsProblem(laminate, params(), law, tolerance=0.0)


def test_the_damage_field_is_written_for_paraview(laminate, mpi_tmp_path):
    """The interface surface output carries D (what ParaView shows), facet by facet as solved."""
    from fem_electrode.outputs.mechanics_fields import MechanicsFieldWriter
    from fem_electrode.outputs.stress import StressPost

    problem = make(laminate)
    problem.solve_y(y_of_drive(0.5 * (D0 * (1 + C * K) + DF)))
    damage = problem.interface_state().max_damage
    post = StressPost(problem)
    with MechanicsFieldWriter(post, mpi_tmp_path / "fields") as writer:
        writer.write(0.0)
        values = writer.surface["interface_damage"].x.array
    assert values.size == 0 or np.allclose(values, damage, rtol=1e-12)
    assert (mpi_tmp_path / "fields" / "interface_damage.xdmf").is_file()


def test_the_thermal_residual_strain_loads_the_interface_like_a_chemical_strain(laminate):
    """A residual mismatch strain ε_r of NVP at y = y_ref opens the laminate as the Vegard strain
    of the same size does: δ = d/(1 + CK) with d = −L2 B2 ε_r / M2 (and with ε_r = 0, nothing)."""
    eps_r = -0.2 * D0 * (1 + C * K) * M2 / (L2 * B2)  # 20 % of the onset drive: elastic
    law = CohesiveLaw(N, S, G_I, G_II, K, ETA)
    problem = CohesiveMechanicsProblem(laminate, params(residual_strain=eps_r), law, tolerance=1e-10)
    probe = Probe(problem)
    dn, sigma, damage = probe(1.0)
    d = -L2 * B2 * eps_r / M2
    assert dn == pytest.approx(d / (1 + C * K), rel=1e-8)
    assert sigma == pytest.approx(K * d / (1 + C * K), rel=1e-7)
    assert damage == 0.0
