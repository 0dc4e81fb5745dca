"""Find elements of a page by tag and attributes, whatever order the attributes are written in."""

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Element(dict):
    """An element's attributes (a dict; a bare attribute maps to ``""``) and its ``text``."""

    text = ""


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found, self.open = [], []

    def handle_starttag(self, tag, attrs):
        element = Element({name: value or "" for name, value in attrs})
        element.tag = tag
        self.found.append(element)
        if tag not in VOID:
            self.open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.open.pop()

    def handle_endtag(self, tag):
        for depth in range(len(self.open) - 1, -1, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data):
        for element in self.open:
            element.text += data


def elements(html, tag: str = "", **attrs) -> list[Element]:
    """Elements of ``html`` (a string or a response) with ``tag`` and every attribute given.

    Attribute names take ``_`` for ``-`` (``aria_label="Queue tabs"``); ``True`` asks only that
    the attribute is there, ``False`` that it is not. ``text`` is the element's text, spaces collapsed.
    """
    if hasattr(html, "content"):
        html = html.content.decode()
    collector = _Collector()
    collector.feed(html)
    wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
    matches = []
    for element in collector.found:
        element.text = " ".join(element.text.split())
        if tag and element.tag != tag:
            continue
        if all(_holds(element, name, value) for name, value in wanted.items()):
            matches.append(element)
    return matches


def element(html, tag: str = "", **attrs) -> Element:
    """The one element that matches (see :func:`elements`); fails the test when there are none or several."""
    found = elements(html, tag, **attrs)
    assert len(found) == 1, f"expected one <{tag or '*'} {attrs}>, found {len(found)}"
    return found[0]


def _holds(element, name, value) -> bool:
    if value is True:
        return name in element
    if value is False:
        return name not in element
    return element.get(name) == str(value)
