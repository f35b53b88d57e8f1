"""HTML to an A4 PDF that GOV.UK Notify accepts as a precompiled letter.

The geometry is Notify's (alphagov/notifications-template-preview, ``app/precompiled.py``), all in
millimetres from the top-left corner of the page:

- the recipient's address sits in the envelope window: 24.6 to 120 from the left, 40.0 to 66.2 from
  the top (earlier versions of Notify allowed 39.5 to 66.3; we use the stricter of the two);
- on page 1, the landlord's name may sit above the window (15 to 125 across, 5 to 30 down) and its
  contact details in the right-hand column (125 to 195 across, 5 to 95 down); the letter starts at 95;
- everything else stays inside 15 mm side margins and 5 mm top and bottom margins.

Notify rejects letters that print outside these areas, and a window envelope shows only the window,
so the layout is fixed here and checked by the tests rather than left to each template.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from letters.render import TEMPLATES

MM_PER_PT = 25.4 / 72
A4_MM = (210.0, 297.0)
#: (left, top, right, bottom) in mm from the page's top-left corner.
ADDRESS_WINDOW_MM = (24.6, 40.0, 120.0, 66.2)
LOGO_AREA_MM = (15.0, 5.0, 125.0, 30.0)
SERVICE_AREA_MM = (125.0, 5.0, 195.0, 95.0)
BODY_TOP_MM = 95.0
PRINTABLE_MM = (15.0, 5.0, 195.0, 292.0)

_LOCAL = threading.local()


def _font_config() -> Any:
    """One font configuration per thread: building it scans the system's fonts (slow), and Pango's font
    map is not safe to share between the worker's activity threads."""
    fonts = getattr(_LOCAL, "fonts", None)
    if fonts is None:
        from weasyprint.text.fonts import FontConfiguration

        fonts = _LOCAL.fonts = FontConfiguration()
    return fonts


def build_pdf(markup: str, base_url: Path | None = None) -> bytes:
    """Render a letter's HTML to PDF bytes (WeasyPrint; imported here, as it is slow to import)."""
    from weasyprint import HTML

    document = HTML(string=markup, base_url=str(base_url or TEMPLATES))
    pdf: bytes = document.write_pdf(font_config=_font_config())
    return pdf
