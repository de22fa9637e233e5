"""Study: critical NVP layer thickness for channel cracking and delamination, default materials.

Reads the materials of ``examples/default.toml`` (schema defaults: E, ν of NVP and NZSP, the
toughnesses, Ω and c_max), the NVP layer thickness the infiltrated demo geometry solves for, and
the median NVP grain radius of the co-sintered one. The film stress is that of an equi-biaxial
film bonded to a rigid-in-plane scaffold, σ_f = E_f ε_m/(1 − ν_f), with the Vegard misfit
ε_m = (Ω/3) c_max (y_ref − y) of a filling y (y = 0: full desodiation). Prints the Dundurs
parameters, g from the DOLFINx cross-section (problems/channel_crack.py) and from the table
(physics/fracture.py), the critical thicknesses

    h_c,ch = 2 G_c Ē_f/(π g σ_f²)    (channel crack, G_c = K_IC,NVP²/Ē_f),
    h_c,d  = 2 Ē_f G_c,i/σ_f²        (steady plane-strain delamination, G_c,i = K_IC,int²/Ē_f),

against the layer thickness and grain size, and a sensitivity table.

Then the third crack type, a **radial crack in NZSP around an NVP grain** (co-sintered): a
spherical grain of radius a whose free linear strain exceeds the matrix's by e presses on the
matrix with (Lamé; equal for any grain size)

    p = e / [(1 + ν_m)/(2 E_m) + (1 − 2 ν_i)/E_i],

and the matrix carries σ_rr = −p (a/r)³, σ_θθ = +p/2 (a/r)³: hoop tension, the stress that
opens a radial crack, only where p > 0, i.e. where the grain grows relative to the matrix. An
edge crack of length c from the interface has K ≤ 1.12 σ_θθ(a) √(π c) (uniform stress, an upper
bound: the hoop stress decays as (a/r)³), so no flaw shorter than
c* = (K_IC,NZSP/(1.12 σ_θθ(a)))²/π can run. Printed for the cooling misfit from the heat
treatment (default CTEs, and the ends of their estimated ranges) and for desodiation. Run
serially or under ``mpiexec``::

    .venv/bin/python benchmarks/critical_thickness.py
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from fem_electrode import geometry
from fem_electrode.config import load_case
from fem_electrode.fem.fenicsx import MPI
from fem_electrode.physics import fracture
from fem_electrode.problems import channel_crack

CASE = Path(__file__).resolve().parent.parent / "examples" / "default.toml"
MICRON = 1e-6
#: Fillings y of the table: half and full desodiation of Na3V2(PO4)3 (y = 1).
FILLINGS = (0.5, 0.0)
#: Factors on both toughnesses (K_IC of NVP and of the interface) in the sensitivity table.
TOUGHNESS_FACTORS = (0.5, 1.0, 2.0)
#: The NVP modulus is an unsourced estimate in the NASICON range 60-100 GPa (materials schema).
E_NVP_RANGE = (60e9, 100e9)
#: The estimated CTE ranges of the materials schema (1/K): NVP 5-10e-6 (unsourced), NZSP 5-8e-6.
CTE_NVP_RANGE = (5e-6, 10e-6)
CTE_NZSP_RANGE = (5e-6, 8e-6)
#: Edge-crack factor of K = 1.12 σ √(π c) (Tada, Paris & Irwin, The Stress Analysis of Cracks Handbook).
EDGE_CRACK_FACTOR = 1.12


def film_stress(E_f: float, nu_f: float, omega: float, c_max: float, y_ref: float, y: float) -> float:
    """σ_f (Pa) of an equi-biaxial bonded film with the Vegard misfit (Ω/3) c_max (y_ref − y)."""
    return E_f * (omega / 3.0) * c_max * (y_ref - y) / (1.0 - nu_f)


def sphere_misfit_pressure(e: float, E_i: float, nu_i: float, E_m: float, nu_m: float) -> float:
    """p (Pa) on a spherical grain whose free linear strain exceeds the matrix's by ``e`` (Lamé)."""
    return e / ((1.0 + nu_m) / (2.0 * E_m) + (1.0 - 2.0 * nu_i) / E_i)


def radial_crack_rows(m, grain_radius: float, cooling: float, misfit_desodiated: float) -> list[dict]:
    """Hoop stress at the grain and the shortest flaw that could run, for each misfit source."""
    cases = [("cooling, default CTEs", (m.cte_nvp - m.cte_nzsp) * cooling),
             ("cooling, CTE_NVP low / CTE_NZSP high", (CTE_NVP_RANGE[0] - CTE_NZSP_RANGE[1]) * cooling),
             ("cooling, CTE_NVP high / CTE_NZSP low", (CTE_NVP_RANGE[1] - CTE_NZSP_RANGE[0]) * cooling),
             ("full desodiation (Vegard)", -misfit_desodiated)]
    out = []
    for name, e in cases:
        p = sphere_misfit_pressure(e, m.E_nvp, m.nu_nvp, m.E_nzsp, m.nu_nzsp)
        hoop = p / 2.0
        flaw = (m.toughness_nzsp / (EDGE_CRACK_FACTOR * hoop)) ** 2 / math.pi if hoop > 0 else math.inf
        out.append({"name": name, "e": e, "p": p, "hoop": hoop, "flaw": flaw, "ratio": flaw / grain_radius})
    return out


def main() -> None:
    t0 = time.perf_counter()
    comm = MPI.COMM_WORLD
    case = load_case(CASE)
    m = case.materials
    t_layer = geometry.plan(case).thickness * MICRON  # the demo's solved layer thickness
    # geometry.pore_radius_mean is the median NVP grain radius of the co-sintered kind
    grain = 2.0 * case.geometry.pore_radius_mean * MICRON
    y_ref = case.mechanics.y_ref
    film = (m.E_nvp, m.nu_nvp, m.E_nzsp, m.nu_nzsp)
    e_bar = fracture.plane_strain_modulus(m.E_nvp, m.nu_nvp)

    alpha, beta = fracture.dundurs(*film)
    g_fe = channel_crack.channel_crack_g(*film, comm=comm)
    g_fe2 = channel_crack.channel_crack_g(*film, comm=comm, refinement=2.0)
    g_table = fracture.channel_g(alpha, beta)

    def row(k_factor: float, y: float, g: float, E_f: float = m.E_nvp) -> dict[str, float]:
        sigma = film_stress(E_f, m.nu_nvp, m.omega_nvp, m.c_max, y_ref, y)
        eb = fracture.plane_strain_modulus(E_f, m.nu_nvp)
        gc, gci = (k_factor * m.toughness_nvp) ** 2 / eb, (k_factor * m.toughness_interface) ** 2 / eb
        strengths = fracture.Strengths(m.strength_nzsp, m.strength_nvp, m.strength_interface,
                                       k_factor * m.toughness_nvp, k_factor * m.toughness_interface)
        ind = fracture.thin_film_indicator(sigma / fracture.MEMBRANE_FACTOR,
                                           fracture.LayerThickness(t_layer, "benchmark"),
                                           E_f, m.nu_nvp, m.E_nzsp, m.nu_nzsp, strengths)
        h_ch = channel_crack.critical_thickness_channel(E_f, m.nu_nvp, m.E_nzsp, m.nu_nzsp, sigma, gc, g=g)
        return {"sigma": sigma, "Gc": gc, "Gci": gci, "h_ch": h_ch, "y": y, "k": k_factor, "E_f": E_f,
                "h_ch_table": ind["h_critical_channeling"], "h_d": ind["h_critical_delamination"]}

    base = row(1.0, 0.0, g_fe)
    extra = []
    for E_f in E_NVP_RANGE:
        g_e = channel_crack.channel_crack_g(E_f, m.nu_nvp, m.E_nzsp, m.nu_nzsp, comm=comm)
        extra.append((g_e, row(1.0, 0.0, g_e, E_f)))
    table = [row(k, y, g_fe) for y in FILLINGS for k in TOUGHNESS_FACTORS]
    if comm.rank != 0:
        return
    eps = (m.omega_nvp / 3.0) * m.c_max * (y_ref - 0.0)
    print(f"materials (examples/default.toml): E_NVP {m.E_nvp / 1e9:g} GPa, nu_NVP {m.nu_nvp:g}, "
          f"E_NZSP {m.E_nzsp / 1e9:g} GPa, nu_NZSP {m.nu_nzsp:g}")
    print(f"K_IC NVP {m.toughness_nvp / 1e6:g} MPa m^0.5, K_IC interface {m.toughness_interface / 1e6:g} "
          f"MPa m^0.5; Omega {m.omega_nvp:g} m^3/mol, c_max {m.c_max:g} mol/m^3, y_ref {y_ref:g}")
    print(f"Dundurs alpha = {alpha:.5f}, beta = {beta:.5f}")
    print(f"g: FE {g_fe:.5f} (refinement 2: {g_fe2:.5f}), table {g_table:.5f}, "
          f"FE/table - 1 = {100 * (g_fe / g_table - 1):+.3f} %")
    print(f"full desodiation: misfit strain {eps:.5f}, "
          f"sigma_f = E eps/(1 - nu) = {base['sigma'] / 1e9:.3f} GPa")
    print(f"G_c film = K_IC^2/Ebar = {base['Gc']:.3f} J/m^2, G_c interface = {base['Gci']:.3f} J/m^2 "
          f"(Ebar_NVP {e_bar / 1e9:.2f} GPa)")
    print(f"layer thickness t (demo infiltrated, solved) = {t_layer / MICRON:.4f} um; "
          f"co-sintered median grain diameter d = {grain / MICRON:.3g} um")
    for name, key in (("channel crack h_c,ch (FE g)", "h_ch"),
                      ("channel crack h_c,ch (table g)", "h_ch_table"), ("delamination h_c,d", "h_d")):
        h = base[key]
        print(f"{name:32s} = {h / MICRON * 1e3:8.2f} nm   t/h_c = {t_layer / h:6.2f}   "
              f"d/h_c = {grain / h:6.2f}")
    print("\nsensitivity (FE g; t/h_c for the demo layer):")
    print(f"{'y':>4} {'K_IC x':>6} {'E_NVP':>6} {'g':>7} {'sigma_f':>8} {'G_c':>7} {'h_c,ch':>8} "
          f"{'h_c,d':>8} {'t/h_c,ch':>8} {'t/h_c,d':>8}")
    print(f"{'':>4} {'':>6} {'GPa':>6} {'':>7} {'GPa':>8} {'J/m^2':>7} {'nm':>8} {'nm':>8}")
    rows = [(g_fe, r) for r in table] + extra
    for g, r in rows:
        print(f"{r['y']:4.1f} {r['k']:6.1f} {r['E_f'] / 1e9:6.0f} {g:7.4f} {r['sigma'] / 1e9:8.3f} "
              f"{r['Gc']:7.2f} {r['h_ch'] / MICRON * 1e3:8.1f} {r['h_d'] / MICRON * 1e3:8.1f} "
              f"{t_layer / r['h_ch']:8.2f} {t_layer / r['h_d']:8.2f}")
    for g, r in extra:
        a_e, b_e = fracture.dundurs(r["E_f"], m.nu_nvp, m.E_nzsp, m.nu_nzsp)
        print(f"E_NVP {r['E_f'] / 1e9:g} GPa: alpha {a_e:+.4f}, beta {b_e:+.4f}, g FE {g:.4f}, "
              f"table {fracture.channel_g(a_e, b_e):.4f}")
    assert all(math.isfinite(r["h_ch"]) for _, r in rows)
    cooling = case.electrochemistry.temperature - case.mechanics.heat_treatment_temperature
    print(f"\nradial crack in NZSP around an NVP grain (radius a = {grain / 2 / MICRON:.3g} um; cooling "
          f"{cooling:+.0f} K from the heat treatment; K_IC NZSP {m.toughness_nzsp / 1e6:g} MPa m^0.5):")
    print(f"{'misfit source':40s} {'e':>10} {'p':>9} {'hoop':>9} {'c*':>10} {'c*/a':>8}")
    print(f"{'':40s} {'':>10} {'MPa':>9} {'MPa':>9} {'um':>10}")
    for r in radial_crack_rows(m, grain / 2, cooling, eps):
        flaw = "no tension" if not math.isfinite(r["flaw"]) else f"{r['flaw'] / MICRON:10.1f}"
        ratio = "-" if not math.isfinite(r["ratio"]) else f"{r['ratio']:8.0f}"
        stresses = f"{r['p'] / 1e6:9.1f} {r['hoop'] / 1e6:9.1f}"
        print(f"{r['name']:40s} {r['e']:+10.2e} {stresses} {flaw:>10} {ratio:>8}")
    print(f"\nrun time {time.perf_counter() - t0:.1f} s on {comm.size} rank(s)")


if __name__ == "__main__":
    main()
