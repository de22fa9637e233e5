#!/usr/bin/env pvpython
"""ParaView views of two electrodes side by side, written by ``fem-electrode compare``.

    pvpython views.py                       # interactive: both electrodes, linked cameras
    pvpython views.py --view c              # start on another view
    pvpython views.py --screenshot DIR      # write DIR/<electrode>_<view>.png and DIR/views.json

Views: ``microstructure`` (phases), ``von_mises`` (clip through the microstructure coloured
by von Mises stress), ``c`` (Na concentration in NVP), ``interface_current`` (NVP|NZSP
interface current density). Rendering needs a display: on a headless machine start
``Xvfb :99 -screen 0 1280x1024x24 -noreset &`` and set ``DISPLAY=:99``. Needs ParaView >= 5.11
(reader ``Xdmf3ReaderT``). Paths below are relative to this file. Both electrodes share one
colour range per view, so colours compare directly.
"""

import argparse
import json
import os
import sys
from typing import Any

# The electrodes' files and the views (filled in by fem_electrode.report.views.write_views).
CONFIG: dict[str, Any]
CONFIG = {}  # @CONFIG@

PHASE_IDS = {"NZSP": 1, "NVP": 2}
PHASE_RGB = {"NZSP": [0.73, 0.76, 0.80], "NVP": [0.90, 0.53, 0.10]}
VIEW_ORDER = ("microstructure", "von_mises", "c", "interface_current")


def parse(argv):
    p = argparse.ArgumentParser(description="ParaView views of the compared electrodes")
    p.add_argument("--screenshot", metavar="DIR", help="write PNGs (and views.json) into DIR and exit")
    p.add_argument("--view", choices=VIEW_ORDER, default="von_mises", help="interactive start view")
    p.add_argument("--resolution", type=int, nargs=2, default=[1100, 850], metavar=("W", "H"))
    return p.parse_args(argv)


def here(path):
    return path if os.path.isabs(path) else os.path.join(os.path.dirname(os.path.abspath(__file__)), path)


class Scene:
    """Pipelines of one electrode: readers, unit conversion to µm, clip, per-view displays."""

    def __init__(self, pv, design, spec):
        self.pv, self.design, self.spec = pv, design, spec
        self.time = float(spec.get("time") or 0.0)
        self.ranges = {}
        self._cache = {}

    def source(self, path, block=None):
        """A reader (once per file) scaled to µm; ``block`` extracts one named block."""
        key = (path, block)
        if key not in self._cache:
            pv = self.pv
            src = pv.Xdmf3ReaderT(FileName=[here(path)])
            if block:
                src = pv.MergeBlocks(Input=pv.ExtractBlock(Input=src, Selectors=["/Root/" + block]))
            tr = pv.Transform(Input=src)
            tr.Transform = "Transform"
            tr.Transform.Scale = [1e6, 1e6, 1e6]
            tr.UpdatePipeline(self.nearest_time(src))
            self._cache[key] = tr
        return self._cache[key]

    def nearest_time(self, src):
        times = getattr(src, "TimestepValues", None)
        times = [times] if isinstance(times, float | int) else list(times or [])
        if not times:
            return 0.0
        return min(times, key=lambda t: abs(t - self.time))

    def centre(self, fallback):
        """Centre of the RVE (µm): of the mesh file when there is one, else of ``fallback``."""
        if "centre" not in self._cache:
            src = self.source(self.spec["mesh"], "phases") if self.spec.get("mesh") else fallback
            src.UpdatePipeline(self.time)
            b = src.GetDataInformation().GetBounds()
            self._cache["centre"] = [0.5 * (b[0] + b[1]), 0.5 * (b[2] + b[3]), 0.5 * (b[4] + b[5])]
        return self._cache["centre"]

    def clip(self, src, clip=True):
        if not clip:
            return src
        pv = self.pv
        c = pv.Clip(Input=src)
        c.ClipType = "Plane"
        c.ClipType.Origin = self.centre(src)
        c.ClipType.Normal = [0.0, 1.0, 0.0]
        c.Invert = 0  # keep the back half: the cut face looks at the camera
        return c

    def phase(self, name, clip=True):
        """Cells of one phase from the mesh file (``phases`` tag), optionally clipped."""
        pv = self.pv
        key = ("phase", name, clip)
        if key not in self._cache:
            th = pv.Threshold(Input=self.source(self.spec["mesh"], "phases"))
            th.Scalars = ["CELLS", "phases"]
            th.LowerThreshold = th.UpperThreshold = PHASE_IDS[name]
            self._cache[key] = self.clip(th, clip)
        return self._cache[key]

    def field(self, entry, view, clip):
        """A field file with its array scaled to display units (``<array>_display``)."""
        key = ("field", entry["file"], view["name"], clip)
        if key in self._cache:
            return self._cache[key]
        pv = self.pv
        src = self.clip(self.source(entry["file"]), clip)
        calc = pv.Calculator(Input=src)
        calc.AttributeType = "Cell Data" if entry.get("center") == "Cell" else "Point Data"
        calc.Function = f"{entry['array']}*{float(view.get('scale', 1.0))!r}"
        calc.ResultArrayName = view["name"] + "_display"
        calc.UpdatePipeline(self.time)
        data = calc.CellData if calc.AttributeType == "Cell Data" else calc.PointData
        lo, hi = data[calc.ResultArrayName].GetRange()
        old = self.ranges.get(view["name"])
        self.ranges[view["name"]] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
        self._cache[key] = (calc, calc.AttributeType)
        return self._cache[key]


def show_view(pv, scene, name, rview):
    """Show one view of one electrode in ``rview``; returns the colour array name or None."""
    view = dict(CONFIG["views"][name], name=name)
    for proxy in list(pv.GetSources().values()):
        pv.Hide(proxy, rview)
    rview.ViewTime = scene.time
    spec = scene.spec
    colored = None
    if name == "microstructure" or not spec["fields"].get(name):
        for phase, rgb in PHASE_RGB.items():
            if spec.get("mesh"):
                d = lit(pv.Show(scene.phase(phase), rview))
                d.ColorArrayName = ["POINTS", ""]
                d.AmbientColor = d.DiffuseColor = rgb
        if name != "microstructure":
            label(pv, rview, f"{spec['label']}: no {view['title']} field found", top=False)
    else:
        if spec.get("mesh") and name in ("c", "interface_current"):
            d = lit(pv.Show(scene.phase("NZSP", clip=view.get("clip", True)), rview))
            d.ColorArrayName = ["POINTS", ""]
            d.AmbientColor = d.DiffuseColor = PHASE_RGB["NZSP"]
            d.Opacity = 0.25 if name == "interface_current" else 1.0
        for entry in spec["fields"][name]:
            src, assoc = scene.field(entry, view, view.get("clip", True))
            d = lit(pv.Show(src, rview))
            pv.ColorBy(d, ("CELLS" if assoc == "Cell Data" else "POINTS", name + "_display"))
            colored = name + "_display"
    axes_grid(pv, rview)
    label(pv, rview, f"{spec['label']}: {view['title']}", top=True)
    rview.OrientationAxesVisibility = 1
    rview.Background = [1.0, 1.0, 1.0]
    if hasattr(rview, "UseColorPaletteForBackground"):
        rview.UseColorPaletteForBackground = 0
    return colored


def axes_grid(pv, rview):
    """Axes with µm ticks around the visible data."""
    grid = rview.AxesGrid
    grid.Visibility = 1
    grid.XTitle, grid.YTitle, grid.ZTitle = "x (µm)", "y (µm)", "z (µm)"
    for axis in "XYZ":
        setattr(grid, axis + "TitleColor", [0.1, 0.1, 0.1])
        setattr(grid, axis + "LabelColor", [0.1, 0.1, 0.1])
        setattr(grid, axis + "TitleFontSize", 16)
        setattr(grid, axis + "LabelFontSize", 14)
    grid.GridColor = [0.55, 0.55, 0.55]


def lit(display):
    """Matte surfaces with some ambient light, so faces turned from the headlight stay readable."""
    display.Ambient, display.Diffuse, display.Specular = 0.35, 0.7, 0.0
    return display


_labels: dict[tuple[int, bool], Any] = {}  # (id(render view), top) -> text source


def label(pv, rview, text, top=True):
    key = (id(rview), top)
    if key not in _labels:
        _labels[key] = pv.Text()
    t = _labels[key]
    t.Text = text
    d = pv.Show(t, rview)
    d.WindowLocation = "Upper Left Corner" if top else "Lower Left Corner"
    d.FontSize = 22
    d.Color = [0.1, 0.1, 0.1]


def style_lut(pv, name, rng, rview):
    view = CONFIG["views"][name]
    lut = pv.GetColorTransferFunction(name + "_display")
    lut.ApplyPreset(view.get("colormap", "Viridis (matplotlib)"), True)
    lo, hi = view.get("range") or rng  # a fixed range (e.g. up to the 99th percentile) wins
    if view.get("symmetric"):
        m = max(abs(lo), abs(hi)) or 1.0
        lo, hi = -m, m
    lut.RescaleTransferFunction(lo, hi if hi > lo else lo + 1e-12)
    lut.AutomaticRescaleRangeMode = "Never"
    bar = pv.GetScalarBar(lut, rview)
    bar.Title = f"{view['title']} ({view['unit']})"
    bar.ComponentTitle = ""
    bar.TitleColor = bar.LabelColor = [0.1, 0.1, 0.1]
    bar.TitleFontSize, bar.LabelFontSize = 20, 17
    bar.ScalarBarLength = 0.4
    bar.RangeLabelFormat = "%.4g"
    bar.LabelFormat = "%.4g"
    bar.Visibility = 1


def camera(rview):
    rview.CameraPosition = [0.35, -1.0, 0.45]
    rview.CameraFocalPoint = [0.0, 0.0, 0.0]
    rview.CameraViewUp = [0.0, 0.0, 1.0]
    rview.ResetCamera()
    rview.CameraParallelProjection = 0


def screenshots(pv, scenes, outdir, resolution):
    os.makedirs(outdir, exist_ok=True)
    rview = pv.CreateRenderView()
    rview.ViewSize = list(resolution)
    manifest: dict[str, Any] = {"files": {}, "ranges": {}, "missing": [],
                                "time": {d: s.time for d, s in scenes.items()}}
    for name in VIEW_ORDER:
        colored = {d: show_view(pv, s, name, rview) for d, s in scenes.items()}
        rng = None
        for s in scenes.values():
            if name in s.ranges:
                r = s.ranges[name]
                rng = r if rng is None else (min(rng[0], r[0]), max(rng[1], r[1]))
        if rng is not None:
            manifest["ranges"][name] = list(rng)
        if name != "microstructure":  # views without their field show the phases and a note
            manifest["missing"] += [f"{d}_{name}" for d, c in colored.items() if not c]
        for design, scene in scenes.items():
            show_view(pv, scene, name, rview)
            if colored[design] and rng is not None:
                style_lut(pv, name, rng, rview)
            camera(rview)
            path = os.path.join(outdir, f"{design}_{name}.png")
            pv.SaveScreenshot(path, rview, ImageResolution=list(resolution), TransparentBackground=0)
            manifest["files"][f"{design}_{name}"] = os.path.basename(path)
            print("wrote", path)
    with open(os.path.join(outdir, "views.json"), "w") as f:
        json.dump(manifest, f, indent=2)


def interactive(pv, scenes, name):
    layout = pv.CreateLayout("electrodes")
    views = [pv.CreateView("RenderView") for _ in scenes]
    if len(views) == 2:  # side by side: infiltrated left, co-sintered right
        layout.SplitHorizontal(0, 0.5)
        layout.AssignView(1, views[0])
        layout.AssignView(2, views[1])
    else:
        layout.AssignView(0, views[0])
    pv.SetActiveView(views[0])
    for scene, rview in zip(scenes.values(), views, strict=True):
        show_view(pv, scene, name, rview)
    rng = None
    for s in scenes.values():
        if name in s.ranges:
            r = s.ranges[name]
            rng = r if rng is None else (min(rng[0], r[0]), max(rng[1], r[1]))
    for rview in views:
        if rng is not None:
            style_lut(pv, name, rng, rview)
        camera(rview)
    if len(views) == 2:
        pv.AddCameraLink(views[0], views[1], "electrodes")
    pv.Render()
    if not hasattr(sys, "ps1") and os.environ.get("PV_NO_INTERACT") != "1":
        try:
            pv.Interact()
        except Exception as exc:  # no GUI (e.g. inside the ParaView client): the views are set up
            print(f"views ready ({exc})")


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    from paraview import simple as pv

    scenes = {d: Scene(pv, d, spec) for d, spec in CONFIG["electrodes"].items()}
    if args.screenshot:
        screenshots(pv, scenes, args.screenshot, args.resolution)
        sys.stdout.flush()
        os._exit(0)  # ParaView 5.11 may crash while tearing down the render window
    else:
        interactive(pv, scenes, args.view)
        print("views ready:", ", ".join(scenes))
        if sys.argv and os.path.basename(sys.argv[0]) == os.path.basename(__file__):
            sys.stdout.flush()
            os._exit(0)  # run as `pvpython views.py`: skip the teardown (not inside the GUI)
    return 0


if __name__ == "__main__":
    sys.exit(main())
