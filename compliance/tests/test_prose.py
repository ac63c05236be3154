from compliance.prose import prose_html


def test_wrapped_lines_join_and_bullets_become_a_list():
    text = "First line of a\nparagraph.\n\nIntro:\n- one bullet that\n  wraps\n- two <b>\n"
    assert prose_html(text) == (
        "<p>First line of a paragraph.</p>\n<p>Intro:</p>\n"
        "<ul><li>one bullet that wraps</li><li>two &lt;b&gt;</li></ul>"
    )


def test_empty_text_renders_nothing():
    assert prose_html("") == ""
