"""Repository layout rules: tools/ is split by purpose and never imports tests/ (no tests<->tools cycle)."""
import ast
import os
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
PURPOSES = {"lib", "product", "bench", "train", "studies"}


def test_tools_are_split_by_purpose():
    tools = ROOT / "tools"
    loose = sorted(p.name for p in tools.iterdir() if p.is_file() and p.name != "README.md")
    assert loose == [], f"scripts directly in tools/ (put them in one of {sorted(PURPOSES)}): {loose}"
    dirs = {p.name for p in tools.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert dirs == PURPOSES, dirs
    readme = (tools / "README.md").read_text()
    for d in PURPOSES:
        assert f"`{d}/`" in readme, f"tools/README.md does not say what {d}/ is for"


def test_tools_never_import_tests():
    test_modules = {p.stem for p in (ROOT / "tests").rglob("*.py")} - {"__init__"}
    offenders = []
    for path in (ROOT / "tools").rglob("*.py"):
        src = path.read_text()
        if '"tests"' in src or "'tests'" in src:
            offenders.append(f"{path.relative_to(ROOT)}: puts tests/ on a path")
        for node in ast.walk(ast.parse(src)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            offenders += [f"{path.relative_to(ROOT)}: imports {n}" for n in names if n.split(".")[0] in test_modules]
    assert offenders == [], offenders


def test_tools_lib_holds_modules_not_scripts():
    for path in (ROOT / "tools" / "lib").glob("*.py"):
        assert "__main__" not in path.read_text(), f"{path.name} is a script: move it to a purpose folder"
    assert os.path.isfile(ROOT / "tools" / "lib" / "packimport.py")


def test_templates_are_files_named_by_their_titles():
    """The template browser shows a template by its file name (tools/lib/templates.py): every file is a listed
    title with its thumbnail, records its key, opens with the whole graph in view below the top bars, and its
    note reads in short lines."""
    import json
    import sys

    sys.path.insert(0, str(ROOT / "tools" / "lib"))
    import templates

    folder = ROOT / "example_workflows"
    stems = {p.stem for p in folder.glob("*.json")}
    assert stems == set(templates.TITLES.values())
    assert {p.stem for p in folder.glob("*.jpg")} == stems
    assert sorted(stems)[0] == templates.TITLES["inpaint_ksampler"]  # start here sorts first
    for key, title in templates.TITLES.items():
        wf = json.loads((folder / f"{title}.json").read_text())
        assert wf["extra"].get("priorpaint_template") == key, title
        ds = wf["extra"]["ds"]
        x0 = min([n["pos"][0] for n in wf["nodes"]] + [g["bounding"][0] for g in wf["groups"]])
        y0 = min([n["pos"][1] - 30 for n in wf["nodes"]] + [g["bounding"][1] for g in wf["groups"]])
        x1 = max([n["pos"][0] + n["size"][0] for n in wf["nodes"]] + [g["bounding"][0] + g["bounding"][2] for g in wf["groups"]])
        y1 = max([n["pos"][1] + n["size"][1] for n in wf["nodes"]] + [g["bounding"][1] + g["bounding"][3] for g in wf["groups"]])
        screen = [((x + ds["offset"][0]) * ds["scale"], (y + ds["offset"][1]) * ds["scale"]) for x, y in ((x0, y0), (x1, y1))]
        assert screen[0][1] >= 100 and screen[0][0] >= 60, f"{title}: opens under the top bar: {screen}"
        assert screen[1][0] <= 1600 and screen[1][1] <= 1000, f"{title}: opens cut off: {screen}"
        notes = [n for n in wf["nodes"] if n["type"] == "Note"]
        assert notes, f"{title}: no note"
        assert all(len(line) <= 110 for n in notes for line in n["widgets_values"][0].splitlines()), title
