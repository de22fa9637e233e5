"""The mechanics verdict of the generated conclusion on SYNTHETIC run folders
(``tests/report_synthetic.py``; made-up metrics, nothing here is a simulation result): it argues
from damage (capacity retention, separated and active interface; a winner only where the seed
intervals separate), then from G/G_c (which design's layer is above its critical thickness), and
never from von Mises. Every case runs with the good numbers on either design, so a swap of the
designs' data flips the expected words.

Serial: no MPI in these functions.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from report_synthetic import toy_damage, toy_run, toy_thin_film

from fem_electrode.config import validate
from fem_electrode.report import build, comparison, document
from fem_electrode.report.rundata import RunData

pytestmark = pytest.mark.serial

DESIGNS = ("infiltrated", "cosintered")
LABEL = {"infiltrated": "infiltrated", "cosintered": "co-sintered"}
#: Student's t, two-sided 95 %, 2 degrees of freedom in closed form: t = q √(2 / (1 − q²)), q = 0.95.
T_975_2 = 0.95 * math.sqrt(2.0 / (1.0 - 0.95**2))
BASE = {"capacity": 90.0, "gap": 0.04, "nvp_vm_p95": 2e9, "accommodation": 0.5}


def _other(design: str) -> str:
    return DESIGNS[1 - DESIGNS.index(design)]


def _interval(values: list[float]) -> tuple[float, float]:
    """Mean and 95 % half-width of three seeds, written out here."""
    mean = sum(values) / len(values)
    s = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return mean, T_975_2 * s / math.sqrt(len(values))


def _shown(values: list[float]) -> str:
    """'mean ± half-width' of a fraction in per cent, four significant digits."""
    mean, hw = _interval(values)
    return f"{100 * mean:.4g} ± {100 * hw:.4g}"


def _pair(tmp: Path, extras: dict[str, list[dict]], kw: dict | None = None) -> build.Pair:
    """One pair from the first seed's folders; with more than one ``extras`` per design, the
    metrics.json of every seed as the pair's seed statistics."""
    runs, seed_metrics = {}, {}
    for design in DESIGNS:
        seed_metrics[design] = []
        for i, extra in enumerate(extras[design]):
            folder = toy_run(tmp / f"{design}-{i}", design, extra=extra, **(kw or {}).get(design, BASE))
            data = RunData.load(design, folder)
            seed_metrics[design].append(data.metrics)
            runs.setdefault(design, data)
    seeded = min(len(v) for v in seed_metrics.values()) > 1
    return build.Pair("0.6 C", runs, "synthetic", seed_metrics=seed_metrics if seeded else None)


def _text(pair: build.Pair) -> str:
    blocks = build.conclusion_blocks([pair], build._elastic(validate({}).to_dict()))
    return document.to_markdown(blocks)


def _mechanics(text: str) -> str:
    return text[text.index("### Mechanics: damage, then fracture driving forces"):]


def _bullet(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(start))


def _headline(pair: build.Pair) -> dict[str, list[str]]:
    table = build.headline_table([pair])
    # an absent or empty headline would let the 'not in the headline' checks pass vacuously
    assert table is not None and table.rows, "no headline rows for runs that have metrics"
    return {row[1]: row for row in table.rows}


def _agrees_with_headline(text: str, headline: dict[str, list[str]]) -> None:
    """Every headline row has a conclusion bullet with its numbers and its verdict."""
    words = {"infiltrated": "— **infiltrated** better", "co-sintered": "— **co-sintered** better",
             "tie": "— no meaningful difference", "not distinguishable": "— not distinguishable at 3 seeds"}
    for _, label, _unit, one, two, verdict in headline.values():
        bullet = _bullet(text, f"- **{label}**:")
        assert f"infiltrated {one} vs co-sintered {two}" in bullet, bullet
        assert words[verdict] in bullet, (verdict, bullet)


#: Three seeds per design: the good design keeps its capacity and interface, the bad one loses both;
#: the intervals separate (checked in the test).
KEEPS = {"retention": [0.975, 0.98, 0.97], "debonded": [0.02, 0.03, 0.025], "active": [0.95, 0.96, 0.955]}
LOSES = {"retention": [0.80, 0.83, 0.78], "debonded": [0.30, 0.35, 0.28], "active": [0.60, 0.55, 0.62]}
#: Three seeds per design whose last-cycle retention and interface state overlap.
OVERLAP = {"infiltrated": {"retention": [0.90, 0.97, 0.93], "debonded": [0.10, 0.05, 0.08],
                           "active": [0.80, 0.90, 0.85]},
           "cosintered": {"retention": [0.92, 0.88, 0.95], "debonded": [0.07, 0.11, 0.06],
                          "active": [0.84, 0.79, 0.88]}}


def _damage_extras(data: dict[str, list[float]]) -> list[dict]:
    return [toy_damage([1.0, 0.5 * (1.0 + r), r], d, a)
            for r, d, a in zip(data["retention"], data["debonded"], data["active"], strict=True)]


@pytest.mark.parametrize("good", DESIGNS)
def test_separated_damage_intervals_name_the_design_that_keeps_its_capacity(tmp_path, good):
    for key in KEEPS:  # precondition, from the numbers: the 95 % intervals do not overlap
        (m1, h1), (m2, h2) = _interval(KEEPS[key]), _interval(LOSES[key])
        assert m1 - h1 > m2 + h2 or m1 + h1 < m2 - h2, key
    data = {good: KEEPS, _other(good): LOSES}
    pair = _pair(tmp_path, {d: _damage_extras(data[d]) for d in DESIGNS})
    text = _text(pair)
    mech = _mechanics(text)
    damage = _bullet(mech, "- **Damage (cohesive NVP|NZSP interface).**")
    retention = re.search(r"\*\*capacity retention, cycle 3\*\*: infiltrated (.+?) vs co-sintered (.+?) % "
                          r"— \*\*(\S+)\*\* better", damage)
    assert retention is not None, damage
    assert retention.groups() == (_shown(data["infiltrated"]["retention"]),
                                  _shown(data["cosintered"]["retention"]), LABEL[good])
    separated = re.search(r"\*\*separated interface\*\*: infiltrated (.+?) vs co-sintered (.+?) % "
                          r"— \*\*(\S+)\*\* better", damage)
    assert separated is not None, damage
    assert separated.groups() == (_shown(data["infiltrated"]["debonded"]),
                                  _shown(data["cosintered"]["debonded"]), LABEL[good])
    assert (f"Damage verdict: **{LABEL[good]}** (better on capacity retention, cycle 3; separated "
            "interface; active interface)") in damage
    assert "Damage was not modelled" not in text
    # the headline shows the same rows with the same numbers and verdicts as the conclusion
    headline = _headline(pair)
    for label in ("capacity retention, cycle 3", "separated interface", "active interface"):
        assert headline[label][5] == LABEL[good], headline[label]
    _agrees_with_headline(text, headline)


def test_overlapping_damage_intervals_are_not_distinguishable(tmp_path):
    pair = _pair(tmp_path, {d: _damage_extras(OVERLAP[d]) for d in DESIGNS})
    damage = _bullet(_mechanics(_text(pair)), "- **Damage (cohesive NVP|NZSP interface).**")
    for label, key in (("capacity retention, cycle 3", "retention"), ("separated interface", "debonded"),
                       ("active interface", "active")):
        (m1, h1), (m2, h2) = _interval(OVERLAP["infiltrated"][key]), _interval(OVERLAP["cosintered"][key])
        assert m1 - h1 < m2 + h2 and m2 - h2 < m1 + h1, key  # precondition: they overlap
        sentence = re.search(rf"\*\*{label}\*\*: (.+?)\(the 95% intervals overlap\)", damage)
        assert sentence is not None, (label, damage)
        assert sentence.group(1) == (f"infiltrated {_shown(OVERLAP['infiltrated'][key])} vs co-sintered "
                                     f"{_shown(OVERLAP['cosintered'][key])} % — not distinguishable at 3 "
                                     "seeds ")
    assert "** better" not in damage
    assert "Damage verdict: none (" in damage
    assert all(row[5] == "not distinguishable" for label, row in _headline(pair).items()
               if label in ("capacity retention, cycle 3", "separated interface", "active interface"))


@pytest.mark.parametrize("cracks", DESIGNS)
def test_g_over_gc_says_which_layer_cracks(tmp_path, cracks):
    """Bonded runs (no damage), one seed: G/G_c of a channel crack 1.8 (h = 0.4 µm, h_c = 0.222 µm)
    in one design, 0.6 (h = 0.12 µm, h_c = 0.2 µm) in the other; delamination below 1 in both."""
    ratio = {cracks: (1.8, 0.4e-6, 0.4e-6 / 1.8), _other(cracks): (0.6, 0.12e-6, 0.2e-6)}
    extras = {d: [toy_thin_film(ratio[d][0], 0.3 if d == cracks else 0.1, h=ratio[d][1], h_c=ratio[d][2])]
              for d in DESIGNS}
    text = _text(_pair(tmp_path, extras))
    mech = _mechanics(text)
    # no cohesive interface: one sentence says so, and the verdict rests on G/G_c
    assert mech.count("**Damage was not modelled**") == 1
    assert "the mechanics verdict rests on the fracture driving forces G/G_c" in mech
    channel = _bullet(mech, "- **Channel crack through the layer**")
    named = re.search(r"So the \*\*(\S+)\*\* layer cracks and the (\S+) layer does not\.", channel)
    assert named is not None and named.groups() == (LABEL[cracks], LABEL[_other(cracks)]), channel
    assert (f"the {LABEL[cracks]} layer is above its critical thickness (G/G_c 1.8 > 1, h = 0.4 against "
            f"h_c = {0.4 / 1.8:.4g} µm): it cracks").lower() in channel.lower()
    assert (f"the {LABEL[_other(cracks)]} layer is below its critical thickness (G/G_c 0.6 < 1, h = 0.12 "
            "against h_c = 0.2 µm): it does not crack").lower() in channel.lower()
    # the lower ratio is the better one (the headline's verdict), and neither layer delaminates
    assert f"— **{LABEL[_other(cracks)]}** better" in channel
    assert "Neither layer debonds at this state." in _bullet(mech, "- **Delamination of the layer**")
    headline = _headline(_pair(tmp_path / "again", extras))
    assert headline["thin film, channeling ratio G/G_c"][5] == LABEL[_other(cracks)]
    assert "capacity retention, cycle 3" not in headline  # nothing to retain without damage


def test_g_over_gc_straddling_one_over_the_seeds_decides_nothing(tmp_path):
    """Three seeds: the infiltrated channel-crack ratio 0.9, 1.1, 1.0 (interval across 1), the
    co-sintered 0.5, 0.55, 0.6 (below 1)."""
    values = {"infiltrated": [0.9, 1.1, 1.0], "cosintered": [0.5, 0.55, 0.6]}
    mean, hw = _interval(values["infiltrated"])
    assert mean - hw < 1.0 < mean + hw  # precondition
    extras = {d: [toy_thin_film(v, 0.1) for v in values[d]] for d in DESIGNS}
    channel = _bullet(_mechanics(_text(_pair(tmp_path, extras))), "- **Channel crack through the layer**")
    assert f"The infiltrated layer's G/G_c ({mean:.4g} ± {hw:.4g}) straddles 1 over the seeds" in channel
    assert "the co-sintered layer is below its critical thickness" in channel
    assert "So the **" not in channel


@pytest.mark.parametrize("lower", DESIGNS)
def test_von_mises_alone_never_gives_a_winner(tmp_path, lower):
    """Everything equal but the NVP von Mises and principal stresses (1.5 against 2.5 GPa at the
    95th percentile): no winner sentence, no headline row, no count in the tally; the numbers are
    shown as context under each design's own name."""
    vm = {lower: 1.5e9, _other(lower): 2.5e9}
    same_hydrostatic = {"mechanics": {"phases": {"NVP": {"hydrostatic": {"mean": 1e9, "p95": 1.6e9}}}}}
    kw = {d: {**BASE, "nvp_vm_p95": vm[d]} for d in DESIGNS}
    pair = _pair(tmp_path, {d: [same_hydrostatic] for d in DESIGNS}, kw)
    for key in ("von_mises.p95", "max_principal.p95", "fraction_above_strength"):
        spec = comparison.spec_of(f"mechanics.phases.NVP.{key}")
        assert not spec.verdict and spec.note.startswith("descriptive"), key
    text = _text(pair)
    for line in text.splitlines():
        if "von Mises" in line or "principal" in line:
            assert "** better" not in line and "minimized stress" not in line, line
    assert "Neither design wins more measures" in text
    assert "the infiltrated design is better on 0, the co-sintered on 0" in text
    context = _bullet(_mechanics(text), "- **Stresses, for context only, not a verdict**")
    assert (f"NVP von Mises stress, 95th pct. infiltrated {vm['infiltrated'] * 1e-6:.4g} vs co-sintered "
            f"{vm['cosintered'] * 1e-6:.4g} MPa") in context
    assert not any("von Mises" in label or "principal" in label for label in _headline(pair))
