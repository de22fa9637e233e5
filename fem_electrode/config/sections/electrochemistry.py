"""[electrochemistry]: kinetics, OCV, separator and initial state."""

from collections.abc import Mapping
from typing import Any

from fem_electrode.config.spec import Key, Section


def _checks(v: Mapping[str, Any]) -> list[str]:
    problems = []
    if v["ocv"] == "table" and not v["ocv_table"]:
        problems.append("ocv = 'table' needs ocv_table = 'path/to/ocv.csv' (columns y, U in V)")
    return problems


SECTION = Section(
    name="electrochemistry",
    doc="Butler-Volmer kinetics at NVP|NZSP, the OCV of NVP and the lumped separator.",
    keys=(
        Key("temperature", "float", 298.15, "K", "cell temperature", lo=200.0, hi=500.0),
        Key("i0_ref", "float", 1.0, "A/m^2",
            "exchange current density at half filling (y = 0.5)", lo=0.0, lo_open=True,
            source="estimate, 0.1 ... 10 A/m^2"),
        Key("alpha_a", "float", 0.5, "-", "anodic transfer coefficient", lo=0.0, hi=1.0,
            lo_open=True, hi_open=True),
        Key("alpha_c", "float", 0.5, "-", "cathodic transfer coefficient", lo=0.0, hi=1.0,
            lo_open=True, hi_open=True),
        Key("ocv", "str", "default", "-",
            "open-circuit voltage: the smooth plateau of design §5, or a CSV table",
            choices=("default", "table")),
        Key("ocv_table", "str", "", "-", "CSV with columns y, U [V]; y = (x-1)/2 in Na_xV2(PO4)3"),
        Key("ocv_U0", "float", 3.37, "V", "plateau voltage vs Na/Na+ of the default OCV",
            lo=0.0, hi=10.0, source="paper: plateau at ~3.37 V"),
        Key("ocv_slope", "float", 0.05, "V", "linear tilt of the default OCV plateau",
            lo=0.0, hi=1.0),
        Key("initial_y", "float", 0.99, "-",
            "initial filling y = c/c_max (y = 1 is Na3V2(PO4)3, discharged)", lo=0.0, hi=1.0,
            lo_open=True, hi_open=True),
        Key("separator_thickness", "float", 700e-6, "m",
            "dense NZSP separator thickness, lumped as an ohmic resistance in series",
            lo=0.0, source="paper: 600-800 µm"),
        Key("asr_na_nzsp", "float", 23e-4, "Ohm m^2",
            "area-specific resistance of the Na|NZSP interface, lumped in series",
            lo=0.0, source="Batteries 2023, 9, 8 (23 ... 2700 Ohm cm^2)"),
    ),
    checks=(_checks,),
)
