"""Journey 3 of issue 6, in Chinese: a new volunteer signs up with their weekly free time, town staff approve the
registration, the volunteer confirms their free time, signs up for a recommended task, plans the visit, checks in and out; staff confirm the
service record, and the volunteer sees the confirmed hours and the certificate.

Buttons and messages added by the providers registry and the volunteer profile are found by their form's action or
their id, so the test reads the same before and after their Chinese translations are merged.
"""
from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

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
    portal.menu(volunteer, "/volunteer/tasks")
    expect(volunteer.locator("main")).to_contain_text("您的注册正在等待工作人员审核，审核通过后即可报名任务。")
    expect(volunteer.get_by_role("button", name="报名")).to_have_count(0)

    # town staff find the pending registration in the providers registry and approve it
    staff = portal.page("town1")
    portal.go(staff, "/staff/providers?status=pending")
    staff.fill("input[name=q]", REAL_NAME)
    staff.locator("main form[method=get] button[type=submit]").click()
    staff.get_by_role("link", name=REAL_NAME, exact=True).first.click()
    expect(staff.locator("h1")).to_contain_text(REAL_NAME)
    expect(staff.locator("main")).to_contain_text("志愿者 · 龙泉街道")
    portal.shot(staff, "pending-volunteer")
    staff.locator("form[action$='/approve'] button[type=submit]").click()
    expect(staff.locator("main .alert-success")).to_contain_text(REAL_NAME)
    expect(staff.locator("form[action$='/approve']")).to_have_count(0)

    # the free time given at sign-up is on the profile, every window ticked
    portal.menu(volunteer, "/volunteer/profile")
    for bit in range(21):
        expect(volunteer.locator(f"#availability-{bit}")).to_be_checked()
    portal.assert_fits_phone(volunteer, "profile")

    # a recommended task in 龙泉街道, with its reasons: sign up
    portal.menu(volunteer, "/volunteer/tasks")
    expect(volunteer.locator("h1")).to_have_text("适合我的任务")
    task = volunteer.locator("main .list-group-item").filter(has_text="龙泉街道").first
    expect(task).to_be_visible()
    expect(task.locator("li").first).to_be_visible()
    heading = task.locator("strong").inner_text()
    village = re.search(r"龙泉街道 (\S+)", task.inner_text()).group(1)
    portal.shot(volunteer, "tasks")
    portal.assert_fits_phone(volunteer, "tasks")
    task.get_by_role("button", name="报名").click()
    expect(flash(volunteer)).to_have_text("报名成功，感谢您的参与！")
    mine = volunteer.locator("main ul.list-group li").filter(has_text=village)
    expect(mine).to_contain_text(heading)

    # plan the visit for ten minutes from now, then check in and out
    volunteer.get_by_role("link", name="日程", exact=True).click()
    expect(volunteer.locator("h1")).to_have_text("我的日程")
    volunteer.locator("main li").filter(has_text=village).get_by_role("link", name="安排我的走访").click()
    expect(volunteer.locator("h1")).to_contain_text("安排我的走访")
    starts = (datetime.now(SHANGHAI) + timedelta(minutes=10)).replace(second=0, microsecond=0)
    volunteer.fill("#custom", starts.strftime("%Y-%m-%dT%H:%M"))
    volunteer.select_option("#duration", "60")
    volunteer.get_by_role("button", name="安排走访").click()
    expect(flash(volunteer)).to_have_text("走访已安排。")
    portal.go(volunteer, f"/volunteer/calendar?week={starts.date().isoformat()}")
    visit_link = volunteer.get_by_role("link", name=f"{starts:%H:%M}–{starts + timedelta(minutes=60):%H:%M}")
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
    volunteer.get_by_role("link", name="时长（小时）", exact=True).click()
    expect(volunteer.locator("h1")).to_have_text("服务时长")
    record = volunteer.locator("tbody tr").filter(has_text=village)
    expect(record).to_contain_text("待确认")
    expect(record).to_contain_text("15")

    # town staff confirm it (the oldest records come first: page on to ours)
    portal.go(staff, "/staff/hours")
    expect(staff.locator("h1")).to_have_text("待确认服务时长")
    ours = staff.locator("tbody tr").filter(has=staff.get_by_role("link", name=f"#{visit_id}", exact=True))
    while ours.count() == 0:
        following = staff.locator(".pagination a.page-link", has_text="下一页")
        assert following.count() and "disabled" not in following.locator("..").get_attribute("class"), \
            f"visit #{visit_id} is not among the records to confirm"
        following.click()
    # checked out in the minute of check-in: flagged, so it is confirmed on its own once staff say they checked it
    expect(ours).to_contain_text("走访时间过短")
    expect(ours.locator('input[name="record_id"]')).to_have_count(0)  # not in the bulk confirmation
    ours.get_by_label("我已核实该走访").check()
    ours.get_by_role("button", name="确认", exact=True).click()
    expect(flash(staff)).to_have_text("服务记录已确认（15 分钟）。")

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
