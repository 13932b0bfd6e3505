# PriorPaint -- the two commands: `make demo` and `make test` (each sets up what it needs).
PY := .venv/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: comfyui demo test test-core test-nodes test-e2e workflows readme-images demo-prior clean

comfyui:            ## venv with the pinned torch stack + ComfyUI 0.3.75 in .comfyui/ (or $COMFYUI_PATH), pack linked
	@bash tools/setup_comfyui.sh

demo: comfyui       ## boot ComfyUI headless, inpaint a held-out photo, write out/demo_grid.png
	$(PY) tools/demo.py

test: comfyui       ## all three tiers: core (pure torch), nodes (in-process ComfyUI), e2e (real server)
	$(PY) -m pytest -q

test-core: comfyui
	$(PY) -m pytest -q tests/core

test-nodes: comfyui
	$(PY) -m pytest -q tests/nodes

test-e2e: comfyui
	$(PY) -m pytest -q tests/e2e

workflows: comfyui  ## regenerate example_workflows/*.json from tools/make_workflows.py
	$(PY) tools/make_workflows.py

readme-images: comfyui ## regenerate the README pictures in docs/images/ by running the demo
	$(PY) tools/demo.py --docs

demo-prior: comfyui ## refit the analytic demo model's weights from shipped photos
	$(PY) tools/fit_stationary_prior.py

clean:
	rm -rf out .cache
