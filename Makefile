# The two commands: `make run` (set up, migrate, seed a small demo, serve) and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FLASK := $(BIN)/flask --app socialforce
CATALOGS := $(wildcard socialforce/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)
HOST ?= 127.0.0.1
PORT ?= 5000
DEMO_SCALE ?= 0.01

.PHONY: install run test lint translations extract-messages clean axe screenshots

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

%.mo: %.po
	$(BIN)/pybabel compile -i $< -o $@

translations: $(STAMP) $(COMPILED)

run: install translations
	@# the first start creates instance/secret_key and instance/data_key (random, mode 600); keep them
	$(FLASK) db upgrade
	$(FLASK) seed-demo --scale $(DEMO_SCALE) --if-empty
	$(FLASK) demo-logins
	@# exactly one scheduler and one background worker beside the web server; both stop when the server stops
	$(FLASK) scheduler & SCHED=$$!; $(FLASK) worker & WORKER=$$!; \
	trap "kill $$SCHED $$WORKER 2>/dev/null" EXIT INT TERM; \
	$(FLASK) run --host $(HOST) --port $(PORT)

test: install translations lint axe
	$(BIN)/pytest

# refresh docs/screenshots/ (the README's pictures) from the browser tests
screenshots: install translations
	SCREENSHOTS_DIR=docs/screenshots $(BIN)/pytest -q tests/browser/test_screens.py

# axe-core for the accessibility scan of the browser tests (skipped without it or without npm)
axe:
	@[ -f .cache/axe/node_modules/axe-core/axe.min.js ] || ! command -v npm >/dev/null || \
		npm install --silent --no-audit --no-fund --prefix .cache/axe axe-core@4

lint: install
	$(BIN)/ruff check socialforce tests benchmarks config.py
	$(BIN)/bandit -q -r socialforce benchmarks -lll

extract-messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_pgettext:1c,2 -o socialforce/translations/messages.pot .
	$(BIN)/pybabel update -i socialforce/translations/messages.pot -d socialforce/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) instance .pytest_cache
