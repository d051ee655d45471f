"""Notification links: services name the subject, the portals give the path, and every path is a served page."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from socialforce.platform import links
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    MemberRole,
    Notification,
    Order,
    ProviderKind,
    ProviderMember,
    Role,
    ServiceItem,
    Visit,
    VolunteerTask,
)
from socialforce.platform.services import dispatch, visits
from tests import factories

NOW = datetime(2024, 3, 4, 0, 0)  # Monday 08:00 in Shanghai


def served(path: str) -> str:
    """The endpoint serving `path` (raises if no page does)."""
    return current_app.url_map.bind("").match(path)[0]


def test_each_subject_resolves_to_its_portal_page():
    agency, worker = factories.agency("甲机构")
    unit = factories.provider(ProviderKind.unit, "乙单位")
    cadre = ProviderMember(provider_id=unit.id, role=MemberRole.cadre, name="干部")
    db.session.add(cadre)
    db.session.flush()
    assert links.to("assignee_visit", Visit(id=7, volunteer_id=3)) == "/volunteer/visits/7"
    assert links.to("assignee_visit", Visit(id=8, assignee_id=worker.id)) == "/agency/visits/8"
    assert links.to("assignee_visit", Visit(id=9, assignee_id=cadre.id)) == "/unit/visits/9"
    assert links.to("provider_order", Order(id=5, provider=agency)) == "/agency/orders/5"
    assert links.to("provider_order", Order(id=6, provider=unit)) == "/unit/orders/6"
    assert links.to("staff_visit", Visit(id=4)) == "/staff/visits/4"
    assert links.to("staff_item", ServiceItem(id=3)) == "/staff/items/3"
    assert links.to("staff_provider", 2) == "/staff/providers/2"
    assert links.to("volunteer_home") == "/volunteer/"
    assert [served(p) for p in ("/unit/visits/9", "/agency/orders/5", "/staff/items/3", "/volunteer/")] == [
        "unit.visit", "agency.order", "staff.item", "volunteer.home"]


def test_scheduler_jobs_link_the_assignee_and_the_staff_to_the_visit():
    order = dispatch.dispatch(factories.item(factories.household(), "daily_care"), dispatch.Choice(provider_id=None),
                              None, NOW)
    task = db.session.scalar(sa.select(VolunteerTask).where(VolunteerTask.order_id == order.id))
    vol = factories.volunteer()
    dispatch.sign_up(task.id, vol, NOW)
    factories.user("vol1", Role.volunteer, provider_id=vol.provider_id)
    factories.user("town1", Role.town_staff, town_id=factories.town().id)
    visit = visits.plan_visit(order, visits.Assignee(volunteer_id=vol.id), NOW + timedelta(hours=3), 60, None, NOW)
    visits.send_reminders(NOW)
    visits.mark_missed(visit.starts_at + timedelta(hours=3))
    kinds = dict(db.session.execute(sa.select(Notification.kind, Notification.link)
                                    .where(Notification.kind.in_(("visit_reminder", "visit_missed")))).all())
    assert kinds == {"visit_reminder": f"/volunteer/visits/{visit.id}", "visit_missed": f"/staff/visits/{visit.id}"}
