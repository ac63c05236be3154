"""A corpus of stored-XSS payloads, and a detector that says whether any of them came alive in a document.

Every payload that makes an element carries the marker (`xssprobe`) in an attribute name, so an element
born from content is recognisable wherever it lands: `find_live_markup` reports any attribute whose name
holds the marker, any event-handler attribute, any link or source with a script scheme, any inline script
without the page's nonce, and any evaluated template string. Escaped text (`&lt;script&gt;`) is inert and
is not reported.
"""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

MARKER = "xssprobe"
# What a payload's template strings turn into if something renders content as a Django template.
TEMPLATE_EVALUATED = ("xssprobe_tpl", "XSSPROBE_UPPER")

PAYLOADS: dict[str, str] = {
    # Tags and event handlers.
    "script": f"<script data-{MARKER}>{MARKER}()</script>",
    "script-mixed-case": f"<ScRiPt data-{MARKER}>{MARKER}()</sCrIpT>",
    "img-onerror": f"<img data-{MARKER} src=x onerror={MARKER}()>",
    "svg-onload": f"<svg data-{MARKER} onload={MARKER}()>",
    "svg-nested-script": f"<svg data-{MARKER}><script data-{MARKER}>{MARKER}()</script></svg>",
    "iframe-javascript": f'<iframe data-{MARKER} src="javascript:{MARKER}()"></iframe>',
    "iframe-srcdoc": f'<iframe data-{MARKER} srcdoc="&lt;script&gt;{MARKER}()&lt;/script&gt;"></iframe>',
    "anchor-javascript": f'<a data-{MARKER} href="javascript:{MARKER}()">click</a>',
    "body-onload": f"<body data-{MARKER} onload={MARKER}()>",
    "details-ontoggle": f"<details data-{MARKER} open ontoggle={MARKER}()>",
    "object-data": f'<object data-{MARKER} data="data:text/html,&lt;script&gt;{MARKER}()&lt;/script&gt;">',
    "meta-refresh": f'<meta data-{MARKER} http-equiv="refresh" content="0;url=javascript:{MARKER}()">',
    "base-href": f'<base data-{MARKER} href="javascript:{MARKER}()//">',
    "style-tag": f"<style data-{MARKER}>*{{background:url(javascript:{MARKER}())}}</style>",
    "math-href": f'<math data-{MARKER}><mtext><a href="javascript:{MARKER}()">x</a></mtext></math>',
    "unclosed-tag": f"<img data-{MARKER} src=x onerror={MARKER}() ",
    "comment-breakout": f"--><img data-{MARKER} src=x onerror={MARKER}()><!--",
    "textarea-breakout": f"</textarea><img data-{MARKER} src=x onerror={MARKER}()>",
    "title-breakout": f"</title><img data-{MARKER} src=x onerror={MARKER}()>",
    "script-breakout": f"</script><img data-{MARKER} src=x onerror={MARKER}()>",
    # Attribute breakers: harmless in text, alive if written raw into an attribute.
    "double-quote-breaker": f'" data-{MARKER}="1" onmouseover="{MARKER}()',
    "single-quote-breaker": f"' data-{MARKER}='1' onfocus='{MARKER}()' autofocus='",
    "unquoted-breaker": f"x data-{MARKER} onmouseover={MARKER}()",
    "tag-breaker": f'"><img data-{MARKER} src=x onerror={MARKER}()>',
    "backtick-breaker": f"`><img data-{MARKER} src=x onerror={MARKER}()>",
    # URLs: for fields that become links.
    "javascript-url": f"javascript:{MARKER}()",
    "javascript-url-mixed-case": f"JaVaScRiPt:{MARKER}()",
    "javascript-url-leading-space": f" \tjavascript:{MARKER}()",
    "javascript-url-entity": f"javascript&colon;{MARKER}()",
    "vbscript-url": f"vbscript:{MARKER}()",
    "data-url": "data:text/html;base64,PHNjcmlwdD54c3Nwcm9iZSgpPC9zY3JpcHQ+",
    "https-url-breaker": f'https://example.com/"><script data-{MARKER}>{MARKER}()</script>',
    # Markdown that would link to a script.
    "markdown-link": f"[click here](javascript:{MARKER}())",
    "markdown-link-mixed-case": f"[click](JAVASCRIPT:{MARKER}())",
    "markdown-link-encoded": f"[click](javascript%3A{MARKER}())",
    "markdown-link-entity": f"[click](javascript&#58;{MARKER}())",
    "markdown-image": f"![logo](javascript:{MARKER}())",
    "markdown-autolink": f"<javascript:{MARKER}()>",
    "markdown-reference": f"[click][evil]\n\n[evil]: javascript:{MARKER}()",
    "markdown-data-link": "[click](data:text/html;base64,PHNjcmlwdD54c3Nwcm9iZSgpPC9zY3JpcHQ+)",
    "markdown-raw-html": f"Hello\n\n<div data-{MARKER} onclick={MARKER}()>inline html</div>",
    "markdown-title-breaker": f'[click](https://example.com "a\\" onmouseover=\\"{MARKER}()")',
    # Template injection: inert text, unless something renders content as a template.
    "template-variable": '{{ "xssprobe"|add:"_tpl" }}',
    "template-tag": "{% filter upper %}xssprobe_upper{% endfilter %}",
    "template-debug": "{% debug %}{{ request.user.password }}{{ settings.SECRET_KEY }}",
    # Unicode tricks: look-alike brackets, invisible characters, direction overrides.
    "fullwidth-brackets": f"\uff1cscript data-{MARKER}\uff1e{MARKER}()\uff1c/script\uff1e",
    "zero-width-javascript": f"java\u200bscript:{MARKER}()",
    "null-byte-script": f"<scr\x00ipt data-{MARKER}>{MARKER}()</script>",
    "right-to-left-override": f"invoice-\u202efdp.exe <b data-{MARKER}>x</b>",
    "overlong-utf7": f"+ADw-script data-{MARKER}+AD4-{MARKER}()+ADw-/script+AD4-",
}

# One string holding several vectors, for sweeps that put a payload in every field at once.
COMBINED = (
    f"<script data-{MARKER}>{MARKER}()</script>"
    f"<img data-{MARKER} src=x onerror={MARKER}()>"
    f'"><svg data-{MARKER} onload={MARKER}()>'
    f"' data-{MARKER}='1"
    f" [x](javascript:{MARKER}())"
    ' {{ "xssprobe"|add:"_tpl" }}'
)
# For URL fields: a valid web address (URLValidator accepts it) that breaks out of an unescaped attribute.
COMBINED_URL = f'https://example.com/"><script data-{MARKER}>{MARKER}()</script>'
# A file name a person may upload.
COMBINED_FILENAME = f'"><img data-{MARKER} src=x onerror={MARKER}()>.pdf'

# A handful of payloads for the expensive places (exports, emails).
SAMPLE = ["script", "img-onerror", "double-quote-breaker", "markdown-link", "template-variable", "fullwidth-brackets"]

URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "srcdoc", "background", "cite", "ping"}
)
DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:text/html", "data:image/svg")
INVISIBLE = re.compile(r"[\x00-\x20\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060\ufeff]")
# Scripts the browser does not run: data islands such as Django's json_script.
INERT_SCRIPT_TYPES = frozenset({"application/json", "application/ld+json", "text/template"})


def dangerous_url(value: str) -> bool:
    """Whether a browser would run this link: schemes compare after dropping case and invisible characters."""
    cleaned = INVISIBLE.sub("", unicodedata.normalize("NFKC", value)).lower()
    return cleaned.startswith(DANGEROUS_SCHEMES)


class _LiveMarkupFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.findings: list[str] = []
        self._script: tuple[str, bool] | None = None  # (tag description, executable)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        described = f"<{tag} {' '.join(name for name, _ in attrs)}>"
        values = dict(attrs)
        for name, value in attrs:
            if MARKER in name:
                self.findings.append(f"element from content: {described}")
            if name.startswith("on"):
                self.findings.append(f"event handler {name}={value!r} on {described}")
            if name in URL_ATTRIBUTES and value and dangerous_url(value):
                self.findings.append(f"script link {name}={value!r} on {described}")
            if name == "style" and value and MARKER in value:
                self.findings.append(f"style from content {value!r} on {described}")
        if tag == "meta" and "refresh" in (values.get("http-equiv") or "").lower():
            target = (values.get("content") or "").partition("url=")[2]
            if dangerous_url(target):
                self.findings.append(f"refresh to a script: {described}")
        if tag == "script":
            executable = (values.get("type") or "").lower() not in INERT_SCRIPT_TYPES
            if executable and not values.get("src") and not values.get("nonce"):
                self.findings.append(f"inline script without the page's nonce: {described}")
            self._script = (described, executable)
        if tag == "style":
            self._script = (described, True)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self._script = None

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None and self._script[1] and MARKER in data.lower():
            self.findings.append(f"content inside {self._script[0]}: {data[:80]!r}")


def find_live_markup(html: str) -> list[str]:
    """What in this HTML came alive from a payload; empty when every payload stayed inert text."""
    finder = _LiveMarkupFinder()
    finder.feed(html)
    finder.close()
    findings = finder.findings
    findings += [f"template evaluated: {text!r}" for text in TEMPLATE_EVALUATED if text in html]
    return findings


def neutralised_cell(value: str) -> bool:
    """A spreadsheet cell a person typed is not a formula: it does not start with = + - @ or a control."""
    return not value or value[0] not in "=+-@\t\r"
