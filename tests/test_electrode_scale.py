"""`fem-electrode scale`: RVE → effective properties → the homogenized electrode at two thicknesses
and two C-rates, end to end on a small periodic infiltrated RVE (serial and 2 ranks).

The arithmetic that joins the steps is recomputed here from the written numbers, not by the
package's functions: the 1 C current from the NVP loading, the energy densities from the energy
per area and the composite mass, the Coulombic efficiency, and the resistance fit."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest

from fem_electrode.config import ConfigError, validate
from fem_electrode.physics.effective_medium import EffectiveProperties
from fem_electrode.run.electrode_scale import model_properties, scale

MAH_PER_G_TO_C_PER_KG = 3600.0  # 1 mAh/g = 3.6 C/g = 3600 C/kg


def _case(tmp):
    return validate({
        "case": {"name": "scale-test"},
        "geometry": {"kind": "infiltrated", "box": [5.0, 5.0, 5.0], "periodic": True, "seed": 2},
        "mesh": {"size_max": 1.2, "refinement": 0.7, "elements_across_layer": 1,
                 "directory": str(tmp / "m")},
        "electrode": {"thickness": [40.0, 80.0], "c_rates": [0.2, 0.5], "nodes_thickness": 20,
                      "nodes_particle": 8},
        "output": {"fields": "none"},
    })


def test_scale_writes_effective_properties_predictions_and_risk(comm, mpi_tmp_path):
    case = _case(mpi_tmp_path)
    out = mpi_tmp_path / "run"
    data = scale(case, out, comm=comm)
    assert data["status"] == "completed", data["reason"]
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["electrode"]["predictions"] == data["electrode"]["predictions"]
    eff = data["electrode"]["effective"]
    m = case.materials
    # the one-sided z conductivities are the ones used (the default), both positive and below f σ
    cells = eff["source"]["cell_problems"]
    assert eff["kappa_ion_used"] == cells["kappa_ion_uniform_source"]["value"] > 0.0
    assert 0.0 < eff["sigma_electronic_used"] == cells["sigma_electronic_uniform_source"]["value"]
    assert eff["sigma_electronic_used"] < eff["fraction_nvp"] * m.sigma_s_nvp
    assert eff["composite_density_kg_m3"] == pytest.approx(
        eff["fraction_nzsp"] * m.density_nzsp + eff["fraction_nvp"] * m.density_nvp, rel=1e-12)
    preds = data["electrode"]["predictions"]
    assert [(p["thickness_um"], p["c_rate"]) for p in preds] == [(40.0, 0.2), (40.0, 0.5), (80.0, 0.2),
                                                                  (80.0, 0.5)]
    for p in preds:
        assert p["status"] == "completed"
        length = p["thickness_um"] * 1e-6
        loading = eff["fraction_nvp"] * length * m.density_nvp  # kg/m²
        assert p["nvp_loading_kg_m2"] == pytest.approx(loading, rel=1e-12)
        one_c = loading * m.capacity_nvp * MAH_PER_G_TO_C_PER_KG / 3600.0  # A/m²
        assert p["current_density_A_m2"] == pytest.approx(p["c_rate"] * one_c, rel=1e-12)
        e = p["energy_discharge_Wh_per_m2"]
        assert p["energy_discharge_Wh_per_L"] == pytest.approx(e / (length * 1000.0), rel=1e-12)
        assert p["energy_discharge_Wh_per_kg"] == pytest.approx(
            e / (length * eff["composite_density_kg_m3"]), rel=1e-12)
        sep = case.electrochemistry.separator_thickness * m.density_nzsp
        assert p["energy_discharge_Wh_per_kg_with_separator"] == pytest.approx(
            e / (length * eff["composite_density_kg_m3"] + sep), rel=1e-12)
        # energy = discharge capacity x loading x mean discharge voltage (mAh/g x kg/m² = Ah/m² x 1e3)
        capacity = p["discharge_capacity_mAh_per_g"]
        assert e == pytest.approx(capacity * loading * p["mean_voltage_discharge_V"], rel=1e-9)
        assert p["coulombic_efficiency"] == pytest.approx(
            p["discharge_capacity_mAh_per_g"] / p["charge_capacity_mAh_per_g"], rel=1e-12)
        assert 0.0 < p["discharge_capacity_mAh_per_g"] <= m.capacity_nvp
        assert p["conservation"] < 1e-9
    # thicker electrode at the same rate: more current through the same networks, less capacity
    assert preds[2]["discharge_capacity_mAh_per_g"] < preds[0]["discharge_capacity_mAh_per_g"]
    for r in data["electrode"]["resistance"]:
        pts = [(p["current_density_A_m2"], p["gap_at_half_filling_V"]) for p in preds
               if p["thickness_um"] == r["thickness_um"] and p["gap_at_half_filling_V"] is not None]
        if len(pts) >= 2:
            slope = np.polyfit(*np.array(pts).T, 1)[0]
            assert r["R_ohm_m2"] == pytest.approx(slope / 2.0, rel=1e-9)
            assert r["R_ohm_m2"] > 0.0
    # the RVE's mechanics at full desodiation: the layer's thin-film indicators (bonded default)
    film = data["mechanics"]["thin_film"]
    assert film["delamination_ratio"] > 0.0 and data["mechanics"]["y_mean"] == 0.0
    if comm.rank == 0:
        rows = list(csv.DictReader((out / "electrode_curves.csv").open()))
        pairs = {(r["thickness_um"], r["c_rate"]) for r in rows}
        assert pairs == {("40", "0.2"), ("40", "0.5"), ("80", "0.2"), ("80", "0.5")}
        assert (out / "electrode.png").stat().st_size > 10_000


def _props(**kw) -> EffectiveProperties:
    base = dict(fraction_nzsp=0.8, fraction_nvp=0.15, porosity=0.05, kappa_ion=0.3, sigma_electronic=0.0,
                interface_area_density=5e5, diffusion_length=0.15 / 5e5, collector_nvp_fraction=0.2,
                separator_nzsp_fraction=1.0, kappa_ion_lateral=0.35, sigma_electronic_lateral=2e-3,
                source={"cell_problems": {"kappa_ion_uniform_source": {"value": 0.33},
                                          "sigma_electronic_uniform_source": {"value": 1e-3}}})
    base.update(kw)
    return EffectiveProperties(**base)


@pytest.mark.serial  # no DOLFINx: the choice of conductivities on a hand-made record
def test_the_model_gets_the_chosen_conductivities_and_a_non_conducting_network_is_named():
    case = validate({"electrode": {"conductivity": "lateral"}})
    used = model_properties(case, _props())
    assert (used.kappa_ion, used.sigma_electronic) == (0.35, 2e-3)
    used = model_properties(validate({}), _props())  # default: z_one_sided
    assert (used.kappa_ion, used.sigma_electronic) == (0.33, 1e-3)
    assert dataclasses.replace(used, kappa_ion=0.3, sigma_electronic=0.0) == _props()
    with pytest.raises(ValueError, match="electrode.conductivity = 'lateral'.*electronic \\(NVP\\)"):
        model_properties(case, _props(sigma_electronic_lateral=3e-22))


@pytest.mark.serial  # configuration only
@pytest.mark.parametrize(("electrode", "match"), [
    ({"thickness": [0.0]}, "electrode.thickness"),
    ({"c_rates": [-1.0]}, "electrode.c_rates"),
    ({"conductivity": "z"}, "electrode.conductivity = 'z'"),
    ({"diffusion_geometry": "cube"}, "electrode.diffusion_geometry"),
])
def test_bad_electrode_keys_are_named(electrode, match):
    with pytest.raises(ConfigError, match=match):
        validate({"electrode": electrode})
