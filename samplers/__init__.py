"""PriorPaint's algorithm core: pure torch, no ComfyUI import.

Conventions used everywhere in this package (stated once):
* tensors are ``[B, C, H, W]``; masks are ``[B, 1, H, W]`` or broadcastable to the data;
* ``denoise_mask`` follows ComfyUI: **1 = region to regenerate (the hole), 0 = keep**; functions
  that need the known mask write ``k = 1 - denoise_mask`` explicitly;
* randomness is passed in (``torch.Generator`` or a noise tensor), never drawn from global state.
"""
