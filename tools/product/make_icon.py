"""Draw the registry icon (docs/icon.png, 256x256, square): a photo tile with a filled hole."""
import os

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
n = 256
y, x = np.mgrid[0:n, 0:n] / n
img = np.stack([0.25 + 0.5 * x, 0.35 + 0.4 * y, 0.65 - 0.3 * x * y], -1)
hole = (np.abs(x - 0.5) < 0.22) & (np.abs(y - 0.5) < 0.22)
ring = (np.abs(x - 0.5) < 0.24) & (np.abs(y - 0.5) < 0.24) & ~hole
img[hole] = img[hole] * 0.6 + np.array([0.95, 0.75, 0.3]) * 0.4
img[ring] = 1.0
Image.fromarray((img.clip(0, 1) * 255).astype(np.uint8)).save(os.path.join(ROOT, "docs", "icon.png"))
