"""Every page a portal's users reach from their home page (one page per kind of address) speaks one language:
no English words on Chinese pages and no Chinese on English pages, outside names and what people typed (every
stored text value of the seeded database, except the reference tables' own bilingual names)."""
from __future__ import annotations

import html as html_lib
import re
from collections import deque
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.imports.rules import HELP_SHEET, KINDS, REFERENCE_SHEET
from tests.conftest import csrf_token, login

USERS = ("city", "town1", "agency1", "worker1", "unit1", "cadre1", "volunteer1")
SKIP = re.compile(r"\.(csv|xlsx|pdf|ics|json)$|/file$|/status$|/export|/logout|/lang/|/calendar/.+\.ics|/feed")
TRANSLATED_REFERENCE = {("service_categories", "name_zh"), ("service_categories", "name_en"),
                        ("assistance_categories", "name_zh"), ("assistance_categories", "name_en"),
                        ("towns", "name_en")}
# words that are the same in both languages: the product's and file formats' names (upper-case codes too)
ASCII_ALLOWED = {"socialforce", "english", "ndcg", "hsds", "csv", "xlsx", "excel", "pdf", "ics", "icalendar", "sms",
                 "smtp", "uscc", "api", "url", "demo"}
# on English pages: the language switch, the import workbook's sheet names (names in the file) and the term
# printed on registration certificates
CJK_ALLOWED = {"中文", HELP_SHEET, REFERENCE_SHEET, "统一社会信用代码", *(kind.sheet for kind in KINDS.values())}
URL = re.compile(r"https?://\S+")
MASKED_NAME = re.compile(r"[\u3400-\u9fff][*＊]+")
MAX_PAGES = 40


class _Text(HTMLParser):
    """The words a reader sees: text outside scripts and styles, and placeholders, titles and labels."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("placeholder", "title", "aria-label") and value:
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.parts)


def stored_texts(app) -> list[str]:
    """Every stored text value (names, addresses, descriptions, reasons people typed) and the configured names
    of the certificate's issuer, longest first."""
    values: set[str] = {app.config["CERTIFICATE_ISSUER"], app.config["CERTIFICATE_CONTACT"]}
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, sa.String) or (table.name, column.name) in TRANSLATED_REFERENCE:
                continue
            if column.name.endswith("_enc") or column.name in ("status", "state", "role", "kind"):
                continue
            for value in db.session.scalars(sa.select(column).distinct().limit(5000)):
                if isinstance(value, str) and len(value) >= 2:
                    values.add(value)
    return sorted(values, key=len, reverse=True)


def without(text: str, names: list[str]) -> str:
    text = MASKED_NAME.sub(" ", URL.sub(" ", text))
    for name in names:
        if name in text:
            text = text.replace(name, " ")
    return text


def _links(html: str, prefix: tuple[str, ...]) -> list[str]:
    return [html_lib.unescape(href) for href in re.findall(r'href="(/[^"#]*)"', html) if href.startswith(prefix) and not SKIP.search(href)]


def crawl(client, start: str, prefix: tuple[str, ...]) -> dict[str, str]:
    """One page per kind of address (digits folded) reachable from `start` within the portal: path -> html."""
    pages, seen, queue = {}, set(), deque([start])
    while queue and len(pages) < MAX_PAGES:
        path = queue.popleft()
        kind = re.sub(r"\d+", "N", path.split("?")[0])
        if kind in seen:
            continue
        seen.add(kind)
        response = client.get(path)
        if response.status_code != 200 or "text/html" not in response.content_type:
            continue
        html = response.get_data(as_text=True)
        pages[path] = html
        queue.extend(_links(html, prefix))
    return pages


def _offences(pages: dict[str, str], names: list[str], pattern: str, allowed: set[str]) -> dict[str, list[str]]:
    found = {}
    for path, html in pages.items():
        words = sorted({w for w in re.findall(pattern, without(visible_text(html), names)) if w.lower() not in allowed and not w.isupper()})
        if words:
            found[path] = words
    return found


@pytest.mark.slow
@pytest.mark.parametrize("username", USERS)
def test_every_page_speaks_one_language(app, client, demo, username):
    home = login(client, username)
    assert home.status_code == 200
    start = home.request.path
    prefix = ("/" + start.strip("/").split("/")[0] + "/", "/inbox", "/account")
    names = stored_texts(app)
    zh = crawl(client, start, prefix)
    client.post("/lang/en", data={"csrf_token": csrf_token(client, start), "next": start})
    en = crawl(client, start, prefix)
    assert len(zh) >= 3 and len(en) >= 3
    english_on_zh = _offences(zh, names, r"[A-Za-z]{3,}", ASCII_ALLOWED)
    chinese_on_en = _offences(en, names, r"[\u3400-\u9fff]+", CJK_ALLOWED)
    assert (english_on_zh, chinese_on_en) == ({}, {})
