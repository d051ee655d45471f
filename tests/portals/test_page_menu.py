"""The top menu (issue 17): the most used items stay on the bar, the rest are folded under "More"/更多, a
keyboard-operable dropdown; the current page under "More" marks the toggle; a short menu has no "More"."""
from __future__ import annotations

import re

from socialforce.platform.extensions import db
from socialforce.platform.models import Role
from socialforce.portals.nav import MAIN_ITEMS, NAV
from tests import factories
from tests.conftest import csrf_token, login

MORE = re.compile(r'<li class="nav-item dropdown" id="nav-more">(.*?)</ul>\s*</li>', re.S)


def bar_and_more(html: str) -> tuple[list[str], list[str]]:
    """The hrefs on the bar and under "More"."""
    nav = html[html.index('id="mainnav"'):html.index("</nav>")]
    more = MORE.search(nav)
    folded = re.findall(r'class="dropdown-item[^"]*" href="([^"]+)"', more.group(1)) if more else []
    bar = re.findall(r'class="nav-link[^"]*" href="([^"]+)"', MORE.sub("", nav))
    return bar, folded


def test_staff_fold_the_less_used_items_under_more(client):
    factories.user("city-m", Role.city_staff)
    db.session.commit()
    login(client, "city-m")
    html = client.get("/staff/").get_data(as_text=True)
    bar, folded = bar_and_more(html)
    assert bar == ["/staff/", "/staff/households", "/staff/matching", "/staff/orders", "/staff/dashboard"]
    assert len(bar) == MAIN_ITEMS["staff"] and len(bar) + len(folded) == len(NAV["staff"])
    assert "/staff/calendar" in folded and "/staff/follow-ups" in folded and "/staff/audit" in folded and "/staff/accounts" in folded
    assert re.search(r'<button class="nav-link dropdown-toggle" type="button" id="nav-more-toggle"\s+'
                     r'data-bs-toggle="dropdown" aria-expanded="false">更多</button>', html)
    # the current page under "More" marks the toggle (and itself) as current
    html = client.get("/staff/audit").get_data(as_text=True)
    assert 'class="nav-link dropdown-toggle active"' in html
    assert re.search(r'class="dropdown-item active" href="/staff/audit" aria-current="page"', html)
    assert 'class="nav-link dropdown-toggle active"' not in client.get("/staff/orders").get_data(as_text=True)


def test_more_is_translated_and_a_short_menu_has_none(app, client):
    factories.user("town-m", Role.town_staff, town_id=factories.town("longquan").id)
    db.session.commit()
    login(client, "town-m")
    client.post("/lang/en", data={"csrf_token": csrf_token(client, "/staff/")})
    html = client.get("/staff/").get_data(as_text=True)
    assert re.search(r'id="nav-more-toggle"[^>]*>More</button>', html)
    bar, folded = bar_and_more(html)
    assert "/staff/accounts" not in bar + folded  # city staff only, not folded either
    assert len(bar) == MAIN_ITEMS["staff"]
    volunteer = factories.volunteer()
    factories.user("vol-m", Role.volunteer, provider_id=volunteer.provider_id)
    db.session.commit()
    other = app.test_client()
    login(other, "vol-m")
    html = other.get("/volunteer/").get_data(as_text=True)
    assert 'id="nav-more"' not in html
    assert bar_and_more(html) == (["/volunteer/", "/volunteer/tasks", "/volunteer/calendar", "/volunteer/hours",
                                   "/volunteer/profile"], [])
