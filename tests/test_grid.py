"""The one image grid (training/grid.py): where each digit lands, how large, and the gutter between them."""
import numpy as np

from training.grid import image_grid


def test_digits_fill_rows_left_to_right_enlarged_with_a_grey_gutter():
    digits = np.stack([np.full((28, 28), v, dtype=np.uint8) for v in (10, 20, 30)])
    grid = image_grid(digits, ncols=2, scale=2, pad=3, gutter=96)
    cell = 28 * 2 + 3
    assert grid.shape == (2 * cell + 3, 2 * cell + 3) and grid.dtype == np.uint8
    assert (grid[3:3 + 56, 3:3 + 56] == 10).all() and (grid[3:3 + 56, 3 + cell:3 + cell + 56] == 20).all()
    assert (grid[3 + cell:3 + cell + 56, 3:3 + 56] == 30).all()
    assert (grid[:3] == 96).all() and (grid[:, 59:62] == 96).all() and (grid[3 + cell:, 3 + cell:] == 96).all()  # the empty cell too


def test_a_digit_is_enlarged_pixel_by_pixel():
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[0, 1] = 255
    grid = image_grid(digit[None], ncols=1, scale=3, pad=0)
    assert grid.shape == (84, 84) and (grid[0:3, 3:6] == 255).all() and grid.sum() == 255 * 9
