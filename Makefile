# The two commands a newcomer needs: `make run` and `make test`.
.PHONY: setup run test lint bench down

setup:
	bash infra/bootstrap.sh

run: setup
	.venv/bin/strikeflow demo

test: setup lint
	.venv/bin/pytest tests/unit -n 2  # pure code: both cores
	.venv/bin/pytest tests/integration  # one real stack, one test at a time

lint:
	.venv/bin/ruff check .
	.venv/bin/lint-imports

bench: setup
	.venv/bin/python -m benchmarks.option_marks
	.venv/bin/python -m benchmarks.matching_core
	.venv/bin/python -m benchmarks.risk_checks
	.venv/bin/python -m benchmarks.settlements
	.venv/bin/strikeflow infra up && .venv/bin/strikeflow topics apply
	.venv/bin/python -m benchmarks.candles_pipeline
	.venv/bin/python -m benchmarks.order_pipeline
	.venv/bin/python -m benchmarks.rfq_roundtrip
	.venv/bin/python -m benchmarks.matching_recovery
	.venv/bin/python -m benchmarks.gateway

down:
	.venv/bin/strikeflow infra down
