"""Demo models the pack ships (pure torch; wrapped as ComfyUI MODELs by ``nodes/models.py``).

``unet``: a 1.6M-parameter pixel-space UNet with EDM preconditioning trained on images that ship in
scikit-image, scikit-learn and matplotlib (``make demo-model``; docs/demo-model.md).
``stationary_gaussian``: an analytic stationary Gaussian image prior fitted to the same photos
(``make demo-prior``); weights are a few numbers in safetensors.
"""
import os

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")

DEMO_MODELS = {
    # name shown in the loader -> (weights file, description); the first is the default
    "priorpaint-unet": ("demo_unet.safetensors",
                        "1.6M-parameter pixel UNet (EDM) trained on photos and textures that ship in Python packages"),
    "stationary-gaussian": ("stationary_gaussian.safetensors",
                            "analytic Gaussian prior (colour + 1/f^α spectrum) with its exact Wiener denoiser"),
}
