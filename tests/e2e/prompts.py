"""API-format prompt pieces shared by the e2e tests: the demo input, model, encoded and masked latent."""
from make_workflows import DEMO_INPUT

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
