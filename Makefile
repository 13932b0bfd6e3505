# PriorPaint -- the two commands: `make demo` and `make test` (each sets up what it needs).
PY := .venv/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: comfyui comfyui-latest test-comfyui-latest demo test test-core test-nodes test-e2e workflows readme-images demo-model bench bench-quick bench-base-samplers bench-hostile bench-presets bench-posterior bench-vipaint bench-aid aid-demo browser-deps node-docs soak registry-check demo-prior clean

comfyui:            ## venv with the pinned torch stack + ComfyUI 0.3.75 in .comfyui/ (or $COMFYUI_PATH), pack linked
	@bash tools/product/setup_comfyui.sh

comfyui-latest: comfyui ## the newest ComfyUI available here (../shared/vendor/comfyui-0.33.0.tar.gz) in .comfyui-latest/; skipped when absent
	@bash tools/product/setup_comfyui_latest.sh

demo: comfyui       ## boot ComfyUI headless, inpaint the held-out images per method and seed, write out/demo_compare.png
	$(PY) tools/product/demo.py

browser-deps:       ## Debian's chromium + chromium-driver for the browser test (apt; sudo when not root)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  echo "[browser-deps] installing chromium and chromium-driver with apt (a few minutes)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y chromium chromium-driver || \
	  { $$SUDO apt-get update && $$SUDO apt-get install -y chromium chromium-driver; }; }

test: comfyui browser-deps ## all three tiers: core (pure torch), nodes (in-process ComfyUI), e2e (real server + headless Chromium)
	@echo "[test] ComfyUI $$(sed -n 's/^__version__ = "\(.*\)"/\1/p' $${COMFYUI_PATH:-.comfyui}/comfyui_version.py)"
	$(PY) -m pytest -q

test-comfyui-latest: comfyui-latest browser-deps ## the whole suite (browser test included) against .comfyui-latest/; skipped when absent
	@if [ -f .comfyui-latest/comfyui_version.py ]; then \
	  echo "[test-comfyui-latest] ComfyUI $$(sed -n 's/^__version__ = "\(.*\)"/\1/p' .comfyui-latest/comfyui_version.py)"; \
	  COMFYUI_PATH=$(CURDIR)/.comfyui-latest PYTHONPATH=$(CURDIR)/.venv-overlay-latest $(PY) -m pytest -q; \
	else echo "[test-comfyui-latest] skipped: no ../shared/vendor/comfyui-0.33.0.tar.gz"; fi

test-core: comfyui
	$(PY) -m pytest -q tests/core

test-nodes: comfyui
	$(PY) -m pytest -q tests/nodes

test-e2e: comfyui browser-deps
	$(PY) -m pytest -q tests/e2e

workflows: comfyui  ## regenerate example_workflows/*.json (+ .jpg thumbnails made by running them)
	$(PY) tools/product/make_workflows.py --thumbnails

soak: comfyui       ## 50 mixed prompts on one server, some interrupted: RSS growth -> docs/soak.json
	$(PY) tools/bench/soak.py
	$(PY) tools/bench/bench.py --report-only

node-docs: comfyui  ## regenerate the node help pages js/docs/<node_id>.md from the schemas
	$(PY) tools/product/make_node_docs.py

readme-images: comfyui ## regenerate the README pictures in docs/images/ by running the demo
	$(PY) tools/product/demo.py --docs

demo-model: comfyui ## retrain the demo UNet (about 20 min on 2 cores) and rewrite docs/demo-model.md
	$(PY) tools/train/train_demo_model.py
	$(PY) tools/train/demo_model_report.py

bench: comfyui      ## full bench: exact priors + demo model, writes docs/benchmarks.md (+ .json, images/benchmarks.png)
	$(PY) tools/bench/bench.py --profile full

bench-base-samplers: comfyui ## RePaint+ around euler / dpmpp_2m / dpmpp_2m_sde / uni_pc vs core at equal NFE (docs/base-samplers.json)
	$(PY) tools/bench/bench_base_samplers.py
	$(PY) tools/bench/bench.py --report-only

bench-hostile: comfyui ## peak memory of hostile inputs (AID metadata, max_points, DCE at 4096²) vs bounds, docs/hostile-memory.json
	$(PY) tools/bench/bench_hostile_memory.py --check
	$(PY) tools/bench/bench.py --report-only

bench-presets: comfyui ## Inpaint KSampler presets on the demo model + crop & stitch at 2048x1536 (docs/presets.json)
	$(PY) tools/bench/bench_presets.py
	$(PY) tools/bench/bench.py --report-only

bench-posterior: comfyui ## exact multimodal posteriors, 3 masks, EPS + flow, beside LanPaint 2.1.0 (docs/posterior.json; PROFILE=precise for final numbers)
	$(PY) tools/bench/bench_posterior.py --profile $(or $(PROFILE),quick)
	$(PY) tools/bench/bench.py --report-only

bench-vipaint: comfyui ## VIPaint's time and peak memory vs a plain sampler of equal steps (docs/vipaint-cost.json)
	$(PY) tools/bench/bench_vipaint_cost.py

bench-aid: comfyui ## AID vs unguided at equal NFE (exact prior: trains its module; demo: shipped module), docs/aid-bench.json
	$(PY) tools/bench/bench_aid.py
	$(PY) tools/bench/bench.py --report-only

aid-demo: comfyui ## retrain the shipped AID module for the demo model (≈ 20 min on 2 CPU cores)
	$(PY) tools/train/train_aid.py --backbone priorpaint-unet --iterations 600 --batch 48 --crop 32 --steps 8 \
		--checkpoint-every 50 --out demomodel/weights/aid/priorpaint-unet-aid.safetensors

bench-quick: comfyui ## quick profile with sanity assertions (CI smoke test), writes out/bench-quick/
	$(PY) tools/bench/bench.py --profile quick --check

registry-check:     ## comfy node validate + comfy node pack (offline, pinned comfy-cli)
	@bash tools/product/registry_check.sh

demo-prior: comfyui ## refit the analytic demo model's weights from shipped photos
	$(PY) tools/train/fit_stationary_prior.py

clean:
	rm -rf out .cache
