# Two commands: `make grade` (install + grade submissions/) and `make test` (install + all tests).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install sandbox browser grade test test-fast bench

install: $(VENV)/.installed sandbox browser

# torch is pinned first: an unpinned torch takes a multi-GB CUDA build; 2.13.0 is the CPU wheel.
# environment/requirements.txt is the course environment every graded kernel gets (CONTRACT §5).
$(VENV)/.installed: pyproject.toml environment/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -r environment/requirements.txt
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

# The kernel sandbox needs bubblewrap; without it the grader runs with "sandbox: reduced".
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null) ; } \
	  || echo "warning: bubblewrap is not installed (apt-get install bubblewrap); kernels will run with a reduced sandbox"

# tests/report/test_browser.py renders the HTML reports in headless Chromium; without it that test is skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } \
	  || echo "warning: chromium is not installed (apt-get install chromium); the browser test will be skipped"

grade: install
	$(BIN)/grader run submissions/ --jobs 2

# pytest exits 5 when it collects no test: not a failure.
test: install
	$(BIN)/python -m pytest -q; code=$$?; [ $$code -eq 5 ] && exit 0; exit $$code

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"
