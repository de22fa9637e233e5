"""The generated conclusion: metric by metric, who does better and by how much.

Every verdict comes from the numbers (:func:`fem_electrode.report.comparison.judge`); the text
only chooses words for them. With several microstructure seeds per design the rows are
:class:`~fem_electrode.report.seeds.MeanRow`: the seed means, their 95 % intervals and the
interval verdict (a design only where the intervals separate, else "not distinguishable at N
seeds"), so the conclusion says what the headline table says. The paper's three arguments
(contacts, ion paths, strain accommodation) are set against the model's measures, and the
closed-form linear-elastic references (bonded film, Eshelby sphere; docs/references.md) say
where the model cannot agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fem_electrode.report.comparison import (
    DESIGNS,
    HIGHER,
    SMALLER_MAGNITUDE,
    TIE_RTOL,
    Row,
    design_label,
    fmt,
)
from fem_electrode.report.seeds import (
    CONFIDENCE,
    NOT_CONVERGED,
    NOT_CONVERGED_RTOL,
    NOT_DISTINGUISHABLE,
    MeanRow,
    fmt_interval,
)

GROUP_TITLES = {
    "electrochemistry": "Electrochemistry (contacts and ion paths)",
    "energy": "Strain accommodation and stored energy",
    "stress": "Stress in the phases",
    "interface": "NVP|NZSP interface tractions",
    "fracture": "Fracture indicators",
}
#: The paper's numbers for the infiltrated cell (seed/chemical-infiltration-nvp-nzsp.txt).
PAPER = {"capacity_mAh_per_g": 95.0, "coulombic_efficiency": 0.99, "gap_mV": 22.0, "asr_ohm_cm2": 396.0}


@dataclass(frozen=True)
class Elastic:
    """Material data for the closed-form references (SI)."""

    E_nvp: float
    nu_nvp: float
    E_nzsp: float
    nu_nzsp: float
    omega: float
    c_max: float
    y_ref: float
    strength_nvp: float
    strength_nzsp: float
    strength_interface: float
    toughness_nvp: float

    @classmethod
    def from_case(cls, materials: dict[str, Any], mechanics: dict[str, Any]) -> Elastic:
        m = materials
        return cls(m["E_nvp"], m["nu_nvp"], m["E_nzsp"], m["nu_nzsp"], m["omega_nvp"], m["c_max"],
                   mechanics.get("y_ref", 1.0), m["strength_nvp"], m["strength_nzsp"],
                   m["strength_interface"], m["toughness_nvp"])

    def eigenstrain(self, y: float) -> float:
        """Linear chemical strain of NVP at filling ``y`` (negative on charge)."""
        return self.omega * self.c_max * (y - self.y_ref) / 3.0

    def film_stress(self, y: float) -> float:
        """In-plane stress of a thin bonded film, -E eps / (1 - nu) (Pa, > 0 tensile)."""
        return -self.E_nvp * self.eigenstrain(y) / (1.0 - self.nu_nvp)

    def eshelby_stress(self, y: float) -> float:
        """Hydrostatic stress inside an NVP sphere in an infinite NZSP matrix (Pa)."""
        k_i = self.E_nvp / (3 * (1 - 2 * self.nu_nvp))
        g_m = self.E_nzsp / (2 * (1 + self.nu_nzsp))
        return -12 * k_i * g_m * self.eigenstrain(y) / (3 * k_i + 4 * g_m)

    def critical_G(self) -> float:
        """Toughness of NVP as a plane-strain energy release rate, K_IC² (1 − ν²) / E (J/m²)."""
        return self.toughness_nvp**2 * (1.0 - self.nu_nvp**2) / self.E_nvp

    def equal_moduli(self) -> bool:
        """NVP and NZSP share E and ν to 2 %: the closed-form constants below hold for any shape."""
        return (math.isclose(self.E_nvp, self.E_nzsp, rel_tol=0.02)
                and math.isclose(self.nu_nvp, self.nu_nzsp, rel_tol=0.05))

    def equal_moduli_hydrostatic(self, y: float) -> float:
        """σ_h inside bonded NVP of any shape in a large body of equal moduli, −2 E ε_v / (9 (1 − ν))
        with ε_v = 3 ε* (Pa; Mura 1987 §3-4)."""
        return -2.0 * self.E_nvp * 3.0 * self.eigenstrain(y) / (9.0 * (1.0 - self.nu_nvp))

    def equal_moduli_index(self) -> float:
        """Accommodation index of bonded NVP of any shape for equal moduli, (1 + ν) / (3 (1 − ν))."""
        return (1.0 + self.nu_nvp) / (3.0 * (1.0 - self.nu_nvp))


def margin(row: Row) -> str:
    """How much better the winner is, in words ("12 % lower", "3.1x higher", "by 150 MPa")."""
    a, b = row.infiltrated, row.cosintered
    if row.winner == "tie" or a is None or b is None:
        if a is not None and a == b:
            return "identical"
        if a is not None and b is not None and abs(a - b) <= row.spec.atol:
            return f"within {row.spec.atol * row.spec.scale:g} {row.spec.unit}".rstrip()
        return f"within {100 * TIE_RTOL:.0f} %"
    best, worst = (a, b) if row.winner == row.designs[0] else (b, a)
    spec = row.spec
    if spec.better == SMALLER_MAGNITUDE:
        best, worst = abs(best), abs(worst)
    if best * worst <= 0 or spec.unit == "%":  # opposite signs or a fraction: say the difference
        word = "higher" if spec.better == HIGHER else "lower"
        diff = abs(worst - best) * spec.scale
        unit = " percentage points" if spec.unit == "%" else (f" {spec.unit}" if spec.unit else "")
        return f"{word} by {diff:.3g}{unit}"
    if spec.better == HIGHER:
        r = best / worst
        return f"{r:.2f}× higher" if r >= 2 else f"{100 * (r - 1):.1f} % higher"
    r = abs(worst) / abs(best) if best != 0 else math.inf
    word = "smaller in magnitude" if spec.better == SMALLER_MAGNITUDE else "lower"
    return f"{r:.2f}× {word}" if r >= 2 else f"{100 * (1 - abs(best) / abs(worst)):.1f} % {word}"


def n_seeds(rows: Sequence[Row]) -> int:
    """Seeds per design behind ``rows`` (1: the numbers of one run per design)."""
    return max((r.n for r in rows if isinstance(r, MeanRow)), default=1)


def values(row: Row) -> tuple[str, str]:
    """Both designs' numbers as the text shows them: 'mean ± half-width' from seeds, else the value."""
    if isinstance(row, MeanRow) and row.spreads:
        one, two = row.designs
        return fmt_interval(row.spreads[one], row.spec), fmt_interval(row.spreads[two], row.spec)
    return fmt(row.infiltrated, row.spec), fmt(row.cosintered, row.spec)


def verdict_label(winner: str | None) -> str:
    """The verdict as the tables write it: a design's label, 'tie', 'not distinguishable', ... or '—'."""
    return design_label(winner) if winner else "—"


def sentence(row: Row) -> str:
    """One line: values of both designs, the winner and the margin (from seeds: the means with their
    intervals, and a winner only where the intervals separate)."""
    unit = f" {row.spec.unit}" if row.spec.unit else ""
    inf, co = values(row)
    one, two = row.designs
    text = f"**{row.spec.label}**: {design_label(one)} {inf} vs {design_label(two)} {co}{unit}"
    seeded = isinstance(row, MeanRow)
    if row.winner == "tie":
        return f"{text} — no meaningful difference ({margin(row)})."
    if row.winner == NOT_DISTINGUISHABLE:
        n = row.n if isinstance(row, MeanRow) else 1
        return f"{text} — not distinguishable at {n} seeds (the {CONFIDENCE:.0%} intervals overlap)."
    if row.winner == NOT_CONVERGED:
        return (f"{text} — not converged (it moves by more than {NOT_CONVERGED_RTOL:.0%} when the mesh is "
                "refined): no verdict.")
    if row.winner not in row.designs:
        return f"{text}."
    how = f"{margin(row)} in the mean; the intervals separate" if seeded else margin(row)
    return f"{text} — **{design_label(row.winner)}** better ({how})."


def designs_of(rows: Sequence[Row]) -> tuple[str, str]:
    """The two designs behind ``rows`` (the default pair when there are none)."""
    return rows[0].designs if rows else DESIGNS


def tally(rows: Sequence[Row], designs: tuple[str, str] | None = None) -> dict[str, list[Row]]:
    """Judged verdict rows by outcome: each of the two designs (default: those of ``rows``), tie."""
    one, two = designs or designs_of(rows)
    out: dict[str, list[Row]] = {one: [], two: [], "tie": []}
    for r in rows:
        if r.spec.verdict and r.winner in out:
            out[r.winner].append(r)
    return out


def find(rows: Sequence[Row], *words: str, exclude: tuple[str, ...] = ()) -> Row | None:
    """The first row whose key contains every word (lower case) and none of ``exclude``."""
    for r in rows:
        k = r.key.lower()
        if all(w in k for w in words) and not any(x in k for x in exclude):
            return r
    return None


def summary(rows: Sequence[Row]) -> str:
    """Opening sentence: how many judged metrics each design wins (from seeds: and how many the
    seeds cannot tell apart)."""
    t = tally(rows)
    seeds = n_seeds(rows)
    undecided = {w: sum(1 for r in rows if r.spec.verdict and r.winner == w)
                 for w in (NOT_DISTINGUISHABLE, NOT_CONVERGED)}
    n = sum(len(v) for v in t.values()) + sum(undecided.values())
    if n == 0:
        return "No metric with a better direction was available to judge the designs."
    one, two = designs_of(rows)
    lead = max((one, two), key=lambda d: len(t[d]))
    if len(t[one]) == len(t[two]):
        head = "Neither design wins more measures"
    else:
        head = f"The **{design_label(lead)}** electrode does better on more measures"
    weigh = " Counting metrics is not weighing them: read the groups below."
    if seeds < 2:
        return (f"{head}: of {n} judged metrics the {design_label(one)} design is better on "
                f"{len(t[one])}, the {design_label(two)} on {len(t[two])}, and "
                f"{len(t['tie'])} are within {100 * TIE_RTOL:.0f} %.{weigh}")
    text = (f"{head}: of {n} judged metrics, over {seeds} seeds per design, the {design_label(one)} "
            f"design is better on {len(t[one])} and the {design_label(two)} on {len(t[two])} (their "
            f"{CONFIDENCE:.0%} intervals separate), {len(t['tie'])} are ties and "
            f"{undecided[NOT_DISTINGUISHABLE]} are not distinguishable at {seeds} seeds (the intervals "
            "overlap)")
    if undecided[NOT_CONVERGED]:
        text += f"; {undecided[NOT_CONVERGED]} are not converged under mesh refinement"
    return f"{text}.{weigh}"


def by_group(rows: Sequence[Row]) -> list[tuple[str, list[str]]]:
    """Per group, one sentence per judged metric (singular maxima listed apart)."""
    out = []
    for group, title in GROUP_TITLES.items():
        lines = [sentence(r) for r in rows if r.spec.group == group and r.spec.verdict and r.winner]
        notes: dict[str, list[str]] = {}
        for r in rows:
            if r.spec.group == group and not r.spec.verdict:
                notes.setdefault(r.spec.note or "informational", []).append(r.spec.label)
        for note, labels in notes.items():
            lines.append(f"Not used for the verdict ({note}): " + "; ".join(labels) + ".")
        if lines:
            out.append((title, lines))
    return out


def _agree(row: Row | None, design: str = "infiltrated") -> str | None:
    if row is None or row.winner is None:
        return None
    if row.winner == design:
        return "agrees"
    if row.winner == "tie":
        return "is neutral"
    return "disagrees" if row.winner in row.designs else "cannot tell"


def paper_claims(rows: Sequence[Row], descriptors: Sequence[Row]) -> list[str]:
    """Bullets: each argument of the paper, the model's measure of it and what it says."""
    out = []
    area = find(descriptors, "interface", "area")
    contact = ("**Contacts.** The paper credits the NVP layer formed in situ on the scaffold walls "
               "('optimized interface', 'effective ion transfer'). The model bonds NVP to NZSP "
               "perfectly in both designs with the same exchange current density, so contact "
               "quality differs only through geometry")
    if area is not None and area.ratio is not None:
        contact += (f": NVP|NZSP interface area per volume {fmt(area.infiltrated)} (infiltrated) vs "
                    f"{fmt(area.cosintered)} {area.spec.unit} (co-sintered), ratio {area.ratio:.2f}"
                    + (" (meshes of the first seed)" if n_seeds(rows) > 1 else ""))
    contact += (". Contact *loss* (debonding) is not simulated; the interface opening traction "
                "against the interface strength marks where it would start.")
    opening = find(rows, "normal", "p95") or find(rows, "normal", "mean")
    if opening is not None and opening.winner:
        contact += f" {sentence(opening)}"
    out.append(contact)
    pol = find(rows, "polari") or find(rows, "gap")
    cap = find(rows, "capacity", "discharge") or find(rows, "capacity")
    ion = ("**Ion paths.** The paper credits the pre-sintered, continuous NZSP backbone. In the model "
           "this shows in the polarization and in the accessible capacity.")
    found = [r for r in (pol, cap) if r is not None and r.winner]
    ion += "".join(f" {sentence(r)}" for r in found)
    if not found:
        ion += " These runs carry no electrochemical metrics."
    if pol is not None and pol.infiltrated is not None:
        ion += (f" (The paper measured a charge/discharge plateau gap of ≈ {PAPER['gap_mV']:.0f} mV "
                f"for its infiltrated cell; the RVE leaves out the separator's thickness scale.)")
    out.append(ion)
    acc = find(rows, "accommodation")
    strain = ("**Strain accommodation.** The paper says the thin NVP film and the residual porosity "
              "'minimize and accommodate the strain'. The model's direct measure is the "
              "accommodation index ⟨tr ε(u)⟩/⟨tr ε_ch⟩ over NVP (1 = free expansion, 0 = clamped).")
    if acc is not None and acc.winner:
        verdict = {"agrees": "The model agrees with the paper on this measure.",
                   "disagrees": "The model disagrees with the paper on this measure.",
                   "is neutral": "On this measure the model neither supports nor contradicts the paper.",
                   "cannot tell": "On this measure the model gives no verdict, so it neither supports nor "
                                  "contradicts the paper."}
        agreement = _agree(acc)
        assert agreement is not None  # acc has a winner
        strain += f" {sentence(acc)} {verdict[agreement]}"
    out.append(strain)
    return out


def elasticity_limits(rows: Sequence[Row], el: Elastic | None, y_snapshot: float | None) -> list[str]:
    """Where linear elasticity agrees or disagrees with 'minimized stress', from the numbers."""
    out = []
    vm = find(rows, "nvp", "von_mises", "p95") or find(rows, "nvp", "von_mises", "mean")
    y = 0.0 if y_snapshot is None else y_snapshot
    state = "full charge (y = 0)" if y_snapshot is None else f"the mechanics snapshot (mean y = {y:.2f})"
    if el is not None:
        film, sphere = el.film_stress(y), el.eshelby_stress(y)
        out.append(
            f"Closed forms at {state}: linear chemical strain ε* = {100 * el.eigenstrain(y):.2f} %; a bonded "
            f"thin NVP film carries an in-plane stress E ε*/(1−ν) of {abs(film) * 1e-6:.0f} MPa "
            f"({'tension' if film > 0 else 'compression'}), an NVP sphere bonded in NZSP a uniform "
            f"hydrostatic stress of {abs(sphere) * 1e-6:.0f} MPa with no deviatoric part. Both are far "
            f"above the strengths ({el.strength_nvp * 1e-6:.0f} MPa NVP, {el.strength_nzsp * 1e-6:.0f} MPa "
            "NZSP): in linear elasticity with a perfectly bonded interface neither design stays elastic.")
        if el.equal_moduli():
            out.append(
                f"**The NVP elastic constants are not measured.** No source gives E and ν of "
                f"Na₃V₂(PO₄)₃ or NaV₂(PO₄)₃; the case takes them equal to NZSP's (E = "
                f"{el.E_nvp * 1e-9:.0f} GPa vs {el.E_nzsp * 1e-9:.0f} GPa). With equal moduli the "
                "Eshelby solution is the same for every shape of bonded NVP: a hydrostatic stress of "
                f"{el.equal_moduli_hydrostatic(y) * 1e-6:.0f} MPa and an accommodation index of "
                f"{el.equal_moduli_index():.2f} at {state}, for a film, a grain or a coated pore alike "
                "(Mura 1987, §3-4). Differences between the designs in the NVP hydrostatic stress, the "
                "elastic energy per NVP volume and the accommodation index are therefore finite-cell, "
                "mesh and state-of-charge effects, not evidence for either design; the deviatoric "
                "measures (von Mises, principal stress) and the thin-film energy release rates do "
                "depend on the shape.")
    if vm is not None and vm.winner:
        if vm.winner == "infiltrated":
            out.append(f"On the NVP von Mises stress the model agrees with 'minimized stress': "
                       f"{sentence(vm)}")
        elif vm.winner == "tie":
            out.append(f"On the NVP von Mises stress the model sees no difference: {sentence(vm)}")
        elif vm.winner != "cosintered":
            out.append(f"On the NVP von Mises stress the model gives no verdict: {sentence(vm)}")
        else:
            out.append(
                "On the NVP von Mises stress the linear-elastic model does **not** support 'minimized "
                f"stress': {sentence(vm)} A layer bonded to a stiff scaffold is constrained in-plane "
                "(biaxial film stress, large deviatoric part), while a grain is loaded nearly "
                "hydrostatically; free pore walls relax only the stress normal to the layer.")
    for phase in ("nvp", "nzsp"):
        frac = find(rows, phase, "fraction_above_strength") or find(rows, phase, "fraction")
        if frac is not None and frac.winner:
            text = f"Fracture criterion by strength: {sentence(frac)}"
            if min(frac.infiltrated or 0.0, frac.cosintered or 0.0) > 0.9:
                text += (" Both exceed the strength almost everywhere, so this criterion cannot tell the "
                         "designs apart in a linear-elastic, perfectly bonded model.")
            out.append(text)
    g = find(rows, "thin_film", "g_channel") or find(rows, "energy_release")
    ratio = find(rows, "thin_film", "channeling_ratio")
    if g is not None and g.infiltrated is not None:
        text = ("What the thin-film argument rests on in this model is fracture mechanics, not stress: "
                "the channel-crack energy release rate G = (π/2) g(α, β) σ² h / Ē (Beuth 1992; Ē the "
                "plane-strain modulus, g the film/substrate mismatch factor) grows with the layer "
                "thickness h, so a thin layer can carry a high "
                f"stress without a channel crack growing. {sentence(g)}")
        text += (" For co-sintered grains h is only nominal (NVP volume / interface area), so the film "
                 "formula is a like-for-like index there, not a crack prediction.")
        if ratio is not None and ratio.infiltrated is not None:
            side = "below" if ratio.infiltrated < 1.0 else "above"
            mean = f" (mean over {n_seeds(rows)} seeds)" if isinstance(ratio, MeanRow) else ""
            text += (f" G / G_c of the infiltrated layer is {ratio.infiltrated:.3g}{mean}: {side} the "
                     "channel-cracking threshold (G_c = K_IC²/Ē).")
        elif el is not None and g.spec.unit == "J/m²":
            gc = el.critical_G()
            side = "below" if g.infiltrated < gc else "above"
            text += (f" Against G_c = K_IC²/Ē = {gc:.3g} J/m² the infiltrated layer is {side} the "
                     "channel-cracking threshold.")
        out.append(text)
    limits = ("The model does not include debonding, cracking, plasticity or the two-phase "
              "NVP reaction front; a paper claim that rests on those (contact damage in co-sintered "
              "electrodes) can only be read here from the interface tractions and the fraction above "
              "strength, not reproduced. ")
    seeds = n_seeds(rows)
    if seeds < 2:
        limits += ("One random microstructure per design is not a statistic: sweep the seed "
                   "(`fem-electrode sweep`) before trusting margins of a few per cent.")
    else:
        limits += (f"The verdicts above rest on {seeds} random microstructures per design: a design is "
                   f"better only where the {CONFIDENCE:.0%} intervals separate; more seeds narrow them.")
    out.append(limits)
    return out


def rates(pairs_rows: Sequence[tuple[str, Sequence[Row]]]) -> list[str]:
    """With several protocols: how capacity and polarization change with rate, per design."""
    if len(pairs_rows) < 2:
        return []
    out = []
    for words in (("capacity", "discharge"), ("polari",)):
        cells = []
        for label, rows in pairs_rows:
            r = find(rows, *words)
            if r is not None:
                inf, co = values(r)
                cells.append(f"{label}: {inf} vs {co} {r.spec.unit} ({verdict_label(r.winner)})")
        if cells:
            name = find(pairs_rows[0][1], *words)
            one, two = designs_of(pairs_rows[0][1])
            pair = f"{design_label(one)} vs {design_label(two)}"
            out.append(f"**{name.spec.label if name else words[0]}** ({pair}): " + "; ".join(cells) + ".")
    return out
