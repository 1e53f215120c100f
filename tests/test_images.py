import io

import numpy as np
import pytest
from PIL import Image

from explorer.images import MAX_PIXELS, array_to_gray, data_url_to_gray, read_image_file, to_mnist
from training.errors import UserError


def _digit_one(size=200, ink=255, paper=0):
    """A thick vertical bar (a '1'), off-centre, on paper of the given shade."""
    img = np.full((size, size), paper, dtype=np.uint8)
    img[size // 5 : size * 4 // 5, size // 8 : size // 8 + size // 10] = ink
    return img


def _centre_of_mass(img):
    ys, xs = np.indices(img.shape)
    mass = img.astype(float).sum()
    return (ys * img).sum() / mass, (xs * img).sum() / mass


def test_white_on_black_becomes_a_centred_mnist_digit():
    out = to_mnist(array_to_gray(_digit_one()))
    assert out.shape == (28, 28) and out.dtype == np.uint8 and out.max() == 255
    cy, cx = _centre_of_mass(out)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1
    rows = np.flatnonzero(out.max(1) > 50)
    assert 18 <= rows.max() - rows.min() + 1 <= 21  # fitted into MNIST's 20-pixel box
    assert out[0].max() == 0 and out[:, 0].max() == 0


def test_black_on_white_gives_the_same_digit_as_white_on_black():
    a = to_mnist(array_to_gray(_digit_one(ink=255, paper=0)))
    b = to_mnist(array_to_gray(_digit_one(ink=0, paper=255)))
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 2


def test_colour_photo_on_grey_paper_is_inverted_and_the_paper_removed():
    rgb = np.stack([_digit_one(ink=20, paper=200), _digit_one(ink=30, paper=190), _digit_one(ink=60, paper=170)], axis=2)
    out = to_mnist(array_to_gray(rgb))
    assert out.max() == 255 and np.median(out) == 0


def test_transparent_drawing_is_read_as_ink_on_white_paper():
    import base64
    import io

    from PIL import Image

    rgba = np.zeros((100, 100, 4), dtype=np.uint8)
    rgba[20:80, 45:55] = [0, 0, 0, 255]  # black strokes on a transparent canvas
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    out = to_mnist(data_url_to_gray("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()))
    assert out.max() == 255 and out[:, 13:15].sum() > out[:, :5].sum()


@pytest.mark.parametrize("blank", [np.zeros((280, 280, 3), np.uint8), np.full((50, 50), 255, np.uint8), np.full((9, 9), 0.5)])
def test_blank_images_get_a_clear_message(blank):
    with pytest.raises(UserError, match="blank"):
        to_mnist(array_to_gray(blank))


def test_empty_canvas_and_wrong_shapes_are_refused():
    with pytest.raises(UserError, match="PNG data URL"):
        data_url_to_gray(None)
    with pytest.raises(UserError, match="Expected an image"):
        array_to_gray(np.zeros((4, 4, 7)))


def _save(tmp_path, name, image: Image.Image, **kw):
    path = tmp_path / name
    image.save(path, **kw)
    return path


def test_files_in_many_modes_are_read(tmp_path):
    one = _digit_one(64)
    sixteen_bit = Image.fromarray(one.astype(np.uint16) * 257)
    alpha = Image.fromarray(np.dstack([np.zeros_like(one)] * 3 + [one]), "RGBA")
    frames = [Image.fromarray(one), Image.fromarray(255 - one)]
    paths = [
        _save(tmp_path, "16bit.png", sixteen_bit),
        _save(tmp_path, "alpha.png", alpha),
        _save(tmp_path, "photo.jpg", Image.fromarray(np.dstack([one] * 3)), quality=90),
        _save(tmp_path, "anim.gif", frames[0], save_all=True, append_images=frames[1:]),
        _save(tmp_path, "palette.png", Image.fromarray(one).convert("P")),
    ]
    for path in paths:
        out = to_mnist(read_image_file(path))
        assert out.shape == (28, 28) and out.max() == 255, path.name


def test_non_images_and_corrupt_files_get_a_clear_message(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(UserError, match="Could not read notes.txt as an image"):
        read_image_file(text)
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, format="PNG")
    broken = tmp_path / "broken.png"
    broken.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(UserError, match="Could not read broken.png"):
        read_image_file(broken)


def test_huge_images_are_refused_before_decoding(tmp_path):
    side = int(MAX_PIXELS**0.5) + 100
    path = _save(tmp_path, "huge.png", Image.new("L", (side, side)), optimize=False, compress_level=1)
    with pytest.raises(UserError, match=r"megapixels are accepted"):
        read_image_file(path)


def test_large_images_below_the_limit_are_shrunk_quickly(tmp_path):
    img = Image.fromarray(_digit_one(3000))
    out = to_mnist(read_image_file(_save(tmp_path, "big.png", img, compress_level=1)))
    assert out.max() == 255


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\n4 4 moveto 24 24 lineto stroke\nshowpage\n%%EOF\n"


def test_webp_and_bmp_are_read_like_png(tmp_path):
    one = Image.fromarray(_digit_one(64))
    for name in ("digit.webp", "digit.bmp"):
        out = to_mnist(read_image_file(_save(tmp_path, name, one)))
        assert out.shape == (28, 28) and out.max() == 255, name


def test_other_formats_pillow_knows_are_refused_before_their_decoder_runs(tmp_path, monkeypatch):
    from PIL import EpsImagePlugin

    opened = []
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", lambda self: opened.append(self))  # Ghostscript's door
    eps = tmp_path / "digit.eps"
    eps.write_bytes(EPS)
    one = Image.fromarray(_digit_one(64))
    files = [eps, _save(tmp_path, "digit.tiff", one), _save(tmp_path, "digit.ico", one.resize((32, 32)))]
    for path in files:
        with pytest.raises(UserError, match=rf"Could not read {path.name} as an image .*PNG, JPEG, GIF, WebP or BMP"):
            read_image_file(path)
    assert not opened
