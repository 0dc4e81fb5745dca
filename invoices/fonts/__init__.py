"""The fonts invoice PDFs are printed in: DejaVu Sans, regular and bold, vendored here (LICENSE.txt).

DejaVu Sans has some 6,000 glyphs, and fpdf2 reads the font file into every document it makes (and
reads it again to embed the subset it used): most of the time a PDF takes. So each process derives,
once, a copy of each font cut down to the scripts invoices are written in (Latin, Greek, Cyrillic,
punctuation, currency and maths signs: about 1,200 glyphs), cached in the temporary directory under
the source file's digest. A document whose text stays within it is set in that copy; any other
character sends the whole document to a copy with every glyph, so every character DejaVu Sans has
prints. Both copies leave out the hinting and layout tables fpdf2 does not use; the outlines are
DejaVu's own either way.

Reading a font into fpdf2 (its metrics, the width of every glyph) costs as much again, and is the
same for every document: :func:`add_fonts` reads each file once per process and gives each document
a copy of that reading, with a fresh, unread font file for its own subset.
"""

import copy
import hashlib
import logging
import os
import tempfile
from functools import cache
from pathlib import Path

from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

log = logging.getLogger(__name__)
# fpdf2 subsets the font of every document with fontTools, which reports each step at INFO: some
# fifty lines a PDF in a worker's log, and time spent writing them.
logging.getLogger("fontTools").setLevel(logging.WARNING)

HERE = Path(__file__).resolve().parent
FAMILY = "DejaVu"
FILES = {"": HERE / "DejaVuSans.ttf", "B": HERE / "DejaVuSans-Bold.ttf"}  # style → font file
# Code points of the cut-down copy: Basic Latin to Latin Extended-B, Greek, Cyrillic, general
# punctuation (— – · …), currency (€), letterlike, arrows and the common maths signs (× − ≤ ≥).
COMMON_RANGES = (
    (0x0020, 0x024F),
    (0x0370, 0x03FF),
    (0x0400, 0x045F),
    (0x2000, 0x206F),
    (0x20A0, 0x20CF),
    (0x2100, 0x215F),
    (0x2190, 0x21FF),
    (0x2212, 0x2264),
)
COMMON_EXTRA = frozenset(map(ord, "×÷\n\t"))
COPY_VERSION = "v3"  # of how the copy is cut (part of its file name, so a changed cut is made afresh)


def _in_common(code: int) -> bool:
    return code in COMMON_EXTRA or any(lo <= code <= hi for lo, hi in COMMON_RANGES)


@cache
def _copy(style: str, scope: str) -> Path | None:
    """This process's path of a copy of one font made for fpdf2 (on first use): ``"common"``, cut
    down to the common scripts, or ``"all"``, every glyph; both without what fpdf2 has no use for.
    ``None`` when the temporary directory cannot take it: the vendored file is used then."""
    from fontTools import subset

    source = FILES[style]
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / "billingone-fonts" / f"{source.stem}-{scope}-{digest}-{COPY_VERSION}.ttf"
    if target.exists():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        font = ttLib.TTFont(source, recalcTimestamp=False)
        keep = [code for code in font.getBestCmap() if scope == "all" or _in_common(code)]
        # Layout tables (kerning, ligatures) are of no use to fpdf2 without text shaping.
        # Hinting (TrueType instructions for small screen sizes) goes too: PDF viewers scale the
        # outlines, and without it fpdf2 cuts each document's subset out of the copy several times faster.
        # Glyph names stay in the copy: without them fontTools derives every name from the character
        # map each time a document's subset is cut.
        options = subset.Options(
            notdef_outline=True,
            recommended_glyphs=True,
            layout_features=[],
            name_IDs=["*"],
            hinting=False,
            glyph_names=True,
        )
        options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "MATH", "FFTM"]
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=keep)
        subsetter.subset(font)
        # Written under a name of its own, then renamed: a process racing this one reads a whole file.
        fd, partial = tempfile.mkstemp(dir=target.parent, suffix=".part")
        with os.fdopen(fd, "wb") as out:
            font.save(out)
        os.replace(partial, target)
    except OSError as exc:
        log.warning("invoice PDFs use the vendored fonts as they are: no copy in %s (%s)", target.parent, exc)
        return None
    return target


@cache
def _common_codes() -> frozenset[int]:
    path = _copy("", "common")
    if path is None:
        return frozenset()
    return frozenset(ttLib.TTFont(path, lazy=True).getBestCmap()) | COMMON_EXTRA


def font_files(text: str) -> dict[str, Path]:
    """Style → font file to set a document whose characters are those of ``text`` in."""
    codes = _common_codes()
    scope = "common" if codes and all(ord(ch) in codes for ch in set(text)) else "all"
    copies = {style: _copy(style, scope) for style in FILES}
    return copies if all(copies.values()) else dict(FILES)


@cache
def _read(style: str, path: Path) -> TTFFont:
    """fpdf2's reading of one font file (metrics, widths, character map), once per process."""
    reader = FPDF()
    reader.add_font(FAMILY, style, str(path))
    return next(iter(reader.fonts.values()))


def add_fonts(pdf: FPDF, files: dict[str, Path]) -> None:
    """Give ``pdf`` these fonts (style → file) as ``FPDF.add_font`` would, from this process's
    reading of each file. What a document changes is its own: the glyphs it used (its subset map)
    and the font tables fpdf2 cuts down to them when it writes the file (a fresh, lazily read copy)."""
    for style, path in files.items():
        font = copy.copy(_read(style, path))
        font.i = len(pdf.fonts) + 1
        # The copy's glyphs have their boxes already: not recomputing them when the subset is written
        # lets fontTools copy each glyph's bytes instead of compiling its outline again.
        font.ttfont = ttLib.TTFont(path, recalcTimestamp=False, recalcBBoxes=False, lazy=True)
        font.subset = SubsetMap(font)
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font._hbfont = None
        pdf.fonts[font.fontkey] = font
