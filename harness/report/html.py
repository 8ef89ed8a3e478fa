"""Render report blocks as ONE self-contained HTML file: figures embedded, no network access.

Figures are embedded as base64 PNG (``<img src="data:image/png;base64,...">``) or as inline SVG,
the stylesheet is inline, and nothing refers to another file or URL, so the file can be mailed,
archived or opened offline.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence

from harness.report.document import Block, Bullets, Code, Figure, Heading, Para, Table

CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.85em; max-width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
tr:nth-child(even) td { background: #fafafa; }
pre { background: #f6f6f6; padding: 0.7em; overflow-x: auto; font-size: 0.8em; }
figure { margin: 1em 0; }
figure img, figure svg { max-width: 100%; height: auto; }
figcaption { font-style: italic; font-size: 0.9em; }
.skipped { color: #8a5a00; }
""".strip()

_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?", re.S)


_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _cell(text: str) -> str:
    """A table cell: escaped, ``**x**`` (the Markdown bold the tables share) as ``<b>``, and a
    line-break opportunity after each comma, so long arm labels wrap inside the page."""
    return _BOLD.sub(r"<b>\1</b>", html.escape(text)).replace(",", ",<wbr>")


def _figure(block: Figure, embed: str) -> str:
    r = block.result
    if r.skipped or r.png is None or r.svg is None:
        why = html.escape(r.skipped or "")
        return f'<p class="skipped"><b>Figure <code>{html.escape(r.name)}</code> not drawn:</b> {why}.</p>'
    if embed == "svg":
        body = _XML_DECL.sub("", r.svg)
    else:
        data = base64.b64encode(r.png).decode("ascii")
        body = f'<img alt="{html.escape(r.title)}" src="data:image/png;base64,{data}">'
    caption = f"<figcaption>{html.escape(r.title)}</figcaption>"
    return f'<figure id="fig-{html.escape(r.name)}">{body}{caption}</figure>'


def render_block(block: Block, embed: str = "png") -> str:
    """One block as an HTML fragment (text escaped)."""
    if isinstance(block, Heading):
        return f"<h{block.level}>{html.escape(block.text)}</h{block.level}>"
    if isinstance(block, Para):
        return f"<p>{html.escape(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Code):
        return f"<pre><code>{html.escape(block.text.rstrip())}</code></pre>"
    if isinstance(block, Table):
        if not block.rows:
            return "<p><i>(no rows)</i></p>" + (f"<p>{html.escape(block.note)}</p>" if block.note else "")
        head = "".join(f"<th>{_cell(h)}</th>" for h in block.header)
        cells = ("".join(f"<td>{_cell(c)}</td>" for c in row) for row in block.rows)
        rows = "".join(f"<tr>{c}</tr>" for c in cells)
        note = f"<p>{html.escape(block.note)}</p>" if block.note else ""
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{note}"
    if isinstance(block, Figure):
        return _figure(block, embed)
    raise TypeError(f"unknown block {type(block).__name__}")


def render(blocks: Sequence[Block], title: str, embed: str = "png") -> str:
    """The whole report as one HTML document."""
    body = "\n".join(render_block(b, embed) for b in blocks)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>\n{CSS}\n</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )
