"""Real worker processes for the tests: `flask --app socialforce worker` on the test database and a real queue."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from flask import Flask

from config import BASE_DIR
from socialforce.platform import queue
from socialforce.platform.extensions import db

# TEST_REDIS_URL lets two test runs on one machine use different Redis databases
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")


def redis_available() -> bool:
    """Whether the Redis test server answers."""
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@contextlib.contextmanager
def real_queue(app: Flask, url: str):
    """Point the app's queue at a real storage (SQLite file or Redis) for the test, emptied before and after."""
    saved = {key: app.extensions[key] for key in ("huey", "huey_task")}
    saved_config = {key: app.config.get(key) for key in ("QUEUE_IMMEDIATE", "QUEUE_URL")}
    app.config.update(QUEUE_IMMEDIATE=False, QUEUE_URL=url)
    queue.init_app(app)
    app.extensions["huey"].storage.flush_all()
    try:
        yield app.extensions["huey"]
    finally:
        app.extensions["huey"].storage.flush_all()
        app.extensions.update(saved)
        app.config.update(saved_config)


def start_worker(instance: Path, queue_url: str, **settings: str) -> subprocess.Popen:
    """A worker process on the test database; returns once it is consuming (its log says so)."""
    db.session.commit()
    env = {**os.environ, "SOCIALFORCE_ENV": "testing", "SOCIALFORCE_INSTANCE": str(instance),
           "DATABASE_URL": db.engine.url.render_as_string(hide_password=False), "QUEUE_IMMEDIATE": "0",
           "QUEUE_URL": queue_url, "PYTHONWARNINGS": "ignore", **settings}
    log = open(instance / f"worker-{time.monotonic_ns()}.log", "a+")  # noqa: SIM115 - closed with the process
    # append mode: the child writes at the end whatever offset this process's seek(0) and read leave in the file
    # description they share (with "w+" a line written between the two landed at 0, over the first lines)
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "socialforce", "worker"], cwd=BASE_DIR,
                               env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    process.log = log
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        log.seek(0)
        if "worker started" in log.read():
            return process
        if process.poll() is not None:
            break
        time.sleep(0.1)
    log.seek(0)
    text = log.read()
    kill(process)  # never left running: its job recovery would reach into the next test's jobs
    raise AssertionError(f"worker did not start: {text[-3000:]}")


def kill(process: subprocess.Popen) -> None:
    """SIGKILL the worker (no cleanup of any kind runs)."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    process.log.close()


def stop(process: subprocess.Popen) -> str:
    """Stop the worker gracefully; its log."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    process.log.seek(0)
    text = process.log.read()
    process.log.close()
    return text


def wait_for(predicate, timeout: float = 60, every: float = 0.1):
    """Poll `predicate` (after ending the session's read transaction) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out waiting")
