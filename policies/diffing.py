"""A readable difference between two versions of a policy, section by section.

Sections are matched by key. Within a changed section lines are compared with difflib, and a line
replaced by a similar one shows the words that changed. The result is plain data; the template
escapes every piece of text.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["same", "added", "removed"]
WORDS = re.compile(r"\s+|\S+\s*")
CONTEXT_LINES = 2


@dataclass(frozen=True)
class Piece:
    kind: Kind
    text: str


@dataclass
class Line:
    kind: Kind
    pieces: list[Piece]


@dataclass
class Hunk:
    lines: list[Line] = field(default_factory=list)


@dataclass
class SectionDiff:
    key: str
    title: str
    status: Literal["same", "changed", "added", "removed"]
    old_title: str = ""
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(1 for hunk in self.hunks for line in hunk.lines if line.kind == "added")

    @property
    def removed(self) -> int:
        return sum(1 for hunk in self.hunks for line in hunk.lines if line.kind == "removed")


def _whole(kind: Kind, text: str) -> Line:
    return Line(kind=kind, pieces=[Piece(kind, text)])


def _word_pair(old: str, new: str) -> tuple[Line, Line]:
    """The old and new line with the words that differ marked."""
    old_words, new_words = WORDS.findall(old), WORDS.findall(new)
    matcher = difflib.SequenceMatcher(None, old_words, new_words, autojunk=False)
    removed: list[Piece] = []
    added: list[Piece] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            removed.append(Piece("same", "".join(old_words[i1:i2])))
            added.append(Piece("same", "".join(new_words[j1:j2])))
            continue
        if i2 > i1:
            removed.append(Piece("removed", "".join(old_words[i1:i2])))
        if j2 > j1:
            added.append(Piece("added", "".join(new_words[j1:j2])))
    return Line("removed", removed), Line("added", added)


def _line_diff(old_lines: list[str], new_lines: list[str]) -> list[Hunk]:
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    hunks: list[Hunk] = []
    for group in matcher.get_grouped_opcodes(CONTEXT_LINES):
        hunk = Hunk()
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                hunk.lines.extend(_whole("same", line) for line in old_lines[i1:i2])
                continue
            olds, news = old_lines[i1:i2], new_lines[j1:j2]
            paired = 0
            if tag == "replace":
                # Lines edited in place read best as word changes; wholly different ones as remove + add.
                for old, new in zip(olds, news, strict=False):
                    if difflib.SequenceMatcher(None, old, new, autojunk=False).quick_ratio() < 0.5:
                        break
                    pair = _word_pair(old, new)
                    hunk.lines.extend(pair)
                    paired += 1
            hunk.lines.extend(_whole("removed", line) for line in olds[paired:])
            hunk.lines.extend(_whole("added", line) for line in news[paired:])
        hunks.append(hunk)
    return hunks


def _lines(body: str) -> list[str]:
    return body.strip().split("\n") if body.strip() else []


def diff_versions(old_sections: list[dict[str, Any]], new_sections: list[dict[str, Any]]) -> list[SectionDiff]:
    """Every section of either version, in the new version's order with removed sections where they were."""
    old_by_key = {section["key"]: section for section in old_sections}
    new_keys = {section["key"] for section in new_sections}
    result: list[SectionDiff] = []
    pending_removed = [section for section in old_sections if section["key"] not in new_keys]
    old_order = [section["key"] for section in old_sections]

    def flush_removed_before(key: str | None) -> None:
        limit = old_order.index(key) if key in old_order else len(old_order)
        while pending_removed and old_order.index(pending_removed[0]["key"]) < limit:
            gone = pending_removed.pop(0)
            result.append(
                SectionDiff(gone["key"], gone["title"], "removed", hunks=_line_diff(_lines(gone["body"]), []))
            )

    for section in new_sections:
        old = old_by_key.get(section["key"])
        if old is None:
            result.append(
                SectionDiff(section["key"], section["title"], "added", hunks=_line_diff([], _lines(section["body"])))
            )
            continue
        flush_removed_before(section["key"])
        hunks = _line_diff(_lines(old["body"]), _lines(section["body"]))
        renamed = old["title"] != section["title"]
        result.append(
            SectionDiff(
                section["key"],
                section["title"],
                "changed" if hunks or renamed else "same",
                old_title=old["title"] if renamed else "",
                hunks=hunks,
            )
        )
    flush_removed_before(None)
    return result
