"""AID nodes: safe loading (names, formats, sizes), backbone validation, the post-CFG patch with any
sampler (identity for an untrained module, hole-only otherwise, input MODEL untouched), the Train node
(checkpoint on interrupt, resume), and DDP with 2 gloo processes equal to one process."""
import os
import subprocess
import sys

import pytest
import torch

import comfy.model_management
import comfy.sample
import comfy.samplers
import folder_paths

from priorpaint.nodes import aid as N
from priorpaint.nodes.repaint import repaint_sampler
from priorpaint.samplers import aid as A
from priorpaint.support.comfy_models import empty_conditioning as cond
from priorpaint.support.comfy_models import exact_prior_model
from priorpaint.support.exact_priors import make_gaussian_mixture

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHAPE = (3, 4, 4)


@pytest.fixture(scope="module")
def prior():
    with torch.inference_mode(False):
        return make_gaussian_mixture(shape=SHAPE, components=3, rank=3, seed=0)


def write_module(path, model, nonzero=False, sigma_floor=0.0, **backbone_changes):
    with torch.inference_mode(False):
        net = A.GuidanceNet(SHAPE[0], sigma_data=1.0, sigma_floor=sigma_floor)
        if nonzero:
            torch.nn.init.normal_(net.out.weight, std=0.5, generator=torch.Generator().manual_seed(0))
        info = dict(N.backbone_info(model), **backbone_changes)
        tp = A.TimeParam(max(info["sigma_min"], 0.002), min(info["sigma_max"], 80.0))
        A.save_module(str(path), net, A.module_metadata(net, info, tp, {"iterations": 0}))
    return str(path)


def test_folder_is_registered_for_safetensors_and_keeps_existing_paths(monkeypatch):
    monkeypatch.setitem(folder_paths.folder_names_and_paths, N.FOLDER, (["/from/yaml"], set()))
    N.register_folder()
    paths, exts = folder_paths.folder_names_and_paths[N.FOLDER]
    assert paths[0] == "/from/yaml" and os.path.join(folder_paths.models_dir, N.FOLDER) in paths
    assert N.SHIPPED in paths and exts == {".safetensors"}


def test_loader_resolves_only_plain_names_inside_the_folder(prior, guidance_dir):
    model = exact_prior_model(prior, "eps")
    write_module(guidance_dir / "good.safetensors", model)
    g = N.LoadAIDGuidance.execute("good.safetensors").args[0]
    assert isinstance(g, N.Guidance) and "fingerprint" in g.summary()
    for bad in ("../good.safetensors", "/etc/passwd", "sub/../../x.safetensors", "missing.safetensors", ""):
        with pytest.raises(ValueError, match="Load AID Guidance: input 'guidance_name'"):
            N.LoadAIDGuidance.execute(bad)


def test_loader_rejects_bad_files(prior, guidance_dir, monkeypatch):
    model = exact_prior_model(prior, "eps")
    good = write_module(guidance_dir / "good.safetensors", model)
    data = open(good, "rb").read()
    (guidance_dir / "trunc.safetensors").write_bytes(data[: len(data) // 2])
    (guidance_dir / "noise.safetensors").write_bytes(os.urandom(256))
    (guidance_dir / "weights.pt").write_bytes(b"not allowed")
    from safetensors.torch import save_file
    save_file({"w": torch.zeros(2)}, str(guidance_dir / "other.safetensors"), metadata={"format": "lora"})
    cases = {"trunc.safetensors": "cannot be read as safetensors", "noise.safetensors": "cannot be read",
             "other.safetensors": "not a PriorPaint AID guidance module", "weights.pt": "not a .safetensors file"}
    for name, msg in cases.items():
        with pytest.raises(ValueError, match=msg):
            N.load_guidance_file(str(guidance_dir / name), name) if name == "weights.pt" else N.LoadAIDGuidance.execute(name)
    monkeypatch.setattr(N, "MAX_BYTES", 1000)
    with pytest.raises(ValueError, match="at most 0 MiB"):
        N.LoadAIDGuidance.execute("good.safetensors")


def _rewrite(src, dst, meta_changes=None, tensors=None, section_changes=None):
    """Copy a good module file with changed metadata strings, JSON sections or tensors."""
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file
    with safe_open(src, framework="pt") as f:
        meta, sd = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    for sec, changes in (section_changes or {}).items():
        d = json.loads(meta[sec])
        for k, v in changes.items():
            if v is _DROP:
                d.pop(k, None)
            else:
                d[k] = v
        meta[sec] = json.dumps(d)
    meta.update(meta_changes or {})
    meta = {k: v for k, v in meta.items() if v is not _DROP}
    save_file(tensors(sd) if tensors else sd, str(dst), metadata=meta)
    return dst.name


_DROP = object()


def test_hostile_module_files(prior, guidance_dir):
    """Every metadata or tensor the loader must refuse, each with a message that names the input and
    what is wrong, before any declared-size tensor is allocated (issue 18)."""
    good = write_module(guidance_dir / "good.safetensors", exact_prior_model(prior, "eps"))
    nan = lambda sd: {k: (v.fill_(float("nan")) if k == "out.weight" else v) for k, v in sd.items()}  # noqa: E731
    drop_one = lambda sd: {k: v for k, v in sd.items() if k != "out.bias"}  # noqa: E731
    big = lambda sd: {**sd, "out.weight": torch.zeros(3, 32, 3, 3)}  # noqa: E731
    cases = {
        "width 4096 (a 2.3 GB request)": ({"net": {"width": 4096}}, None, None, r"net\.width' = 4096, expected 4 … 512"),
        "width 30000": ({"net": {"width": 30000}}, None, None, "net.width' = 30000"),
        "width 24 (in bounds, shapes disagree)": ({"net": {"width": 24}}, None, None, "wrong shape"),
        "width not a multiple of 4": ({"net": {"width": 18}}, None, None, "multiple of 4"),
        "extra net key": ({"net": {"depth": 3}}, None, None, r"unknown 'net' keys \['depth'\]"),
        "missing net key": ({"net": {"channels": _DROP}}, None, None, "lacks 'net.channels'"),
        "mistyped net key": ({"net": {"width": "16"}}, None, None, "net.width' = '16', expected a finite int"),
        "bool as int": ({"net": {"channels": True}}, None, None, "net.channels' = True"),
        "rho 0": ({"time": {"rho": 0}}, None, None, r"time\.rho' = 0, expected 0\.1 … 100"),
        "sigma NaN": ({"time": {"sigma_max": float("nan")}}, None, None, "time.sigma_max' = nan"),
        "sigma_min > sigma_max": ({"time": {"sigma_min": 100.0, "sigma_max": 10.0}}, None, None, "sigma_min 100"),
        "negative sigma_floor": ({"net": {"sigma_floor": -1.0}}, None, None, "sigma_floor' = -1"),
        "NaN weights": (None, None, nan, "non-finite"),
        "missing tensor": (None, None, drop_one, r"missing \['out.bias'\]"),
        "tensor of the wrong shape": (None, None, big, "wrong shape"),
    }
    meta_cases = {"net not a mapping": ({"net": "[1, 2]"}, "metadata 'net' of type list"),
                  "backbone a list": ({"backbone": "[]"}, "metadata 'backbone' of type list"),
                  "time unreadable": ({"time": "{not json"}, "unreadable metadata"),
                  "training missing": ({"training": _DROP}, "missing or unreadable metadata")}
    for i, (what, (sections, _, tensors, msg)) in enumerate(cases.items()):
        name = _rewrite(good, guidance_dir / f"h{i}.safetensors", section_changes=sections, tensors=tensors)
        with pytest.raises(ValueError, match="Load AID Guidance: input 'guidance_name'.*" + msg) as e:
            N.LoadAIDGuidance.execute(name)
        assert "Error(s) in loading" not in str(e.value), what
    for i, (what, (changes, msg)) in enumerate(meta_cases.items()):
        name = _rewrite(good, guidance_dir / f"m{i}.safetensors", meta_changes=changes)
        with pytest.raises(ValueError, match="Load AID Guidance: input 'guidance_name'.*" + msg):
            N.LoadAIDGuidance.execute(name)


def test_loader_rereads_a_file_rewritten_under_the_same_name(prior, guidance_dir):
    """ComfyUI caches a node while its fingerprint is unchanged: rewriting the module changes it."""
    model = exact_prior_model(prior, "eps")
    path = write_module(guidance_dir / "same.safetensors", model)
    before = N.LoadAIDGuidance.fingerprint_inputs("same.safetensors")
    assert before == N.LoadAIDGuidance.fingerprint_inputs("same.safetensors")
    os.utime(path, ns=(1, 1))
    write_module(guidance_dir / "same.safetensors", model, nonzero=True)
    after = N.LoadAIDGuidance.fingerprint_inputs("same.safetensors")
    assert after != before
    assert N.LoadAIDGuidance.execute("same.safetensors").args[0].net.out.weight.abs().sum() > 0


def test_symlink_inside_the_folder_is_followed_like_comfyuis_model_folders(prior, guidance_dir, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    target = write_module(outside / "shared.safetensors", exact_prior_model(prior, "eps"))
    os.symlink(target, guidance_dir / "linked.safetensors")
    assert isinstance(N.LoadAIDGuidance.execute("linked.safetensors").args[0], N.Guidance)
    with pytest.raises(ValueError, match="not a plain file name"):
        N.LoadAIDGuidance.execute("../elsewhere/shared.safetensors")


def test_mismatched_module_and_model_fail_clearly(prior, tmp_path):
    eps, flow = exact_prior_model(prior, "eps"), exact_prior_model(prior, "flow")
    g = N.load_guidance_file(write_module(tmp_path / "m.safetensors", eps))
    N.ApplyAIDGuidance.execute(eps, g, 1.0)
    with pytest.raises(ValueError, match="Apply AID Guidance: input 'guidance'.*sampling: module 'eps' vs model 'flow'"):
        N.ApplyAIDGuidance.execute(flow, g, 1.0)
    gf = N.load_guidance_file(write_module(tmp_path / "f.safetensors", eps, fingerprint="0123456789abcdef"))
    with pytest.raises(ValueError, match="fingerprint: module '0123456789abcdef'"):
        N.ApplyAIDGuidance.execute(eps, gf, 1.0)
    g4 = N.load_guidance_file(write_module(tmp_path / "c.safetensors", eps, latent_channels=4))
    with pytest.raises(ValueError, match="latent_channels: module 4 vs model 3"):
        N.ApplyAIDGuidance.execute(eps, g4, 1.0)


def _sample(model, y, mask, sampler):
    if isinstance(sampler, str):
        return comfy.sample.sample(model, comfy.sample.prepare_noise(y, 0), 8, 1.0, sampler, "karras", cond(), cond(),
                                   y, noise_mask=mask, disable_pbar=True, seed=0)
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "karras", 8)
    return comfy.sample.sample_custom(model, comfy.sample.prepare_noise(y, 0), 1.0, sampler, sigmas, cond(), cond(), y,
                                      noise_mask=mask, disable_pbar=True, seed=0)


@pytest.mark.parametrize("prediction", ["eps", "flow"])
@pytest.mark.parametrize("sampler", ["euler", "dpmpp_2m", "repaint_plus"])
def test_apply_with_any_sampler(prior, tmp_path, prediction, sampler):
    model = exact_prior_model(prior, prediction)
    y = prior.sample(2, torch.Generator().manual_seed(0)).float().reshape(2, *SHAPE)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 2:] = 1
    smp = repaint_sampler(mode="repaint_plus_b", jump_length=1, resamples=1) if sampler == "repaint_plus" else sampler
    plain = _sample(model, y, mask, smp)
    options_before = repr(model.model_options)
    zero = N.ApplyAIDGuidance.execute(model, N.load_guidance_file(write_module(tmp_path / "z.safetensors", model)),
                                      1.0).args[0]
    assert torch.allclose(_sample(zero, y, mask, smp), plain, atol=1e-6)  # an untrained module changes nothing
    g = N.load_guidance_file(write_module(tmp_path / "n.safetensors", model, nonzero=True))
    patched = N.ApplyAIDGuidance.execute(model, g, 1.0).args[0]
    assert patched is not model and repr(model.model_options) == options_before  # input MODEL untouched
    assert N.STATE_KEY in patched.additional_models  # the module is managed by ComfyUI's memory manager
    out = _sample(patched, y, mask, smp)
    assert torch.isfinite(out).all()
    assert torch.allclose(out[..., :2], y[..., :2], atol=1e-5)  # known region kept
    assert (out[..., 2:] - plain[..., 2:]).abs().max() > 1e-3  # the guidance acts in the hole
    off = N.ApplyAIDGuidance.execute(model, g, 0.0).args[0]
    assert torch.allclose(_sample(off, y, mask, smp), plain, atol=1e-6)


@pytest.mark.parametrize("prediction", ["eps", "flow"])
def test_start_and_end_percent_limit_the_guidance_to_part_of_the_schedule(prior, tmp_path, prediction):
    """Like Apply ControlNet: the module is called (and D changed) only while σ lies between the σ's of
    start_percent and end_percent; the whole range is the default, an empty range is the plain MODEL, and
    start after end is refused."""
    model = exact_prior_model(prior, prediction)
    ms = model.get_model_object("model_sampling")
    y = prior.sample(2, torch.Generator().manual_seed(0)).float().reshape(2, *SHAPE)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 2:] = 1
    g = N.load_guidance_file(write_module(tmp_path / "n.safetensors", model, nonzero=True))
    seen = []
    hook = g.net.register_forward_hook(lambda mod, args, out: seen.append(float(args[2].max())))
    try:
        plain = _sample(model, y, mask, "euler")
        full = _sample(N.ApplyAIDGuidance.execute(model, g, 1.0).args[0], y, mask, "euler")
        assert len(seen) == 8
        assert torch.equal(_sample(N.ApplyAIDGuidance.execute(model, g, 1.0, 0.0, 1.0).args[0], y, mask, "euler"), full)
        seen.clear()
        early = _sample(N.ApplyAIDGuidance.execute(model, g, 1.0, 0.0, 0.5).args[0], y, mask, "euler")
        s_half = float(ms.percent_to_sigma(0.5))
        s_ve = s_half / (1 - s_half) if prediction == "flow" else s_half  # the module sees VE σ
        assert 0 < len(seen) < 8 and min(seen) >= s_ve * (1 - 1e-6)
        assert (early - plain).abs().max() > 1e-3 and (early - full).abs().max() > 1e-3
        seen.clear()
        none = _sample(N.ApplyAIDGuidance.execute(model, g, 1.0, 1.0, 1.0).args[0], y, mask, "euler")  # σ = 0 only
        assert not seen and torch.equal(none, plain)
    finally:
        hook.remove()
    with pytest.raises(ValueError, match="Apply AID Guidance: input 'start_percent'"):
        N.ApplyAIDGuidance.execute(model, g, 1.0, 0.6, 0.4)


@pytest.mark.parametrize("prediction", ["eps", "flow"])
def test_coarse_only_module_is_called_only_above_its_floor(prior, tmp_path, prediction):
    """A module trained with a σ floor is not called (and D not changed) once the VE σ falls below it, with
    any model_sampling; above the floor it acts as any module."""
    model = exact_prior_model(prior, prediction)
    y = prior.sample(2, torch.Generator().manual_seed(0)).float().reshape(2, *SHAPE)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 2:] = 1
    plain = _sample(model, y, mask, "euler")
    full = _sample(N.ApplyAIDGuidance.execute(model, N.load_guidance_file(
        write_module(tmp_path / "a.safetensors", model, nonzero=True)), 1.0).args[0], y, mask, "euler")
    g = N.load_guidance_file(write_module(tmp_path / "c.safetensors", model, nonzero=True, sigma_floor=1.0))
    assert "coarse-only" in g.summary()
    seen = []
    hook = g.net.register_forward_hook(lambda mod, args, out: seen.append(float(args[2].min())))
    try:
        coarse = _sample(N.ApplyAIDGuidance.execute(model, g, 1.0).args[0], y, mask, "euler")
    finally:
        hook.remove()
    assert 0 < len(seen) < 8 and min(seen) >= 1.0
    assert (coarse - plain).abs().max() > 1e-3 and (coarse - full).abs().max() > 1e-3


def test_train_node_checkpoints_on_interrupt_and_resumes(tmp_path, monkeypatch):
    from priorpaint.nodes.models import LoadDemoModel

    monkeypatch.setattr(folder_paths, "models_dir", str(tmp_path / "models"))
    monkeypatch.setattr(folder_paths, "get_output_directory", lambda: str(tmp_path / "output"))
    model, vae, c = LoadDemoModel.execute("stationary-gaussian", "eps").args
    images = torch.rand(2, 16, 16, 3, generator=torch.Generator().manual_seed(0))
    args = dict(model=model, vae=vae, images=images, name="t", mask_kind="mixed", iterations=4, batch=4, crop=8,
                steps=3, lr_actor=1e-2, lr_critic=1e-2, lam=0.1, beta=1.0, seed=0, resume=True, checkpoint_every=100)
    calls = {"n": 0}
    real = A.train

    def interrupt_after_two(*a, on_iteration=None, **kw):
        def hook(it, s, o):
            calls["n"] += 1
            if calls["n"] == 2:
                comfy.model_management.interrupt_current_processing(True)
            on_iteration(it, s, o)
        return real(*a, on_iteration=hook, **kw)

    monkeypatch.setattr(A, "train", interrupt_after_two)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            N.TrainAIDGuidance.execute(**args)
    finally:
        comfy.model_management.interrupt_current_processing(False)
    ckpt = tmp_path / "output" / "priorpaint_aid" / "t.ckpt.safetensors"
    assert ckpt.exists()
    g, path = N.TrainAIDGuidance.execute(**args).args
    assert calls["n"] == 4  # resumed at 2: two more iterations
    assert path == str(tmp_path / "models" / N.FOLDER / "t.safetensors") and os.path.isfile(path)
    N.ApplyAIDGuidance.execute(model, g, 1.0)  # the trained module fits its backbone
    coarse, _ = N.TrainAIDGuidance.execute(**dict(args, name="c", iterations=1, sigma_floor=0.5)).args
    assert coarse.net.sigma_floor == 0.5 and coarse.info["training"]["sigma_floor"] == 0.5
    with pytest.raises(ValueError, match="input 'name'"):
        N.TrainAIDGuidance.execute(**dict(args, name="../evil"))


def test_simple_train_node_is_the_advanced_node_at_its_defaults(tmp_path, monkeypatch):
    """Train AID Guidance (simple) asks only what an artist chooses; the module it trains is, weight for weight,
    the one Train AID Guidance (Advanced) trains at its defaults."""
    from priorpaint.nodes.models import LoadDemoModel

    monkeypatch.setattr(folder_paths, "models_dir", str(tmp_path / "models"))
    monkeypatch.setattr(folder_paths, "get_output_directory", lambda: str(tmp_path / "output"))
    model, vae, _ = LoadDemoModel.execute("stationary-gaussian", "eps").args
    images = torch.rand(1, 32, 32, 3, generator=torch.Generator().manual_seed(0))
    out = N.TrainAIDGuidanceSimple.execute(model, vae, images, "s", "box", 1, 3, False)
    defaults = {i.id: i.default for i in N.TrainAIDGuidance.define_schema().inputs if hasattr(i, "default")}
    ref = N.TrainAIDGuidance.execute(model=model, vae=vae, images=images, **dict(
        {k: v for k, v in defaults.items() if k not in ("name", "mask_kind", "iterations", "seed", "resume")},
        name="a", mask_kind="box", iterations=1, seed=3, resume=False))
    a, b = out.args[0].net.state_dict(), ref.args[0].net.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert "lower is better" in out.ui["text"][0] or "unchanged" in out.ui["text"][0]


def test_ddp_two_gloo_processes_match_one_process(tmp_path):
    common = [os.path.join(ROOT, "tools", "train", "train_aid.py"), "--backbone", "exact-mixture", "--iterations", "4",
              "--batch", "8", "--steps", "3", "--threads", "1", "--lr-actor", "1e-2"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    one, two = str(tmp_path / "one.safetensors"), str(tmp_path / "two.safetensors")
    subprocess.run([sys.executable] + common + ["--out", one], check=True, env=env, capture_output=True)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29633"]
    r = subprocess.run(torchrun + common + ["--out", two], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    from safetensors.torch import load_file
    a, b = load_file(one), load_file(two)
    assert a.keys() == b.keys()
    # float reduction order differs (gloo all-reduce vs one batch); Adam turns tiny gradient differences into
    # parameter differences ≪ one step (lr 1e-2): measured 2e-5
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-4
    assert max(a[k].abs().max().item() for k in a if k.startswith("out.")) > 0  # the runs did train


def test_fingerprint_tells_checkpoints_apart():
    from priorpaint.support.comfy_models import tiny_model

    a, b, a2 = tiny_model("sd15", seed=0).model, tiny_model("sd15", seed=1).model, tiny_model("sd15", seed=0).model
    assert N.fingerprint(a) == N.fingerprint(a2) != N.fingerprint(b)
    info = N.backbone_info(a)
    assert info["latent_channels"] == 4 and info["sampling"] == "eps" and info["shift"] is None


@pytest.mark.parametrize("family", ["sd15", "sdxl", "flux"])
def test_train_on_real_latent_models_with_and_without_conditioning(family, tmp_path, monkeypatch):
    """As in the server: the model is built and the node runs under ``torch.inference_mode``. With its
    conditioning it trains and the module applies to its backbone; without it, a model that needs text
    conditioning fails before training with an error naming 'conditioning' (issue 18)."""
    from priorpaint.support.comfy_models import tiny_model

    monkeypatch.setattr(folder_paths, "models_dir", str(tmp_path / "models"))
    monkeypatch.setattr(folder_paths, "get_output_directory", lambda: str(tmp_path / "output"))
    with torch.inference_mode():
        b = tiny_model(family, seed=0)
        images = torch.rand(2, 64, 64, 3, generator=torch.Generator().manual_seed(0))
        args = dict(model=b.model, vae=b.vae, images=images, name=f"t-{family}", mask_kind="mixed", iterations=2,
                    batch=2, crop=4, steps=2, lr_actor=1e-2, lr_critic=1e-2, lam=0.1, beta=1.0, seed=0, resume=False,
                    checkpoint_every=100)
        g, path = N.TrainAIDGuidance.execute(**args, conditioning=b.positive).args
        assert os.path.isfile(path) and g.info["backbone"]["latent_channels"] == b.latent_channels
        assert all(torch.isfinite(p).all() for p in g.net.parameters())
        N.ApplyAIDGuidance.execute(b.model, g, 1.0)
        with pytest.raises(ValueError, match=r"Train AID Guidance \(Advanced\): input 'conditioning': is not connected"):
            N.TrainAIDGuidance.execute(**dict(args, name=f"u-{family}"))


def test_resume_checks_backbone_and_network(tmp_path, monkeypatch):
    from priorpaint.nodes.models import LoadDemoModel

    monkeypatch.setattr(folder_paths, "models_dir", str(tmp_path / "models"))
    monkeypatch.setattr(folder_paths, "get_output_directory", lambda: str(tmp_path / "output"))
    model, vae, _ = LoadDemoModel.execute("stationary-gaussian", "eps").args
    other, _, _ = LoadDemoModel.execute("priorpaint-unet", "eps").args
    images = torch.rand(2, 16, 16, 3, generator=torch.Generator().manual_seed(0))
    args = dict(model=model, vae=vae, images=images, name="r", mask_kind="mixed", iterations=1, batch=2, crop=8,
                steps=2, lr_actor=1e-2, lr_critic=1e-2, lam=0.1, beta=1.0, seed=0, resume=True, checkpoint_every=1)
    N.TrainAIDGuidance.execute(**args)
    with pytest.raises(ValueError, match="input 'resume'.*another network.*context: checkpoint None vs now True"):
        N.TrainAIDGuidance.execute(**dict(args, iterations=2, context=True))
    with pytest.raises(ValueError, match="input 'resume'.*another backbone.*fingerprint"):
        N.TrainAIDGuidance.execute(**dict(args, iterations=2, model=other))
    N.TrainAIDGuidance.execute(**dict(args, iterations=2))  # the same settings resume
