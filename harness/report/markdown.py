"""Render report blocks (:mod:`harness.report.document`) as GitHub-flavoured Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from harness.report.document import Block, Bullets, Code, Figure, Heading, Para, Table


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(block: Table) -> str:
    """A pipe table (``|`` in cells escaped), or a "(no rows)" line."""
    if not block.rows:
        return "_(no rows)_" + (f"\n\n{block.note}" if block.note else "")
    lines = ["| " + " | ".join(_cell(h) for h in block.header) + " |"]
    lines.append("|" + "|".join("---" for _ in block.header) + "|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
    if block.note:
        lines += ["", block.note]
    return "\n".join(lines)


def render_block(block: Block, figure_dir: str = "figures") -> str:
    """One block as Markdown text (figures link to ``<figure_dir>/<name>.png``)."""
    if isinstance(block, Heading):
        return "#" * block.level + " " + block.text
    if isinstance(block, Para):
        return block.text
    if isinstance(block, Bullets):
        return "\n".join(f"- {item}" for item in block.items)
    if isinstance(block, Code):
        fence = "````" if "```" in block.text else "```"
        return f"{fence}{block.lang}\n{block.text.rstrip()}\n{fence}"
    if isinstance(block, Table):
        return render_table(block)
    if isinstance(block, Figure):
        r = block.result
        if r.skipped:
            return f"**Figure `{r.name}` not drawn:** {r.skipped}."
        return (f"![{r.title}]({figure_dir}/{r.name}.png)\n\n*{r.title}* "
                f"([SVG]({figure_dir}/{r.name}.svg))")
    raise TypeError(f"unknown block {type(block).__name__}")


def render(blocks: Sequence[Block], figure_dir: str = "figures") -> str:
    """The whole report as Markdown, blocks separated by blank lines, ending in a newline."""
    return "\n\n".join(render_block(b, figure_dir) for b in blocks) + "\n"
