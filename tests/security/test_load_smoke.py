"""A small run of the load script (5 users, 1 s of warm-up and 5 s counted) against gunicorn on the tiny demo
database: every request of the four portals' mix answers 200."""
from __future__ import annotations

import json

from benchmarks import load as bench_load
from socialforce.platform.extensions import db


def test_a_short_load_run_has_no_errors(demo, monkeypatch, capsys):
    monkeypatch.setenv("SOCIALFORCE_ENV", "testing")
    monkeypatch.setenv("DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    db.session.close()
    code = bench_load.main(["--users", "5", "--duration", "5", "--warmup", "1", "--think", "0.2",
                              "--workers", "2"])
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["errors"] == 0, figures["error_samples"]
    assert code == 0
    assert figures["requests"] >= 5 and figures["dashboard"]["count"] > 0
    assert figures["pages"]["p95_ms"] is not None
    assert figures["login"]["count"] == 5  # one each, in the warm-up, counted apart from the pages
    assert figures["warmup_s"] == 1 and figures["duration_s"] >= 5
    assert sum(figures[group]["count"] for group in ("pages", "dashboard", "login")) == figures["requests"]


def test_the_load_script_refuses_other_hosts(capsys):
    try:
        bench_load.main(["--url", "http://192.0.2.1:8000", "--duration", "1"])
    except SystemExit as e:
        assert e.code == 2
    else:
        raise AssertionError("a non-loopback host was accepted")
