"""What the import says, in the user's language: the name of each kind, the message of each rule code and what
happens to each sheet (the columns and codes themselves are in imports/rules.py)."""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import gettext as _

from socialforce.platform.imports.rules import DETECTION_ORDER


def kind_label(key: str) -> str:
    """The user-facing name of a kind."""
    return {
        "households": _("Households"),
        "members": _("Members"),
        "items": _("Service items"),
        "volunteers": _("Volunteers"),
        "payments": _("Material-assistance payments"),
        "corrections": _("Corrections"),
        "villages": _("Villages and communities"),
        "agencies": _("Social-work agencies"),
        "units": _("Pairing units"),
        "contracts": _("Government-purchase contracts"),
        "pairings": _("Pairings"),
    }[key]


def reason_message(code: str, params: dict) -> str:
    """The explanation of a rule code in the user's language."""
    messages = {
        "missing_column": lambda: _("This required column is missing from the header row."),
        "required": lambda: _("This cell is required."),
        "too_long": lambda: _("Too long: at most %(max)s characters.", **params),
        "formula": lambda: _("Starts with =, +, - or @ (a spreadsheet formula); remove that character."),
        "id_numeric": lambda: _(
            "The ID number is stored as a number, so Excel has kept only 15 digits and the rest are "
            "lost. Format the column as Text and type the ID again."
        ),
        "id_format": lambda: _("Not an 18-character resident ID number."),
        "id_birth_date": lambda: _("The birth date inside the ID number is not a real date."),
        "id_check_character": lambda: _(
            "The last character of the ID number does not match (check digit wrong)."
        ),
        "bad_phone": lambda: _("Not a valid phone number (11-digit mobile or landline with area code)."),
        "unknown_town": lambda: _("Unknown town or sub-district; use its full Chinese name."),
        "unknown_village": lambda: _("Unknown village or community in this town."),
        "unknown_category": lambda: _("Unknown assistance category: %(name)s.", **params),
        "unknown_service_category": lambda: _("Unknown service category."),
        "bad_relation": lambda: _("Unknown relation to the head of household."),
        "bad_disability_grade": lambda: _("Disability grade must be 0 (none) to 4."),
        "bad_date": lambda: _("Not a valid date (use YYYY-MM-DD, not in the future)."),
        "bad_priority": lambda: _("Priority must be 普通, 高 or 紧急."),
        "bad_frequency": lambda: _("Frequency must be 一次, 每周 or 每月."),
        "bad_windows": lambda: _("Unknown time window; use words such as 工作日上午、周六下午 or 不限."),
        "duplicate_in_file": lambda: _("Duplicate: the same value appears in an earlier row of this file."),
        "household_conflict": lambda: _(
            "This household number is already registered in another town or village."
        ),
        "id_registered_elsewhere": lambda: _("This person is already registered in another household."),
        "household_missing": lambda: _("No household with this number in the file or in the database."),
        "member_not_in_household": lambda: _("This person is not a member of the household."),
        "other_town": lambda: _(
            "This household belongs to another town; you may only import your own town's rows."
        ),
        "sheet_not_recognised": lambda: sheet_reason("not_recognised", params),
        "household_not_in_db": lambda: _(
            "No household with this number in the system; import the household first."
        ),
        "household_or_head_required": lambda: _("Give the household number or the head's ID number."),
        "head_not_found": lambda: _("No head of household with this ID number in the system."),
        "head_other_household": lambda: _("This ID number is the head of another household than the number given."),
        "bad_month": lambda: _("Not a valid month (use YYYY-MM, e.g. 2026-03)."),
        "future_month": lambda: _("This month is in the future; payments are imported once they are made."),
        "household_left": lambda: _(
            "The household left assistance on %(date)s, before this month; no payment can be recorded.", **params
        ),
        "bad_amount": lambda: _("Not a valid amount: yuan with at most 2 decimals, from 0 to 1,000,000."),
        "payment_conflict": lambda: _(
            "A different amount (%(amount)s yuan) is already recorded for this household, month and category; "
            "correct it in the system, not by import.",
            **params,
        ),
        "bad_id_type": lambda: _("Unknown ID type; use 身份证, 护照, 港澳居民来往内地通行证 or another type from the list."),
        "bad_id_other": lambda: _("Not a valid document number (4 to 30 letters and digits)."),
        "bad_hours": lambda: _("Not a valid number of hours (0 to 100,000, at most 2 decimals)."),
        "town_required": lambda: _("Give the volunteer's town or sub-district."),
        "national_no_taken": lambda: _("This volunteer number belongs to another volunteer in the system."),
        "bad_change": lambda: _("Unknown change; use 迁移镇街, 变更救助类别 or 退出救助."),
        "move_target_required": lambda: _("A move needs the new town and village."),
        "same_place": lambda: _("The household already lives in this town and village."),
        "categories_required": lambda: _("A change of category needs the new assistance categories."),
        "already_left": lambda: _("The household already left assistance on %(date)s.", **params),
        "change_conflict": lambda: _(
            "A different change of this kind on this date is already recorded for this household."
        ),
        "later_change": lambda: _(
            "A later change of this kind (%(date)s) is already recorded; older changes cannot be applied after it.",
            **params,
        ),
        "member_required_here": lambda: _("Only a change of category can name a member."),
        **_organisation_messages(params),
    }
    message = messages.get(code)
    return message() if message else code


def _organisation_messages(params: dict) -> dict:
    """The messages of the organisations family's rule codes (most are the organisation pages' own messages)."""
    from socialforce.platform.services.organisations import common  # the rules' one place (no import cycle)

    def categories() -> str:
        return params.get("categories_zh" if str(get_locale() or "zh").startswith("zh") else "categories_en", "")

    return {
        "bad_place": lambda: _(
            "Enter latitude and longitude in decimal degrees within %(km)s km of the town's centre, or neither.",
            **params,
        ),
        "city_staff_only": lambda: _(
            "Only city civil-affairs staff import agencies, pairing units and contracts."
        ),
        "bad_credit_code": lambda: str(common.CREDIT_CODE_ERRORS.get(params.get("reason"), "")),
        "bad_name": lambda: _("Enter a name of %(low)s to %(high)s characters.", **params),
        "bad_licence": lambda: _(
            "Enter the registration licence number (%(low)s to %(high)s characters).", **params
        ),
        "bad_contact_name": lambda: _(
            "Enter the contact person's name (%(low)s to %(high)s characters).", **params
        ),
        "bad_contact_phone": lambda: _(
            "Enter the contact's mobile number (11 digits) or a landline with its area code, e.g. 0632-5512345."
        ),
        "licence_taken": lambda: _(
            "Agency %(name)s is already registered with this licence number.", **params
        ),
        "bad_unit_type": lambda: _("Unknown kind of unit; use 党政机关, 企业, 事业单位, 社会团体 or 基层党组织."),
        "bad_quota": lambda: _("Enter a whole number of visits from %(low)s to %(high)s.", **params),
        "agency_missing": lambda: _(
            "No agency with this unified social credit code in the file or in the system."
        ),
        "contract_other_agency": lambda: _("Another agency's contract already has this number."),
        "bad_title": lambda: _("Enter the project title (%(low)s to %(high)s characters).", **params),
        "bad_contract_code": lambda: _(
            "Enter the contract number (%(low)s to %(high)s characters).", **params
        ),
        "bad_period": lambda: _("The last day cannot be before the first day."),
        "bad_budget": lambda: _(
            "Enter the budget in yuan, more than 0 and at most %(max)s, with at most two decimals, e.g. "
            "450000.00.",
            **params,
        ),
        "bad_contract_hours": lambda: _(
            "Enter the purchased service hours, more than 0 and at most %(max)s.", **params
        ),
        "hours_below_used": lambda: _(
            "%(used)s hours of this contract are already used: purchased hours cannot be fewer.", **params
        ),
        "contract_overlap": lambda: _(
            "The period overlaps contract %(code)s (%(start)s to %(end)s) of the same agency for %(categories)s. "
            "Contracts of one agency may not overlap for the same service category.",
            code=params.get("contract"),
            start=params.get("start"),
            end=params.get("end"),
            categories=categories(),
        ),
        "unit_missing": lambda: _(
            "No pairing unit with this unified social credit code in the file or in the system."
        ),
        "unit_not_approved": lambda: _(
            "This unit is not approved (pending or suspended): it cannot take new pairings."
        ),
        "future_since": lambda: _(
            "A pairing is recorded when it starts: the first day cannot be in the future."
        ),
        "already_paired": lambda: _(
            "This household is already paired with %(unit)s (since %(since)s). End that pairing first, or edit "
            "it.",
            **params,
        ),
    }


def sheet_reason(code: str, params: dict) -> str:
    """What happens to one sheet of the file, and why, in the user's language."""
    reasons = {
        "imported": lambda: _(
            "Imported as %(kind)s (header row %(row)s).", kind=kind_label(params["kind"]), row=params["row"]
        ),
        "template_sheet": lambda: _("Ignored: the template's own list of values or instructions."),
        "empty": lambda: _("Ignored: the sheet is empty."),
        "not_a_worksheet": lambda: _("Ignored: a chart or dialog sheet, not a table."),
        "no_table": lambda: _("Ignored: it holds no table (notes or a title only)."),
        "not_recognised": lambda: _(
            "Not recognised: the sheet holds a table, but none of its first %(rows)s rows is a header row "
            "with one of %(names)s. Use the template's headers, or delete the sheet from the file.",
            rows=params.get("rows", 10),
            names="、".join(k.signature for k in DETECTION_ORDER),
        ),
    }
    return reasons[code]()
