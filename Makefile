# The two commands: `make run` starts the bot, `make test` runs the checks and tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test browser bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/surveybot serve

test: $(STAMP) browser
	$(BIN)/ruff check bot store adapters tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -q

# The web chat's browser test drives Debian's headless Chromium (no browser download).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null); } || \
	  echo "chromium/chromedriver not installed: the browser test will be skipped (fails under CI=true)"

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
