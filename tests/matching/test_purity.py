"""The matching package never pulls in Flask or SQLAlchemy."""
import pkgutil
import subprocess
import sys
from pathlib import Path

import socialforce.matching

MODULES = sorted(m.name for m in pkgutil.iter_modules(socialforce.matching.__path__))


def test_matching_imports_no_web_or_orm_stack():
    code = "; ".join(["import sys", "import socialforce.matching"]
                     + [f"import socialforce.matching.{m}" for m in MODULES]
                     + ["bad = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy'))",
                        "print(','.join(bad))"])
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    assert {"index", "assign", "check", "learn", "evaluate"} <= set(MODULES)
