"""One pager for every long list (issue 17): a crawl over every argument-free page of each demo role finds each
list paging through `page_helpers.paginated` and the `pager` macro (numbered pages, jump to a page, rows per page,
the URL's filters kept), and no page showing more rows than a page holds without a pager."""
from __future__ import annotations

import re

import pytest

from socialforce.platform.extensions import db
from socialforce.platform.models import Provider
from tests.conftest import login

# user -> the list pages of their portal that hold rows in the demo data (each must carry the shared pager; an
# empty list says so instead of paging)
LIST_PAGES = {
    "city": ["/staff/households", "/staff/matching", "/staff/orders", "/staff/follow-ups", "/staff/hours",
             "/staff/providers", "/staff/organisations/agencies", "/staff/organisations/units", "/staff/pairings",
             "/staff/accounts", "/staff/audit"],
    "town1": ["/staff/households", "/staff/matching", "/staff/orders", "/staff/follow-ups", "/staff/providers",
              "/staff/pairings"],
    "agency1": ["/agency/orders", "/agency/offers", "/agency/workers", "/agency/contracts"],
    "unit1": ["/unit/households", "/unit/orders", "/unit/offers", "/unit/cadres"],
    "volunteer1": ["/volunteer/tasks", "/volunteer/hours"],
    "village1": ["/village/"],
}
SKIP = re.compile(r"/new$|\.(xlsx|csv|pdf)$|/edit$|/confirm-all$")
ROW = re.compile(r"<tr[ >]")
TBODY = re.compile(r"<tbody[^>]*>(.*?)</tbody>", re.S)


def portal_pages(app, prefix: str) -> list[str]:
    """Every argument-free GET page of a portal."""
    return sorted(r.rule for r in app.url_map.iter_rules()
                  if "GET" in r.methods and not r.arguments and r.rule.startswith(prefix) and not SKIP.search(r.rule))


def pager_of(html: str, arg: str = "page") -> str | None:
    """The shared pager's markup for `arg`, or None."""
    match = re.search(rf'<nav class="pager[^"]*"[^>]*data-pager="{arg}">(.*?)</nav>', html, re.S)
    return match.group(1) if match else None


@pytest.mark.parametrize("username", sorted(LIST_PAGES))
def test_every_list_page_has_the_one_pager_keeping_its_filters(app, demo, client, username):
    login(client, username)
    prefix = "/" + LIST_PAGES[username][0].split("/")[1] + "/"
    paged = set()
    for path in portal_pages(app, prefix) + ["/inbox/"]:
        response = client.get(path + "?per_page=10&probe=kept")
        assert response.status_code in (200, 403), path
        html = response.get_data(as_text=True)
        pager = pager_of(html)
        if pager is None:  # not a list page: it must not hold more rows than a page would
            longest = max((len(ROW.findall(body)) for body in TBODY.findall(html)), default=0)
            assert longest <= app.config["PAGE_SIZE"] + 2, f"{path}: a long list without the pager ({longest} rows)"
            continue
        paged.add(path)
        assert re.search(r'<option value="10" selected>10</option>', pager), f"{path}: page size not honoured"
        assert '<input type="hidden" name="probe" value="kept">' in pager, f"{path}: a filter is lost"
        assert 'class="form-control form-control-sm pager-jump"' in pager, f"{path}: no jump to a page"
        for href in re.findall(r'class="page-link"[^>]* href="([^"#]+)"', pager):
            assert "probe=kept" in href and "per_page=10" in href, f"{path}: {href} drops the filters"
    missing = set(LIST_PAGES[username]) - paged
    assert not missing, f"list pages of {username} without the shared pager: {sorted(missing)}"


def test_a_long_list_has_numbered_pages_and_jumps(demo, client):
    login(client, "city")
    html = client.get("/staff/households?per_page=10&q=").get_data(as_text=True)
    pager = pager_of(html)
    assert pager is not None
    pages = int(re.search(r"第 1 / (\d+) 页", pager).group(1))
    assert pages > 1
    assert re.search(r'<a class="page-link" href="/staff/households\?[^"]*page=2[^"]*"', pager)
    assert re.search(rf'<input class="form-control form-control-sm pager-jump" type="number" id="pager-page" '
                     rf'name="page" min="1" max="{pages}" value="1">', pager)
    second = client.get(f"/staff/households?per_page=10&page={pages}").get_data(as_text=True)
    assert re.search(rf'<li class="page-item active" aria-current="page"><span class="page-link">{pages}</span>',
                     second)


def test_two_lists_on_one_page_page_apart(demo, client):
    login(client, "city")
    unit = db.session.scalars(db.select(Provider).where(Provider.unit.has()).order_by(Provider.id)).first()
    html = client.get(f"/staff/providers/{unit.id}?per_page=10&page=1&cpage=1").get_data(as_text=True)
    cadres, pairings = pager_of(html, "cpage"), pager_of(html, "page")
    assert cadres is not None and pairings is not None
    assert 'id="pager-cpage" name="cpage"' in cadres and 'id="pager-page" name="page"' in pairings
    assert '<input type="hidden" name="page" value="1">' in cadres  # the other list stays where it was
