"""Reading pages as a browser would, for the simulated users: the forms (with the fields a browser would
submit) and the attributes htmx and the page scripts read (hx-get, data-stream-url).

Standard library only: the locustfile runs in Locust's process, which never loads Django.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

Attributes = dict[str, str]
# Inputs whose value a browser submits as typed; checkboxes and radios only when checked.
TEXT_INPUTS = frozenset({"hidden", "text", "email", "password", "date", "number", "search", "url", "tel"})


@dataclass
class Form:
    attrs: Attributes
    # (name, value) in document order, as a browser builds the form data without clicking a button.
    fields: list[tuple[str, str]] = field(default_factory=list)

    @property
    def action(self) -> str:
        return self.attrs.get("action", "")

    def data(self, **changes: str) -> dict[str, str]:
        """The fields as a dict (the last value of a repeated name wins), with `changes` applied."""
        values = dict(self.fields)
        values.update(changes)
        return values

    def value(self, name: str) -> str:
        return dict(self.fields).get(name, "")


@dataclass
class _Select:
    name: str
    multiple: bool
    options: list[tuple[str, bool]] = field(default_factory=list)


class Page(HTMLParser):
    """Every start tag with its attributes, and every form with its successful controls."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, Attributes]] = []
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: _Select | None = None
        self._option: Attributes | None = None
        self._option_text: list[str] = []
        self._textarea: tuple[str, list[str]] | None = None
        self.feed(html)
        self.close()

    # --- Queries ----------------------------------------------------------------------------------
    def find_forms(self, predicate: Callable[[Form], bool]) -> list[Form]:
        return [form for form in self.forms if predicate(form)]

    def form_posting_to(self, action: str) -> Form | None:
        return next((form for form in self.forms if form.action == action), None)

    def attribute_values(self, name: str) -> list[str]:
        """The values of attribute `name` on every tag that has it, in document order."""
        return [attrs[name] for _tag, attrs in self.tags if name in attrs]

    def tags_with_class(self, css_class: str) -> list[Attributes]:
        return [attrs for _tag, attrs in self.tags if css_class in attrs.get("class", "").split()]

    # --- Parsing ----------------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append((tag, attributes))
        if tag == "form":
            self._form = Form(attributes)
            self.forms.append(self._form)
            return
        if self._form is None or "disabled" in attributes:
            return
        name = attributes.get("name", "")
        if tag == "input" and name:
            kind = attributes.get("type", "text").lower()
            if kind in TEXT_INPUTS:
                self._form.fields.append((name, attributes.get("value", "")))
            elif kind in ("checkbox", "radio") and "checked" in attributes:
                self._form.fields.append((name, attributes.get("value", "on")))
        elif tag == "select" and name:
            self._select = _Select(name, "multiple" in attributes)
        elif tag == "option" and self._select is not None:
            self._end_option()  # an <option> may be left unclosed
            self._option, self._option_text = attributes, []
        elif tag == "textarea" and name:
            self._textarea = (name, [])

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)
        elif self._option is not None:
            self._option_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "option" or (tag == "select" and self._option is not None):
            self._end_option()
        if tag == "select" and self._select is not None:
            self._end_select()
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            name, text = self._textarea
            # A browser drops the one newline that may follow <textarea>.
            self._form.fields.append((name, "".join(text).removeprefix("\n")))
            self._textarea = None
        elif tag == "form":
            self._form = None

    def _end_option(self) -> None:
        if self._option is not None and self._select is not None:
            value = self._option.get("value", "".join(self._option_text).strip())
            self._select.options.append((value, "selected" in self._option))
        self._option = None

    def _end_select(self) -> None:
        select, self._select = self._select, None
        if select is None or self._form is None or not select.options:
            return
        chosen = [value for value, selected in select.options if selected]
        if not chosen and not select.multiple:
            chosen = [select.options[0][0]]  # a single select submits its first option when none is chosen
        self._form.fields.extend((select.name, value) for value in chosen)
