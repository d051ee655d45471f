"""Journey 3 (issues 6 and 16), in Chinese: a new volunteer signs up with their weekly free time; town staff, told in
their inbox, approve the registration; the volunteer sees a full task with its time, joins its waitlist, gets the
place when the volunteer holding it withdraws (told in their inbox), adds the task to their calendar (.ics), plans
the visit, checks in and out; staff, told that hours await them, confirm them in bulk; the volunteer sees the
confirmed hours, opens the certificate and checks its number on the public verification page.

The server runs with VISIT_MIN_MINUTES=0 (tests/browser/conftest.py), so a check-out a few seconds after check-in
is not flagged as too short and the record is among those confirmed in bulk. Pages are opened by URL or by links
inside pages, never through the top menu.

Buttons and messages added by the providers registry and the volunteer profile are found by their form's action or
their id, so the test reads the same before and after their Chinese translations are merged.
"""
from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from playwright.sync_api import expect

SHANGHAI = ZoneInfo("Asia/Shanghai")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
PASSWORD = "volunteer-pass-2026"
REAL_NAME = "周晓雯"


def resident_id(rng: random.Random) -> str:
    """A valid GB 11643 resident ID number (滕州 area code, a 1990s birth date, the MOD 11-2 check character)."""
    body = f"370481199{rng.randrange(10)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}{rng.randrange(1000):03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


def flash(page):
    return page.locator("main .alert").first


FULL_TASK_HELD_BY_VOLUNTEER1 = """
    SELECT vt.id, vt.starts_at FROM volunteer_tasks vt
    JOIN orders o ON o.id = vt.order_id JOIN service_items i ON i.id = o.item_id
    JOIN households h ON h.id = i.household_id JOIN towns t ON t.id = h.town_id
    JOIN service_categories c ON c.id = i.category_id
    JOIN task_signups s ON s.task_id = vt.id JOIN volunteers v ON v.id = s.volunteer_id
    JOIN users u ON u.provider_id = v.provider_id
    WHERE u.username = 'volunteer1' AND t.name_zh = '龙泉街道' AND vt.taken = vt.slots
      AND o.state IN ('dispatched', 'accepted') AND c.code IN ('emotional_comfort', 'daily_care')
      AND vt.starts_at > datetime('now', '+1 day')
      AND NOT EXISTS (SELECT 1 FROM task_waitlist w WHERE w.task_id = vt.id)
      AND NOT EXISTS (SELECT 1 FROM visits x WHERE x.order_id = o.id
                      AND (x.status <> 'planned' OR x.starts_at <> vt.starts_at))
    ORDER BY vt.id LIMIT 1"""


def test_journey3_volunteer_signs_up_serves_and_gets_certificate(portal):
    rng = random.Random()
    username = f"vol{rng.randrange(10**8):08d}"

    # sign up on the public page
    public = portal.page(None)
    portal.go(public, "/login")
    public.get_by_role("link", name="新志愿者？在此注册").click()
    expect(public.locator("h1")).to_have_text("志愿者注册")
    public.fill("#real_name", REAL_NAME)
    public.fill("#id_number", resident_id(rng))
    public.fill("#phone", f"139{rng.randrange(10**8):08d}")
    public.select_option("#town_id", label="龙泉街道")
    for skill in ("精神慰藉", "生活照料"):
        public.get_by_label(skill, exact=True).check()
    cells = public.locator("#availability input[name=availability]")  # free every time of the week
    expect(cells).to_have_count(21)
    for n in range(21):
        cells.nth(n).check()
    public.fill("#username", username)
    public.fill("#password", PASSWORD)
    public.fill("#confirm", PASSWORD)
    portal.assert_fits_phone(public, "signup")
    public.get_by_role("button", name="注册", exact=True).click()
    expect(flash(public)).to_have_text("感谢您的注册，我们已收到您的申请。镇街工作人员将进行审核，并通过电话与您联系。")
    expect(public).to_have_url(re.compile(r"/login$"))

    # logged in, the volunteer waits for approval
    volunteer = portal.page(username, PASSWORD)
    expect(volunteer.locator("h1")).to_have_text(REAL_NAME)
    portal.go(volunteer, "/volunteer/tasks")
    expect(volunteer.locator("main")).to_contain_text("您的注册正在等待工作人员审核，审核通过后即可报名任务。")
    expect(volunteer.get_by_role("button", name="报名")).to_have_count(0)

    # town staff find the registration in their inbox, open it and approve it
    (provider_id,), = portal.server.query("SELECT id FROM providers WHERE name = ? ORDER BY id DESC LIMIT 1", REAL_NAME)
    staff = portal.page("town1")
    portal.go(staff, "/inbox/")
    notice = staff.locator("main li.notification-unread").filter(has_text=f"有一条新的志愿者注册（#{provider_id}）等待您审核")
    expect(notice).to_contain_text("龙泉街道")
    notice.get_by_role("button", name="查看").click()
    expect(staff).to_have_url(re.compile(rf"/staff/providers/{provider_id}$"))
    expect(staff.locator("h1")).to_contain_text(REAL_NAME)
    expect(staff.locator("main")).to_contain_text("志愿者 · 龙泉街道")
    portal.shot(staff, "pending-volunteer")
    staff.locator("form[action$='/approve'] button[type=submit]").click()
    expect(staff.locator("main .alert-success")).to_contain_text(REAL_NAME)
    expect(staff.locator("form[action$='/approve']")).to_have_count(0)

    # the free time given at sign-up is on the profile, every window ticked
    portal.go(volunteer, "/volunteer/profile")
    for bit in range(21):
        expect(volunteer.locator(f"#availability-{bit}")).to_be_checked()
    portal.assert_fits_phone(volunteer, "profile")

    # a full task in 龙泉街道 (volunteer1 holds its only place) is listed with its time: join its waitlist
    found = portal.server.query(FULL_TASK_HELD_BY_VOLUNTEER1)
    assert found, "the demo data has no full task held by volunteer1 in 龙泉街道 to wait for"
    (task_id, starts_utc), = found
    starts = datetime.fromisoformat(starts_utc).replace(tzinfo=ZoneInfo("UTC")).astimezone(SHANGHAI)
    portal.go(volunteer, "/volunteer/tasks")
    expect(volunteer.locator("h1")).to_have_text("适合我的任务")
    full = volunteer.locator("#full .list-group-item").filter(
        has=volunteer.locator(f"a[href$='/volunteer/tasks/{task_id}']"))
    expect(full.locator(".task-when")).to_have_text(f"{starts:%Y-%m-%d %H:%M}")
    expect(full.locator(".task-places")).to_contain_text("0")
    portal.shot(volunteer, "tasks")
    portal.assert_fits_phone(volunteer, "tasks")
    full.get_by_role("link").first.click()
    village = volunteer.locator("h1").inner_text().split(" · ")[-1]
    expect(volunteer.locator("#task-actions")).to_contain_text("名额已满。")
    volunteer.get_by_role("button", name="加入候补").click()
    expect(flash(volunteer)).to_have_text("您已加入候补名单。有名额空出时我们会通知您。")
    expect(volunteer.locator("#task-actions")).to_contain_text("您在候补名单上排第 1 位。")

    # volunteer1 withdraws with a reason: the place is offered to the first on the waitlist, who is told
    holder = portal.page("volunteer1")
    portal.go(holder, f"/volunteer/tasks/{task_id}/withdraw")
    holder.fill("#reason", "临时有事，无法参加")
    holder.get_by_role("button", name="确定退出").click()
    expect(flash(holder)).to_have_text("您已退出报名，名额已释放给其他人。")
    portal.go(volunteer, "/inbox/")
    offer = volunteer.locator("main li.notification-unread").filter(has_text=f"任务 #{task_id}")
    expect(offer).to_contain_text("有一个名额留给您")
    offer.get_by_role("button", name="查看").click()
    expect(volunteer).to_have_url(re.compile(rf"/volunteer/tasks/{task_id}$"))
    volunteer.get_by_role("button", name="确认名额").click()
    expect(flash(volunteer)).to_have_text("名额已确认给您，谢谢！")
    expect(volunteer.locator("#task-actions .badge")).to_be_visible()

    # the task goes into the volunteer's calendar app: its .ics parses and holds the task's time in Shanghai time
    portal.go(volunteer, "/volunteer/calendar")
    expect(volunteer.locator("h1")).to_have_text("我的日程")
    row = volunteer.locator("main li").filter(has_text=village)
    ics = volunteer.request.get(portal.server.url + row.get_by_role("link", name="加入我的日历（.ics）").get_attribute("href"))
    assert ics.ok and ics.headers["content-type"].startswith("text/calendar")
    (event,) = Calendar.from_ical(ics.body()).walk("VEVENT")
    assert event.decoded("DTSTART") == starts and str(event.decoded("DTSTART").tzinfo) == "Asia/Shanghai"
    assert village in str(event.get("LOCATION", "")) + str(event.get("SUMMARY", ""))

    # plan the visit for ten minutes from now, then check in and out
    row.get_by_role("link", name="安排我的走访").click()
    expect(volunteer.locator("h1")).to_contain_text("安排我的走访")
    visit_start = (datetime.now(SHANGHAI) + timedelta(minutes=10)).replace(second=0, microsecond=0)
    volunteer.fill("#custom", visit_start.strftime("%Y-%m-%dT%H:%M"))
    volunteer.select_option("#duration", "60")
    volunteer.get_by_role("button", name="安排走访").click()
    expect(flash(volunteer)).to_have_text("走访已安排。")
    portal.go(volunteer, f"/volunteer/calendar?week={visit_start.date().isoformat()}")
    visit_link = volunteer.get_by_role(
        "link", name=f"{visit_start:%H:%M}–{visit_start + timedelta(minutes=60):%H:%M}")
    expect(visit_link).to_have_count(1)
    visit_link.click()
    visit_id = int(re.search(r"/volunteer/visits/(\d+)$", volunteer.url).group(1))
    expect(volunteer.locator("dl dd").nth(2)).to_have_text(village)  # the place: the village, no street address
    expect(volunteer.get_by_role("link", name="加入我的日历（.ics）")).to_have_count(1)  # the visit as an .ics file
    volunteer.get_by_role("button", name="签到").click()
    expect(flash(volunteer)).to_have_text("已签到。")
    volunteer.get_by_role("button", name="签退").click()
    expect(flash(volunteer)).to_have_text("已签退。")
    expect(volunteer.locator("h1")).to_contain_text("已完成")

    # the record waits for confirmation (15 minutes: the shortest service counted)
    portal.go(volunteer, "/volunteer/hours")
    expect(volunteer.locator("h1")).to_have_text("服务时长")
    record = volunteer.locator("tbody tr").filter(has_text=village)
    expect(record).to_contain_text("待确认")
    expect(record).to_contain_text("15")

    # town staff are told that hours await them; they confirm today's records in bulk
    portal.go(staff, "/inbox/")
    staff.locator("main li.notification-unread").filter(has_text="龙泉街道 有志愿服务时长等待您确认").first \
        .get_by_role("button", name="查看").click()
    expect(staff.locator("h1")).to_have_text("待确认服务时长")
    today = datetime.now(SHANGHAI).date().isoformat()
    portal.go(staff, f"/staff/hours?from={today}&to={today}")
    ours = staff.locator("tbody tr").filter(has=staff.get_by_role("link", name=f"#{visit_id}", exact=True))
    expect(ours.locator('input[name="record_id"]')).to_have_count(1)  # not flagged: among the bulk confirmation
    staff.get_by_role("link", name="确认全部符合条件的记录…").click()
    expect(staff.locator("[data-question]")).to_have_text(re.compile(r"确认 \d+ 条记录（共 \d+ 人）？"))
    staff.locator("form[action$='/staff/hours/confirm-all'] button.btn-success").click()
    expect(flash(staff)).to_have_text(re.compile(r"已确认 \d+ 条服务记录。"))
    expect(staff.get_by_role("link", name=f"#{visit_id}", exact=True)).to_have_count(0)

    # the volunteer sees the confirmed hours and prints the certificate
    volunteer.reload()
    expect(volunteer.locator("main")).to_contain_text("已确认服务时长：0.25 小时")
    expect(volunteer.locator("tbody tr").filter(has_text=village)).to_contain_text("已确认")
    portal.shot(volunteer, "hours")
    portal.assert_fits_phone(volunteer, "hours")
    volunteer.get_by_role("link", name="打印时长证明").click()
    expect(volunteer.locator("h1")).to_have_text("志愿服务时长证明")
    certificate = volunteer.locator(".certificate")
    expect(certificate).to_contain_text(REAL_NAME)
    expect(certificate).to_contain_text("0.25")
    expect(certificate.locator("tbody tr").filter(has_text=village)).to_contain_text("0.25")
    portal.shot(volunteer, "certificate")
    portal.assert_fits_phone(volunteer, "certificate")

    # anyone holding the certificate checks its number on the public page (the QR code's address)
    number = certificate.locator("p strong").first.inner_text()
    assert re.fullmatch(r"TZ\d{4}(-[0-9A-Z]{4}){3}", number), number
    portal.go(volunteer, f"/verify/{number}")
    expect(volunteer.locator("[data-verdict]")).to_have_text("该证明真实有效。")
    expect(volunteer.locator("main dl")).to_contain_text(REAL_NAME[0] + "**")
    expect(volunteer.locator("main dl")).to_contain_text("0.25")
    expect(volunteer.locator("main")).not_to_contain_text(REAL_NAME)
