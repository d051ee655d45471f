"""deploy/ names only real things: CLI commands and options the app has, gunicorn options gunicorn accepts,
settings config.py reads, the headers ProxyFix trusts, and limits that agree with the app's and the README's."""
from __future__ import annotations

import configparser
import os
import re
import shlex
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from config import BASE_DIR, Config

DEPLOY = BASE_DIR / "deploy"
UNITS = {"web": "socialforce-web.service", "worker": "socialforce-worker.service",
         "scheduler": "socialforce-scheduler.service"}
VENV_BIN = "/opt/socialforce/.venv/bin/"


def procfile() -> dict[str, list[str]]:
    """The Procfile's process kinds and their commands (split as a shell would)."""
    kinds = {}
    for line in (DEPLOY / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            kind, command = line.split(":", 1)
            kinds[kind.strip()] = shlex.split(command)
    return kinds


def unit(kind: str) -> configparser.ConfigParser:
    """A systemd unit read as an ini file."""
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str
    parser.read(DEPLOY / "systemd" / UNITS[kind])
    return parser


def env_example() -> dict[str, str]:
    """NAME=value lines of the env example."""
    pairs = {}
    for line in (DEPLOY / "socialforce.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, value = line.split("=", 1)
            pairs[name] = value
    return pairs


def gunicorn_settings(argv: list[str]):
    """gunicorn's own parser on a command line (its errors exit); the parsed options and the app string."""
    from gunicorn.config import Config as GunicornConfig

    config = GunicornConfig()
    args = config.parser().parse_args(argv)
    for name, value in vars(args).items():
        if value is not None and name in config.settings:
            config.set(name, value)
    return config, args.args


def test_the_procfile_has_the_three_kinds_and_the_units_run_the_same_commands():
    kinds = procfile()
    assert set(kinds) == {"web", "worker", "scheduler"}
    for kind, command in kinds.items():
        service = unit(kind)["Service"]
        assert shlex.split(service["ExecStart"]) == [VENV_BIN + command[0], *command[1:]], kind
        assert service["EnvironmentFile"] == "/etc/socialforce/env"
        assert service["WorkingDirectory"] == "/opt/socialforce"
        assert service["ReadWritePaths"] == env_example()["SOCIALFORCE_INSTANCE"]  # the instance folder
    assert unit("worker")["Service"]["KillSignal"] == "SIGINT"  # Huey's graceful stop (SIGTERM is immediate)


def test_the_flask_commands_and_their_options_exist(app):
    for kind in ("worker", "scheduler"):
        command = procfile()[kind]
        assert command[:3] == ["flask", "--app", "socialforce"], kind
        name, *options = command[3:]
        cli = app.cli.get_command(None, name)
        assert cli is not None, f"no `flask {name}` command"
        with cli.make_context(name, list(options)) as context:  # an unknown option or a bad value raises
            assert context.params is not None


def test_the_web_command_is_a_valid_gunicorn_line_on_the_apps_factory():
    command = procfile()["web"]
    assert command[0] == "gunicorn"
    settings, apps = gunicorn_settings(command[1:])
    assert apps == ["socialforce:create_app()"]
    module, _, call = apps[0].partition(":")
    assert call.endswith("()") and callable(getattr(__import__(module), call[:-2]))
    assert settings.workers == 4 and settings.bind == ["127.0.0.1:8000"] and settings.timeout == 60
    # README "Deploy for real" shows the same command (its workers and bind)
    readme = (BASE_DIR / "README.md").read_text()
    assert "gunicorn -w 4 -b 127.0.0.1:8000 'socialforce:create_app()'" in readme
    for kind in ("scheduler", "worker"):
        assert f"flask --app socialforce {kind}" in readme


def test_every_setting_in_the_env_example_is_read_by_config_and_named_in_the_readme():
    source = (BASE_DIR / "config.py").read_text()
    readme = (BASE_DIR / "README.md").read_text()
    for name in env_example():
        assert f'"{name}"' in source, f"{name} is not read by config.py"
        assert f"`{name}`" in readme, f"{name} is not described in the README"


def test_the_env_example_with_its_keys_filled_starts_production():
    env = {k: v for k, v in os.environ.items() if not k.startswith("CACHE_")}
    env.update(env_example(), SECRET_KEY="x" * 64, SOCIALFORCE_DATA_KEY=Fernet.generate_key().decode())
    code = ("import config; config.ProductionConfig.check(); c = config.ProductionConfig; "
            "print(c.CACHE_TYPE, c.QUEUE_URL, c.TRUSTED_PROXIES, c.SQLALCHEMY_DATABASE_URI.split(':')[0])")
    out = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["RedisCache", "redis://10.0.0.11:6379/0", "1", "postgresql+psycopg"]
    env["SECRET_KEY"] = ""  # the example's own empty value: production refuses to start
    out = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "SECRET_KEY" in out.stderr


def _nginx_directive(text: str, name: str) -> list[str]:
    return re.findall(rf"^\s*{name}\s+([^;]+);", text, flags=re.M)


def _seconds(value: str) -> int:
    return int(value.removesuffix("s"))


def test_the_nginx_site_matches_gunicorn_the_body_limit_and_the_trusted_proxy_headers():
    site = (DEPLOY / "nginx" / "socialforce.conf").read_text()
    web, _apps = gunicorn_settings(procfile()["web"][1:])
    upstream = re.search(r"upstream socialforce_web \{(.*?)\}", site, flags=re.S).group(1)
    assert _nginx_directive(upstream, "server") == web.bind
    assert _nginx_directive(site, "proxy_pass") == ["http://socialforce_web"]
    size = _nginx_directive(site, "client_max_body_size")[0]
    assert int(size.removesuffix("m")) * 1024 * 1024 == Config.MAX_CONTENT_LENGTH
    assert _seconds(_nginx_directive(site, "proxy_read_timeout")[0]) > web.timeout
    headers = dict(h.split(None, 1) for h in _nginx_directive(site, "proxy_set_header"))
    assert headers["X-Forwarded-For"] == "$remote_addr"  # replaced, never appended: one trusted proxy
    assert headers["X-Forwarded-Proto"] == "$scheme" and headers["X-Forwarded-Host"] == "$host"
    assert env_example()["TRUSTED_PROXIES"] == "1"
    security = (BASE_DIR / "socialforce" / "platform" / "security.py").read_text()
    assert "ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)" in security


@pytest.mark.skipif(not os.path.exists("/usr/sbin/nginx"), reason="nginx is not installed here")
def test_nginx_accepts_the_site(tmp_path):  # pragma: no cover - only where nginx is installed
    site = (DEPLOY / "nginx" / "socialforce.conf").read_text()
    site = re.sub(r"ssl_certificate(_key)?\s+[^;]+;", "", site)  # no certificate here: plain listeners
    site = re.sub(r"(listen[^;]*?) ssl", r"\1", site)
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(f"pid {tmp_path}/nginx.pid; error_log stderr; events {{}} "
                                         f"http {{ include {tmp_path}/site.conf; }}")
    out = subprocess.run(["/usr/sbin/nginx", "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
