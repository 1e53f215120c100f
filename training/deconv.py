"""Transposed convolution as one matrix multiply plus an overlap-add: the same function, faster on CPUs.

oneDNN runs this decoder's small transposed convolutions (1→3→6→13→28 pixels) far below the CPU's matrix peak,
especially in bfloat16. Written as `x @ W` (every input pixel times every kernel tap, one GEMM) followed by adding
each tap's slab into the strided output window, the work lands in the GEMM, which bfloat16 runs 2–3× faster. The
parameters are those of `nn.ConvTranspose2d`, so checkpoints are interchangeable between the two paths.
"""
from __future__ import annotations

import torch
from torch import nn


# The k² strided adds re-read the whole output once per tap: past what the caches hold, they run at memory speed
# (a 22 MiB bf16 output, 128→64 channels at 13×13: 14.7 ms per batch of 1024), while 128 images at a time stay in
# cache (6.4 ms; fp32 9.2 → 8.0 ms). Smaller outputs gain nothing from it and lose on the extra calls.
CHUNK_ABOVE_BYTES = 16 * 2**20
CHUNK_IMAGES = 128


class _OverlapAdd(torch.autograd.Function):
    """(N, H, W, k, k, C) per-tap products → (N, Ho, Wo, C) output, adding each tap at stride `stride`, plus bias.

    The backward is a single strided gather (`unfold`), which autograd's slice-by-slice version does k² times.
    """

    @staticmethod
    def forward(ctx, taps: torch.Tensor, bias: torch.Tensor, stride: int) -> torch.Tensor:
        n, h, w, k, _, c = taps.shape
        out_h, out_w = (h - 1) * stride + k, (w - 1) * stride + k
        out = taps.new_empty(n, out_h, out_w, c)
        chunk = CHUNK_IMAGES if out.nbytes > CHUNK_ABOVE_BYTES else n
        ctx.k, ctx.stride, ctx.bias_dtype = k, stride, bias.dtype
        bias = bias.to(taps.dtype)
        span_h, span_w = stride * (h - 1) + 1, stride * (w - 1) + 1
        for out_part, taps_part in zip(out.split(chunk), taps.split(chunk)):
            out_part.copy_(bias.expand_as(out_part))
            for a in range(k):
                for b in range(k):
                    out_part[:, a : a + span_h : stride, b : b + span_w : stride] += taps_part[:, :, :, a, b]
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        k, s = ctx.k, ctx.stride
        grad_out = grad_out.contiguous()
        # unfold gives (N, H, W, C, k, k): for each input pixel, the k×k output window it was added into.
        grad_taps = grad_out.unfold(1, k, s).unfold(2, k, s).permute(0, 1, 2, 4, 5, 3)
        return grad_taps, grad_out.sum((0, 1, 2)).to(ctx.bias_dtype), None


def conv_transpose2d_gemm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, stride: int) -> torch.Tensor:
    """`F.conv_transpose2d(x, weight, bias, stride)` (no padding, groups or dilation) as GEMM + overlap-add.

    Returns an NCHW tensor with channels_last strides, which BatchNorm and the next layer take without a copy.
    """
    n, c_in, h, w = x.shape
    _, c_out, k, _ = weight.shape
    rows = x.permute(0, 2, 3, 1).reshape(n * h * w, c_in)
    weight_matrix = weight.permute(0, 2, 3, 1).reshape(c_in, k * k * c_out)  # columns ordered (tap_h, tap_w, c_out)
    taps = torch.mm(rows, weight_matrix).view(n, h, w, k, k, c_out)
    return _OverlapAdd.apply(taps, bias, stride).permute(0, 3, 1, 2)


class GemmConvTranspose2d(nn.ConvTranspose2d):
    """`nn.ConvTranspose2d` (same parameters) that runs `conv_transpose2d_gemm` on the CPU; GPUs keep cuDNN's kernel.

    Only the unpadded, ungrouped, undilated square case is supported, which is all the decoder uses. The model is
    built with plain layers (training/model.py); `use_fast_deconvs` swaps these in from outside.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu":
            return conv_transpose2d_gemm(x, self.weight, self.bias, self.stride[0])
        return super().forward(x)


def _gemm_can_run(layer: nn.ConvTranspose2d) -> bool:
    return (layer.padding == (0, 0) and layer.output_padding == (0, 0) and layer.dilation == (1, 1)
            and layer.groups == 1 and layer.bias is not None and layer.padding_mode == "zeros"
            and layer.kernel_size[0] == layer.kernel_size[1] and layer.stride[0] == layer.stride[1])


def _as_kind(layer: nn.ConvTranspose2d, kind: type) -> nn.ConvTranspose2d:
    """`layer` as a `kind` module holding the same Parameter objects, buffers and mode: no weights are drawn (the
    run's random stream is untouched) and an optimizer built on the model keeps stepping the same tensors."""
    swapped = kind.__new__(kind)
    swapped.__dict__ = dict(layer.__dict__)
    return swapped


def use_fast_deconvs(model: nn.Module, enabled: bool = True) -> nn.Module:
    """Swap, in place, every plain `nn.ConvTranspose2d` of `model` the GEMM path supports for a `GemmConvTranspose2d`
    (or, with `enabled=False`, back): the same function, the same state_dict keys and shapes. Returns `model`."""
    source, target = (nn.ConvTranspose2d, GemmConvTranspose2d) if enabled else (GemmConvTranspose2d, nn.ConvTranspose2d)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is source and _gemm_can_run(child):
                setattr(parent, name, _as_kind(child, target))
    return model
