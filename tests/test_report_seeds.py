"""Statistics over microstructure seeds: intervals against Student's t written here, verdicts
only where the intervals separate, and `compare --seeds` end to end with a SYNTHETIC runner
(made-up metrics from ``tests/report_synthetic.py``; nothing here is a simulation result).

Serial: no MPI in these functions; under mpiexec every rank would just repeat the work.
"""

from __future__ import annotations

import json
import math

import pytest
from report_synthetic import toy_run

from fem_electrode.campaign import compare
from fem_electrode.config import validate
from fem_electrode.report import seeds
from fem_electrode.run.folder import HIGHER, LOWER, SMALLER_MAGNITUDE, MetricSpec

pytestmark = pytest.mark.serial

#: Student's t, two-sided 95 % (0.975 quantile): 2 degrees of freedom in closed form
#: (t = q √(2 / (1 − q²)), q = 2p − 1), 4 from the tables.
T_975 = {2: 0.95 * math.sqrt(2.0 / (1.0 - 0.95**2)), 4: 2.7764451051977987}


def test_interval_is_students_t():
    sp = seeds.spread([1.0, 2.0, 3.0, 4.0, 5.0])
    s = math.sqrt(2.5)  # sample standard deviation of 1..5
    assert sp.n == 5 and sp.mean == pytest.approx(3.0) and sp.std == pytest.approx(s)
    assert sp.half_width == pytest.approx(T_975[4] * s / math.sqrt(5), rel=1e-12)
    one = seeds.spread([7.0])
    assert one.half_width is None and one.std == 0.0


@pytest.mark.parametrize(("better", "inf", "co", "winner"), [
    (HIGHER, [10.0, 11.0, 12.0], [5.0, 6.0, 7.0], "infiltrated"),
    (LOWER, [10.0, 11.0, 12.0], [5.0, 6.0, 7.0], "cosintered"),  # the same numbers, the other direction
    (HIGHER, [10.0, 11.0, 12.0], [8.0, 9.0, 10.0], seeds.NOT_DISTINGUISHABLE),
    (SMALLER_MAGNITUDE, [-1.0, -1.1, -0.9], [5.0, 5.1, 4.9], "infiltrated"),
    (None, [10.0, 11.0, 12.0], [5.0, 6.0, 7.0], None),
    # separated (no spread) but within the 2 % tie band of a single comparison
    (HIGHER, [100.0, 100.0, 100.0], [99.0, 99.0, 99.0], "tie"),
    (HIGHER, [100.0, 100.0, 100.0], [97.0, 97.0, 97.0], "infiltrated"),
    # equal values with no spread: zero-width equal intervals are a tie, not "not distinguishable"
    (HIGHER, [0.99, 0.99, 0.99], [0.99, 0.99, 0.99], "tie"),
    (LOWER, [0.0, 0.0], [0.0, 0.0], "tie"),
    # overlapping intervals that fit in the 2 % band together ([99.70, 100.70], [99.95, 100.45]):
    # every value of one is a tie with every value of the other
    (HIGHER, [100.0, 100.2, 100.4], [100.1, 100.2, 100.3], "tie"),
])
def test_a_design_wins_only_where_the_intervals_separate(better, inf, co, winner):
    assert seeds.judge(MetricSpec("x", "x", better=better), inf, co) == winner


def test_overlapping_intervals_wider_than_the_tie_band_are_not_distinguishable():
    # [99.26, 101.74] and [99.90, 100.90]: the span 2.48 exceeds 2 % of 101.74 (2.03)
    spec = MetricSpec("x", "x", better=HIGHER)
    assert seeds.judge(spec, [100.0, 100.5, 101.0], [100.2, 100.4, 100.6]) == seeds.NOT_DISTINGUISHABLE
    # a spread on one side only: 0.99 ± 0 against [0.9, 1.1] is not a tie
    assert seeds.judge(spec, [0.99, 0.99], [0.9, 1.1]) == seeds.NOT_DISTINGUISHABLE


def test_separation_is_decided_by_the_interval_not_the_means():
    # means 11 vs 6.9, 95 % half-widths t(2) · 1/√3 = 2.484: [8.516, 13.48] vs [4.416, 9.384] overlap
    inf, co = [10.0, 11.0, 12.0], [5.9, 6.9, 7.9]
    hw = T_975[2] / math.sqrt(3)
    assert 11.0 - hw < 6.9 + hw  # they overlap: closed form
    assert seeds.judge(MetricSpec("x", "x", better=HIGHER), inf, co) == seeds.NOT_DISTINGUISHABLE
    # the means must differ by more than 2 hw = 4.968: 4.9 still overlaps, 5.0 separates
    spec = MetricSpec("x", "x", better=HIGHER)
    assert seeds.judge(spec, inf, [c - 0.8 for c in co]) == seeds.NOT_DISTINGUISHABLE
    assert seeds.judge(spec, inf, [c - 0.9 for c in co]) == "infiltrated"


def test_too_few_seeds_or_no_verdict_give_no_winner():
    spec = MetricSpec("x", "x", better=HIGHER)
    assert seeds.judge(spec, [1.0], [0.0, 0.1]) is None
    assert seeds.judge(MetricSpec("x", "x", better=HIGHER, verdict=False), [9, 10, 11], [1, 2, 3]) is None


TINY = {"case": {"name": "tiny"}, "geometry": {"seed": 3}}
#: Synthetic discharge capacity (mAh/g) of each design per seed: infiltrated clearly higher;
#: the polarization of the two overlaps (not distinguishable).
CAPACITY = {"infiltrated": {3: 95.0, 4: 96.0, 5: 94.5}, "cosintered": {3: 80.0, 4: 82.0, 5: 79.0}}
GAP = {"infiltrated": {3: 0.030, 4: 0.045, 5: 0.036}, "cosintered": {3: 0.040, 4: 0.033, 5: 0.044}}


def synthetic_runner(case, run_dir):
    design, seed = case.geometry.kind, case.geometry.seed
    toy_run(run_dir, design, capacity=CAPACITY[design][seed], gap=GAP[design][seed], nvp_vm_p95=2e9,
            accommodation=0.5)


def test_variants_one_folder_per_design_and_seed(tmp_path):
    items = compare.variants(validate(TINY), tmp_path, seeds=3)
    assert [(v.design, v.folder, v.case.geometry.seed, v.seed_index) for v in items] == [
        ("infiltrated", "infiltrated", 3, 0), ("cosintered", "cosintered", 3, 0),
        ("infiltrated", "infiltrated-seed1", 4, 1), ("cosintered", "cosintered-seed1", 4, 1),
        ("infiltrated", "infiltrated-seed2", 5, 2), ("cosintered", "cosintered-seed2", 5, 2)]
    assert len({v.case.case.name for v in items}) == 6
    # the case key does the same as the argument
    assert len(compare.variants(validate({**TINY, "geometry": {"seed": 3, "seeds": 2}}), tmp_path)) == 4
    # neither given: 3 microstructures per design, so the default compare reports intervals
    assert [v.folder for v in compare.variants(validate(TINY), tmp_path)] == [
        v.folder for v in items]
    assert len(compare.variants(validate({**TINY, "geometry": {"seed": 3, "seeds": 1}}), tmp_path)) == 2
    with pytest.raises(ValueError, match="seeds = 0"):
        compare.variants(validate(TINY), tmp_path, seeds=0)


def test_compare_with_seeds_reports_intervals(tmp_path):
    out = tmp_path / "cmp"
    paths = compare.compare(validate(TINY), out, runner=synthetic_runner, jobs=1, screenshots=False, seeds=3)
    data = json.loads(paths["json"].read_text())
    block = data["protocols"][0]["seeds"]
    assert block["n"] == 3 and block["confidence"] == 0.95
    rows = {r["key"]: r for r in block["metrics"]}
    cap = rows["capacity_discharge_mAh_per_g"]
    for design, values in CAPACITY.items():
        v = list(values.values())
        mean = sum(v) / 3
        s = math.sqrt(sum((x - mean) ** 2 for x in v) / 2)
        assert cap[design]["values"] == v
        assert cap[design]["mean"] == pytest.approx(mean, rel=1e-12)
        assert cap[design]["half_width"] == pytest.approx(T_975[2] * s / math.sqrt(3), rel=1e-12)
    assert cap["winner"] == "infiltrated"
    assert rows["polarization_V"]["winner"] == seeds.NOT_DISTINGUISHABLE
    # the per-run tables still show the case's own seed
    first = {r["key"]: r for r in data["protocols"][0]["metrics"]}
    assert first["capacity_discharge_mAh_per_g"]["infiltrated"] == CAPACITY["infiltrated"][3]
    md = paths["markdown"].read_text()
    assert "## Statistics over microstructure seeds" in md and "not distinguishable" in md
    assert any((out / "figures").glob("seeds_*.png"))


def test_discretisation_error_widens_the_interval_or_removes_the_metric():
    spec = MetricSpec("x", "x", better=HIGHER)
    inf, co = [10.0, 11.0, 12.0], [4.9, 5.9, 6.9]  # means 11 / 5.9: gap 5.1 > 2 hw = 4.968
    assert seeds.judge(spec, inf, co) == "infiltrated"
    assert seeds.judge(spec, inf, co, {"infiltrated": 0.05, "cosintered": 0.05}) == "infiltrated"
    # |Δ| = 0.1 each widens both intervals: 4.968 + 0.2 > 5.1
    assert seeds.judge(spec, inf, co, {"infiltrated": 0.1, "cosintered": 0.1}) == seeds.NOT_DISTINGUISHABLE
    # a change of more than 5 % of the first seed's value (10 → 0.51) is "not converged"
    assert seeds.judge(spec, inf, co, {"infiltrated": 0.51, "cosintered": 0.0}) == seeds.NOT_CONVERGED
    # 0.25 / 4.9 = 5.1 %
    assert seeds.judge(spec, inf, co, {"infiltrated": 0.0, "cosintered": 0.25}) == seeds.NOT_CONVERGED


def refining_runner(case, run_dir):
    """Synthetic: capacity moves by 0.5 % on the finer mesh (converged), the polarization by 20 %."""
    design, seed = case.geometry.kind, case.geometry.seed
    finer = case.mesh.refinement > 1.0
    toy_run(run_dir, design, capacity=CAPACITY[design][seed] * (1.005 if finer else 1.0),
            gap=GAP[design][seed] * (1.2 if finer else 1.0), nvp_vm_p95=2e9, accommodation=0.5)


def test_compare_with_a_refinement_pair(tmp_path):
    items = compare.variants(validate(TINY), tmp_path, seeds=2, refine=1.5)
    refined = [v for v in items if v.refined]
    assert [(v.folder, v.case.mesh.refinement, v.case.geometry.seed) for v in refined] == [
        ("infiltrated-refined", 1.5, 3), ("cosintered-refined", 1.5, 3)]
    with pytest.raises(ValueError, match="refine = 1.0"):
        compare.variants(validate(TINY), tmp_path, refine=1.0)
    out = tmp_path / "cmp"
    paths = compare.compare(validate(TINY), out, runner=refining_runner, jobs=1, screenshots=False, seeds=3,
                            refine=1.5)
    block = json.loads(paths["json"].read_text())["protocols"][0]["seeds"]
    assert block["refinement_pair"] is True
    rows = {r["key"]: r for r in block["metrics"]}
    cap = rows["capacity_discharge_mAh_per_g"]
    assert cap["infiltrated"]["discretisation_error"] == pytest.approx(0.005 * CAPACITY["infiltrated"][3])
    assert cap["relative_change_on_refinement"] == pytest.approx(0.005, rel=1e-9)
    assert cap["winner"] == "infiltrated"  # 0.5 % does not close the gap
    assert rows["polarization_V"]["winner"] == seeds.NOT_CONVERGED
    md = paths["markdown"].read_text()
    assert "Δ on refinement" in md and "not converged" in md
    # the refined runs are not seeds: three values per design
    assert len(cap["infiltrated"]["values"]) == 3


def test_report_opens_on_the_headline_and_folds_the_full_list(tmp_path):
    out = tmp_path / "cmp"
    paths = compare.compare(validate(TINY), out, runner=synthetic_runner, jobs=1, screenshots=False, seeds=3)
    md = paths["markdown"].read_text()
    assert md.index("## At a glance") < md.index("## Conclusion") < md.index("## All metrics")
    glance = md[md.index("## At a glance"):md.index("## Conclusion")]
    mean = sum(CAPACITY["infiltrated"].values()) / 3
    assert f"{mean:.4g} ±" in glance and "| infiltrated |" in glance  # the seed mean and its verdict
    html = paths["html"].read_text()
    assert html.index("At a glance") < html.index("<details>") < html.index("All metrics")
    folded = html[html.index("<details>"):html.index("</details>")]
    assert "every metric of both electrodes" in folded


#: How the conclusion words each verdict of the headline table.
CONCLUSION_WORDS = {"infiltrated": "— **infiltrated** better", "co-sintered": "— **co-sintered** better",
                    "tie": "— no meaningful difference",
                    "not distinguishable": "— not distinguishable at 3 seeds"}


def _section(md: str, heading: str) -> str:
    start = md.index(heading)
    end = md.find("\n## ", start + len(heading))
    return md[start:end if end >= 0 else len(md)]


def test_the_conclusion_argues_from_the_seed_statistics(tmp_path):
    """With seeds the conclusion gives every headline metric the headline's numbers and verdict: the
    polarization intervals overlap, so it must not call either design better on the first seed's
    30 vs 40 mV; the capacity intervals separate; the equal Coulombic efficiencies are a tie."""
    out = tmp_path / "cmp"
    paths = compare.compare(validate(TINY), out, runner=synthetic_runner, jobs=1, screenshots=False, seeds=3)
    md = paths["markdown"].read_text()
    headline = [[c.strip() for c in line.strip("|").split("|")]
                for line in _section(md, "## At a glance").splitlines() if line.startswith("| 0.1 C |")]
    verdicts = {row[1]: row[5] for row in headline}
    assert verdicts == {"discharge capacity": "infiltrated", "Coulombic efficiency": "tie",
                        "polarization": "not distinguishable"}
    text = _section(md, "## Conclusion")
    assert "over 3 microstructure seeds per design" in text
    for _, label, _unit, inf, co, verdict in headline:
        bullet = next(line for line in text.splitlines() if line.startswith(f"- **{label}**:"))
        assert f"infiltrated {inf} vs co-sintered {co}" in bullet, bullet  # mean ± half-width
        assert CONCLUSION_WORDS[verdict] in bullet, (verdict, bullet)
    polarization = next(line for line in text.splitlines() if line.startswith("- **polarization**:"))
    assert "better" not in polarization and "30 vs" not in polarization
    # the same verdict where the paper's ion-path argument cites the polarization
    ion = next(line for line in text.splitlines() if line.startswith("- **Ion paths.**"))
    assert "**polarization**: infiltrated 37 ± " in ion and "not distinguishable at 3 seeds" in ion
    # the opening tally counts what the seeds cannot tell apart
    assert "are not distinguishable at 3 seeds" in text


def test_the_headline_screen_leads_with_the_key_figure(tmp_path):
    """report.md and report.html: the headline table (HTML class "headline"), then the
    voltage-capacity figure, both before the conclusion."""
    out = tmp_path / "cmp"
    paths = compare.compare(validate(TINY), out, runner=synthetic_runner, jobs=1, screenshots=False, seeds=3)
    md = paths["markdown"].read_text()
    glance = _section(md, "## At a glance")
    assert md.index("| protocol | metric |") < md.index("![") < md.index("## Conclusion")
    assert md.index("![") == md.index("![voltage_capacity]") and "![voltage_capacity]" in glance
    assert "(first seed of each design)" in glance  # the curves are one seed's; the table is the mean
    html = paths["html"].read_text()
    assert html.count('<table class="headline">') == 1
    start = html.index(">At a glance</h2>")
    assert start < html.index('<table class="headline">') < html.index("<figure>") < html.index(
        ">Conclusion</h2>")
    assert html.index("<table") == html.index('<table class="headline">')  # the first table
