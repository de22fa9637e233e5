"""The generated conclusion: metric by metric, who does better and by how much.

Every verdict comes from the numbers (:func:`fem_electrode.report.comparison.judge`); the text
only chooses words for them. With several microstructure seeds per design the rows are
:class:`~fem_electrode.report.seeds.MeanRow`: the seed means, their 95 % intervals and the
interval verdict (a design only where the intervals separate, else "not distinguishable at N
seeds"), so the conclusion says what the headline table says. The paper's three arguments
(contacts, ion paths, strain accommodation) are set against the model's measures, and the
closed-form linear-elastic references (bonded film, Eshelby sphere; docs/references.md) say
where the model cannot agree. The mechanics verdict argues from damage (capacity retention,
separated and active interface, where the runs have a cohesive interface) and then from the
fracture driving forces G/G_c; von Mises and principal stresses are context, never a verdict
(brittle ceramics crack by an energy criterion, not by a ductile-yield measure).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fem_electrode.report import seeds
from fem_electrode.report.comparison import (
    DESIGNS,
    HIGHER,
    SMALLER_MAGNITUDE,
    TIE_RTOL,
    MetricSpec,
    Row,
    design_label,
    fmt,
    judge,
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
    damage = has_damage(rows)
    contact = ("**Contacts.** The paper credits the NVP layer formed in situ on the scaffold walls "
               "('optimized interface', 'effective ion transfer'). The model starts both designs with "
               "the same exchange current density on a fully bonded interface, so contact quality "
               "differs there only through geometry")
    if area is not None and area.ratio is not None:
        contact += (f": NVP|NZSP interface area per volume {fmt(area.infiltrated)} (infiltrated) vs "
                    f"{fmt(area.cosintered)} {area.spec.unit} (co-sintered), ratio {area.ratio:.2f}"
                    + (" (meshes of the first seed)" if n_seeds(rows) > 1 else ""))
    if damage:
        contact += (". Contact *loss* is simulated: the interface is a cohesive zone and a debonded patch "
                    "passes no current; the mechanics verdict below argues from it.")
        active = _key(rows, "interface_damage.active_interface_fraction")
        if active is not None and active.winner:
            contact += f" {sentence(active)}"
    else:
        contact += (". Contact *loss* (debonding) is not simulated in these runs; the interface opening "
                    "traction against the interface strength marks where it would start.")
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


# ---- capacity retention (per cycle in metrics.json, judged like any other metric) ------------------
#: Key of the capacity-retention row (from the per-cycle list ``cycles`` of metrics.json, not a
#: scalar of the metrics schema).
RETENTION_KEY = "capacity_retention"


def retention_spec(cycle: int) -> MetricSpec:
    """The retention row's spec: discharge capacity of ``cycle`` over cycle 1's, higher is better."""
    return MetricSpec(RETENTION_KEY, f"capacity retention, cycle {cycle}", "-", "%", 100.0, better=HIGHER,
                      group="electrochemistry", atol=1e-3,
                      meaning=f"discharge capacity of cycle {cycle} over that of cycle 1")


def _retention_by_cycle(metrics: Mapping[str, Any]) -> dict[int, float]:
    out: dict[int, float] = {}
    for c in metrics.get("cycles") or []:
        if not isinstance(c, Mapping):
            continue
        k, v = c.get("cycle"), c.get("capacity_retention")
        if (isinstance(k, int) and isinstance(v, int | float) and not isinstance(v, bool)
                and math.isfinite(v)):
            out[k] = float(v)
    return out


def retention_row(metrics: Mapping[str, Sequence[Mapping[str, Any]]],
                  designs: tuple[str, str] = DESIGNS) -> Row | None:
    """Capacity retention of both designs at the last cycle that every run reached (``metrics[d]``:
    the metrics.json of each seed of design ``d``, or of its one run). Two or more seeds per design:
    a :class:`MeanRow` with the interval verdict of :func:`seeds.judge`; else a :class:`Row` judged
    from the two numbers. None where a run has no retention or no run got past its first cycle."""
    runs = {d: [_retention_by_cycle(m) for m in metrics.get(d, [])] for d in designs}
    if not all(runs[d] and all(runs[d]) for d in designs):
        return None
    common = set.intersection(*(set(r) for d in designs for r in runs[d]))
    if len(common) < 2:
        return None
    cycle = max(common)
    spec = retention_spec(cycle)
    values = {d: [r[cycle] for r in runs[d]] for d in designs}
    one, two = designs
    if min(len(v) for v in values.values()) >= 2:
        spreads = {d: seeds.spread(values[d]) for d in designs}
        a, b = spreads[one].mean, spreads[two].mean
        winner = seeds.judge(spec, values[one], values[two], None, designs)
        rel = judge(spec, a, b, designs)[1] if winner in designs else None
        return MeanRow(RETENTION_KEY, spec, a, b, a / b if b else None, winner, rel, designs,
                       spreads=spreads, n=min(s.n for s in spreads.values()))
    a, b = values[one][0], values[two][0]
    winner, rel = judge(spec, a, b, designs)
    return Row(RETENTION_KEY, spec, a, b, a / b if b else None, winner, rel, designs)


# ---- the mechanics verdict: damage, then G/G_c; stresses only as context ---------------------------
#: The damage measures the mechanics verdict argues from, in this order (those the runs have).
DAMAGE_KEYS = (RETENTION_KEY, "interface_damage.debonded_fraction",
               "interface_damage.active_interface_fraction")
#: The thin-film crack types: ratio key, critical-thickness key, title, "it ...", "it does not ...".
CRACKS = (("channeling_ratio", "h_critical_channeling", "Channel crack through the layer", "cracks",
           "crack"),
          ("delamination_ratio", "h_critical_delamination", "Delamination of the layer", "debonds",
           "debond"))
#: The stress measures shown as context (never judged in the conclusion).
CONTEXT_STRESSES = (("nvp", "von_mises"), ("nvp", "max_principal"), ("nzsp", "max_principal"),
                    ("nvp", "fraction_above_strength"), ("nzsp", "fraction_above_strength"))


def has_damage(rows: Sequence[Row]) -> bool:
    """The runs were solved with a cohesive interface (they report ``interface_damage.*``)."""
    return any(r.key.startswith("interface_damage.") for r in rows)


def _key(rows: Sequence[Row], key: str) -> Row | None:
    return next((r for r in rows if r.key == key), None)


def described(row: Row) -> str:
    """Both designs' values with no verdict (for the measures that only describe)."""
    unit = f" {row.spec.unit}" if row.spec.unit else ""
    inf, co = values(row)
    one, two = row.designs
    return f"{row.spec.label} {design_label(one)} {inf} vs {design_label(two)} {co}{unit}"


def damage_verdict(measures: Sequence[Row]) -> str:
    """One sentence: the design that the damage measures (retention, separated, active interface)
    name, only where those with a winner agree; else why there is none."""
    one, two = designs_of(measures)
    wins = {d: [r.spec.label for r in measures if r.winner == d] for d in (one, two)}
    rest = [f"{r.spec.label}: {verdict_label(r.winner)}" for r in measures if r.winner not in (one, two)]
    if wins[one] and wins[two]:
        return (f"The damage measures disagree ({design_label(one)} better on {'; '.join(wins[one])}, "
                f"{design_label(two)} on {'; '.join(wins[two])}): no damage verdict.")
    for d in (one, two):
        if wins[d]:
            also = f"; {'; '.join(rest)}" if rest else ""
            return f"Damage verdict: **{design_label(d)}** (better on {'; '.join(wins[d])}{also})."
    if measures and all(r.winner == "tie" for r in measures):
        return "Damage verdict: none, the designs lose the same (every damage measure is a tie)."
    return f"Damage verdict: none ({'; '.join(rest)})." if rest else "Damage verdict: none."


def damage_argument(rows: Sequence[Row]) -> str:
    """(a) of the mechanics verdict: capacity retention and the interface that separated or still
    passes current (cohesive interface), or one sentence that damage was not modelled."""
    if not has_damage(rows):
        return ("**Damage was not modelled** in these runs (a bonded NVP|NZSP interface: nothing debonds "
                "and no capacity is lost to contact; `mechanics.interface = 'cohesive'` gives both, "
                "docs/degradation.md), so the mechanics verdict rests on the fracture driving forces G/G_c.")
    measures = [r for r in (_key(rows, k) for k in DAMAGE_KEYS) if r is not None and r.winner is not None]
    text = ("**Damage (cohesive NVP|NZSP interface).** The mechanics verdict starts from what the "
            "interface loses and what that costs in capacity.")
    text += "".join(f" {sentence(r)}" for r in measures)
    if not measures:
        return text + " No damage measure was judged (missing in a run or in a seed)."
    return f"{text} {damage_verdict(measures)}"


def _side(row: Row, design: str) -> tuple[str | None, str]:
    """Where ``design``'s G/G_c lies against 1 ("above", "below", "at", "straddles" or None) and
    the number as the text shows it (from seeds: the whole interval must lie on one side)."""
    value = row.infiltrated if design == row.designs[0] else row.cosintered
    if value is None:
        return None, "—"
    if isinstance(row, MeanRow) and row.spreads and row.spreads[design].half_width is not None:
        sp = row.spreads[design]
        shown = fmt_interval(sp, row.spec)
        if sp.low > 1.0:
            return "above", shown
        if sp.high < 1.0:
            return "below", shown
        return "straddles", shown
    shown = f"{value:.3g}"
    return ("above" if value > 1.0 else "below" if value < 1.0 else "at"), shown


def _thickness(rows: Sequence[Row], hc_key: str, design: str) -> str:
    """' (h = 0.39 µm against h_c = 0.055 µm)' where the runs report both, else ''."""
    h, hc = _key(rows, "mechanics.thin_film.h"), _key(rows, f"mechanics.thin_film.{hc_key}")
    if h is None or hc is None:
        return ""
    first = design == h.designs[0]
    a, b = (h.infiltrated, hc.infiltrated) if first else (h.cosintered, hc.cosintered)
    if a is None or b is None or not math.isfinite(b):
        return ""
    return f", h = {fmt(a, h.spec)} against h_c = {fmt(b, hc.spec)} {h.spec.unit}"


def crack_argument(rows: Sequence[Row], ratio: Row, hc_key: str, title: str, verb: str, base: str) -> str:
    """One crack type: the G/G_c sentence, where each design's layer lies against its critical
    thickness, and which layer that makes crack (or debond) at this state."""
    one, two = ratio.designs
    text = f"**{title}** (G/G_c > 1: the layer {verb} at this state). {sentence(ratio)}"
    sides = {}
    parts = []
    for d in (one, two):
        side, shown = _side(ratio, d)
        sides[d] = side
        where = _thickness(rows, hc_key, d)
        name = f"the {design_label(d)} layer"
        if side == "above":
            parts.append(f"{name} is above its critical thickness (G/G_c {shown} > 1{where}): it {verb}")
        elif side == "below":
            parts.append(f"{name} is below its critical thickness (G/G_c {shown} < 1{where}): it does not "
                         f"{base}")
        elif side == "at":
            parts.append(f"{name} is at its critical thickness (G/G_c = 1{where})")
        elif side == "straddles":
            parts.append(f"{name}'s G/G_c ({shown}) straddles 1 over the seeds: whether it {verb} is not "
                         "decided")
    if parts:
        joined = "; ".join(parts)
        text += f" {joined[0].upper()}{joined[1:]}."
    above = [d for d in (one, two) if sides[d] == "above"]
    below = [d for d in (one, two) if sides[d] == "below"]
    if len(above) == 1 and len(below) == 1:
        text += (f" So the **{design_label(above[0])}** layer {verb} and the {design_label(below[0])} "
                 f"layer does not.")
    elif len(above) == 2:
        text += f" Both layers {base} at this state: G/G_c spares neither design; the ratio says by how much."
    elif len(below) == 2:
        text += f" Neither layer {verb} at this state."
    return text


def fracture_argument(rows: Sequence[Row], el: Elastic | None) -> list[str]:
    """(b) of the mechanics verdict: the thin-film fracture driving forces G/G_c per crack type."""
    out = []
    for key, hc_key, title, verb, base in CRACKS:
        ratio = _key(rows, f"mechanics.thin_film.{key}")
        if ratio is not None and (ratio.infiltrated is not None or ratio.cosintered is not None):
            out.append(crack_argument(rows, ratio, hc_key, title, verb, base))
    g = _key(rows, "mechanics.thin_film.G_channeling")
    if not out and g is not None and el is not None and g.infiltrated is not None:
        gc = el.critical_G()  # no ratio in the runs: G against K_IC²/Ē of the case
        sides = [f"{design_label(d)} {'above' if v > gc else 'below'}" for d, v in
                 zip(g.designs, (g.infiltrated, g.cosintered), strict=True) if v is not None]
        out.append(f"**Channel crack through the layer.** {sentence(g)} Against G_c = K_IC²/Ē = {gc:.3g} "
                   f"J/m²: {', '.join(sides)} the channel-cracking threshold.")
    if not out:
        return ["**Fracture driving forces**: these runs report no thin-film G/G_c."]
    out[0] += (" The thin-film G = Z σ² h / Ē grows with the layer thickness h (Beuth 1992; Hutchinson & Suo "
               "1992), so a thin layer can carry a high stress without cracking.")
    if "cosintered" in designs_of(rows):
        out.append("For co-sintered grains h is only nominal (NVP volume / interface area): the film "
                   "formula is a like-for-like index there, not a crack prediction (docs/degradation.md, "
                   "'Bulk fracture').")
    return out


def stress_context(rows: Sequence[Row]) -> str | None:
    """(c): the stresses as context, explicitly not a verdict (one sentence; None without them)."""
    shown = []
    for phase, word in CONTEXT_STRESSES:
        row = (find(rows, phase, word, "p95") or find(rows, phase, word, "mean")
               if "fraction" not in word else find(rows, f".{phase}.", word))
        if row is not None and (row.infiltrated is not None or row.cosintered is not None):
            shown.append(described(row))
    if not shown:
        return None
    return ("**Stresses, for context only, not a verdict**: von Mises is a ductile-yield measure and a "
            "principal stress above a strength does not say whether a brittle ceramic cracks, so "
            f"neither decides anything here ({'; '.join(shown)}).")


def closed_forms(el: Elastic | None, y_snapshot: float | None) -> list[str]:
    """The closed-form linear-elastic references at the mechanics state (context)."""
    if el is None:
        return []
    y = 0.0 if y_snapshot is None else y_snapshot
    state = "full charge (y = 0)" if y_snapshot is None else f"the mechanics snapshot (mean y = {y:.2f})"
    film, sphere = el.film_stress(y), el.eshelby_stress(y)
    out = [
        f"Closed forms at {state}: linear chemical strain ε* = {100 * el.eigenstrain(y):.2f} %; a bonded "
        f"thin NVP film carries an in-plane stress E ε*/(1−ν) of {abs(film) * 1e-6:.0f} MPa "
        f"({'tension' if film > 0 else 'compression'}), an NVP sphere bonded in NZSP a uniform "
        f"hydrostatic stress of {abs(sphere) * 1e-6:.0f} MPa with no deviatoric part. Both are far "
        f"above the strengths ({el.strength_nvp * 1e-6:.0f} MPa NVP, {el.strength_nzsp * 1e-6:.0f} MPa "
        "NZSP), which is why a strength criterion cannot tell the designs apart and the verdict above "
        "rests on damage and G/G_c."]
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
            "mesh and state-of-charge effects, not evidence for either design; the thin-film energy "
            "release rates do depend on the shape.")
    return out


def mechanics_verdict(rows: Sequence[Row], el: Elastic | None, y_snapshot: float | None) -> list[str]:
    """The mechanics part of the conclusion, in this order: (a) damage (capacity retention, separated
    and active interface) where the runs have a cohesive interface, else one sentence that it was not
    modelled; (b) the fracture driving forces G/G_c of a channel crack and of delamination; (c) the
    stresses as context, never as a verdict; then the closed forms and the model's limits."""
    mechanical = any(r.key.startswith(("mechanics.", "interface_damage.")) for r in rows)
    out = [damage_argument(rows)]
    if mechanical:
        out += fracture_argument(rows, el)
        context = stress_context(rows)
        if context is not None:
            out.append(context)
        out += closed_forms(el, y_snapshot)
    else:
        out.append("These runs carry no mechanics metrics: no mechanics verdict.")
    if has_damage(rows):
        limits = ("The interface debonds by a cohesive law without fatigue (damage grows only past its "
                  "previous maximum: docs/degradation.md); bulk cracks are judged by G/G_c of the "
                  "thin-film crack types, not grown; no plasticity and no two-phase NVP reaction front. ")
    else:
        limits = ("The model does not include debonding (a bonded interface in these runs), crack growth, "
                  "plasticity or the two-phase NVP reaction front; a paper claim that rests on those "
                  "(contact damage in co-sintered electrodes) can only be read here from G/G_c and the "
                  "interface tractions, not reproduced. ")
    seeds_n = n_seeds(rows)
    if seeds_n < 2:
        limits += ("One random microstructure per design is not a statistic: sweep the seed "
                   "(`fem-electrode sweep`) before trusting margins of a few per cent.")
    else:
        limits += (f"The verdicts above rest on {seeds_n} random microstructures per design: a design is "
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
