"""[output]: where and how results are written."""

from dataclasses import dataclass

from fem_electrode.config.spec import Section, key


@dataclass(frozen=True)
class OutputConfig:
    """Run outputs. Field files open in ParaView 5.11 (XDMF) unless `vtx` is chosen too."""

    directory: str = key("runs", "-", "parent folder of run folders")
    fields: str = key("xdmf", "-", "field format(s)", choices=("xdmf", "vtk", "xdmf+vtx", "none"))
    checkpoint_interval: float = key(
        3600.0, "s", "simulated time between restart checkpoints", lo=0.0, lo_open=True
    )
    concentration_snapshots: bool = key(
        True,
        "-",
        "at every field output also write the NVP concentration to concentration/c_NNNN.npz (small; "
        "mechanics.concentration_from solves the mechanics on it later)",
    )


SECTION = Section.from_config("output", OutputConfig)
