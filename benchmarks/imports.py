"""Import benchmark: `python -m benchmarks.imports --kind households|volunteers|payments`.

Generates a realistic workbook, imports it into a fresh SQLite database (or the empty PostgreSQL database in
DATABASE_URL) through the same service code as the web pages (preview, then confirm: the rows are validated
twice, as on the pages), and prints one JSON line with the row counts, file_mb, validate_s, write_s, total_s,
peak_rss_mb, cpu_s (this process) and, on a PostgreSQL server on this machine, db_cpu_s (the CPU time of the
import's server backend; null when it cannot be read).

- households (default 40,000): households, members and service items.
- volunteers (default 259,600): the national volunteer system's export (resident IDs, a few passports).
- payments (default 40,000 households x 12 months): the households are inserted first by SQL (not timed), then
  the monthly payments are imported, a tenth of them by the head's ID number instead of the household number.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import flask_migrate
import sqlalchemy as sa
from openpyxl import Workbook

from socialforce import create_app
from socialforce.platform import crypto, idnumber
from socialforce.platform.extensions import db
from socialforce.platform.imports.cells import RELATIONS
from socialforce.platform.imports.rules import HOUSEHOLDS, ITEMS, MEMBERS, PAYMENTS, VOLUNTEERS
from socialforce.platform.models import Household, Member, Role, Town, User, Village, utcnow
from socialforce.platform.reference import (
    ASSISTANCE_CATEGORIES,
    SERVICE_CATEGORIES,
    TOWNS,
    ensure_reference_data,
)
from socialforce.platform.services import imports
from socialforce.platform.services.accounts import create_user

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红建国建华志强桂芝淑珍凤兰玉梅德胜"
ROADS = ("善国路", "杏坛路", "学院路", "府前路", "荆河路", "北辛路", "龙泉路", "塔寺路", "平行路", "大同路")
NEEDS = {
    "counselling": "丧偶后情绪低落，需要定期心理疏导",
    "emotional_comfort": "独居老人，希望有人定期上门聊天陪伴",
    "resource_linking": "需要链接医疗救助和临时救助资源",
    "capability_building": "希望参加技能培训，提高就业能力",
    "social_integration": "残疾青年，希望参加社区活动融入社会",
    "rehabilitation": "脑梗后遗症，需要上门康复训练",
    "tutoring": "孩子数学成绩落后，需要课后学业辅导",
    "daily_care": "行动不便，需要打扫卫生和代购生活用品",
    "employment": "家中土地需要农忙时帮助收种",
    "legal_aid": "赡养纠纷，需要法律咨询",
    "medical_escort": "每月需到市医院复查，需要陪同就医",
}
WINDOWS = ("工作日上午", "工作日下午", "周六上午、周日上午", "不限", "每天晚上", "周一上午、周三下午")
VILLAGES_PER_TOWN = 12


def village_names(town_zh: str) -> list[str]:
    """The benchmark's villages of a town (the database gets the same list)."""
    suffix = "社区" if town_zh.endswith("街道") else "村"
    return [f"{town_zh[:2]}{n}{suffix}" for n in "一二三四五六七八九十甲乙"][:VILLAGES_PER_TOWN]


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def generate(path: Path, households: int, seed: int = 7, region: str = "370481") -> dict[str, int]:
    """Write a valid import workbook with `households` households (IDs in `region`); returns its row counts."""
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    workbook = Workbook(write_only=True)
    sheets = {kind.key: workbook.create_sheet(kind.sheet) for kind in (HOUSEHOLDS, MEMBERS, ITEMS)}
    for kind in (HOUSEHOLDS, MEMBERS, ITEMS):
        sheets[kind.key].append([c.header for c in kind.columns])
    assistance = [zh for _code, zh, _en, _v in ASSISTANCE_CATEGORIES]
    services = [(code, zh) for code, zh, *_rest in SERVICE_CATEGORIES]
    used: set[tuple[date, int]] = set()
    counts = {"households": 0, "members": 0, "items": 0}
    for n in range(households):
        town = TOWNS[n % len(TOWNS)][1]
        code = f"TZ{n + 1:07d}"
        head = _name(rng)
        sheets["households"].append(
            [
                code,
                town,
                rng.choice(village_names(town)),
                head,
                f"滕州市{town}{rng.choice(ROADS)}{rng.randint(1, 300)}号",
                f"1{rng.choice('3589')}{rng.randint(0, 999999999):09d}",
            ]
        )
        size = rng.choices((1, 2, 3, 4, 5, 6), (47, 30, 13, 6, 3, 1))[0]
        numbers = []
        for i in range(size):
            while True:
                born = date(1935, 1, 1) + timedelta(days=rng.randint(0, 365 * 85))
                key = (born, rng.randint(0, 999))
                if key not in used:
                    used.add(key)
                    break
            number = idnumber.make(region, born, key[1])
            numbers.append(number)
            relation = "户主" if i == 0 else rng.choice(RELATIONS[1:7])
            categories = "、".join(rng.sample(assistance[:5], rng.choice((0, 1, 1, 2))))
            sheets["members"].append(
                [
                    code,
                    head if i == 0 else _name(rng),
                    number,
                    relation,
                    rng.choice((0, 0, 0, 0, 1, 2, 3, 4)),
                    categories,
                    f"20{rng.randint(15, 23)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                    rng.choice(("", "", "高血压", "糖尿病", "肢体残疾")),
                ]
            )
        for k in range(rng.choices((0, 1, 2, 3), (20, 45, 25, 10))[0]):
            category, category_zh = rng.choice(services)
            member = rng.choice(numbers) if rng.random() < 0.6 else ""
            sheets["items"].append(
                [
                    code,
                    member,
                    category_zh,
                    NEEDS[category] + f"（{k + 1}）",
                    rng.choice(("普通", "普通", "高", "紧急")),
                    rng.choice(("一次", "每周", "每月")),
                    rng.choice(WINDOWS),
                ]
            )
            counts["items"] += 1
        counts["households"] += 1
        counts["members"] += size
    workbook.save(path)
    return counts


ORGANISATIONS = ("滕州市青年志愿者协会", "龙泉街道志愿服务队", "滕州市巾帼志愿者协会", "善国义工联合会", "")
INTENTIONS = ("关爱老人", "助学", "精神慰藉、助残", "社区服务", "陪诊", "文化艺术", "应急救援、关爱老人")


def generate_volunteers(path: Path, volunteers: int, seed: int = 7) -> dict[str, int]:
    """Write the national volunteer system's export with `volunteers` rows (resident IDs, 1% passports)."""
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(VOLUNTEERS.sheet)
    sheet.append([c.header for c in VOLUNTEERS.columns])
    used: set[tuple[date, int]] = set()
    for n in range(volunteers):
        if n % 100 == 99:
            id_type, number = "护照", f"E{n:08d}"
        else:
            while True:
                born = date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 55))
                key = (born, rng.randint(0, 999))
                if key not in used:
                    used.add(key)
                    break
            id_type, number = "身份证", idnumber.make("370481", born, key[1])
        town = TOWNS[n % len(TOWNS)][1]
        registered = date(2015, 1, 1) + timedelta(days=rng.randint(0, 3000))
        sheet.append(
            [
                _name(rng),
                id_type,
                number,
                f"1{rng.choice('3589')}{rng.randint(0, 999999999):09d}",
                f"3704810{n:09d}",
                f"{registered.isoformat()} {rng.randint(8, 20):02d}:{rng.randint(0, 59):02d}:00",
                round(rng.random() * 300, 1),
                rng.choice(ORGANISATIONS),
                rng.choice(INTENTIONS),
                f"山东省枣庄市滕州市{town}",
            ]
        )
    workbook.save(path)
    return {"volunteers": volunteers}


def payment_months(today: date, months: int) -> list[date]:
    """The `months` months before today's month, oldest first."""
    first = today.replace(day=1)
    found = []
    for _ in range(months):
        first = (first - timedelta(days=1)).replace(day=1)
        found.append(first)
    return found[::-1]


def insert_households(households: int, seed: int = 7) -> dict[str, str]:
    """Insert `households` households with their heads by SQL (the payments' setup); returns code -> head ID."""
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    villages = {t: db.session.scalars(sa.select(Village.id).where(Village.town_id == t)).all()
                for t in db.session.scalars(sa.select(Town.id))}
    heads: dict[str, str] = {}
    rows, members = [], []
    for n in range(households):
        town_id = list(villages)[n % len(villages)]
        code = f"TZ{n + 1:07d}"
        rows.append({"code": code, "town_id": town_id, "village_id": rng.choice(villages[town_id]),
                     "head_name": _name(rng), "address": "滕州市", "lives_alone_elderly": False, "created_at": utcnow()})
        born = date(1940, 1, 1) + timedelta(days=n % 20000)
        heads[code] = idnumber.make("370481", born, n // 20000)
    ids = {}
    table = Household.__table__
    for start in range(0, len(rows), 5000):
        statement = sa.insert(table).returning(table.c.code, table.c.id)
        ids.update(db.session.execute(statement, rows[start:start + 5000]).tuples().all())
    for code, number in heads.items():
        members.append({"household_id": ids[code], "name": "户主", "id_number_enc": crypto.encrypt(number),
                        "id_number_hash": crypto.id_number_hash(number), "id_masked": idnumber.mask(number),
                        "id_suffix": number[-4:], "relation": "户主", "birth_date": idnumber.birth_date_of(number),
                        "sex": idnumber.sex_of(number), "disability_grade": 0})
    for start in range(0, len(members), 5000):
        db.session.execute(sa.insert(Member.__table__), members[start:start + 5000])
    db.session.commit()
    return heads


def generate_payments(path: Path, heads: dict[str, str], months: list[date], seed: int = 7) -> dict[str, int]:
    """Write a payments workbook: every household, every month, its category; a tenth by the head's ID."""
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(PAYMENTS.sheet)
    sheet.append([c.header for c in PAYMENTS.columns])
    categories = [zh for _code, zh, _en, _v in ASSISTANCE_CATEGORIES[:5]]
    rows = 0
    for n, (code, number) in enumerate(heads.items()):
        category = categories[n % len(categories)]
        amount = round(rng.uniform(200, 1500), 2)
        for month in months:
            by_head = n % 10 == 0
            sheet.append([f"{month:%Y-%m}", "" if by_head else code, number if by_head else "", category, amount,
                          "米面油" if month.month == 1 else ""])
            rows += 1
    workbook.save(path)
    return {"payments": rows}


def _prepare_database(url: str | None, workdir: Path):
    """An app on a migrated database with the reference data, benchmark villages and one city-staff user."""
    if url and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url or f"sqlite:///{workdir / 'bench.db'}")
    with app.app_context():
        flask_migrate.upgrade()
        ensure_reference_data()
        if db.session.scalar(sa.select(sa.func.count()).select_from(Household)):
            raise SystemExit("the benchmark needs an empty database (households already present)")
        for town in db.session.scalars(sa.select(Town)).all():
            have = set(db.session.scalars(sa.select(Village.name).where(Village.town_id == town.id)))
            for name in village_names(town.name_zh):
                if name not in have:
                    db.session.add(Village(town_id=town.id, name=name, lat=town.lat, lon=town.lon))
        create_user(
            username=f"bench{int(time.time())}",
            password="bench-password-1",
            display_name="bench",
            role=Role.city_staff,
        )
        db.session.commit()
    return app


def _backend_cpu() -> tuple[int, float] | None:
    """(pid, CPU seconds) of the session's PostgreSQL backend when the server runs on this machine, else None."""
    if db.engine.dialect.name != "postgresql":
        return None
    pid = db.session.scalar(sa.select(sa.func.pg_backend_pid()))
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("households", "volunteers", "payments"), default="households")
    parser.add_argument("--households", type=int, default=40_000)
    parser.add_argument("--volunteers", type=int, default=259_600)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--volunteer-status", choices=("pending", "approved"), default="approved")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        path = workdir / "bench.xlsx"
        app = _prepare_database(os.environ.get("DATABASE_URL"), workdir)
        generate_started = time.perf_counter()
        if args.kind == "volunteers":
            counts = generate_volunteers(path, args.volunteers, args.seed)
        elif args.kind == "payments":
            with app.app_context():
                heads = insert_households(args.households, args.seed)
                counts = generate_payments(path, heads, payment_months(utcnow().date(), args.months), args.seed)
                del heads
        else:
            counts = generate(path, args.households, args.seed)
        generate_s = time.perf_counter() - generate_started
        file_mb = path.stat().st_size / 1024 / 1024
        app.config["IMPORT_MAX_BYTES"] = max(app.config.get("IMPORT_MAX_BYTES", 0), path.stat().st_size)
        app.instance_path = str(workdir)  # uploads go to the temporary folder
        with app.app_context():
            user = db.session.scalars(sa.select(User).order_by(User.id.desc())).first()
            db_started = _backend_cpu()
            started, cpu_started = time.perf_counter(), time.process_time()
            with path.open("rb") as stream:
                upload = imports.store_upload(stream, "bench.xlsx", None, user, utcnow(),
                                              {"volunteer_status": args.volunteer_status})
            status = imports.preview(upload, user, utcnow())
            db.session.rollback()
            validated = time.perf_counter()
            if status["state"] != "valid":
                raise SystemExit(
                    f"the benchmark file did not validate: {status['state']} "
                    f"{[(e['sheet'], e['row'], e['code']) for e in status.get('errors', [])[:5]]}"
                )
            upload.claim()
            written = imports.run_import(upload, user, utcnow())  # re-validates, then writes
            db.session.commit()
            imports.finish(upload, written)
            done, cpu_done = time.perf_counter(), time.process_time()
            db_done = _backend_cpu()
            same_backend = db_started is not None and db_done is not None and db_done[0] == db_started[0]
            db.engine.dispose()
    result = {
        "kind": args.kind,
        **{key: written[key] for key in ("households", "members", "items", "volunteers", "payments") if key in written},
        "file_mb": round(file_mb, 2),
        "generate_s": round(generate_s, 2),
        "validate_s": round(validated - started, 2),
        "write_s": round(done - validated, 2),
        "total_s": round(done - started, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpu_s": round(cpu_done - cpu_started, 2),
        "db_cpu_s": round(db_done[1] - db_started[1], 2) if same_backend else None,
        "generated_rows": sum(counts.values()),
        "database": "postgresql" if os.environ.get("DATABASE_URL") else "sqlite",
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
