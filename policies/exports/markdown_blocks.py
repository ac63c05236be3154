"""Our policy Markdown subset, parsed into plain blocks that the PDF and Word renderers share.

The subset is what the template library and the studio editor produce: paragraphs, `#`-style
sub-headings, "- " (or "* ", "+ ") bullets and "1." numbered lists (indent two spaces to nest),
**bold**, *italic*, `code` (kept as plain text) and simple pipe tables. `[text](url)` links become
"text (url)", because an exported policy is read on paper. Everything else, raw HTML included, stays
literal text: the blocks carry text only, and each renderer escapes it for its own format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Characters that are not allowed in XML (Word) and mean nothing in a policy: C0 controls except
# tab and newline, and the two non-characters.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_LIST_ITEM = re.compile(r"^(?P<indent>[ \t]*)(?:(?P<bullet>[-*+])|(?P<number>\d{1,9})[.)])[ \t]+(?P<text>.*)$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
# At least one pipe, so a "---" rule under a line that mentions a pipe is not a table.
_TABLE_SEPARATOR = re.compile(r"^[ \t]*(?=[^|]*\|)\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_QUOTE = re.compile(r"^ {0,3}> ?")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_INLINE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>])|`([^`\n]+)`|(\*+)")
MAX_LIST_LEVEL = 2


@dataclass(frozen=True)
class Span:
    """A run of text with one emphasis."""

    text: str
    bold: bool = False
    italic: bool = False


Spans = tuple[Span, ...]


@dataclass(frozen=True)
class Heading:
    level: int  # 1-6 as written; renderers place them under the section's own heading
    spans: Spans


@dataclass(frozen=True)
class Paragraph:
    spans: Spans


@dataclass(frozen=True)
class ListItem:
    spans: Spans
    level: int  # 0 for the outer list, up to MAX_LIST_LEVEL
    ordered: bool


@dataclass(frozen=True)
class ListBlock:
    """Consecutive items; `ordered` and `start` describe the outer level."""

    ordered: bool
    start: int
    items: tuple[ListItem, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[Spans, ...]
    rows: tuple[tuple[Spans, ...], ...]  # every row has as many cells as the header


Block = Heading | Paragraph | ListBlock | Table


def clean_text(text: str) -> str:
    """Text safe for any output format: no control characters, Unix newlines."""
    return _CONTROL_CHARACTERS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def plain_text(spans: Spans) -> str:
    return "".join(span.text for span in spans)


# --- Blocks ---------------------------------------------------------------------------------------
def parse_blocks(markdown: str) -> list[Block]:
    lines = clean_text(markdown).expandtabs(4).split("\n")
    blocks: list[Block] = []
    paragraph: list[str] = []
    index = 0

    def flush_paragraph() -> None:
        if paragraph:
            blocks.append(Paragraph(parse_inline(" ".join(paragraph))))
            paragraph.clear()

    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if not stripped or _RULE.match(line) or _FENCE.match(line):
            flush_paragraph()
            index += 1
            continue
        if heading := _HEADING.match(line):
            flush_paragraph()
            blocks.append(Heading(len(heading.group(1)), parse_inline(heading.group(2))))
            index += 1
            continue
        if _table_starts(lines, index):
            flush_paragraph()
            table, index = _parse_table(lines, index)
            blocks.append(table)
            continue
        if (item := _LIST_ITEM.match(line)) and (not paragraph or item.group("number") in (None, "1")):
            # As in CommonMark, only a bullet or a "1." interrupts a paragraph: "27001. The..." does not.
            flush_paragraph()
            list_blocks, index = _parse_list(lines, index)
            blocks.extend(list_blocks)
            continue
        paragraph.append(_QUOTE.sub("", stripped))
        index += 1
    flush_paragraph()
    return blocks


def _parse_list(lines: list[str], index: int) -> tuple[list[ListBlock], int]:
    """Items until a blank line followed by something that is not an item, or another block starts.
    An outer item of the other kind (a bullet after numbers) starts a new list."""
    blocks: list[ListBlock] = []
    items: list[tuple[int, bool, list[str]]] = []  # level, ordered, lines of text
    indents: list[int] = []  # the indent of each open level, to tell nesting from siblings
    start = 1

    def close() -> None:
        if items:
            blocks.append(
                ListBlock(
                    ordered=items[0][1],
                    start=start,
                    items=tuple(
                        ListItem(parse_inline(" ".join(text)), level, ordered) for level, ordered, text in items
                    ),
                )
            )
            items.clear()

    while index < len(lines):
        line = lines[index]
        if not line.strip():
            following = next((candidate for candidate in lines[index + 1 :] if candidate.strip()), "")
            index += 1
            if _LIST_ITEM.match(following):
                continue
            break
        item = _LIST_ITEM.match(line)
        if item is None:
            if _starts_block(lines, index):
                break
            items[-1][2].append(line.strip())  # a continuation of the item above
            index += 1
            continue
        indent = len(item.group("indent"))
        ordered = item.group("number") is not None
        while indents and indent < indents[-1]:
            indents.pop()
        if not indents or indent > indents[-1]:
            indents.append(indent)
        level = min(len(indents) - 1, MAX_LIST_LEVEL)
        if level == 0 and items and items[0][1] != ordered:
            close()
        if not items:
            start, level, indents[:] = int(item.group("number") or 1), 0, [indent]
        items.append((level, ordered, [item.group("text").strip()]))
        index += 1
    close()
    return blocks, index


def _starts_block(lines: list[str], index: int) -> bool:
    """Whether the line starts a heading, a rule, a fence or a table (anything that ends a paragraph)."""
    line = lines[index]
    return bool(_HEADING.match(line) or _RULE.match(line) or _FENCE.match(line) or _table_starts(lines, index))


def _table_starts(lines: list[str], index: int) -> bool:
    return "|" in lines[index] and index + 1 < len(lines) and bool(_TABLE_SEPARATOR.match(lines[index + 1]))


def _parse_table(lines: list[str], index: int) -> tuple[Table, int]:
    header = _cells(lines[index])
    index += 2  # the header and the separator
    rows: list[tuple[Spans, ...]] = []
    while index < len(lines) and "|" in lines[index] and lines[index].strip():
        cells = _cells(lines[index])
        if len(cells) > len(header):  # extra cells join the last column rather than vanish
            last: list[Span] = []
            for cell in cells[len(header) - 1 :]:
                last.extend([Span(" | "), *cell] if last else cell)
            cells = [*cells[: len(header) - 1], tuple(last)]
        cells += [()] * (len(header) - len(cells))
        rows.append(tuple(cells))
        index += 1
    return Table(tuple(header), tuple(rows)), index


def _cells(line: str) -> list[Spans]:
    text = line.strip()
    text = text.removeprefix("|")
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    # A pipe written `\|` belongs to the cell; parse_inline turns the escape back into a pipe.
    return [parse_inline(cell.strip()) for cell in re.split(r"(?<!\\)\|", text)]


# --- Inline ---------------------------------------------------------------------------------------
@dataclass
class _Delimiter:
    marker: str  # "*" or "**"
    can_open: bool
    can_close: bool
    matched: bool = False


def parse_inline(text: str) -> Spans:
    """Split text into spans of plain, **bold** and *italic* text. Unmatched asterisks stay literal;
    an asterisk between spaces (5 * 3) is never emphasis."""
    text = _LINK.sub(lambda link: _link_text(link.group(1), link.group(2)), text)
    pieces: list[str | _Delimiter] = []
    position = 0
    for match in _INLINE.finditer(text):
        if match.start() > position:
            pieces.append(text[position : match.start()])
        position = match.end()
        if match.group(1) is not None:  # an escaped character
            pieces.append(match.group(1))
            continue
        if match.group(2) is not None:  # `code`: its text as written, without the backticks
            pieces.append(match.group(2))
            continue
        run = match.group(3)
        before = text[match.start() - 1] if match.start() > 0 else " "
        after = text[match.end()] if match.end() < len(text) else " "
        can_open, can_close = not after.isspace(), not before.isspace()
        if len(run) > 3 or not (can_open or can_close):
            pieces.append(run)
            continue
        markers = {1: ["*"], 2: ["**"], 3: ["**", "*"] if can_open and not can_close else ["*", "**"]}[len(run)]
        pieces.extend(_Delimiter(marker, can_open, can_close) for marker in markers)
    if position < len(text):
        pieces.append(text[position:])

    openers: list[_Delimiter] = []
    for piece in pieces:
        if not isinstance(piece, _Delimiter):
            continue
        match_at = next(
            (i for i in range(len(openers) - 1, -1, -1) if openers[i].marker == piece.marker),
            None,
        )
        if piece.can_close and match_at is not None:
            openers[match_at].matched = piece.matched = True
            del openers[match_at:]  # openers inside the pair that never closed stay literal
        elif piece.can_open:
            openers.append(piece)

    spans: list[Span] = []
    bold = italic = False
    for piece in pieces:
        if isinstance(piece, _Delimiter) and piece.matched:
            if piece.marker == "**":
                bold = not bold
            else:
                italic = not italic
            continue
        chunk = piece.marker if isinstance(piece, _Delimiter) else piece
        if spans and spans[-1].bold == bold and spans[-1].italic == italic:
            spans[-1] = Span(spans[-1].text + chunk, bold, italic)
        else:
            spans.append(Span(chunk, bold, italic))
    return tuple(span for span in spans if span.text)


def _link_text(label: str, url: str) -> str:
    return label if label == url or url.startswith("#") else f"{label} ({url})"
