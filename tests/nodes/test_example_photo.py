"""Example Photo and Mask: templates run on first click with the shipped CC0 photos (issue 17, item 4)."""
import pytest
import torch

from priorpaint.nodes.image import EXAMPLES, MASKS, ExamplePhoto


@pytest.mark.parametrize("photo", list(EXAMPLES))
def test_outputs_an_rgb_image_and_a_mask_of_the_same_size(photo):
    for width in (64, 128, 256, 512):
        image, mask = ExamplePhoto.execute(photo, width, MASKS[0]).args
        assert image.shape[0] == 1 and image.shape[2] == width and image.shape[3] == 3
        assert image.shape[1] % 8 == 0 and mask.shape == image.shape[:3]
        assert image.dtype == torch.float32 and 0 <= float(image.min()) and float(image.max()) <= 1
        assert 0.05 < float(mask.mean()) < 0.3 and set(mask.unique().tolist()) == {0.0, 1.0}
        assert float(image.std()) > 0.05  # a photo, not a blank


def test_mask_shapes_and_determinism():
    box = ExamplePhoto.execute("cat", 128, "box").args[1]
    stroke = ExamplePhoto.execute("cat", 128, "stroke").args[1]
    both = ExamplePhoto.execute("cat", 128, "box and stroke").args[1]
    assert torch.equal(both, torch.maximum(box, stroke)) and float(stroke.sum()) > 0
    assert torch.equal(ExamplePhoto.execute("coffee", 128, "box").args[0], ExamplePhoto.execute("coffee", 128, "box").args[0])


def test_bad_values_name_the_input():
    with pytest.raises(ValueError, match="Example Photo and Mask: input 'photo'"):
        ExamplePhoto.execute("dog", 128, "box")
    with pytest.raises(ValueError, match="input 'width'.*multiple of 8"):
        ExamplePhoto.execute("cat", 100, "box")
