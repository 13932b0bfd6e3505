"""API-format prompt pieces shared by the e2e tests: the demo input, model, encoded and masked latent."""
from demo_inputs import DEMO_INPUT

BASE = {
    "1": {"class_type": "LoadImage", "inputs": {"image": DEMO_INPUT}},
    "2": {"class_type": "PriorPaintLoadDemoModel", "inputs": {"model_name": "priorpaint-unet", "prediction": "eps"}},
    "3": {"class_type": "VAEEncode", "inputs": {"pixels": ["1", 0], "vae": ["2", 1]}},
    "4": {"class_type": "SetLatentNoiseMask", "inputs": {"samples": ["3", 0], "mask": ["1", 1]}},
}
POS = {"positive": ["2", 2], "negative": ["2", 2]}


def sampler_custom(sampler_id, seed):
    return {"13": {"class_type": "BasicScheduler", "inputs": {"model": ["2", 0], "scheduler": "karras", "steps": 4,
                                                                "denoise": 1.0}},
            "10": {"class_type": "SamplerCustom", "inputs": {"model": ["2", 0], **POS, "sampler": [sampler_id, 0],
                                                               "sigmas": ["13", 0], "latent_image": ["4", 0],
                                                               "add_noise": True, "noise_seed": seed, "cfg": 1.0}}}


RPP = {"mode": "repaint_plus_b", "jump_length": 1, "resamples": 1, "kappa_mode": "capped", "kappa_cap": 4.0,
       "start_percent": 0.0, "end_percent": 1.0, "eta": 0.0, "sigma_data": 0.5}


NODES = ("gmm_seed", "dce_check", "composite", "repaint_plus", "harmonized", "vipaint", "aid", "train_aid")


def node_prompt(name: str, v: int, long: bool = False, preview: bool = False) -> dict:
    """BASE plus the PriorPaint node(s) ``name``, ending in node "10". ``v`` changes a seed or widget (so the
    node re-executes while BASE stays cached); ``long`` makes it run for minutes (to be interrupted);
    ``preview`` adds an output node showing node 10's result."""
    p = {k: dict(n, inputs=dict(n["inputs"])) for k, n in BASE.items()}
    if name == "gmm_seed":
        p["10"] = {"class_type": "PriorPaintGMMSeed", "inputs": {"samples": ["3", 0], "mask": ["1", 1], "components": 3,
                                                                  "seed": v, "max_points": 500, "noise_blend": 0.0}}
    elif name == "dce_check":
        p["10"] = {"class_type": "PriorPaintDCECheck", "inputs": {"image": ["1", 0], "mask": ["1", 1],
                                                                   "bins": 16 + v % 64, "texture": False}}
    elif name == "composite":
        p["10"] = {"class_type": "PriorPaintComposite", "inputs": {"original": ["1", 0], "inpainted": ["1", 0],
                                                                    "mask": ["1", 1], "feather": float(v % 8),
                                                                    "colour_match": "lab_mean_std"}}
    elif name in ("repaint_plus", "harmonized"):
        p["11"] = {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}}
        p["12"] = ({"class_type": "PriorPaintRePaintPlusSampler",
                    "inputs": dict(RPP, resamples=50 if long else 1, sampler=["11", 0])}
                   if name == "repaint_plus" else
                   {"class_type": "PriorPaintHarmonizedSampler", "inputs": {
                       "checkpoint": 0.5, "attempts": 20 if long else 2, "delta": 1, "threshold_mode": "fixed",
                       "threshold": 0.0, "components": 3, "max_points": 500, "noise_blend": 0.0, "texture": False,
                       "sampler": ["11", 0], "vae": ["2", 1]}})
        p.update(sampler_custom("12", v))
        p["13"]["inputs"]["steps"] = 200 if long else 4
    elif name == "vipaint":
        p["10"] = {"class_type": "PriorPaintVIPaint", "inputs": {
            "model": ["2", 0], **POS, "latent_image": ["4", 0], "vae": ["2", 1], "image": ["1", 0], "seed": v,
            "cfg": 1.0, "t_e": 550, "t_s": 400, "keypoints": 2, "iterations": 1000 if long else 2, "lr_mean": 0.1,
            "lr_logvar": 0.001, "lr_gamma": 0.01, "prior_weight": 100.0, "hier_weight": 100.0, "recon_weight": 100.0,
            "dps_steps": 1000 if long else 2, "dps_scale": 0.5, "samples": 1}}
    elif name == "aid":
        p["11"] = {"class_type": "PriorPaintLoadAIDGuidance",
                   "inputs": {"guidance_name": "priorpaint-unet-aid.safetensors"}}
        p["12"] = {"class_type": "PriorPaintApplyAIDGuidance", "inputs": {"model": ["2", 0], "guidance": ["11", 0],
                                                                           "strength": 1.0}}
        p["10"] = {"class_type": "KSampler", "inputs": {"model": ["12", 0], **POS, "latent_image": ["4", 0], "seed": v,
                                                        "steps": 200 if long else 4, "cfg": 1.0,
                                                        "sampler_name": "euler", "scheduler": "karras",
                                                        "denoise": 1.0}}
    elif name == "train_aid":  # an output node itself: it writes the module file
        p["10"] = {"class_type": "PriorPaintTrainAIDGuidance", "inputs": {
            "model": ["2", 0], "vae": ["2", 1], "images": ["1", 0], "name": f"e2e-{v}", "mask_kind": "mixed",
            "iterations": 100000 if long else 2, "batch": 4, "crop": 16, "steps": 4, "lr_actor": 0.001,
            "lr_critic": 0.001, "lam": 0.1, "beta": 1.0, "seed": v, "resume": False, "checkpoint_every": 1000}}
    else:
        raise KeyError(name)
    if preview and name in ("dce_check", "composite"):
        p["21"] = {"class_type": "PreviewImage", "inputs": {"images": ["10", 2 if name == "dce_check" else 0]}}
    elif preview and name != "train_aid":
        p["20"] = {"class_type": "VAEDecode", "inputs": {"samples": ["10", 0], "vae": ["2", 1]}}
        p["21"] = {"class_type": "PreviewImage", "inputs": {"images": ["20", 0]}}
    return p
