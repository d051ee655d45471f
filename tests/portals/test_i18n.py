"""Every string marked for translation has a Chinese translation in the compiled catalog."""
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "socialforce/translations/zh/LC_MESSAGES/messages.po"


def test_zh_cn_catalog_covers_every_message(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(ROOT / "babel.cfg"),
                    "-k", "_l", "-k", "lazy_pgettext:1c,2", "-o", str(pot), "."],
                   check=True, cwd=ROOT, capture_output=True)
    with pot.open("rb") as f:
        wanted = {(m.context, m.id) for m in read_po(f) if m.id}
    with CATALOG.open("rb") as f:
        catalog = read_po(f, locale="zh")
    translated = {(m.context, m.id) for m in catalog if m.id and m.string and not m.fuzzy}
    assert sorted(str(m) for m in wanted - translated) == []
    assert (CATALOG.with_suffix(".mo")).exists(), "run `make translations`"
