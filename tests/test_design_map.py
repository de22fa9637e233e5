"""The design map read back from a sweep folder: seed statistics per point, feasibility, Pareto
front and the stated optimum, on hand-written `scale` metrics (no physics; serial: no MPI)."""

from __future__ import annotations

import json

import pytest
from sweep_helpers import write_sweep

from fem_electrode.campaign import status as casestatus
from fem_electrode.campaign.design_map import read_points, write
from fem_electrode.campaign.sweep import load_sweep
from fem_electrode.campaign.sweep_folder import prepare

pytestmark = pytest.mark.serial  # reads hand-written folders; no DOLFINx, no MPI communicator

GRID = '[grid]\ngeometry.porosity = [0.2, 0.3]\ngeometry.layer_thickness = [0.2, 0.4]\n'


def _electrode(e_low, e_high, cap_low, cap_high, r_ohm_m2, fraction):
    preds = []
    for thickness in (150.0, 250.0):
        k = thickness / 250.0  # the thinner layer: other numbers, so a mix-up of thicknesses shows
        preds += [{"thickness_um": thickness, "c_rate": 0.1, "energy_discharge_Wh_per_L": k * e_low,
                   "energy_discharge_Wh_per_kg": k * e_low / 3.0, "discharge_capacity_mAh_per_g": cap_low},
                  {"thickness_um": thickness, "c_rate": 1.0, "energy_discharge_Wh_per_L": k * e_high,
                   "energy_discharge_Wh_per_kg": k * e_high / 3.0,
                   "discharge_capacity_mAh_per_g": cap_high}]
    return {"effective": {"fraction_nvp": fraction}, "predictions": preds,
            "resistance": [{"thickness_um": 150.0, "R_ohm_m2": 0.5 * r_ohm_m2},
                           {"thickness_um": 250.0, "R_ohm_m2": r_ohm_m2}]}


#: (porosity, layer thickness) -> per seed: (Wh/L 0.1 C, Wh/L 1 C, mAh/g 0.1 C, mAh/g 1 C, R Ω m², risk)
TABLE = {
    (0.2, 0.2): [(100.0, 90.0, 110.0, 100.0, 0.010, 0.5), (102.0, 92.0, 110.0, 100.0, 0.012, 0.6)],
    (0.2, 0.4): [(150.0, 100.0, 110.0, 70.0, 0.020, 0.5), (152.0, 102.0, 110.0, 70.0, 0.022, 0.5)],  # slow
    (0.3, 0.2): [(120.0, 110.0, 110.0, 105.0, 0.015, 0.4), (124.0, 114.0, 110.0, 105.0, 0.017, 0.4)],
    (0.3, 0.4): [(200.0, 180.0, 110.0, 100.0, 0.030, 1.5), (204.0, 184.0, 110.0, 100.0, 0.032, 1.7)],  # risky
}


def _sweep(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, GRID, sweep="replicates = 2"))
    prepare(sweep)
    for p in sweep.points:
        key = (p.values["geometry.porosity"], p.values["geometry.layer_thickness"])
        e_lo, e_hi, c_lo, c_hi, r, risk = TABLE[key][p.values["geometry.seed"] - 1]
        metrics = {"status": "completed", "electrode": _electrode(e_lo, e_hi, c_lo, c_hi, r, 0.1 + key[1]),
                   "mechanics": {"thin_film": {"delamination_ratio": risk}}}
        cdir = sweep.directory / p.dir
        (cdir / "metrics.json").write_text(json.dumps(metrics))
        casestatus.write(cdir, "done", exit_code=0, attempt=1)
    return sweep


def test_points_pool_the_seeds_with_student_t_intervals(tmp_path):
    sweep = _sweep(tmp_path)
    points, thickness = read_points(sweep.directory)
    assert thickness == 250.0 and len(points) == 4
    p = next(q for q in points if q.values == {"geometry.porosity": 0.3, "geometry.layer_thickness": 0.2})
    assert p.seeds == 2 and p.failed == 0
    # two seeds: mean ± t(0.975, 1) s / sqrt(2), t = 12.7062, s = |a - b| / sqrt(2)
    assert p.energy_Wh_per_L[1.0].mean == pytest.approx(112.0, rel=1e-12)
    assert p.energy_Wh_per_L[1.0].half_width == pytest.approx(12.7062047 * 4.0 / 2.0, rel=1e-6)
    assert p.resistance_ohm_cm2.mean == pytest.approx(0.016e4, rel=1e-12)
    p150, _ = read_points(sweep.directory, thickness_um=150.0)
    q = next(x for x in p150 if x.values == p.values)
    assert q.energy_Wh_per_L[1.0].mean == pytest.approx(112.0 * 150.0 / 250.0, rel=1e-12)


def test_feasibility_pareto_and_optimum(tmp_path):
    sweep = _sweep(tmp_path)
    paths = write(sweep.directory)
    data = json.loads(paths["json"].read_text())
    by = {(d["values"]["geometry.porosity"], d["values"]["geometry.layer_thickness"]): d
          for d in data["points"]}
    assert not by[(0.2, 0.4)]["feasible"] and "keeps 64 %" in by[(0.2, 0.4)]["why_not"][0]
    assert not by[(0.3, 0.4)]["feasible"] and "mechanical risk" in by[(0.3, 0.4)]["why_not"][0]
    assert by[(0.2, 0.2)]["feasible"] and by[(0.3, 0.2)]["feasible"]
    # (0.3, 0.2) has more energy but more resistance and less risk: both are on the front
    assert by[(0.2, 0.2)]["pareto"] and by[(0.3, 0.2)]["pareto"]
    assert data["optimum"] == {"geometry.porosity": 0.3, "geometry.layer_thickness": 0.2}
    # 112 ± 25.4 vs 91 ± 12.7 Wh/L overlap: not distinguishable at 2 seeds
    assert "Not distinguishable" in data["verdict"] and "porosity 0.2, layer_thickness 0.2" in data["verdict"]
    md = paths["md"].read_text()
    assert "| porosity 0.3, layer_thickness 0.4 | 2 |" in md and "![design map](design-map.png)" in md
    assert paths["png"].stat().st_size > 20_000


def test_a_case_without_the_electrode_block_is_named(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, GRID))
    prepare(sweep)
    for p in sweep.points:
        cdir = sweep.directory / p.dir
        (cdir / "metrics.json").write_text(json.dumps({"capacity": 1.0}))
        casestatus.write(cdir, "done", exit_code=0, attempt=1)
    with pytest.raises(ValueError, match="no 'electrode' block"):
        read_points(sweep.directory)


def test_the_command_writes_the_map_and_refuses_bad_limits(tmp_path, capsys):
    from fem_electrode.cli import main

    sweep = _sweep(tmp_path)
    assert main(["design-map", str(sweep.directory), "--thickness", "150"]) == 0
    data = json.loads((sweep.directory / "design-map.json").read_text())
    assert data["thickness_um"] == 150.0
    assert main(["design-map", str(sweep.directory), "--max-risk", "-1"]) == 2
    assert "--max-risk = -1.0: allowed: > 0" in capsys.readouterr().err
    assert main(["design-map", str(tmp_path / "nowhere")]) == 2


def _props():
    from fem_electrode.physics.effective_medium import EffectiveProperties

    a = 4.5e5  # 1/m
    cells = {"kappa_ion_uniform_source": {"value": 0.40}, "sigma_electronic_uniform_source": {"value": 5e-4}}
    return EffectiveProperties(fraction_nzsp=0.80, fraction_nvp=0.155, porosity=0.045, kappa_ion=0.38,
                               sigma_electronic=0.0, interface_area_density=a, diffusion_length=0.155 / a,
                               collector_nvp_fraction=0.23, separator_nzsp_fraction=1.0,
                               source={"cell_problems": cells})


def _scale_sweep(tmp_path):
    """Two `scale` cases whose metrics hold real predictions of a hand-made microstructure."""
    from fem_electrode.config import load_case
    from fem_electrode.run.electrode_scale import model_properties, predictions

    body = ('[base.electrode]\nthickness = [200.0]\nc_rates = [0.2, 1.0]\nnodes_thickness = 16\n'
            'nodes_particle = 6\n[grid]\ngeometry.porosity = [0.2, 0.25]\n')
    sweep = load_sweep(write_sweep(tmp_path, body))
    prepare(sweep)
    for p in sweep.points:
        cdir = sweep.directory / p.dir
        case = load_case(cdir / "case.toml")
        props = _props()
        preds, res, _, failed = predictions(case, model_properties(case, props))
        assert not failed
        metrics = {"status": "completed", "electrode": {"effective": props.to_dict(), "predictions": preds,
                                                         "resistance": res},
                   "mechanics": {"thin_film": {"delamination_ratio": 0.5}}}
        (cdir / "metrics.json").write_text(json.dumps(metrics))
        casestatus.write(cdir, "done", exit_code=0, attempt=1)
    return sweep


def test_a_what_if_predicts_again_from_the_stored_properties(tmp_path):
    from fem_electrode.campaign.design_map import repredict
    from fem_electrode.config import load_case

    sweep = _scale_sweep(tmp_path)
    cdir = sweep.directory / sweep.points[0].dir
    metrics = json.loads((cdir / "metrics.json").read_text())
    case = load_case(cdir / "case.toml")
    same = repredict(metrics, case, {"materials": {"sigma_s_nvp": case.materials.sigma_s_nvp}})
    for a, b in zip(same["electrode"]["predictions"], metrics["electrode"]["predictions"], strict=True):
        assert a["discharge_capacity_mAh_per_g"] == pytest.approx(b["discharge_capacity_mAh_per_g"],
                                                                  rel=1e-12)
    # a 100x better electron path: the 1 C discharge keeps more, the resistance falls
    better = repredict(metrics, case, {"materials": {"sigma_s_nvp": 100 * case.materials.sigma_s_nvp}})
    one_c = [p for p in better["electrode"]["predictions"] if p["c_rate"] == 1.0][0]
    before = [p for p in metrics["electrode"]["predictions"] if p["c_rate"] == 1.0][0]
    assert one_c["discharge_capacity_mAh_per_g"] > 1.5 * before["discharge_capacity_mAh_per_g"]
    paths = write(sweep.directory, overrides={"materials": {"sigma_s_nvp": 1.0}}, name="dm-what-if")
    assert paths["md"].name == "dm-what-if.md" and "materials.sigma_s_nvp = 1.0" in paths["md"].read_text()
    with pytest.raises(ValueError, match="materials.E_nvp.*must run again"):
        read_points(sweep.directory, overrides={"materials": {"E_nvp": 1e9}})


def test_the_command_takes_set_and_refuses_a_bad_one(tmp_path, capsys):
    from fem_electrode.cli import main

    sweep = _scale_sweep(tmp_path)
    assert main(["design-map", str(sweep.directory), "--set", "materials.sigma_s_nvp=1.0"]) == 0
    assert (sweep.directory / "design-map-sigma_s_nvp-1.0.png").stat().st_size > 20_000
    assert main(["design-map", str(sweep.directory), "--set", "materials.sigma_s_nvp"]) == 2
    assert main(["design-map", str(sweep.directory), "--set", "mesh.size_max=0.5"]) == 2
    assert "mesh.size_max" in capsys.readouterr().err


def test_a_seed_still_running_is_pending_not_failed(tmp_path):
    sweep = _sweep(tmp_path)
    p = sweep.points[0]
    cdir = sweep.directory / p.dir
    (cdir / "metrics.json").unlink()
    casestatus.write(cdir, "running", host="elsewhere", pid=1)
    points, _ = read_points(sweep.directory)
    from fem_electrode.campaign.design_map import judge

    judge(points)
    point = next(q for q in points if q.pending)
    assert (point.seeds, point.failed, point.pending) == (1, 0, 1)
    assert point.why_not[0] == "1 of 2 seed(s) not finished yet" and not point.feasible
