# Alliance Watch: `make run` to see it work, `make test` to prove it.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: setup run up down status test lint bench chaos clean eval eval-robust eval-sealed train-extractor

setup:  ## idempotent install: virtualenv, Python packages, Kafka jars, PostgreSQL
	@bash scripts/setup.sh

run: setup  ## start Kafka and the four services, push demo articles; Ctrl-C stops all
	@$(PY) -m tools.stack run

up: setup  ## the same in the background; returns once every service is ready
	@$(PY) -m tools.stack up

down:  ## stop what `make up` started, leaving no process behind
	@if [ -x $(PY) ]; then $(PY) -m tools.stack down; fi

status:
	@$(PY) -m tools.stack status

lint: setup
	$(PY) -m ruff check services tools tests bench
	$(PY) -m ruff format --check services tools tests bench
	$(PY) -m mypy services tools

test: lint  ## set up, lint, type-check and run the whole suite (real Kafka, real PostgreSQL)
	$(PY) -m pytest -q -p no:cacheprovider

BENCHES := kafka extract registry notify dashboard e2e profile

bench: setup  ## benchmarks, each bounded in time; figures in bench/results/ (JSON and markdown)
	@for b in $(BENCHES); do \
	    if [ -f bench/$${b}_bench.py ]; then echo "== bench: $$b"; $(PY) bench/$${b}_bench.py || exit 1; fi; \
	done
	@echo "== bench: e2e on PostgreSQL"; $(PY) bench/e2e_bench.py --database postgres --out e2e-postgres

clean: down
	rm -rf .run

CHAOS_ARTICLES ?= 60
CHAOS_REPLICAS ?= 1
chaos: setup  ## push articles while killing services and restarting the broker; prove nothing lost or doubled
	$(PY) -m tools.chaos --articles $(CHAOS_ARTICLES) --kills 2 --replicas $(CHAOS_REPLICAS)

eval: setup  ## the extractor on the real labelled articles of ../shared/eval (tuning part)
	$(PY) -m tools.extract_eval

eval-robust: setup  ## the tuning articles in other shapes (traditional, HTML, title apart, other stories on the page)
	$(PY) -m tools.extract_robustness

eval-sealed: setup  ## the sealed third of the corpus: only at the end of a round of work
	$(PY) -m tools.extract_eval --sealed

train-extractor: setup  ## cross-validate and retrain the extractor's models on the tuning part
	$(PY) -m tools.train_extractor

.PHONY: asyncapi
asyncapi: setup  ## write docs/asyncapi.yaml (topics, keys, messages) from services/common/contracts.py
	@$(PY) -m tools.asyncapi
