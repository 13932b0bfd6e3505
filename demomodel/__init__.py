"""Demo models the pack ships (pure torch; wrapped as ComfyUI MODELs by ``nodes/models.py``).

``stationary_gaussian``: an analytic stationary Gaussian image prior fitted to photos that ship in
scikit-image (``tools/fit_stationary_prior.py``); weights are a few numbers in safetensors.
"""
import os

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")

DEMO_MODELS = {
    # name shown in the loader -> (weights file, description)
    "stationary-gaussian": ("stationary_gaussian.safetensors",
                            "analytic Gaussian prior (colour + 1/f^α spectrum) with its exact Wiener denoiser"),
}
