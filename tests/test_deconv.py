"""The GEMM transposed convolution must be the same function as torch's, with the same gradients."""
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from training.checkpoint import load_checkpoint
from training.deconv import GemmConvTranspose2d, conv_transpose2d_gemm, use_fast_deconvs
from training.model import VAE

SHAPES = [  # (c_in, c_out, kernel, stride, input side): the decoder's four layers, scaled down, plus odd ones
    (4, 6, 3, 2, 1),
    (6, 5, 4, 1, 3),
    (5, 3, 3, 2, 6),
    (3, 1, 4, 2, 5),
    (2, 3, 5, 3, 2),
]


@pytest.mark.parametrize("c_in,c_out,k,stride,side", SHAPES)
def test_gradcheck_against_finite_differences(c_in, c_out, k, stride, side):
    torch.manual_seed(0)
    x = torch.randn(2, c_in, side, side, dtype=torch.double, requires_grad=True)
    w = torch.randn(c_in, c_out, k, k, dtype=torch.double, requires_grad=True)
    b = torch.randn(c_out, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: conv_transpose2d_gemm(x, w, b, stride), (x, w, b))


@pytest.mark.parametrize("c_in,c_out,k,stride,side", SHAPES)
@pytest.mark.parametrize("channels_last", [False, True])
def test_matches_torch_forward_and_gradients(c_in, c_out, k, stride, side, channels_last):
    torch.manual_seed(1)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(3, c_in, side, side).contiguous(memory_format=fmt)
    w, b = torch.randn(c_in, c_out, k, k), torch.randn(c_out)
    grad_out = torch.randn(3, c_out, (side - 1) * stride + k, (side - 1) * stride + k)
    results = []
    for fn in (F.conv_transpose2d, conv_transpose2d_gemm):
        xs, ws, bs = (t.clone().requires_grad_(True) for t in (x, w, b))
        out = fn(xs, ws, bs, stride)
        out.backward(grad_out)
        results.append((out, xs.grad, ws.grad, bs.grad))
    for ref, got in zip(*results):
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def test_large_outputs_added_in_chunks_of_images_give_the_same_function(monkeypatch):
    """Every output counts as large and 2 images make a chunk: 5 images = chunks of 2, 2, 1."""
    from training import deconv

    monkeypatch.setattr(deconv, "CHUNK_ABOVE_BYTES", 0)
    monkeypatch.setattr(deconv, "CHUNK_IMAGES", 2)
    torch.manual_seed(3)
    x, w, b = torch.randn(5, 6, 6, 6), torch.randn(6, 4, 3, 3), torch.randn(4)
    grad_out = torch.randn(5, 4, 13, 13)
    results = []
    for fn in (F.conv_transpose2d, conv_transpose2d_gemm):
        xs, ws, bs = (t.clone().requires_grad_(True) for t in (x, w, b))
        out = fn(xs, ws, bs, 2)
        out.backward(grad_out)
        results.append((out, xs.grad, ws.grad, bs.grad))
    for ref, got in zip(*results):
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def test_bf16_autocast_stays_close_to_float32():
    torch.manual_seed(2)
    layer = GemmConvTranspose2d(32, 16, 3, stride=2)
    x = torch.randn(8, 32, 6, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = layer(x)
    assert low.dtype == torch.bfloat16
    reference = F.conv_transpose2d(x, layer.weight, layer.bias, 2)
    assert (low.float() - reference).abs().max() < 0.05 * reference.abs().max()


def test_same_parameters_as_conv_transpose_so_checkpoints_interchange():
    gemm, plain = GemmConvTranspose2d(8, 4, 3, stride=2), nn.ConvTranspose2d(8, 4, 3, stride=2)
    assert {k: v.shape for k, v in gemm.state_dict().items()} == {k: v.shape for k, v in plain.state_dict().items()}
    plain.load_state_dict(gemm.state_dict())
    x = torch.randn(2, 8, 4, 4)
    torch.testing.assert_close(gemm(x), plain(x), rtol=1e-5, atol=1e-5)


def test_switching_the_whole_model_keeps_its_function():
    ck = load_checkpoint(Path(__file__).resolve().parent.parent / "checkpoints" / "default")
    z = torch.randn(16, ck.config.model.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        use_fast_deconvs(ck.model, True)
        fast = ck.model.decode(z)
        use_fast_deconvs(ck.model, False)
        library = ck.model.decode(z)
    assert not torch.equal(fast, library)  # really two code paths
    torch.testing.assert_close(fast, library, rtol=1e-4, atol=1e-5)


def test_the_model_is_the_labs_and_the_gemm_layers_are_swapped_in_from_outside():
    model = VAE()
    plain = [m for m in model.decoder.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(plain) == 4 and all(type(m) is nn.ConvTranspose2d for m in plain)
    params, keys = list(model.parameters()), {k: v.shape for k, v in model.state_dict().items()}
    use_fast_deconvs(model)
    layers = [m for m in model.decoder.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(layers) == 4 and all(type(m) is GemmConvTranspose2d for m in layers)
    assert all(a is b for a, b in zip(model.parameters(), params, strict=True))  # an optimizer keeps its tensors
    assert {k: v.shape for k, v in model.state_dict().items()} == keys
    use_fast_deconvs(model, enabled=False)
    assert all(type(m) is nn.ConvTranspose2d for m in model.decoder.modules() if isinstance(m, nn.ConvTranspose2d))


def test_swapping_in_the_gemm_layers_draws_no_random_numbers():
    """The run's random stream (and so its weights and z samples) is the same with and without the fast kernel."""
    model = VAE()
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    use_fast_deconvs(model)
    assert torch.equal(torch.rand(3), expected)


def test_a_checkpoint_saved_with_the_gemm_layers_loads_as_the_plain_model(tmp_path):
    from training.checkpoint import load_checkpoint, save_checkpoint

    ck = load_checkpoint(Path(__file__).resolve().parent.parent / "checkpoints" / "default")
    use_fast_deconvs(ck.model)
    save_checkpoint(tmp_path / "fast", ck.model, ck.config, ck.metrics, ck.atlas)
    again = load_checkpoint(tmp_path / "fast")
    assert all(type(m) is nn.ConvTranspose2d for m in again.model.modules() if isinstance(m, nn.ConvTranspose2d))
    for name, value in ck.model.state_dict().items():
        assert torch.equal(again.model.state_dict()[name], value)
