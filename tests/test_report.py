"""The report machinery on SYNTHETIC inputs (made-up metrics, curves and stress samples from
``tests/report_synthetic.py``, tiny hand-built gmsh meshes): tables, ratios, winners, the
generated conclusion flipping with the numbers, self-contained HTML, comparison.json, and the
comparison orchestration with a fake runner. Nothing here is a simulation result.

Serial: no MPI in these functions; under mpiexec every rank would just repeat the work.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from report_synthetic import toy_msh, toy_run

from fem_electrode.config import validate
from fem_electrode.report import build, comparison, conclusion, curves, document, microstructure
from fem_electrode.report.rundata import RunData, read_csv
from fem_electrode.run import folder

pytestmark = pytest.mark.serial


def _pair(tmp: Path, inf: dict, co: dict, msh: bool = False) -> build.Pair:
    runs = {}
    for design, kw in (("infiltrated", inf), ("cosintered", co)):
        mesh = toy_msh(tmp / f"{design}_src.msh", design) if msh else None
        toy_run(tmp / design, design, msh=mesh, **kw)
        runs[design] = RunData.load(design, tmp / design)
    return build.Pair("0.1 C", runs, "synthetic")


GOOD = {"capacity": 95.0, "gap": 0.030, "nvp_vm_p95": 2.5e9, "accommodation": 0.6}
BAD = {"capacity": 80.0, "gap": 0.050, "nvp_vm_p95": 1.5e9, "accommodation": 0.4}


def test_flatten_and_schema_specs():
    flat = comparison.numeric_leaves({"a": {"b": 1, "c": {"d": 2.5}}, "s": "text", "flag": True, "l": [1, 2]})
    assert flat == {"a.b": 1.0, "a.c.d": 2.5}
    spec = comparison.spec_of("mechanics.phases.NVP.von_mises.p95")
    assert (spec.better, spec.unit, spec.scale, spec.group) == (folder.LOWER, "MPa", 1e-6, "stress")
    assert spec.label == "NVP von Mises stress, 95th pct."
    assert not comparison.spec_of("mechanics.phases.NVP.von_mises.max").verdict  # singular corners
    assert comparison.spec_of("mechanics.strain_accommodation_index").better == folder.HIGHER
    assert comparison.spec_of("mechanics.thin_film.G_channeling").unit == "J/m²"
    assert comparison.spec_of("mechanics.thin_film.h").better is None
    assert comparison.spec_of("polarization_V").unit == "mV"
    assert comparison.spec_of("capacity_discharge_mAh_per_g").better == folder.HIGHER
    assert comparison.spec_of("solver.newton_iterations").better is None
    assert comparison.spec_of("cell.series_resistance_ohm_m2").better is None  # an input, not a result
    undeclared = comparison.spec_of("made_up.metric_V")  # another version's key: shown, never judged
    assert undeclared.better is None and undeclared.unit == ""
    with pytest.raises(folder.UndeclaredMetric, match="made_up.metric_V"):
        folder.metric("made_up.metric_V")


@pytest.mark.parametrize(("better", "a", "b", "winner"), [
    (folder.HIGHER, 95.0, 80.0, "infiltrated"), (folder.HIGHER, 80.0, 95.0, "cosintered"),
    (folder.LOWER, 1.0, 2.0, "infiltrated"), (folder.LOWER, 2.0, 1.0, "cosintered"),
    (folder.SMALLER_MAGNITUDE, -3.0, 2.0, "cosintered"), (folder.LOWER, 1.0, 1.01, "tie"),
])
def test_judge_follows_the_numbers(better, a, b, winner):
    spec = folder.MetricSpec("x", "x", better=better)
    assert comparison.judge(spec, a, b)[0] == winner


def test_margin_words():
    key = "capacity_discharge_mAh_per_g"
    row = comparison.compare({key: 90.0}, {key: 60.0})[0]
    assert row.ratio == pytest.approx(1.5)
    assert conclusion.margin(row) == "50.0 % higher"
    key = "mechanics.phases.NVP.von_mises.p95"
    row = comparison.compare({"mechanics": {"phases": {"NVP": {"von_mises": {"p95": 1e9}}}}},
                             {"mechanics": {"phases": {"NVP": {"von_mises": {"p95": 3e9}}}}})[0]
    assert row.key == key and conclusion.margin(row) == "3.00× lower"
    frac = {"mechanics": {"phases": {"NVP": {"fraction_above_strength": 0.1}}}}
    frac_co = {"mechanics": {"phases": {"NVP": {"fraction_above_strength": 0.3}}}}
    row = comparison.compare(frac, frac_co)[0]
    assert conclusion.margin(row) == "lower by 20 percentage points"
    row = comparison.compare({"coulombic_efficiency": 0.99}, {"coulombic_efficiency": 0.99})[0]
    assert row.winner == "tie" and conclusion.margin(row) == "identical"


def test_conclusion_flips_when_numbers_flip(tmp_path):
    case = validate({}).to_dict()
    texts = {}
    for name, (inf, co) in {"ab": (GOOD, BAD), "ba": (BAD, GOOD)}.items():
        pair = _pair(tmp_path / name, inf, co)
        blocks = build.conclusion_blocks([pair], build._elastic(case))
        texts[name] = "\n".join(b.text if hasattr(b, "text") else "\n".join(getattr(b, "items", []))
                                for b in blocks)
    cap = re.compile(r"\*\*discharge capacity\*\*.*?— \*\*(\S+)\*\* better")
    assert cap.search(texts["ab"]).group(1) == "infiltrated"
    assert cap.search(texts["ba"]).group(1) == "co-sintered"
    # von Mises is context, never a verdict on 'minimized stress'; its numbers follow the data
    for text in texts.values():
        assert "minimized stress" not in text
    assert "NVP von Mises stress, 95th pct. infiltrated 2500 vs co-sintered 1500 MPa" in texts["ab"]
    assert "NVP von Mises stress, 95th pct. infiltrated 1500 vs co-sintered 2500 MPa" in texts["ba"]
    assert "The model agrees with the paper on this measure" in texts["ab"]
    assert "The model disagrees with the paper on this measure" in texts["ba"]


def test_report_files_are_self_contained(tmp_path):
    pair = _pair(tmp_path, GOOD, BAD, msh=True)
    paths = build.build_report(tmp_path / "out", [pair], case=validate({}).to_dict())
    html = paths["html"].read_text()
    assert html.count("data:image/png;base64,") >= 5
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", html), "external reference in HTML"
    assert "<link" not in html and "<script" not in html
    md = paths["markdown"].read_text()
    for ref in re.findall(r"\]\((figures/[^)]+\.png)\)", md):
        assert (tmp_path / "out" / ref).stat().st_size > 5000
    assert "microstructures" in md and "## Conclusion" in md and "## All metrics" in md
    data = json.loads(paths["json"].read_text())
    rows = {r["key"]: r for r in data["protocols"][0]["metrics"]}
    cap = rows["capacity_discharge_mAh_per_g"]
    assert cap["ratio_infiltrated_over_cosintered"] == pytest.approx(95.0 / 80.0)
    assert cap["winner"] == "infiltrated"
    assert data["protocols"][0]["runs"]["cosintered"]["metrics"]["capacity_discharge_mAh_per_g"] == 80.0
    assert "capacity_discharge_mAh_per_g" in data["protocols"][0]["tally"]["infiltrated"]


def test_half_cycles_and_gap(tmp_path):
    toy_run(tmp_path / "r", "infiltrated", **GOOD)
    ts = read_csv(tmp_path / "r" / "timeseries.csv")
    assert "segment" not in ts and "charge_rel_error" not in ts  # text / partly empty columns dropped
    hc = curves.half_cycles(ts)
    assert [h.kind for h in hc] == ["charge", "discharge"]
    assert hc[0].capacity[0] == pytest.approx(95.0 / 40)  # counted from the half-cycle start
    assert hc[0].capacity.max() == pytest.approx(95.0 + 0.6)  # galvanostatic + CV hold
    assert hc[1].capacity[0] == pytest.approx(95.0 / 40)  # the column restarts: not |q - q_prev|
    assert hc[1].capacity.max() == pytest.approx(95.0)
    q = 0.5 * min(hc[0].capacity.max(), hc[1].capacity.max())  # the plateau gap at mid capacity
    gap = np.interp(q, hc[0].capacity, hc[0].voltage) - np.interp(q, hc[1].capacity, hc[1].voltage)
    assert gap == pytest.approx(GOOD["gap"], rel=0.1)


@pytest.mark.parametrize("design", ["infiltrated", "cosintered"])
def test_sections_cover_the_solid(tmp_path, design):
    """Section polygons tile the solid: their area is the box face minus the pores it cuts."""
    mesh = microstructure.TetMesh.read(toy_msh(tmp_path / "m.msh", design))
    fr = microstructure.phase_fractions(mesh)
    assert sum(fr.values()) == pytest.approx(1.0)
    assert 0.02 < fr["NVP"] < 0.2
    p, ids = microstructure.section(mesh, 2, 2.0)
    x, y = p[:, :, 0], p[:, :, 1]
    area = 0.5 * np.abs(np.sum(x * np.roll(y, -1, 1) - np.roll(x, -1, 1) * y, axis=1))  # shoelace
    lo, hi = mesh.bounds
    face = (hi[0] - lo[0]) * (hi[1] - lo[1])
    assert 0.85 * face < area.sum() <= face * (1 + 1e-9)
    assert set(mesh.phase[ids]) == {"NZSP", "NVP"}


XDMF = """<?xml version="1.0"?>
<Xdmf Version="3.0" xmlns:xi="https://www.w3.org/2001/XInclude"><Domain>
<Grid Name="mesh" GridType="Uniform"/>
<Grid Name="{name}" GridType="Collection" CollectionType="Temporal">
<Grid Name="{name}" GridType="Uniform"><Time Value="0" />
<Attribute Name="{name}" AttributeType="Scalar" Center="{centre}"/></Grid>
<Grid Name="{name}" GridType="Uniform"><Time Value="3600" />
<Attribute Name="{name}" AttributeType="Scalar" Center="{centre}"/></Grid>
</Grid></Domain></Xdmf>
"""


def test_views_find_the_run_fields(tmp_path):
    """File names and arrays as `fem-electrode run` writes them (XDMF headers only, no data)."""
    from fem_electrode.report import views

    fields = tmp_path / "run" / "fields"
    fields.mkdir(parents=True)
    for name, centre in (("c", "Node"), ("phi_s", "Node"), ("phi_e", "Node"), ("i_interface", "Cell"),
                         ("von_mises", "Cell"), ("hydrostatic", "Cell"), ("stress", "Cell"),
                         ("displacement", "Node"), ("interface_normal_traction", "Cell")):
        (fields / f"{name}.xdmf").write_text(XDMF.format(name=name, centre=centre))
    (fields / "mesh.xdmf").write_text(XDMF.format(name="phases", centre="Cell"))
    found = views.discover(tmp_path / "run")
    assert found["mesh"].endswith("mesh.xdmf")
    assert [(Path(e["file"]).name, e["array"], e["center"]) for e in found["fields"]["von_mises"]] == [
        ("von_mises.xdmf", "von_mises", "Cell")]
    assert [Path(e["file"]).name for e in found["fields"]["c"]] == ["c.xdmf"]
    assert [Path(e["file"]).name for e in found["fields"]["interface_current"]] == ["i_interface.xdmf"]
    assert views.read_xdmf_header(fields / "c.xdmf").times == (0.0, 3600.0)
    script = views.write_views(tmp_path, {"infiltrated": {"label": "infiltrated", "run_dir": tmp_path / "run",
                                                          "time": 3600.0}}, ranges={"von_mises": (0, 900)})
    text = script.read_text()
    compile(text, str(script), "exec")  # valid Python for pvpython
    assert "'file': 'run/fields/c.xdmf'" in text and "'range': [0.0, 900.0]" in text


def test_conclusion_states_the_equal_moduli_consequence(tmp_path):
    """With the unsourced default E_nvp = E_nzsp the conclusion says that the hydrostatic stress and
    the accommodation index are shape-independent constants (numbers computed here), and it says
    nothing of the kind when the moduli differ."""
    pair = _pair(tmp_path / "p", GOOD, BAD)

    def text(case: dict) -> str:
        blocks = build.conclusion_blocks([pair], build._elastic(case))
        return "\n".join(b.text if hasattr(b, "text") else "\n".join(getattr(b, "items", [])) for b in blocks)

    case = validate({}).to_dict()
    mat = case["materials"]
    y = 0.05  # the mechanics snapshot of report_synthetic.toy_run
    eps_v = mat["omega_nvp"] * mat["c_max"] * (y - case["mechanics"]["y_ref"])
    sigma_h = -2 * mat["E_nvp"] * eps_v / (9 * (1 - mat["nu_nvp"]))
    index = (1 + mat["nu_nvp"]) / (3 * (1 - mat["nu_nvp"]))
    equal = text(case)
    assert "The NVP elastic constants are not measured" in equal
    assert f"hydrostatic stress of {sigma_h * 1e-6:.0f} MPa" in equal and f"index of {index:.2f}" in equal
    assert f"(mean y = {y:.2f})" in equal
    stiff = validate({"materials": {"E_nvp": 120e9}}).to_dict()
    assert "The NVP elastic constants are not measured" not in text(stiff)


def test_the_damage_section_shows_retention_and_active_interface_per_cycle(tmp_path):
    """Runs with a cohesive interface get the damage section; its table shows each design's own
    last-cycle retention and interface state (different numbers per design: a swap fails)."""
    pair = _pair(tmp_path, GOOD, BAD)
    for design, fade, active in (("infiltrated", 0.01, 0.93), ("cosintered", 0.12, 0.41)):
        m = pair.runs[design].metrics
        m["cycles"] = [{"cycle": k, "capacity_retention": 1.0 - fade * (k - 1),
                        "active_interface_fraction": 1.0 - (1.0 - active) * k / 3} for k in (1, 2, 3)]
        m["interface_damage"] = {"active_interface_fraction": active,
                                 "debonded_fraction": 1.0 - active - 0.01,
                                 "dissipated_energy_per_area_J_m2": 2.5, "unconverged_updates": 0}
    md = document.to_markdown(build.damage_blocks([pair]))
    assert "Interface damage and capacity retention" in md
    assert "| 0.1 C | infiltrated | 3 | 0.98 | 0.93 |" in md
    assert "| 0.1 C | cosintered | 3 | 0.76 | 0.41 |" in md
    # without damage in both runs, no section
    del pair.runs["cosintered"].metrics["interface_damage"]
    assert build.damage_blocks([pair]) == []


def test_the_first_screen_holds_the_headline_and_the_key_figures(tmp_path):
    """One seed, runs with interface damage: "At a glance" holds the headline table (HTML class
    "headline", one row for the active interface) and both key figures, the voltage-capacity curves
    and the per-cycle retention and damage, before the conclusion; report.md in the same order.
    The damage section keeps its table and has no second copy of the figure."""
    pair = _pair(tmp_path, GOOD, BAD)
    for design, fade, active in (("infiltrated", 0.01, 0.93), ("cosintered", 0.12, 0.41)):
        m = pair.runs[design].metrics
        m["cycles"] = [{"cycle": k, "capacity_retention": 1.0 - fade * (k - 1),
                        "active_interface_fraction": 1.0 - (1.0 - active) * k / 3} for k in (1, 2, 3)]
        m["interface_damage"] = {"active_interface_fraction": active, "debonded_fraction": 1.0 - active,
                                 "dissipated_energy_per_area_J_m2": 2.5, "unconverged_updates": 0}
    pair = build.Pair(pair.label, pair.runs, pair.protocol)  # rows with the damage metrics
    paths = build.build_report(tmp_path / "out", [pair], case=validate({}).to_dict())
    md = paths["markdown"].read_text()
    order = ["## At a glance", "| protocol | metric |",
             "| 0.1 C | active interface | % | 93 | 41 | infiltrated |", "![voltage_capacity]",
             "![damage_per_cycle]", "## Conclusion", "## Interface damage",
             "| 0.1 C | infiltrated | 3 | 0.98 | 0.93 |", "## All metrics"]
    assert [md.index(s) for s in order] == sorted(md.index(s) for s in order)
    assert md.count("![damage_per_cycle]") == 1 and md.count("![voltage_capacity]") == 1
    assert "Capacity retention per cycle is in the figure below" in md
    html = paths["html"].read_text()
    assert html.index('<table class="headline">') < html.index("<figure>") < html.index(">Conclusion</h2>")
    assert html.count('class="headline"') == 1
    # one seed: the conclusion argues from the two runs' numbers, as before
    assert "Generated from the numbers of the 0.1 C runs" in md
