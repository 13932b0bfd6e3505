"""Compatibility guard: node ids, input names and order, and output types are the pack's API (saved
workflows depend on them). This test fails on any change against tests/schema_snapshot.json.
Additions are allowed only as new nodes or new inputs at the end of a node; after such a deliberate
change run `python tests/nodes/test_schema_snapshot.py --update` and commit the snapshot."""
import json
import os
import sys

if __name__ == "__main__":  # the --update path outside pytest: same setup as conftest
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import harness

    harness.comfy_setup()

from priorpaint.nodes import NODES  # noqa: E402

SNAPSHOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "schema_snapshot.json")


def current() -> dict:
    out = {}
    for node in NODES:
        s = node.define_schema()
        out[s.node_id] = {
            "inputs": [[i.id, str(i.get_io_type()), bool(getattr(i, "optional", False))] for i in s.inputs],
            "outputs": [[o.id, str(o.get_io_type())] for o in s.outputs],
            "category": s.category,
        }
    return out


def test_schema_matches_the_snapshot():
    with open(SNAPSHOT) as f:
        old = json.load(f)
    new = current()
    for node_id, spec in old.items():
        assert node_id in new, f"node {node_id} was removed or renamed: saved workflows would break"
        n = new[node_id]
        assert n["inputs"][: len(spec["inputs"])] == spec["inputs"], \
            f"{node_id}: inputs changed or reordered (only appending is compatible)"
        assert n["outputs"][: len(spec["outputs"])] == spec["outputs"], f"{node_id}: outputs changed"
    assert new == old, "schema grew compatibly: run `python tests/nodes/test_schema_snapshot.py --update` and commit"


if __name__ == "__main__" and "--update" in sys.argv:
    with open(SNAPSHOT, "w") as f:
        json.dump(current(), f, indent=1)
        f.write("\n")
    print("wrote", SNAPSHOT)
