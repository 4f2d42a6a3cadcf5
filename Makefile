# The two commands: `make run` starts the bot, `make test` runs the checks and tests.
# Both install exactly what uv.lock says (every package, pinned with hashes) into .venv first.
PY ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
BIN := .venv/bin
# uv never downloads a Python of its own: it uses $(PY), as pip did.
export UV_PYTHON_DOWNLOADS := never
# Install from the lock and fail if pyproject.toml changed without `make lock`.
SYNC := $(UV) sync --locked --extra dev --python $(PY)

.PHONY: run test sync lock upgrade browser bench clean

# uv itself, pinned with hashes in tools.txt (pip's hash-checking mode).
$(UV): tools.txt
	test -x $(TOOLS)/bin/python || $(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --require-hashes -r tools.txt
	touch $(UV)

# A no-op (a few ms) when .venv already matches the lock; otherwise installs or removes what differs.
sync: $(UV)
	$(SYNC) --quiet

run: sync
	$(BIN)/surveybot serve

test: sync browser
	$(BIN)/ruff format --check bot store adapters tests benchmarks
	$(BIN)/ruff check bot store adapters tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo
	$(BIN)/pytest -q

# After editing pyproject.toml's dependencies: lock the change, keeping every other pin.
lock: $(UV)
	$(UV) lock

# Upgrade on purpose: the newest versions within pyproject.toml's ranges. Then run `make test`
# and `make bench`, and compare the figures with BENCHMARKS.md before committing uv.lock.
upgrade: $(UV)
	$(UV) lock --upgrade

# The web chat's browser test drives Debian's headless Chromium (no browser download).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null); } || \
	  echo "chromium/chromedriver not installed: the browser test will be skipped (fails under CI=true)"

bench: sync
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf .venv $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
