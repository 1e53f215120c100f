"""Everything a visitor or a command line can send, generated: uploads, URL queries, CLI arguments. Each is either
handled or refused with the project's UserError (or argparse's exit 2) — never another exception."""
import io
import struct
import zlib

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

from explorer import images
from explorer.deep_links import parse_view_link
from training.errors import UserError


def _encoded(fmt: str) -> bytes:
    buffer = io.BytesIO()
    picture = (np.arange(64 * 64).reshape(64, 64) % 251).astype(np.uint8)
    Image.fromarray(picture).save(buffer, format=fmt)
    return buffer.getvalue()


REAL_FILES = {fmt: _encoded(fmt) for fmt in ("PNG", "JPEG", "GIF", "WEBP", "BMP")}


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width × height pixels and holds almost no data (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


uploads = (st.binary(max_size=4096)
           | st.builds(lambda fmt, cut: REAL_FILES[fmt][:cut], st.sampled_from(sorted(REAL_FILES)), st.integers(0, 4000))
           | st.builds(lambda fmt, at, byte: bytes(b ^ byte if i == at % len(REAL_FILES[fmt]) else b
                                                   for i, b in enumerate(REAL_FILES[fmt])),
                       st.sampled_from(sorted(REAL_FILES)), st.integers(0, 10**6), st.integers(1, 255))
           | st.builds(_png_declaring, st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1)))


@given(data=uploads)
@example(data=_png_declaring(100_000, 100_000))  # 10 gigapixels declared: refused before decoding
@example(data=_png_declaring(20_000, 20_000))
def test_any_upload_becomes_an_mnist_image_or_a_message(data):
    try:
        digit = images.to_mnist(images.read_image_file(io.BytesIO(data), "upload.bin"))
    except UserError as err:
        assert "upload.bin" in str(err) or "megapixels" in str(err) or "blank" in str(err)
        return
    assert digit.shape == (28, 28) and digit.dtype == np.uint8


query_values = st.text(max_size=200) | st.sampled_from(["1e309", "NaN", "-0", "../../etc/passwd", "<script>alert(1)</script>",
                                                        "default", "1," * 40, "0x10", "٣"])


@given(params=st.dictionaries(st.sampled_from(["checkpoint", "tab", "z", "point", "compare", "other"]), query_values, max_size=6))
def test_any_url_query_opens_a_valid_view_or_says_what_it_dropped(params):
    names = ["default", "mnist-beta4"]
    link = parse_view_link(params, names)
    assert link.checkpoint in (None, *names)
    assert link.z is None or all(abs(v) <= 3 for v in link.z)
    assert link.point is None or 0 <= link.point < 10**9
    assert link.compare is None or set(link.compare) <= set(names)
    distinctive = [v for v in params.values() if len(v) >= 20 or any(c in v for c in "<>/\"'&")]
    for notice in link.notices:
        assert all(value not in notice for value in distinctive)


FLAGS = ["--epochs", "--batch-size", "--lr", "--beta", "--z-dim", "--encoder-hidden", "--decoder-hidden", "--seed",
         "--recon", "--dataset", "--device", "--out", "--bf16", "--no-bf16", "--compile", "--dry-run", "--resume"]
HOSTILE_ARGS = ["0", "-1", "1e309", "nan", "inf", "99999999999999999999", "abc", "", "mnist", "cifar", "cuda:99", "cpu",
                "bce", "/dev/null", "\x00", "1024", "2"]


@given(argv=st.lists(st.sampled_from(FLAGS) | st.sampled_from(HOSTILE_ARGS), max_size=8))
@example(argv=["--device", "0"])  # found by the fuzz profile: torch's RuntimeError escaped
@example(argv=["--device", "cuda:99"])
def test_any_training_command_line_exits_with_a_message(argv, tmp_path_factory, capsys):
    """The data folder is empty, so a valid command gets past every check to 'not found', before any training."""
    from training.__main__ import main

    missing = tmp_path_factory.getbasetemp() / "no-data-here"
    missing.mkdir(exist_ok=True)
    try:
        code = main([*argv, "--data-dir", str(missing), "--no-download", "--out", str(missing / "out")])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    assert capsys.readouterr().err.strip()  # one line says what was wrong
    assert not (missing / "out").exists()


EXPLORER_FLAGS = ["--checkpoint", "--data-dir", "--port", "--host", "--download", "--no-download", "--share"]
EXPLORER_VALUES = ["0", "-1", "99999", "abc", "", "/dev/null", "/", "hf://../x", "hf://a", "hf://a/b@..", "\x00", "7860",
                   "../../etc", "checkpoints/none"]


@given(argv=st.lists(st.sampled_from(EXPLORER_FLAGS) | st.sampled_from(EXPLORER_VALUES), max_size=6))
@example(argv=["--checkpoint", "/dev/null"])
@example(argv=["--port", "99999"])
def test_any_explorer_command_line_exits_with_a_message_before_serving(argv, tmp_path_factory, capsys):
    """The checkpoints folder is empty, so no command line gets as far as starting a server."""
    from explorer.__main__ import main

    empty = tmp_path_factory.getbasetemp() / "no-checkpoints"
    empty.mkdir(exist_ok=True)
    try:
        code = main([*argv, "--checkpoints-dir", str(empty)])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2 and capsys.readouterr().err.strip()
