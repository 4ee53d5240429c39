# The two commands of the README: `make serve` and `make test`.
.PHONY: serve test lint bench dense stock

serve:
	./scripts/bootstrap
	.venv/bin/callcenter serve --data-dir ./data

test:
	./scripts/bootstrap --test --system
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/pytest -q
	./scripts/test-dense

# Each prints one JSON line; a miss (exit 1) does not stop the others.
# voice_latency, barge_in and media_loop_health capture RTP: run as root.
bench:
	./scripts/bootstrap --test
	-.venv/bin/python bench/media_frame_cost.py
	-.venv/bin/python bench/media_loop_health.py
	-.venv/bin/python bench/bridge_leg_cost.py
	-.venv/bin/python bench/tts_speed.py
	-.venv/bin/python bench/asr_wer.py
	-.venv/bin/python bench/asr_live_wer.py
	-.venv/bin/python bench/voice_latency.py
	-.venv/bin/python bench/voice_latency.py --load
	-.venv/bin/python bench/barge_in.py
	-.venv/bin/python bench/escalation.py
	-.venv/bin/python bench/end_of_turn.py
	-.venv/bin/python bench/out_of_grammar.py
	-.venv/bin/python bench/agent_connect.py
	-.venv/bin/python bench/dnc_lookup.py
	-.venv/bin/python bench/campaign_scheduler.py
	-.venv/bin/python bench/campaign_throughput.py
	-.venv/bin/python bench/answering_machine.py
	# 200 calls and the knee need the dense build (scripts/test-dense makes
	# .venv-dense) and Debian's tcpdump.
	-[ -x .venv-dense/bin/python ] && .venv-dense/bin/python bench/dense_node.py --knee 300,400,500,600

# A high-capacity pjsua2 (1024 calls, epoll) built from source into .venv;
# kept by later bootstraps. `make stock` goes back to the pinned wheel.
dense:
	./scripts/bootstrap --test
	./scripts/build-pjsua2

stock:
	./scripts/bootstrap --test
	./scripts/build-pjsua2 --stock
