"""Real photos that ship inside installed packages (no network), as tensors.

Sources: scikit-image's ``skimage/data/``, scikit-learn's ``sklearn/datasets/images/`` and
matplotlib's ``mpl-data/sample_data/``. Names are ``"<source>:<file>"``. ``HELD_OUT`` photos are
never used to fit or train a demo model; demos and the bench evaluate on them.
"""
from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

TRAIN_COLOUR = (
    "skimage:astronaut.png", "skimage:rocket.jpg", "skimage:ihc.png", "skimage:motorcycle_left.png",
    "sklearn:china.jpg", "sklearn:flower.jpg", "mpl:grace_hopper.jpg",
)
HELD_OUT = ("skimage:chelsea.png", "skimage:coffee.png")


def _folder(source: str) -> str:
    if source == "skimage":
        import skimage.data

        return os.path.dirname(skimage.data.__file__)
    if source == "sklearn":
        import sklearn.datasets

        return os.path.join(os.path.dirname(sklearn.datasets.__file__), "images")
    if source == "mpl":
        import matplotlib

        return os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "sample_data")
    raise ValueError(f"unknown photo source {source!r} (skimage, sklearn, mpl)")


def photo_path(name: str) -> str:
    source, _, file = name.partition(":")
    path = os.path.join(_folder(source), file)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"photo {name!r} is not shipped at {path}")
    return path


def load_photo(name: str) -> torch.Tensor:
    """RGB photo as ``[3, H, W]`` float32 in [0, 1]."""
    im = np.asarray(Image.open(photo_path(name)).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(im).permute(2, 0, 1).contiguous()


# ---------------------------------------------------------------------------------------------
# The demo model's training data and the bench's held-out data
# ---------------------------------------------------------------------------------------------
TRAIN_GREY = ("skimage:camera.png", "skimage:coins.png", "skimage:moon.png", "skimage:cell.png",
              "skimage:motorcycle_right.png", "skimage:hubble_deep_field.jpg", "skimage:retina.jpg")
TEXTURES = ("skimage:brick.png", "skimage:grass.png", "skimage:gravel.png")
TEXTURE_TRAIN_FRACTION = 0.75  # textures: the left 75% of columns train, the right 25% are held out


def texture_split(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(train part, held-out part) of a texture photo, split by columns."""
    t = load_photo(name)
    cut = int(round(t.shape[-1] * TEXTURE_TRAIN_FRACTION))
    return t[..., :cut], t[..., cut:]


def training_images() -> list[tuple[str, torch.Tensor]]:
    """Every image the demo model may see in training, ``[3, H, W]`` in [0, 1]; never a held-out one."""
    out = [(n, load_photo(n)) for n in TRAIN_COLOUR + TRAIN_GREY]
    out += [(n + "#train", texture_split(n)[0]) for n in TEXTURES]
    assert not any(n.split("#")[0] in HELD_OUT for n, _ in out)
    return out


def held_out_images() -> list[tuple[str, torch.Tensor]]:
    """Evaluation images: the held-out photos and the held-out regions of the textures."""
    return [(n, load_photo(n)) for n in HELD_OUT] + [(n + "#heldout", texture_split(n)[1]) for n in TEXTURES]
