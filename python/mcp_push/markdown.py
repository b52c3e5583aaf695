"""Markdown in (`format: markdown`): CommonMark content converted once per channel to the dialect its spec
names (`markdown:`), from markdown-it's token stream; never by regular expressions. js/src/markdown.js is
the same, function for function, and conformance/cases/markdown/ pins that both write the same bytes.

The parser is markdown-it-py ("commonmark" preset plus ~~strikethrough~~), imported only when a message
in Markdown is planned: `from notify import send` never loads it. Raw HTML in the input is text (the
parser's `html: false`), escaped as each dialect escapes text, so a message never smuggles in markup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FORMATS = ("text", "markdown")
# What a spec's `markdown:` may name; a channel without one gets `text` (the Markdown read as plain text).
DIALECTS = ("text", "telegram_html", "slack_mrkdwn", "markdown", "html", "dingtalk_markdown", "wecom_markdown")

_PARSER: Any = None


def _parser() -> Any:
    global _PARSER
    if _PARSER is None:
        from markdown_it import MarkdownIt

        _PARSER = MarkdownIt("commonmark", {"html": False}).enable("strikethrough")
    return _PARSER


def check_format(value: Any) -> str:
    """The message format a caller asked for: `text` (None too) or `markdown`, else ValueError in the
    one wording every entry point uses."""
    if value is None or value == "":
        return "text"
    if value not in FORMATS:
        raise ValueError("format: must be text or markdown")
    return value


# --- escaping, per dialect -------------------------------------------------------------------------------

def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(text: str) -> str:
    return _html(text).replace('"', "&quot;")


# Characters a Markdown reader could take as markup, written with a backslash so they read as text.
_MD_SPECIAL = frozenset("\\`*_[]<>#~|&")


def _md(text: str) -> str:
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


def _md_href(href: str) -> str:
    # markdown-it has percent-encoded the destination already, except parentheses, which would end it.
    return href.replace("(", "%28").replace(")", "%29").replace(" ", "%20")


def _longest_run(text: str, ch: str) -> int:
    longest = run = 0
    for c in text:
        run = run + 1 if c == ch else 0
        longest = max(longest, run)
    return longest


def _md_code(text: str) -> str:
    ticks = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _md_fence(text: str, info: str) -> str:
    ticks = "`" * max(3, _longest_run(text, "`") + 1)
    return f"{ticks}{info}\n{text}\n{ticks}"


def _prefix_lines(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else prefix.rstrip() for line in text.split("\n"))


class Dialect:
    """How one target writes each piece: text, marks, code, links, blocks. A plain class, not a dataclass:
    six are made once at import and only read, and making a dataclass costs a fresh process about half a
    millisecond (its methods are compiled from source)."""

    __slots__ = ("esc", "marks", "code", "link", "image", "heading", "quote", "code_block", "hr", "bullet",
                 "hardbreak", "tags")

    def __init__(
        self, *, esc: Callable[[str], str],
        marks: dict[str, str],  # em, strong, s -> the mark written on both sides ("" drops it)
        code: Callable[[str], str],
        link: Callable[[str, str, bool], str],  # (href, rendered text, is an autolink)
        image: Callable[[str, str], str],  # (src, alt as plain text)
        heading: Callable[[int, str], str], quote: Callable[[str], str],
        code_block: Callable[[str, str], str],  # (code, info)
        hr: str = "---", bullet: str = "•",
        hardbreak: str = "\n",  # a line break the source forced (two spaces or a backslash at the end of a line)
        tags: dict[str, tuple[str, str]] | None = None,  # HTML marks: open and close tags
    ) -> None:
        self.esc, self.marks, self.code, self.link, self.image = esc, marks, code, link, image
        self.heading, self.quote, self.code_block, self.hr, self.bullet = heading, quote, code_block, hr, bullet
        self.hardbreak, self.tags = hardbreak, {} if tags is None else tags


def _plain_link(href: str, text: str, auto: bool) -> str:
    return text if auto or text == href else f"{text} ({href})"


def _plain_image(src: str, alt: str) -> str:
    return f"{alt} ({src})" if alt else src


def _md_link(href: str, text: str, auto: bool) -> str:
    return f"<{href}>" if auto else f"[{text}]({_md_href(href)})"


def _subset_link(href: str, text: str, auto: bool) -> str:
    # DingTalk and WeCom render [text](url) only, not <url>.
    return f"[{_md(href) if auto else text}]({_md_href(href)})"


def _md_heading(level: int, text: str) -> str:
    return "#" * level + " " + text


_TEXT = Dialect(
    esc=str, marks={"em": "", "strong": "", "s": ""}, code=str, link=_plain_link, image=_plain_image,
    heading=lambda level, text: text, quote=lambda text: _prefix_lines(text, "> "),
    code_block=lambda code, info: code,
)

_TELEGRAM = Dialect(
    esc=_html, marks={}, code=lambda text: f"<code>{_html(text)}</code>",
    link=lambda href, text, auto: f'<a href="{_attr(href)}">{text}</a>',
    image=lambda src, alt: f'<a href="{_attr(src)}">{_html(alt or src)}</a>',
    heading=lambda level, text: f"<b>{text}</b>", quote=lambda text: f"<blockquote>{text}</blockquote>",
    code_block=lambda code, info: (
        f'<pre><code class="language-{_attr(info)}">{_html(code)}</code></pre>' if info else f"<pre>{_html(code)}</pre>"
    ),
    tags={"em": ("<i>", "</i>"), "strong": ("<b>", "</b>"), "s": ("<s>", "</s>")},
)

_SLACK = Dialect(
    esc=_html, marks={"em": "_", "strong": "*", "s": "~"}, code=lambda text: f"`{_html(text)}`",
    link=lambda href, text, auto: f"<{_html(href)}>" if auto else f"<{_html(href)}|{text}>",
    image=lambda src, alt: f"<{_html(src)}|{_html(alt)}>" if alt else f"<{_html(src)}>",
    heading=lambda level, text: f"*{text}*", quote=lambda text: _prefix_lines(text, "> "),
    code_block=lambda code, info: f"```\n{_html(code)}\n```",
)

_MARKDOWN = Dialect(
    esc=_md, marks={"em": "*", "strong": "**", "s": "~~"}, code=_md_code, link=_md_link,
    image=lambda src, alt: f"![{_md(alt)}]({_md_href(src)})", heading=_md_heading,
    quote=lambda text: _prefix_lines(text, "> "), code_block=lambda code, info: _md_fence(code, info), bullet="-",
    hardbreak="  \n",
)

# DingTalk's robot markdown: headings, bold, italic, links, images, lists and quotes; no code or strikethrough.
_DINGTALK = Dialect(
    esc=_md, marks={"em": "*", "strong": "**", "s": ""}, code=_md, link=_subset_link,
    image=lambda src, alt: f"![{_md(alt)}]({_md_href(src)})", heading=_md_heading,
    quote=lambda text: _prefix_lines(text, "> "), code_block=lambda code, info: _md(code), bullet="-",
    hardbreak="  \n",
)

# WeCom's robot markdown: headings, bold, links, inline code and quotes; no italic, strikethrough or images.
_WECOM = Dialect(
    esc=_md, marks={"em": "", "strong": "**", "s": ""}, code=_md_code, link=_subset_link,
    image=lambda src, alt: f"[{_md(alt or src)}]({_md_href(src)})", heading=_md_heading,
    quote=lambda text: _prefix_lines(text, "> "), code_block=lambda code, info: _md(code), bullet="-",
    hardbreak="  \n",
)

_LINE_DIALECTS = {
    "text": _TEXT, "telegram_html": _TELEGRAM, "slack_mrkdwn": _SLACK, "markdown": _MARKDOWN,
    "dingtalk_markdown": _DINGTALK, "wecom_markdown": _WECOM,
}


# --- the token stream as a tree --------------------------------------------------------------------------

class _Node:
    __slots__ = ("token", "children")

    def __init__(self, token: Any) -> None:
        self.token = token
        self.children: list[_Node] = []


def _tree(tokens: list[Any]) -> _Node:
    root = _Node(None)
    stack = [root]
    for token in tokens:
        if token.nesting == 1:
            node = _Node(token)
            stack[-1].children.append(node)
            stack.append(node)
        elif token.nesting == -1:
            stack.pop()
        else:
            stack[-1].children.append(_Node(token))
    return root


def _plain_inline(children: list[Any]) -> str:
    """An image's alt: the text of its label, marks dropped."""
    return "".join(c.content if c.type in ("text", "code_inline") else "\n" if "break" in c.type else ""
                   for c in children or [])


def _inline(children: list[Any], d: Dialect) -> str:
    out = [""]
    links: list[tuple[str, bool]] = []
    for child in children:
        kind = child.type
        if kind == "text":
            out[-1] += d.esc(child.content)
        elif kind == "softbreak":
            out[-1] += "\n"
        elif kind == "hardbreak":
            out[-1] += d.hardbreak
        elif kind == "code_inline":
            out[-1] += d.code(child.content)
        elif kind in ("em_open", "strong_open", "s_open", "em_close", "strong_close", "s_close"):
            mark, opening = kind.rsplit("_", 1)
            if mark in d.tags:
                out[-1] += d.tags[mark][0 if opening == "open" else 1]
            else:
                out[-1] += d.marks[mark]
        elif kind == "link_open":
            links.append((child.attrs.get("href", ""), child.markup == "autolink"))
            out.append("")
        elif kind == "link_close":
            text = out.pop()
            href, auto = links.pop()
            out[-1] += d.link(href, text, auto)
        elif kind == "image":
            out[-1] += d.image(child.attrs.get("src", ""), _plain_inline(child.children))
    return out[0]


def _blocks(nodes: list[_Node], d: Dialect, tight: bool = False) -> str:
    return ("\n" if tight else "\n\n").join(_block(node, d) for node in nodes)


def _block(node: _Node, d: Dialect) -> str:
    token = node.token
    kind = token.type
    if kind == "paragraph_open":
        return _inline(node.children[0].token.children, d)
    if kind == "heading_open":
        return d.heading(int(token.tag[1:]), _inline(node.children[0].token.children, d))
    if kind in ("bullet_list_open", "ordered_list_open"):
        return _list(node, d)
    if kind == "blockquote_open":
        return d.quote(_blocks(node.children, d))
    if kind in ("fence", "code_block"):
        return d.code_block(token.content.removesuffix("\n"), token.info.strip())
    if kind == "hr":
        return d.hr
    return ""  # a token the commonmark preset does not make


def _list(node: _Node, d: Dialect) -> str:
    ordered = node.token.type == "ordered_list_open"
    start = int(node.token.attrs.get("start", 1)) if ordered else 1
    # A tight list's paragraphs are hidden: its items stand on consecutive lines.
    tight = any(c.token.hidden for item in node.children for c in item.children if c.token.type == "paragraph_open")
    items = []
    for index, item in enumerate(node.children):
        marker = f"{start + index}." if ordered else d.bullet
        body = _blocks(item.children, d, tight)
        indent = " " * (len(marker) + 1)
        lines = body.split("\n")
        items.append("\n".join([f"{marker} {lines[0]}"] + [indent + line if line else "" for line in lines[1:]]))
    return ("\n" if tight else "\n\n").join(items)


_LAST: tuple[str, list[Any]] | None = None


def _tokens(source: str) -> list[Any]:
    """The token stream of `source`, parsed once for the dialect and the plain text a plan asks for
    (renderers only read it)."""
    global _LAST
    last = _LAST
    if last is None or last[0] != source:
        last = _LAST = (source, _parser().parse(source))
    return last[1]


def render(source: str, dialect: str) -> str:
    """The Markdown `source` written in `dialect` (one of DIALECTS)."""
    parser = _parser()
    tokens = _tokens(source)
    if dialect == "html":
        return parser.renderer.render(tokens, parser.options, {}).removesuffix("\n")
    return _blocks(_tree(tokens).children, _LINE_DIALECTS[dialect])


def render_title(title: str, dialect: str) -> str:
    """A title (plain text, never Markdown) escaped so it reads as text in `dialect`."""
    if dialect in ("telegram_html", "slack_mrkdwn", "html"):
        return _html(title)
    if dialect == "text":
        return title
    return _md(title)
