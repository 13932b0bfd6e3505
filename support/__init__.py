"""Test and bench support: models whose truth is known, tiny real ComfyUI architectures.

``exact_priors`` is pure torch; ``comfy_models`` needs ComfyUI importable. Shipped node code never
imports this package.
"""
