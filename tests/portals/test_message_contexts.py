"""No message serves two meanings: a word that reads differently in Chinese depending on what it labels (the visit
"Open" button, 打开, against the item status "Open", 待派单) carries a context (pgettext) at every use."""
from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "socialforce/translations/zh/LC_MESSAGES/messages.po"
# English words known to serve two meanings on these pages (an action and a state)
TWO_MEANINGS = {"Open", "Closed"}


@pytest.fixture(scope="module")
def uses(tmp_path_factory) -> dict[str, dict[str | None, list]]:
    """msgid -> context -> where it is used, from the extracted template of the catalog."""
    with_contexts: dict[str, dict[str | None, list]] = defaultdict(lambda: defaultdict(list))
    pot = tmp_path_factory.mktemp("messages") / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(ROOT / "babel.cfg"),
                    "-k", "_l", "-k", "lazy_pgettext:1c,2", "-o", str(pot), "."],
                   check=True, cwd=ROOT, capture_output=True)
    with pot.open("rb") as f:
        for message in read_po(f):
            if message.id:
                with_contexts[str(message.id)][message.context].extend(message.locations)
    return with_contexts


def test_words_with_two_meanings_carry_a_context_at_every_use(uses):
    bare = {msgid: uses[msgid][None] for msgid in TWO_MEANINGS if None in uses.get(msgid, {})}
    assert bare == {}
    assert {"action", "item status"} <= set(uses["Open"])


def test_a_message_with_contexts_is_never_used_without_one(uses):
    mixed = {msgid: contexts[None] for msgid, contexts in uses.items() if None in contexts and len(contexts) > 1}
    assert mixed == {}


def test_each_context_of_a_message_has_its_own_translation():
    with CATALOG.open("rb") as f:
        catalog = read_po(f, locale="zh")
    by_id: dict[str, dict[str | None, str]] = defaultdict(dict)
    for message in catalog:
        if message.id and message.context:
            by_id[str(message.id)][message.context] = message.string
    assert by_id["Open"]["action"] != by_id["Open"]["item status"]
    assert by_id["Closed"]["item status"] != by_id["Closed by staff"]["item status"] != by_id["Served"]["item status"]
