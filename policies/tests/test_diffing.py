"""The version diff: sections matched by key, lines by difflib, edited lines by word."""

from __future__ import annotations

from policies.diffing import diff_versions


def section(key: str, body: str, title: str | None = None) -> dict[str, str]:
    return {"key": key, "title": title or key.title(), "body": body}


def test_identical_versions_have_no_changes():
    sections = [section("purpose", "One.\n\nTwo."), section("rules", "- a\n- b")]
    diff = diff_versions(sections, sections)
    assert [(s.key, s.status, s.hunks) for s in diff] == [("purpose", "same", []), ("rules", "same", [])]


def test_an_edited_line_shows_the_words_that_changed():
    old = [section("rules", "Intro.\n- Remove accounts within 1 working day.\n- Keep a list.")]
    new = [section("rules", "Intro.\n- Remove accounts within 4 hours.\n- Keep a list.")]
    (rules,) = diff_versions(old, new)
    assert rules.status == "changed"
    assert (rules.added, rules.removed) == (1, 1)
    removed, added = [line for line in rules.hunks[0].lines if line.kind != "same"]
    assert [(p.kind, p.text) for p in removed.pieces if p.kind != "same"] == [("removed", "1 working day.")]
    assert [(p.kind, p.text) for p in added.pieces if p.kind != "same"] == [("added", "4 hours.")]


def test_a_rewritten_line_reads_as_removed_then_added():
    (rules,) = diff_versions(
        [section("rules", "Completely different words here")], [section("rules", "Nothing alike at all, honestly")]
    )
    assert [(line.kind, line.pieces[0].kind) for line in rules.hunks[0].lines] == [
        ("removed", "removed"),
        ("added", "added"),
    ]


def test_added_removed_and_renamed_sections_keep_their_places():
    old = [section("purpose", "P"), section("premises", "Lock doors"), section("rules", "R")]
    new = [section("purpose", "P", title="Why"), section("rules", "R"), section("card", "No card numbers")]
    diff = diff_versions(old, new)
    assert [(s.key, s.status) for s in diff] == [
        ("purpose", "changed"),
        ("premises", "removed"),
        ("rules", "same"),
        ("card", "added"),
    ]
    assert diff[0].old_title == "Purpose"
    assert diff[0].title == "Why"
    assert diff[1].removed == 1
    assert diff[3].added == 1


def test_far_apart_changes_are_separate_hunks_with_context():
    lines = [f"Line {n}" for n in range(20)]
    changed = [*lines]
    changed[2], changed[17] = "Line two changed", "Line seventeen changed"
    (body,) = diff_versions([section("b", "\n".join(lines))], [section("b", "\n".join(changed))])
    assert len(body.hunks) == 2
    assert sum(1 for line in body.hunks[0].lines if line.kind == "same") == 4
