"""Start a real ComfyUI server with the pack loaded, run workflows through its HTTP API, stop it.

Used by ``make demo``, the end-to-end tests and the bench. Only the standard library is needed
(urllib); the server is the pinned ComfyUI (``.comfyui/``) or ``$COMFYUI_PATH``.

Workflows in ``example_workflows/`` are in the UI format users drag into ComfyUI; :func:`ui_to_api`
converts one to the API format ``POST /prompt`` takes, using the server's ``/object_info`` to map
each node's ``widgets_values`` onto its inputs (the same rule the frontend applies).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACK_LINK_NAME = "PriorPaint"


def comfy_dir() -> str:
    return os.path.abspath(os.environ.get("COMFYUI_PATH") or os.path.join(ROOT, ".comfyui"))


def venv_python() -> str:
    py = os.path.join(ROOT, ".venv", "bin", "python")
    return py if os.path.exists(py) else sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WorkflowError(RuntimeError):
    """A prompt was rejected (validation) or failed while executing."""

    def __init__(self, message: str, details=None):
        super().__init__(message)
        self.details = details


MODEL_FOLDERS = ("checkpoints", "diffusion_models", "vae", "text_encoders")
"""Models folders a test server also reads from ``<workdir>/models/`` (with extra packs)."""


class ComfyServer:
    """A ComfyUI server process owned by the caller (stopped by the PID it started)."""

    def __init__(self, workdir: str, port: int | None = None, extra_args: tuple[str, ...] = (),
                 log_name: str = "comfyui.log", extra_packs: dict[str, str] | None = None):
        """``extra_packs``: {folder name: path} of further custom-node packs to load (tests only); they are
        linked into ``workdir/custom_nodes`` and found through an extra-model-paths file, never into ComfyUI."""
        self.workdir = os.path.abspath(workdir)
        self.extra_packs = dict(extra_packs or {})
        self.port = port or free_port()
        self.extra_args = tuple(extra_args)
        self.proc: subprocess.Popen | None = None
        self.client_id = uuid.uuid4().hex
        self.log_path = os.path.join(self.workdir, log_name)
        for sub in ("input", "output", "temp", "user"):
            os.makedirs(os.path.join(self.workdir, sub), exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def input_dir(self) -> str:
        return os.path.join(self.workdir, "input")

    @property
    def output_dir(self) -> str:
        return os.path.join(self.workdir, "output")

    @property
    def guidance_dir(self) -> str:
        """An ``inpaint_guidance`` models folder of this server (with extra packs: tests drop modules here)."""
        return os.path.join(self.workdir, "inpaint_guidance")

    @property
    def models_dir(self) -> str:
        """``<workdir>/models``: checkpoints, diffusion_models, vae, text_encoders of this server (with extra packs)."""
        return os.path.join(self.workdir, "models")

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 180.0) -> "ComfyServer":
        cdir = comfy_dir()
        link = os.path.join(cdir, "custom_nodes", PACK_LINK_NAME)
        if not os.path.exists(link):
            raise RuntimeError(f"the pack is not linked at {link}: run 'make comfyui'")
        cmd = [venv_python(), "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
               "--disable-auto-launch", "--disable-api-nodes",
               "--disable-all-custom-nodes", "--whitelist-custom-nodes", PACK_LINK_NAME,
               "--input-directory", self.input_dir, "--output-directory", self.output_dir,
               "--temp-directory", os.path.join(self.workdir, "temp"),
               "--user-directory", os.path.join(self.workdir, "user"),
               "--database-url", "sqlite:///:memory:", *self.extra_args]
        whitelist = [PACK_LINK_NAME]
        if self.extra_packs:
            nodes_dir = os.path.join(self.workdir, "custom_nodes")
            os.makedirs(nodes_dir, exist_ok=True)
            for name, path in self.extra_packs.items():
                dst = os.path.join(nodes_dir, name)
                if not os.path.exists(dst):
                    os.symlink(os.path.abspath(path), dst)
                whitelist.append(name)
            cfg = os.path.join(self.workdir, "extra_model_paths.yaml")
            with open(cfg, "w") as f:
                f.write(f"priorpaint_tests:\n  base_path: {self.workdir}\n  custom_nodes: custom_nodes\n"
                        "  inpaint_guidance: inpaint_guidance\n"
                        # model files the tests place (support/checkpoints.py), under ComfyUI's own folder names
                        + "".join(f"  {k}: models/{k}\n" for k in MODEL_FOLDERS))
            os.makedirs(self.guidance_dir, exist_ok=True)
            for k in MODEL_FOLDERS:
                os.makedirs(os.path.join(self.models_dir, k), exist_ok=True)
            cmd += ["--extra-model-paths-config", cfg]
        i = cmd.index("--whitelist-custom-nodes")
        cmd[i + 1:i + 2] = whitelist
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=cdir, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode} while starting; log: {self.log_path}\n"
                                   + self.log_tail())
            try:
                self.get_json("/system_stats", timeout=2)
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"ComfyUI did not answer within {timeout}s; log: {self.log_path}\n" + self.log_tail())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=20)
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def log_tail(self, n: int = 4000) -> str:
        try:
            with open(self.log_path) as f:
                return f.read()[-n:]
        except OSError:
            return ""

    # -- HTTP --------------------------------------------------------------------------------
    def get(self, path: str, timeout: float = 30) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return r.read()

    def get_json(self, path: str, timeout: float = 30):
        return json.loads(self.get(path, timeout))

    def post_json(self, path: str, payload, timeout: float = 30):
        req = urllib.request.Request(self.url + path, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                body = r.read()
                return r.status, (json.loads(body) if body else None)
        except urllib.error.HTTPError as e:
            body = e.read()
            try:
                return e.code, json.loads(body)
            except ValueError:
                return e.code, body.decode(errors="replace")

    # -- prompts -----------------------------------------------------------------------------
    def queue(self, prompt: dict) -> str:
        status, body = self.post_json("/prompt", {"prompt": prompt, "client_id": self.client_id})
        if status != 200:
            raise WorkflowError(f"prompt rejected ({status}): {json.dumps(body)[:2000]}", body)
        return body["prompt_id"]

    def wait(self, prompt_id: str, timeout: float = 300.0) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            h = self.get_json(f"/history/{prompt_id}")
            if prompt_id in h:
                entry = h[prompt_id]
                status = entry.get("status", {})
                if status.get("completed") or status.get("status_str") in ("success", "error"):
                    return entry
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError("ComfyUI died while running a prompt:\n" + self.log_tail())
            time.sleep(0.2)
        raise TimeoutError(f"prompt {prompt_id} did not finish within {timeout}s")

    def run(self, prompt: dict, timeout: float = 300.0) -> dict:
        """Queue, wait, and return the history entry; raise WorkflowError if execution failed."""
        entry = self.wait(self.queue(prompt), timeout)
        if entry.get("status", {}).get("status_str") != "success":
            msgs = [m for m in entry.get("status", {}).get("messages", []) if m[0] == "execution_error"]
            detail = msgs[0][1] if msgs else entry.get("status")
            raise WorkflowError(f"execution failed: {json.dumps(detail)[:3000]}", detail)
        return entry

    def interrupt(self) -> None:
        self.post_json("/interrupt", {})

    def fetch_image(self, info: dict) -> bytes:
        q = urllib.parse.urlencode({"filename": info["filename"], "subfolder": info.get("subfolder", ""),
                                    "type": info.get("type", "output")})
        return self.get(f"/view?{q}")

    def output_images(self, entry: dict, node_id: str) -> list[bytes]:
        return [self.fetch_image(i) for i in entry["outputs"].get(str(node_id), {}).get("images", [])]

    def put_input(self, path: str, name: str | None = None) -> str:
        name = name or os.path.basename(path)
        shutil.copyfile(path, os.path.join(self.input_dir, name))
        return name


# ---------------------------------------------------------------------------------------------
# UI workflow → API prompt
# ---------------------------------------------------------------------------------------------
_SOCKET_ONLY = {"MODEL", "VAE", "CLIP", "CONDITIONING", "LATENT", "IMAGE", "MASK", "SAMPLER", "SIGMAS", "GUIDER",
                "NOISE", "CONTROL_NET", "STYLE_MODEL", "CLIP_VISION", "CLIP_VISION_OUTPUT", "UPSCALE_MODEL"}


def _is_widget(spec) -> bool:
    t = spec[0]
    if isinstance(t, list):
        return True  # combo
    if t in ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"):
        return not (len(spec) > 1 and isinstance(spec[1], dict) and spec[1].get("forceInput"))
    return False


FRONTEND_ONLY = ("Note", "MarkdownNote")
"""Node types the frontend draws but never sends to the server."""


def ui_to_api(ui: dict, object_info: dict) -> dict:
    """Convert a UI-format workflow (``nodes``/``links``) into an API prompt ``{id: {class_type, inputs}}``."""
    links = {ln[0]: ln for ln in ui.get("links", [])}  # id, from_node, from_slot, to_node, to_slot, type
    prompt = {}
    for node in ui["nodes"]:
        if node.get("mode", 0) in (2, 4):  # muted / bypassed
            continue
        ctype = node["type"]
        if ctype in FRONTEND_ONLY:  # notes live only in the page
            continue
        if ctype not in object_info:
            raise WorkflowError(f"node type {ctype!r} (node {node['id']}) is not installed on this server")
        info = object_info[ctype]["input"]
        order = object_info[ctype].get("input_order") or {
            k: list(info.get(k, {}).keys()) for k in ("required", "optional")}
        inputs = {}
        values = list(node.get("widgets_values") or [])
        if isinstance(node.get("widgets_values"), dict):
            raise WorkflowError(f"node {node['id']} stores widgets as a dict; not supported")
        vi = 0
        for section in ("required", "optional"):
            for name in order.get(section, []):
                spec = info[section][name]
                if _is_widget(spec):
                    if vi < len(values):
                        inputs[name] = values[vi]
                        vi += 1
                        opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
                        if opts.get("control_after_generate") or (spec[0] == "INT" and name in ("seed", "noise_seed")):
                            vi += 1  # the frontend stores "fixed"/"randomize" after seed widgets
        for inp in node.get("inputs", []):
            if inp.get("link") is not None:
                ln = links[inp["link"]]
                inputs[inp["name"]] = [str(ln[1]), ln[2]]
        prompt[str(node["id"])] = {"class_type": ctype, "inputs": inputs}
    return prompt


def load_workflow(name: str) -> dict:
    """A shipped template by its key (``inpaint_ksampler.json`` or ``inpaint_ksampler``: tools/lib/templates.py
    maps keys to the file names users see), or any workflow file by its path."""
    import templates

    key = name[:-5] if name.endswith(".json") else name
    if key in templates.TITLES:
        path = templates.path(key)
    else:
        path = name if os.path.isabs(name) else os.path.join(ROOT, "example_workflows", name)
    with open(path) as f:
        return json.load(f)
