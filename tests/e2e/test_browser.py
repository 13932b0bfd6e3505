"""Every example workflow in a real browser: headless Debian Chromium (Selenium + chromedriver) against
the real ComfyUI server and the registry's frontend package. For each workflow: load it into the
graph, check that no node type is missing and that every widget the server declares exists on the
node, queue it from the page, wait for the output image and save a screenshot under out/browser/.

Needs /usr/bin/chromium and /usr/bin/chromedriver (`make browser-deps`, run by `make test`)."""
import json
import os
import time

import pytest

import harness

from harness import WORKFLOWS

CHROMIUM = os.environ.get("PRIORPAINT_CHROMIUM", "/usr/bin/chromium")
DRIVER = os.environ.get("PRIORPAINT_CHROMEDRIVER", "/usr/bin/chromedriver")
SHOTS = os.path.join(harness.ROOT, "out", "browser")


FRONTENDS = {"classic": False, "nodes2": True}  # Comfy.VueNodes.Enabled: the frontend's Nodes 2.0 (Vue) mode


@pytest.fixture(scope="module", params=list(FRONTENDS))
def browser(server, request):
    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        pytest.fail(f"Chromium/ChromeDriver not found at {CHROMIUM} / {DRIVER}: run 'make browser-deps'")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1000",
              "--disable-gpu"):
        opts.add_argument(a)
    # a fresh user would get the template browser on first load: mark the tutorial as done
    server.post_json("/settings/Comfy.TutorialCompleted", True)
    server.post_json("/settings/Comfy.VueNodes.Enabled", FRONTENDS[request.param])
    drv = webdriver.Chrome(service=Service(DRIVER), options=opts)
    drv.set_script_timeout(120)
    try:
        drv.get(server.url)
        deadline = time.time() + 120
        while time.time() < deadline:
            if drv.execute_script("return !!(window.app && window.app.graph && window.LiteGraph "
                                  "&& Object.keys(LiteGraph.registered_node_types).length > 50)"):
                break
            time.sleep(0.5)
        else:
            pytest.fail("the ComfyUI frontend did not start in the browser")
        mode = drv.execute_script("return app.extensionManager?.setting?.get?.('Comfy.VueNodes.Enabled') ?? null")
        assert mode == FRONTENDS[request.param], f"frontend mode {request.param}: setting reads {mode}"
        drv.frontend_mode = request.param
        os.makedirs(SHOTS, exist_ok=True)
        yield drv
    finally:
        drv.quit()


CHECK = """
const info = arguments[0];
const out = {missing: [], widgets: []};
for (const n of app.graph._nodes) {
  if (!LiteGraph.registered_node_types[n.type]) { out.missing.push(n.type); continue; }
  const spec = info[n.type];
  if (!spec) continue;
  const have = new Set((n.widgets || []).map(w => w.name));
  for (const [name, s] of Object.entries({...(spec.input.required || {}), ...(spec.input.optional || {})})) {
    const t = Array.isArray(s[0]) ? "COMBO" : s[0];
    const isWidget = ["INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"].includes(t);
    const linked = (n.inputs || []).some(i => i.name === name && i.link != null);
    if (isWidget && !linked && !have.has(name)) out.widgets.push(n.type + "." + name);
  }
}
return out;
"""


SHOWN = """
const outs = app.nodeOutputs || {};
return app.graph._nodes.some(n => n.type === 'SaveImage' &&
  ((n.imgs && n.imgs.length > 0) || (outs[String(n.id)] && (outs[String(n.id)].images || []).length > 0)));
"""


@pytest.mark.parametrize("name", WORKFLOWS)
def test_workflow_loads_queues_and_renders_in_the_browser(server, browser, name):
    for f in os.listdir(server.input_dir):  # from an empty input/ folder: the template brings its own photo
        if os.path.isfile(os.path.join(server.input_dir, f)):
            os.remove(os.path.join(server.input_dir, f))
    with open(os.path.join(harness.ROOT, "example_workflows", name + ".json")) as f:
        workflow = json.load(f)
    info = server.get_json("/object_info")
    browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "app.loadGraphData(arguments[0]).then(() => done(true), (e) => done(String(e)));", workflow)
    res = browser.execute_script(CHECK, info)
    assert res["missing"] == [], f"{name}: missing node types {res['missing']}"
    assert res["widgets"] == [], f"{name}: missing widgets {res['widgets']}"
    assert browser.execute_script("return app.graph._nodes.length") == len(workflow["nodes"])

    before = set(server.get_json("/history").keys())
    err = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "app.queuePrompt(0, 1).then(() => done(null), (e) => done(String(e)));")
    assert err is None, f"{name}: queueing from the page failed: {err}"
    deadline = time.time() + 300
    entry = None
    while time.time() < deadline:
        hist = server.get_json("/history")
        new = [k for k in hist if k not in before]
        if new and hist[new[0]].get("status", {}).get("completed") is not None:
            entry = hist[new[0]]
            if entry["status"]["completed"] or entry["status"].get("status_str") == "error":
                break
        time.sleep(0.5)
    assert entry is not None, f"{name}: no result within 300 s\n{server.log_tail()}"
    assert entry["status"]["status_str"] == "success", f"{name}: {entry['status']}"
    images = [img for out in entry["outputs"].values() for img in out.get("images", [])]
    assert images and any(i.get("type") == "output" for i in images), f"{name}: no output image"
    # the page shows the result on the SaveImage node once the websocket message arrives
    deadline = time.time() + 30
    while time.time() < deadline and not browser.execute_script(SHOWN):
        time.sleep(0.5)
    browser.execute_async_script(  # frame the whole graph for the screenshot (best effort)
        "const done = arguments[arguments.length - 1];"
        "Promise.resolve(app.extensionManager?.command?.execute?.('Comfy.Canvas.FitView')).then(() => done(1), () => done(0));")
    time.sleep(0.5)
    browser.save_screenshot(os.path.join(SHOTS, f"{name}-{browser.frontend_mode}.png"))
    assert browser.execute_script(SHOWN), f"{name}: the output image never reached the SaveImage node on the page"
    # the pack's JS extension shows what the node learned at run time (DCE attempts, VIPaint loss, AID metadata)
    for node_type in ("PriorPaintHarmonizedSampler", "PriorPaintVIPaint", "PriorPaintLoadAIDGuidance"):
        if any(n["type"] == node_type for n in workflow["nodes"]):
            text = browser.execute_script(
                "return (app.graph._nodes.find(n => n.type === arguments[0]) || {}).priorpaintStatus || null",
                node_type)
            assert text, f"{name}: no run-time read-out on {node_type}"


def test_extension_script_is_served(server):
    """The pack's JS extension is served to the browser (and the nodes work without it)."""
    url = next(e for e in server.get_json("/extensions") if e.endswith("/priorpaint.js"))
    js = server.get(url).decode()
    assert "priorpaint.status" in js
