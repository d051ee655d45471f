"""HTML to PDF with WeasyPrint, which lays out Chinese text through Pango and fontconfig (Debian's
fonts-wqy-microhei or any CJK font) and embeds the font subset, so the PDF's text stays extractable.

WeasyPrint needs the system's Pango; where it cannot be loaded, `available()` is False and `html_to_pdf` raises
PdfUnavailable, so a page can say so and offer the printable HTML instead."""
from __future__ import annotations

import functools
import logging
import warnings

log = logging.getLogger(__name__)


class PdfUnavailable(RuntimeError):
    """WeasyPrint (or the Pango library under it) cannot be loaded on this machine."""


@functools.cache
def _weasyprint():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a DeprecationWarning for a missing optional HarfBuzz-Subset
            import weasyprint
    except (ImportError, OSError) as e:
        log.warning("PDF output unavailable: %s", e)
        return None
    return weasyprint


def available() -> bool:
    """Whether PDFs can be made here."""
    return _weasyprint() is not None


def html_to_pdf(html: str) -> bytes:
    """A PDF of a self-contained HTML page (styles inline, images as data: URIs; nothing is fetched)."""
    weasyprint = _weasyprint()
    if weasyprint is None:
        raise PdfUnavailable("WeasyPrint cannot be loaded")

    from weasyprint.urls import URLFetcher

    only_data = URLFetcher(allowed_protocols={"data"}, timeout=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return weasyprint.HTML(string=html, url_fetcher=only_data).write_pdf()
