"""[output]: where and how results are written."""

from fem_electrode.config.spec import Key, Section

SECTION = Section(
    name="output",
    doc="Run outputs. Field files open in ParaView 5.11 (XDMF) unless `vtx` is chosen too.",
    keys=(
        Key("directory", "str", "runs", "-", "parent folder of run folders"),
        Key("fields", "str", "xdmf", "-", "field format(s)",
            choices=("xdmf", "vtk", "xdmf+vtx", "none")),
        Key("checkpoint_interval", "float", 3600.0, "s",
            "simulated time between restart checkpoints", lo=0.0, lo_open=True),
        Key("concentration_snapshots", "bool", True, "-",
            "at every field output also write the NVP concentration to concentration/c_NNNN.npz "
            "(small; mechanics.concentration_from solves the mechanics on it later)"),
    ),
)
