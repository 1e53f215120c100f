"""Text from outside — a checkpoint's folder name and files, a URL, an upload, the Hub — shown as text, never as markup.

One escaper per kind of output, each on top of `plain` (one line, no control characters, a bounded length):
Markdown (the app's gr.Markdown, the Hub's model card), HTML (gr.HTML, toasts), plotly labels (plotly renders a subset
of HTML and `%{…}` templates), a JSON code block. Markup is built only from constants around these.
"""
from __future__ import annotations

import html
import json
import unicodedata

from .numbers import is_number

SHORT = 40  # a name or title
LONG = 400  # a sentence (an error that quotes a path)


def plain(value, limit: int = SHORT) -> str:
    """`value` as one printable line of at most `limit` characters (control, format and bidi characters dropped)."""
    text = "".join(ch if unicodedata.category(ch)[0] not in "CZ" or ch == " " else " " for ch in str(value))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


INERT_IN_MARKDOWN = set(" ,;?'\"()/=%-")  # not syntax inside one line of Markdown once [ ] < > are entities


def markdown(value, limit: int = SHORT) -> str:
    """For Markdown: ASCII punctuation as numeric entities — all but a few inert ones after the first character, so
    API clients can still read the source — so nothing in it is syntax (no emphasis, link, image, autolink, table
    cell, list, heading, HTML tag or math delimiter) and it reads exactly as it was written."""
    return "".join(f"&#{ord(ch)};" if ch.isascii() and not ch.isalnum() and (ch not in INERT_IN_MARKDOWN or i == 0) else ch
                   for i, ch in enumerate(plain(value, limit)))


def markdown_code(value, limit: int = LONG) -> str:
    """An inline code span that shows a command or a path as written: nothing inside a code span is syntax, and the
    one way out of it, a backtick, becomes an apostrophe."""
    return "` " + plain(value, limit).replace("`", "'") + " `"  # CommonMark drops one space of each side


def html_text(value, limit: int = SHORT) -> str:
    """For HTML (gr.HTML, attributes, Gradio's toasts, which render their message as HTML)."""
    return html.escape(plain(value, limit), quote=True)


def plotly(value, limit: int = SHORT) -> str:
    """For plotly titles, legend names and hover templates: HTML-escaped, with `%` and `$` as entities so that a
    name is neither a `%{…}` template field nor TeX."""
    return html_text(value, limit).replace("%", "&#37;").replace("$", "&#36;")


def json_code_block(obj) -> str:
    """A fenced Markdown code block of JSON that no string inside can close (backticks as \\u0060, still valid JSON)."""
    return "```json\n" + json.dumps(obj, indent=2).replace("`", "\\u0060") + "\n```"


def number(value, digits: int = 2, missing: str = "?") -> str:
    """A metric from a JSON file as text: a finite number formatted, anything else (a string, NaN, a list) `missing`."""
    if not is_number(value):
        return missing
    return f"{value:.{digits}f}"
