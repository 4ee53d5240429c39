# The two commands of the README: `make serve` and `make test`.
.PHONY: serve test lint bench

serve:
	./scripts/bootstrap
	.venv/bin/callcenter serve --data-dir ./data

test:
	./scripts/bootstrap --test --system
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/pytest -q

bench:
	./scripts/bootstrap --test
	.venv/bin/python bench/media_frame_cost.py
	.venv/bin/python bench/media_loop_health.py
	.venv/bin/python bench/bridge_leg_cost.py
