"""Find elements of a page by tag and attributes, whatever order the attributes are written in."""

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Element(dict):
    """An element's attributes (a dict; a bare attribute maps to ``""``), its ``text`` and the
    elements inside it (``inner``; pass the element itself to :func:`elements` to search there)."""

    text = ""

    def __init__(self, attrs):
        super().__init__(attrs)
        self.inner = []


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found, self.open = [], []

    def handle_starttag(self, tag, attrs):
        element = Element({name: value or "" for name, value in attrs})
        element.tag = tag
        for outer in self.open:
            outer.inner.append(element)
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


def elements(html, tag: str = "", *, text=None, **attrs) -> list[Element]:
    """Elements of ``html`` (a string, a response, or an element to search inside) with ``tag``,
    every attribute given and, when asked, exactly ``text``.

    Attribute names take ``_`` for ``-`` (``aria_label="Queue tabs"``); ``True`` asks only that
    the attribute is there, ``False`` that it is not. ``text`` is the element's text, spaces collapsed.
    """
    if isinstance(html, Element):
        found = html.inner
    else:
        if hasattr(html, "content"):
            html = html.content.decode()
        collector = _Collector()
        collector.feed(html)
        found = collector.found
        for element in found:
            element.text = " ".join(element.text.split())
    wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
    return [
        element
        for element in found
        if (not tag or element.tag == tag)
        and (text is None or element.text == text)
        and all(_holds(element, name, value) for name, value in wanted.items())
    ]


def element(html, tag: str = "", *, text=None, **attrs) -> Element:
    """The one element that matches (see :func:`elements`); fails the test when there are none or several."""
    found = elements(html, tag, text=text, **attrs)
    assert len(found) == 1, f"expected one <{tag or '*'} {attrs}>, found {len(found)}"
    return found[0]


def _holds(element, name, value) -> bool:
    if value is True:
        return name in element
    if value is False:
        return name not in element
    return element.get(name) == str(value)
