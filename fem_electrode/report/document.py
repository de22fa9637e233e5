"""A tiny document model rendered both as Markdown and as self-contained HTML.

Blocks: :class:`Heading`, :class:`Paragraph`, :class:`Bullets`, :class:`Table`,
:class:`Figure`. Inline markup is limited to ``**bold**`` and ``` `code` ```. Markdown
figures are PNG files beside ``report.md``; in HTML they are embedded as base64 data URIs,
so ``report.html`` references nothing outside itself.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from fem_electrode.util import atomic


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Paragraph:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""
    align_right: set[int] = field(default_factory=set)  #: numeric columns
    css_class: str = ""  #: HTML class of the table (e.g. "headline"); Markdown ignores it


@dataclass
class Figure:
    name: str  #: file stem, e.g. "voltage_capacity"
    png: bytes
    caption: str


@dataclass
class Collapsed:
    """Blocks folded away behind a one-line ``summary`` in HTML (``<details>``); in Markdown the
    summary is a heading and the blocks follow as they are."""

    summary: str
    blocks: list[Heading | Paragraph | Bullets | Table | Figure]
    level: int = 2


Block = Heading | Paragraph | Bullets | Table | Figure | Collapsed


def flat(blocks: list[Block]) -> list[Block]:
    """The blocks with every :class:`Collapsed` opened (for figure files)."""
    out: list[Block] = []
    for b in blocks:
        out.extend(b.blocks if isinstance(b, Collapsed) else [b])
    return out


# ---- Markdown --------------------------------------------------------------------------
def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block], figure_dir: str = "figures") -> str:
    """Markdown text; figures are referenced as ``figure_dir/<name>.png``."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {b.text}")
        elif isinstance(b, Paragraph):
            out.append(b.text)
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {item}" for item in b.items))
        elif isinstance(b, Table):
            lines = ["| " + " | ".join(_md_cell(h) for h in b.header) + " |",
                     "|" + "|".join("---:" if j in b.align_right else "---"
                                    for j in range(len(b.header))) + "|"]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            if b.caption:
                lines = [f"*{b.caption}*", "", *lines]
            out.append("\n".join(lines))
        elif isinstance(b, Figure):
            out.append(f"![{b.name}]({figure_dir}/{b.name}.png)\n\n*{b.caption}*")
        elif isinstance(b, Collapsed):
            out.append(f"{'#' * b.level} {b.summary}")
            out.append(to_markdown(list(b.blocks), figure_dir).rstrip("\n"))
    return "\n\n".join(out) + "\n"


def write_figures(blocks: list[Block], directory: Path) -> list[Path]:
    """Write every figure's PNG into ``directory`` (PNGs of earlier reports there are removed)."""
    directory.mkdir(parents=True, exist_ok=True)
    blocks = flat(blocks)
    names = {f"{b.name}.png" for b in blocks if isinstance(b, Figure)}
    for stale in directory.glob("*.png"):
        if stale.name not in names:
            stale.unlink()
    paths = []
    for b in blocks:
        if isinstance(b, Figure):
            path = directory / f"{b.name}.png"
            with atomic.atomic_path(path) as tmp:
                tmp.write_bytes(b.png)
            paths.append(path)
    return paths


# ---- HTML ------------------------------------------------------------------------------
_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #bbb; padding-bottom: .1em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1em 0 1.6em; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption, .caption { font-size: 0.9em; color: #444; font-style: italic; }
code { background: #f4f4f4; padding: 0 .2em; }
details > summary { cursor: pointer; } details > summary > .summary { display: inline; }
table.headline { font-size: 1.05em; } table.headline td, table.headline th { padding: .4em .9em; }
"""


def _inline(text: str) -> str:
    s = html.escape(text, quote=False)
    s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", s)


def to_html(blocks: list[Block], title: str) -> str:
    """One self-contained HTML page (inline CSS, base64 PNGs, no external references)."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title>", f"<style>{_CSS}</style></head><body>"]
    out += _html_blocks(blocks)
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _html_blocks(blocks: list[Block]) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Paragraph):
            out.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Bullets):
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            if b.caption:
                out.append(f'<p class="caption">{_inline(b.caption)}</p>')
            head = "".join(f"<th>{_inline(h)}</th>" for h in b.header)
            body = "".join(
                "<tr>" + "".join(
                    f'<td class="num">{_inline(c)}</td>' if j in b.align_right else f"<td>{_inline(c)}</td>"
                    for j, c in enumerate(row)) + "</tr>"
                for row in b.rows)
            cls = f' class="{html.escape(b.css_class)}"' if b.css_class else ""
            out.append(f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif isinstance(b, Figure):
            data = base64.b64encode(b.png).decode("ascii")
            out.append(f'<figure><img alt="{html.escape(b.caption)}" src="data:image/png;base64,{data}">'
                       f"<figcaption>{_inline(b.caption)}</figcaption></figure>")
        elif isinstance(b, Collapsed):
            out.append(f'<details><summary><h{b.level} class="summary">{_inline(b.summary)}</h{b.level}>'
                       "</summary>")
            out += _html_blocks(list(b.blocks))
            out.append("</details>")
    return out
