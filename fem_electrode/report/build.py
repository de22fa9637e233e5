"""Assemble the comparison report: ``report.md``, ``report.html``, ``comparison.json``.

Input: one :class:`Pair` per protocol (e.g. 0.1 C, 0.6 C), each with a finished run of both
designs. The report opens on one screen, "At a glance": the headline table of the deciding
metrics (with their seed intervals and verdicts) and the key figures (voltage–capacity curves,
and the per-cycle retention and damage where the runs have them). The generated conclusion
follows (from the seed statistics where there are seeds, so it says what the headline says),
then the seed statistics, the microstructures and their measured descriptors,
electrochemistry, damage, mechanics, the ParaView views and, folded, the table of every
metric with its ratio (first / second design: infiltrated / co-sintered by default; a pair's
``designs`` may name another, e.g. an image against a generated design).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fem_electrode import __version__
from fem_electrode.report import comparison, conclusion, document, figures, seeds
from fem_electrode.report.comparison import DESIGNS, MetricSpec, Row, design_label
from fem_electrode.report.document import Block, Bullets, Collapsed, Figure, Heading, Paragraph, Table
from fem_electrode.report.rundata import RunData
from fem_electrode.util import atomic
from fem_electrode.util.log import get_logger

log = get_logger("report")

#: Resolved (not measured) geometry numbers worth showing beside the measured descriptors.
RESOLVED_KEYS = {"layer_thickness": ("NVP layer thickness (solved)", "µm", 1.0),
                 "pore_formers": ("pore formers / NVP grains placed", "", 1.0)}
VIEW_TITLES = {"microstructure": "phases (clip through the RVE)",
               "von_mises": "von Mises stress, clip through the RVE",
               "c": "Na concentration in NVP", "interface_current": "interface current density"}


@dataclass
class Pair:
    """Both designs run under one protocol."""

    label: str
    runs: dict[str, RunData]
    protocol: str = ""
    rows: list[Row] = field(default_factory=list)
    descriptors: list[Row] = field(default_factory=list)
    #: metrics.json of every seed per design (the first is ``runs``'s); two or more per design
    #: give :attr:`seed_rows` (mean, 95 % interval, interval verdict)
    seed_metrics: dict[str, list[dict[str, Any]]] | None = None
    #: metrics.json per design of the first seed on the refined mesh (``compare --refine``)
    refined_metrics: dict[str, dict[str, Any]] | None = None
    seed_rows: list[seeds.SeedRow] = field(default_factory=list)
    #: the two designs, in the order of every table and ratio (first / second)
    designs: tuple[str, str] = DESIGNS
    #: a longer label per design for the provenance and comparison.json (default: its short name)
    design_labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [d for d in self.designs if d not in self.runs]
        if missing:
            raise ValueError(f"pair {self.label!r} lacks the run(s) of {', '.join(missing)}")
        self.runs = {**{d: self.runs[d] for d in self.designs}, **self.runs}  # the designs' order
        one, two = self.designs
        self.rows = comparison.compare(self.runs[one].metrics, self.runs[two].metrics, self.designs)
        self.descriptors = descriptor_rows(self.runs[one].mesh_info, self.runs[two].mesh_info, self.designs)
        if self.seed_metrics is not None and (self.refined_metrics is not None or self.n_seeds >= 2):
            self.seed_rows = seeds.seed_rows(self.seed_metrics, self.refined_metrics, self.designs)

    def long_label(self, design: str) -> str:
        """The design's label in the provenance and comparison.json."""
        return self.design_labels.get(design) or design_label(design)

    @property
    def default_pair(self) -> bool:
        """Infiltrated against co-sintered (the paper's comparison)."""
        return self.designs == DESIGNS

    @property
    def n_seeds(self) -> int:
        """Microstructures per design (the smaller count of the two)."""
        if not self.seed_metrics:
            return 1
        return min(len(self.seed_metrics.get(d, [])) for d in self.designs)

    @property
    def seeded(self) -> bool:
        """Two or more seeds per design: the verdicts come from the seed intervals."""
        return self.n_seeds >= 2 and bool(self.seed_rows)

    @property
    def verdict_rows(self) -> list[Row]:
        """What the headline and the conclusion argue from: with seeds, each metric's seed means
        with its interval verdict (:class:`seeds.MeanRow`; metrics present in every seed of both
        designs), else the numbers of the one run per design."""
        if not self.seeded:
            return self.rows
        by_key: dict[str, Row] = {r.key: r.as_row() for r in self.seed_rows}
        return [by_key[r.key] for r in self.rows if r.key in by_key]


#: Readable names of the words in mesh-provenance keys (``measured.*``).
_DESCRIPTOR_WORDS = {"interface_nvp_nzsp": "NVP|NZSP interface", "pore_wall_nvp": "NVP pore wall",
                     "pore_wall_nzsp": "NZSP pore wall", "NVP": "NVP", "NZSP": "NZSP"}


def descriptor_spec(key: str, units: dict[str, Any]) -> MetricSpec:
    """Label and unit of a measured descriptor (``measured.*`` of the mesh provenance; the
    provenance's own ``units`` give the length unit)."""
    label = ", ".join(_DESCRIPTOR_WORDS.get(p, p.replace("_", " ")) for p in key.split("."))
    k = key.lower()
    if "area_per_volume" in k:
        unit = str(units.get("area_per_volume", "1/um")).replace("um", "µm")
        return MetricSpec(key, label.replace("interface area per volume, ", "area per volume, "), unit=unit)
    if "fraction" in k:
        return MetricSpec(key, label, unit="%", scale=100.0)
    return MetricSpec(key, label)


def descriptor_rows(inf: dict[str, Any], co: dict[str, Any], designs: tuple[str, str] = DESIGNS) -> list[Row]:
    """Measured microstructure numbers of both meshes (informational: no winner; ``inf`` the
    mesh provenance of the first of ``designs``, ``co`` of the second)."""
    def numbers(info: dict[str, Any]) -> dict[str, float]:
        out = comparison.numeric_leaves(info.get("measured", {}))
        for key in RESOLVED_KEYS:
            value = info.get("resolved", {}).get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[f"resolved.{key}"] = float(value)
        return out

    fi, fc = numbers(inf), numbers(co)
    units = inf.get("units", {}) or co.get("units", {})
    rows = []
    for key in dict.fromkeys([*fi, *fc]):
        a, b = fi.get(key), fc.get(key)
        ratio = a / b if a is not None and b not in (None, 0.0) else None
        if key.startswith("resolved."):
            label, unit, scale = RESOLVED_KEYS[key.split(".", 1)[1]]
            spec = MetricSpec(key, label, unit=unit, scale=scale)
        else:
            spec = descriptor_spec(key, units)
        rows.append(Row(key, spec, a, b, ratio, None, None, designs))
    return rows


#: Short names of the designs in the ratio's column header.
_ABBREVIATIONS = {"infiltrated": "inf.", "cosintered": "co."}


def _columns(designs: tuple[str, str]) -> list[str]:
    """Table headers of the two designs' values and their ratio ("ratio inf./co.")."""
    one, two = designs
    ratio = f"ratio {_ABBREVIATIONS.get(one, one)}/{_ABBREVIATIONS.get(two, two)}"
    return [design_label(one), design_label(two), ratio]


def descriptor_table(rows: Sequence[Row]) -> Table:
    body = [[r.spec.label, r.spec.unit, comparison.fmt(r.infiltrated, r.spec),
             comparison.fmt(r.cosintered, r.spec), comparison.fmt_ratio(r.ratio)] for r in rows]
    return Table(["descriptor", "unit", *_columns(conclusion.designs_of(rows))], body,
                 "Measured descriptors of the two meshes (mesh provenance JSON)", align_right={2, 3, 4})


def metric_table(rows: Sequence[Row], caption: str) -> Table:
    """Every metric of both designs with ratio, better direction and winner."""
    body = []
    for r in rows:
        w = r.winner or ""
        winner = design_label(w) if r.spec.verdict else f"({w})"
        body.append([r.spec.label, r.spec.unit, comparison.fmt(r.infiltrated, r.spec),
                     comparison.fmt(r.cosintered, r.spec), comparison.fmt_ratio(r.ratio),
                     r.spec.better or "—", winner or "—"])
    return Table(["metric", "unit", *_columns(conclusion.designs_of(rows)), "better is", "better"],
                 body, caption, align_right={2, 3, 4})


def _elastic(case_dict: dict[str, Any] | None) -> conclusion.Elastic | None:
    if not case_dict or "materials" not in case_dict:
        return None
    try:
        return conclusion.Elastic.from_case(case_dict["materials"], case_dict.get("mechanics", {}))
    except KeyError:
        return None


def _y_snapshot(pair: Pair) -> float | None:
    for run in pair.runs.values():
        if "y_mean" in run.stress_meta:
            return run.stress_meta["y_mean"]
        mech = run.metrics.get("mechanics", {})
        for key in ("y_mean", "y_snapshot", "snapshot_y"):
            if isinstance(mech, dict) and isinstance(mech.get(key), int | float):
                return float(mech[key])
    return None


def conclusion_blocks(pairs: Sequence[Pair], el: conclusion.Elastic | None) -> list[Block]:
    """The generated conclusion (first protocol in detail, the others by rate). With seeds it
    argues from the seed means and interval verdicts, as the headline does; with one seed per
    design from the numbers of the two runs."""
    main = pairs[0]
    y = _y_snapshot(main)
    rows = judged_rows(main)
    if main.seeded:
        intro = (f"Generated from the statistics of the {main.label} runs over {main.n_seeds} microstructure "
                 f"seeds per design: each value is the mean ± half-width of its {seeds.CONFIDENCE:.0%} "
                 "interval, and a design is better only where the two intervals separate (else not "
                 f"distinguishable at {main.n_seeds} seeds); separated means within "
                 f"{100 * comparison.TIE_RTOL:.0f} % of each other are a tie, and so are overlapping "
                 f"intervals that fit within {100 * comparison.TIE_RTOL:.0f} % together. ")
    else:
        one, two = main.designs
        intro = (f"Generated from the numbers of the {main.label} runs (ratio = {design_label(one)} / "
                 f"{design_label(two)}; a difference below {100 * comparison.TIE_RTOL:.0f} % counts as a "
                 "tie). ")
    blocks: list[Block] = [Heading("Conclusion"), Paragraph(intro + conclusion.summary(rows))]
    for title, lines in conclusion.by_group(rows):
        blocks += [Heading(title, 3), Bullets(lines)]
    rate_lines = conclusion.rates([(p.label, p.verdict_rows) for p in pairs])
    if rate_lines:
        blocks += [Heading("Across protocols", 3), Bullets(rate_lines)]
    if not main.default_pair:
        return [*blocks, Paragraph(
            "The paper's arguments (contacts, ion paths, strain accommodation) and the mechanics verdict "
            "(damage, G/G_c) are written for infiltrated against co-sintered electrodes: "
            f"they are left out for {design_label(main.designs[0])} against "
            f"{design_label(main.designs[1])}.")]
    blocks += [Heading("What the paper's claim rests on", 3),
               Bullets(conclusion.paper_claims(rows, main.descriptors)),
               Heading("Mechanics: damage, then fracture driving forces", 3),
               Bullets(conclusion.mechanics_verdict(rows, el, y))]
    return blocks


def microstructure_blocks(pair: Pair) -> list[Block]:
    blocks: list[Block] = [Heading("Microstructures")]
    meshes = {}
    for design, run in pair.runs.items():
        if run.msh_path is not None and run.msh_path.is_file():
            try:
                from fem_electrode.report.microstructure import TetMesh

                meshes[design] = TetMesh.read(run.msh_path)
            except (ValueError, OSError) as exc:  # a mesh we cannot read must not sink the report
                log.warning("cannot draw %s: %s", run.msh_path, exc)
    if len(meshes) == len(pair.runs):
        from fem_electrode.report.microstructure import figure

        blocks.append(Figure("microstructures", figure(meshes, {d: design_label(d) for d in meshes}),
                             "The two RVEs: the cube seen from outside (each phase on the outer faces, "
                             "pores as holes) and sections across (z = mid) and along (y = mid) the "
                             "thickness; z = 0 faces the separator. Grey NZSP, orange NVP, white pore."))
    else:
        blocks.append(Paragraph("No `.msh` of both meshes was found beside the runs: no pictures."))
    if pair.descriptors:
        blocks.append(descriptor_table(pair.descriptors))
    return blocks


def electrochemistry_blocks(pairs: Sequence[Pair]) -> list[Block]:
    blocks: list[Block] = [Heading("Electrochemistry")]
    if not _have_curves(pairs):
        return [*blocks, Paragraph("These runs have no time series (mechanics only): no curves.")]
    blocks.append(Paragraph("The voltage–capacity curves are at the top of the report (At a glance)."))
    for p in pairs:
        rows = [r for r in p.rows if r.spec.group == "electrochemistry"]
        if rows:
            blocks.append(Figure(f"electrochemistry_{_slug(p.label)}",
                                 figures.bar_panels(rows, f"Capacity, efficiency, polarization ({p.label})"),
                                 f"Electrochemical metrics at {p.label}, both designs."))
    return blocks


def _have_curves(pairs: Sequence[Pair]) -> bool:
    return any(run.timeseries for p in pairs for run in p.runs.values())


def _with_damage(pairs: Sequence[Pair]) -> list[Pair]:
    """The pairs run with a cohesive interface (``mechanics.interface = 'cohesive'``)."""
    return [p for p in pairs if all("interface_damage" in r.metrics for r in p.runs.values())]


def _colours(pair: Pair) -> str:
    """'blue infiltrated, orange co-sintered': the designs' colours in the figures."""
    return ", ".join(f"{figures.COLOR_NAMES[d]} {design_label(d)}" for d in pair.designs)


def key_figure_blocks(pairs: Sequence[Pair]) -> list[Block]:
    """The figures of the first screen: the voltage–capacity curves and, for runs with interface
    damage, the capacity retention and active interface per cycle."""
    first = " (first seed of each design)" if any(p.seeded for p in pairs) else ""
    colours = _colours(pairs[0])
    blocks: list[Block] = []
    if _have_curves(pairs):
        blocks.append(Figure("voltage_capacity", figures.voltage_capacity([(p.label, p.runs) for p in pairs]),
                             "Cell voltage against capacity per half-cycle (solid: charge, dashed: "
                             f"discharge); {colours}{first}."))
    with_damage = _with_damage(pairs)
    if with_damage:
        blocks.append(Figure("damage_per_cycle",
                             figures.damage_per_cycle([(p.label, p.runs) for p in with_damage]),
                             "Capacity retention (top) and active interface fraction (bottom) against "
                             f"cycle; {colours}{first}."))
    return blocks


def damage_blocks(pairs: Sequence[Pair]) -> list[Block]:
    """Interface damage over the cycles (runs with ``mechanics.interface = 'cohesive'``); the
    per-cycle figure is among the key figures at the top (:func:`key_figure_blocks`)."""
    with_damage = _with_damage(pairs)
    if not with_damage:
        return []
    blocks: list[Block] = [Heading("Interface damage and capacity retention"), Paragraph(
        "The NVP|NZSP interface is a cohesive zone (docs/degradation.md): it opens and slides with "
        "irreversible damage D, and a debonded patch passes no current. Per cycle, the discharge "
        "capacity relative to cycle 1 and the interface that still carries current are drawn at the "
        "top of the report (At a glance).")]
    header = ["protocol", "design", "cycles", "retention (last)", "active interface",
              "separated (< 1 % strength left)", "dissipated (J/m²)", "unconverged updates"]
    rows = []
    for p in with_damage:
        for design, run in p.runs.items():
            d, cycles = run.metrics["interface_damage"], run.metrics.get("cycles") or []
            last = cycles[-1] if cycles else {}
            values = [last.get("capacity_retention"),
                      *(d.get(k) for k in ("active_interface_fraction", "debonded_fraction",
                                           "dissipated_energy_per_area_J_m2"))]
            rows.append([p.label, design, str(len(cycles)), *map(comparison.fmt, values),
                         str(d.get("unconverged_updates", ""))])
    blocks.append(Table(header, rows, "Interface damage at the end of each run."))
    return blocks


#: The few metrics that decide, in the order the headline shows them (those a run has): the
#: electrochemistry, then the mechanics verdict's damage and G/G_c (stresses are context only).
HEADLINE = ("capacity_discharge_mAh_per_g", "coulombic_efficiency", "polarization_V", "energy_efficiency",
            conclusion.RETENTION_KEY, "interface_damage.debonded_fraction",
            "interface_damage.active_interface_fraction",
            "mechanics.thin_film.channeling_ratio", "mechanics.thin_film.delamination_ratio")


def retention_row(pair: Pair) -> Row | None:
    """Capacity retention at the last cycle every run reached, for runs with a cohesive interface
    (over the seeds where the pair has them; None without damage or a second cycle)."""
    if not _with_damage([pair]):
        return None
    if pair.seeded and pair.seed_metrics:
        return conclusion.retention_row(pair.seed_metrics, pair.designs)
    return conclusion.retention_row({d: [pair.runs[d].metrics] for d in pair.designs}, pair.designs)


def judged_rows(pair: Pair) -> list[Row]:
    """What the headline and the conclusion argue from: :attr:`Pair.verdict_rows` and, for runs
    with a cohesive interface, the capacity retention (:func:`retention_row`)."""
    retention = retention_row(pair)
    return [*pair.verdict_rows, *([retention] if retention is not None else [])]


def headline_table(pairs: Sequence[Pair]) -> Table | None:
    """One table a researcher takes in at a glance: the deciding metrics of every protocol, with
    their seed interval where there are seeds, and the verdict (from :func:`judged_rows`, the rows
    the conclusion argues from)."""
    body = []
    for p in pairs:
        by_key = {r.key: r for r in judged_rows(p)}
        first = {r.key: r for r in p.rows}
        for key in HEADLINE:
            row = by_key.get(key)
            verdict = conclusion.verdict_label(row.winner) if row is not None else ""
            if row is None and p.seeded and key in first:  # a metric some seeds lack: no statistic
                row, verdict = first[key], "— (not in every seed)"
            if row is None or (row.infiltrated is None and row.cosintered is None):
                continue
            body.append([p.label, row.spec.label, row.spec.unit, *conclusion.values(row), verdict])
    if not body:
        return None
    if any(p.seeded for p in pairs):
        note = (f"mean ± {seeds.CONFIDENCE:.0%} interval over the seeds; a winner only where the "
                "intervals separate")
    else:
        note = "one microstructure per design: no interval (`compare --seeds N` gives them)"
    if _with_damage(pairs):
        damage = ("Capacity retention per cycle is in the figure below (the retention row: the last cycle "
                  "every run reached); the interface rows are the cohesive-zone damage "
                  "(docs/degradation.md)")
    else:
        damage = ("Capacity retention and damage are not modelled in these runs (a cohesive interface "
                  "gives them: docs/degradation.md)")
    return Table(["protocol", "metric", "unit", *_columns(pairs[0].designs)[:2], "better"], body,
                 f"The deciding metrics ({note}). {damage}; the fracture rows are the thin-film "
                 "indicators G/G_c (> 1: the layer cracks or debonds). Stresses (von Mises, principal) "
                 "are context, not a verdict.", align_right={3, 4}, css_class="headline")


def headline_blocks(pairs: Sequence[Pair]) -> list[Block]:
    """The first screen, "At a glance": the headline table and the key figures."""
    table = headline_table(pairs)
    body: list[Block] = [*([table] if table is not None else []), *key_figure_blocks(pairs)]
    return [Heading("At a glance"), *body] if body else []


def seed_blocks(pairs: Sequence[Pair]) -> list[Block]:
    """Mean and 95 % interval over the seeds, and the verdict where the intervals separate."""
    with_seeds = [p for p in pairs if p.seed_rows]
    if not with_seeds:
        return []
    blocks: list[Block] = [Heading("Statistics over microstructure seeds")]
    for p in with_seeds:
        judged = [r for r in p.seed_rows if r.spec.better is not None and r.spec.verdict]
        n = p.n_seeds
        refined = p.refined_metrics is not None
        counts = {w: sum(r.winner == w for r in judged)
                  for w in (*p.designs, seeds.NOT_DISTINGUISHABLE, seeds.NOT_CONVERGED)}
        text = (f"**{p.label}**, {n} microstructure(s) (seeds) per design: every metric as mean ± half-width "
                f"of its {seeds.CONFIDENCE:.0%} confidence interval (Student's t over the seeds)")
        if refined:
            text += (", and its discretisation error: the change |Δ| when the first seed is meshed again "
                     "finer (largest relative change of the two designs in the last column), which widens "
                     f"the interval; a metric that moves by more than {seeds.NOT_CONVERGED_RTOL:.0%} is "
                     f"reported as not converged and kept out of the verdict ({counts[seeds.NOT_CONVERGED]})")
        one, two = p.designs
        text += (f". A design wins a metric only where the two intervals do not overlap: {design_label(one)} "
                 f"{counts[one]}, {design_label(two)} {counts[two]}, not distinguishable at {n} "
                 f"seed(s) {counts[seeds.NOT_DISTINGUISHABLE]} of {len(judged)} judged metrics.")
        if n < 2:
            text += " With one seed there is no interval and no verdict here."
        blocks.append(Paragraph(text))
        body = []
        for r in judged:
            cells = [seeds.fmt_interval(r.spreads[d], r.spec) for d in p.designs]
            if refined:
                change = r.relative_change
                cells.append("—" if change is None else f"{100 * change:.2g} %")
            verdict = design_label(r.winner or "")
            body.append([r.spec.label, r.spec.unit, *cells, verdict])
        header = ["metric", "unit", design_label(one), design_label(two),
                  *(["Δ on refinement"] if refined else []), "verdict"]
        caption = f"{p.label}: mean ± {seeds.CONFIDENCE:.0%} interval over {n} seed(s)"
        blocks.append(Table(header, body, caption, align_right={2, 3, 4} if refined else {2, 3}))
        key_rows = [r for r in judged if r.spec.group == "electrochemistry"][:8]
        if key_rows:
            panels = figures.seed_panels(key_rows, f"Electrochemistry over {n} seeds ({p.label})")
            blocks.append(Figure(f"seeds_{_slug(p.label)}", panels,
                                 "Each seed (dots) and the mean with its 95 % interval (bars) per design."))
    return blocks


def mechanics_blocks(pair: Pair, el: conclusion.Elastic | None) -> list[Block]:
    blocks: list[Block] = [Heading("Mechanics")]
    y = _y_snapshot(pair)
    have_samples = all(run.stress for run in pair.runs.values())
    if have_samples:
        yy = 0.0 if y is None else y
        refs = {}
        if el is not None:
            refs = {"von_mises": {"film": (abs(el.film_stress(yy)), "bonded film (closed form)")},
                    "hydrostatic": {"sphere": (el.eshelby_stress(yy), "Eshelby sphere (closed form)")},
                    "max_principal": {"film": (el.film_stress(yy), "bonded film (closed form)")}}
        strengths = {"NVP": el.strength_nvp, "NZSP": el.strength_nzsp} if el else {}
        blocks.append(Figure("stress_cdf", figures.stress_cdfs(pair.runs, ("NVP", "NZSP"), strengths, refs),
                             "Volume-weighted cumulative distributions of the cell stresses per phase; "
                             "dotted red: fracture strength; grey: closed-form levels for a bonded film "
                             "and an Eshelby sphere at the same chemical strain."))
        if any(run.stress.get("interface") for run in pair.runs.values()):
            blocks.append(Figure("interface_tractions", figures.traction_cdfs(
                pair.runs, el.strength_interface if el else None),
                "Area-weighted distributions of the NVP|NZSP interface tractions; a positive normal "
                "traction opens the interface (debonding), dotted red: interface strength."))
    else:
        stress_rows = [r for r in pair.rows if r.spec.group in ("stress", "interface")]
        if stress_rows:
            blocks.append(Figure("stress_percentiles", figures.percentile_ladders(
                stress_rows, "Stress statistics per phase"),
                "Mean, 95th and 99th percentile and maximum of each stress measure (no per-cell "
                "samples were written, so no full distributions)."))
        else:
            blocks.append(Paragraph("The runs report no mechanics metrics."))
    order = ("accommodation", "per_nvp_volume", "elastic_energy.total", "elastic_energy", "fraction",
             "channeling", "delamination")
    rows = sorted((r for r in pair.rows
                   if r.spec.group in ("energy", "fracture") and r.spec.better and r.spec.verdict),
                  key=lambda r: next((i for i, w in enumerate(order) if w in r.key.lower()), len(order)))
    if rows:
        blocks.append(Figure("accommodation_fracture", figures.bar_panels(
            rows, "Strain accommodation, stored energy and fracture indicators"),
            "Accommodation index (1 = free expansion, 0 = clamped), stored elastic energy, interface "
            "damage and the thin-film energy release rates and G/G_c."))
    return blocks


def paraview_blocks(screenshot_dir: Path | None, views_script: Path | None,
                    designs: tuple[str, str] = DESIGNS) -> list[Block]:
    blocks: list[Block] = [Heading("ParaView views")]
    if views_script is not None:
        blocks.append(Paragraph(f"Open both electrodes in ParaView with `pvpython {views_script.name}` "
                                f"(or `pvpython {views_script.name} --screenshot DIR` for PNGs); each run "
                                "folder holds its XDMF fields."))
    if screenshot_dir is None or not screenshot_dir.is_dir():
        return blocks
    import json

    import matplotlib.image as mpimg

    manifest_path = screenshot_dir / "views.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    missing = set(manifest.get("missing", []))
    for view, title in VIEW_TITLES.items():
        files = [screenshot_dir / f"{d}_{view}.png" for d in designs]
        if not all(f.is_file() for f in files) or any(f.stem in missing for f in files):
            continue
        fig, axes = figures.plt.subplots(1, 2, figsize=(12, 4.9))
        for ax, f in zip(axes, files, strict=True):
            ax.imshow(mpimg.imread(f))
            ax.axis("off")
        fig.tight_layout()
        same = "" if view == "microstructure" else ", same colour scale"
        blocks.append(Figure(f"paraview_{view}", figures.png(fig),
                             f"ParaView, {title}: {design_label(designs[0])} (left), "
                             f"{design_label(designs[1])} (right){same}."))
    return blocks


def provenance_blocks(pairs: Sequence[Pair], out_dir: Path) -> list[Block]:
    rows = []
    for p in pairs:
        for design, run in p.runs.items():
            rows.append([p.label, p.long_label(design), os.path.relpath(run.run_dir, out_dir),
                         p.protocol or "—"])
    return [Heading("Provenance"), Table(["protocol", "design", "run folder", "description"], rows),
            Paragraph(f"fem_electrode {__version__}. Each run folder holds its resolved case, mesh "
                      "provenance, metrics.json, timeseries.csv and ParaView files.")]


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text).strip("_").lower() or "run"


def comparison_json(pairs: Sequence[Pair], title: str) -> dict[str, Any]:
    """Both metric sets, every row with ratio and winner, and the tally per protocol."""
    one, two = pairs[0].designs
    return {
        "title": title, "ratio": f"{one} / {two}", "tie_rtol": comparison.TIE_RTOL,
        "designs": [{"name": d, "label": pairs[0].long_label(d)} for d in pairs[0].designs],
        "fem_electrode_version": __version__,
        "protocols": [{
            "label": p.label, "description": p.protocol,
            "runs": {d: {"run_dir": str(r.run_dir), "metrics": r.metrics, "mesh": r.mesh_info}
                     for d, r in p.runs.items()},
            "metrics": [r.to_json() for r in p.rows],
            "descriptors": [r.to_json() for r in p.descriptors],
            "tally": {k: [r.key for r in v] for k, v in conclusion.tally(p.rows, p.designs).items()},
            "seeds": ({"n": p.n_seeds, "confidence": seeds.CONFIDENCE,
                       "refinement_pair": p.refined_metrics is not None,
                       "not_converged_rtol": seeds.NOT_CONVERGED_RTOL,
                       "metrics": [r.to_json() for r in p.seed_rows]} if p.seed_rows else None),
        } for p in pairs],
    }


def build_report(out_dir: str | os.PathLike[str], pairs: Sequence[Pair], case: dict[str, Any] | None = None,
                 title: str = "Infiltrated vs co-sintered NVP|NZSP electrode", intro: str = "",
                 screenshot_dir: Path | None = None, views_script: Path | None = None) -> dict[str, Path]:
    """Write report.md (+ figures/), report.html and comparison.json into ``out_dir``."""
    if not pairs:
        raise ValueError("nothing to report: no pair of runs")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    el = _elastic(case)
    blocks: list[Block] = [Heading(title, 1)]
    if intro:
        blocks.append(Paragraph(intro))
    blocks += headline_blocks(pairs)
    blocks += conclusion_blocks(pairs, el)
    blocks += seed_blocks(pairs)
    blocks += microstructure_blocks(pairs[0])
    blocks += electrochemistry_blocks(pairs)
    blocks += damage_blocks(pairs)
    blocks += mechanics_blocks(pairs[0], el)
    blocks += paraview_blocks(screenshot_dir, views_script, pairs[0].designs)
    tables: list[Heading | Paragraph | Bullets | Table | Figure] = [
        metric_table(p.rows, f"{p.label}: every metric of both electrodes. 'better' is decided from the two "
                             "numbers; in parentheses: shown but not used for the verdict.") for p in pairs]
    blocks.append(Collapsed("All metrics", tables))
    blocks += provenance_blocks(pairs, out_dir)
    document.write_figures(blocks, out_dir / "figures")
    paths = {
        "markdown": atomic.write_text(out_dir / "report.md", document.to_markdown(blocks)),
        "html": atomic.write_text(out_dir / "report.html", document.to_html(blocks, title)),
        "json": atomic.write_json(out_dir / "comparison.json", comparison_json(pairs, title)),
    }
    log.info("report written: %s", paths["html"])
    return paths
