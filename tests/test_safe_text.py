"""Text from outside is shown as text: every output kind's escaper, fuzzed, and checked the way its renderer reads it
(markdown-it for Markdown, Python's HTML parser for HTML, plotly's own rules for its labels)."""
import html
import json
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from training import safe_text

# Hostile fragments mixed with anything at all: tags, Markdown links and images, autolinks, tables, TeX, templates.
FRAGMENTS = ["<img src=x onerror=alert(1)>", "</p><script>", "**", "__", "![a](b.png)", "[a](javascript:x)", "<b>",
             "https://pwn.example/x.png", "www.pwn.example", "| a | b |", "$$x$$", "%{x}", "&lt;", "&#60;", "`", "```",
             "\\", "\n# h\n", "\u202e", "\x00", "<!--", "]]>", "\"'"]
TEXT = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=8).map("".join)


class Tags(HTMLParser):
    """The elements and the text an HTML fragment holds."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.data = [], []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.data.append(data)


def markdown_parser() -> MarkdownIt:
    """CommonMark with raw HTML, tables and strikethrough, like Gradio's renderer (autolinks need `.` and `:`, which
    the escaper turns into entities; markdown-it's linkify needs a package we do not install)."""
    return MarkdownIt("gfm-like").disable("linkify")


def markdown_html(text: str) -> str:
    return markdown_parser().render(text)


@given(TEXT)
def test_markdown_text_renders_as_one_paragraph_of_the_same_text(value):
    escaped = safe_text.markdown(value, 200)
    rendered = Tags(markdown_html(escaped))
    assert set(rendered.tags) <= {"p"}
    assert "".join(rendered.data).strip() == safe_text.plain(value, 200).strip()
    assert "$" not in escaped and "<" not in escaped and "%{" not in escaped


@given(TEXT)
def test_a_markdown_code_span_shows_a_command_as_written(value):
    text = safe_text.plain(value, 200).replace("`", "'")
    rendered = Tags(markdown_html("run " + safe_text.markdown_code(value, 200)))
    assert set(rendered.tags) <= {"p", "code"} and rendered.tags.count("code") == 1
    if text.strip():
        assert "".join(rendered.data).rstrip("\n") == "run " + text


@given(TEXT)
def test_html_text_holds_no_element_and_reads_back_as_the_text(value):
    escaped = safe_text.html_text(value, 200)
    parsed = Tags(escaped)
    assert parsed.tags == []
    assert "".join(parsed.data) == safe_text.plain(value, 200)


@given(TEXT)
def test_plotly_text_is_neither_a_tag_nor_a_template_nor_tex(value):
    escaped = safe_text.plotly(value, 200)
    assert "<" not in escaped and ">" not in escaped and "%" not in escaped and "$" not in escaped
    assert html.unescape(escaped) == safe_text.plain(value, 200)


@given(TEXT, st.integers(1, 60))
def test_plain_is_one_printable_line_within_its_limit(value, limit):
    text = safe_text.plain(value, limit)
    assert len(text) <= limit and "\n" not in text and "\x00" not in text and "\u202e" not in text


@given(st.dictionaries(TEXT, TEXT, max_size=4))
def test_a_json_code_block_cannot_be_closed_from_inside(obj):
    block = safe_text.json_code_block(obj)
    assert block.count("```") == 2
    assert json.loads(block.removeprefix("```json\n").removesuffix("\n```")) == obj
    rendered = markdown_parser().parse(block)
    assert [t.type for t in rendered] == ["fence"]


def test_number_formats_only_finite_numbers():
    assert safe_text.number(3.14159) == "3.14" and safe_text.number(7, 0) == "7"
    for junk in ("<b>1</b>", None, float("nan"), float("inf"), True, [1]):
        assert safe_text.number(junk) == "?"
