/* A drawing brought to MNIST's form in the page, step for step as explorer/images.py's to_mnist does it: ink
   white on black, paper level removed, cropped, fitted into 20×20 with Pillow's Lanczos filter, centred by mass. */
(function (vae) {
  const INK_CONTRAST = 0.15; // images.INK_CONTRAST
  const PRECISION_BITS = 22; // Pillow's 8-bit resampling arithmetic (32 - 8 - 2)

  function median(values) {
    const sorted = Float64Array.from(values).sort();
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  function border(gray, h, w) {
    const out = [];
    for (let x = 0; x < w; x++) out.push(gray[x], gray[(h - 1) * w + x]);
    for (let y = 0; y < h; y++) out.push(gray[y * w], gray[y * w + w - 1]);
    return out;
  }

  function lanczos(x) {
    const sinc = (t) => (t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t));
    return x > -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
  }

  /** Pillow's precompute_coeffs + normalize_coeffs_8bpc: fixed-point Lanczos weights per output pixel. */
  function coefficients(inSize, outSize) {
    const scale = inSize / outSize, filterScale = Math.max(scale, 1), support = 3 * filterScale;
    const taps = [];
    for (let o = 0; o < outSize; o++) {
      const center = (o + 0.5) * scale;
      const min = Math.max(Math.trunc(center - support + 0.5), 0);
      const max = Math.min(Math.trunc(center + support + 0.5), inSize);
      const weights = [];
      for (let x = min; x < max; x++) weights.push(lanczos((x - center + 0.5) / filterScale));
      const total = weights.reduce((a, b) => a + b, 0);
      const fixed = weights.map((v) => {
        const k = (v / total) * (1 << PRECISION_BITS);
        return k < 0 ? Math.trunc(k - 0.5) : Math.trunc(k + 0.5);
      });
      taps.push({ min, fixed });
    }
    return taps;
  }

  function clip8(sum) {
    const v = Math.floor(sum / (1 << PRECISION_BITS));
    return v < 0 ? 0 : v > 255 ? 255 : v;
  }

  /** Pillow's Image.resize((w, h), LANCZOS) of an 8-bit image: horizontal pass, then vertical, bytes between. */
  function resizeLanczos(bytes, h, w, outH, outW) {
    const horizontal = coefficients(w, outW), vertical = coefficients(h, outH);
    const mid = new Uint8Array(h * outW);
    for (let y = 0; y < h; y++) {
      horizontal.forEach(({ min, fixed }, x) => {
        let sum = 1 << (PRECISION_BITS - 1);
        fixed.forEach((k, i) => { sum += bytes[y * w + min + i] * k; });
        mid[y * outW + x] = clip8(sum);
      });
    }
    const out = new Uint8Array(outH * outW);
    vertical.forEach(({ min, fixed }, y) => {
      for (let x = 0; x < outW; x++) {
        let sum = 1 << (PRECISION_BITS - 1);
        fixed.forEach((k, i) => { sum += mid[(min + i) * outW + x] * k; });
        out[y * outW + x] = clip8(sum);
      }
    });
    return out;
  }

  /** Python's round(): halves go to the even neighbour. */
  function roundHalfEven(x) {
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }

  function centreByMass(digit, h, w) {
    let mass = 0, my = 0, mx = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        mass += digit[y * w + x];
        my += y * digit[y * w + x];
        mx += x * digit[y * w + x];
      }
    }
    const top = Math.min(Math.max(roundHalfEven(14 - my / mass), 0), 28 - h);
    const left = Math.min(Math.max(roundHalfEven(14 - mx / mass), 0), 28 - w);
    const canvas = new Uint8Array(784);
    for (let y = 0; y < h; y++) canvas.set(digit.subarray(y * w, (y + 1) * w), (top + y) * 28 + left);
    return canvas;
  }

  /** Grayscale floats in [0, 1] (h·w) → 784 bytes in MNIST's form, or null when there is no visible ink. */
  vae.toMnist = function (gray, h, w) {
    let ink = median(border(gray, h, w)) > 0.5 ? gray.map((v) => 1 - v) : Float64Array.from(gray);
    const paper = median(border(ink, h, w));
    ink = ink.map((v) => Math.max(v - paper, 0));
    const peak = ink.reduce((a, b) => Math.max(a, b), 0);
    if (peak < INK_CONTRAST) return null;
    let top = h, bottom = -1, left = w, right = -1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (ink[y * w + x] / peak > 0.2) {
          top = Math.min(top, y); bottom = Math.max(bottom, y);
          left = Math.min(left, x); right = Math.max(right, x);
        }
      }
    }
    const ch = bottom - top + 1, cw = right - left + 1;
    const crop = new Uint8Array(ch * cw);
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) crop[y * cw + x] = Math.trunc((ink[(top + y) * w + left + x] / peak) * 255);
    }
    const scale = 20 / Math.max(ch, cw);
    const outH = Math.max(1, roundHalfEven(ch * scale)), outW = Math.max(1, roundHalfEven(cw * scale));
    return centreByMass(resizeLanczos(crop, ch, cw, outH, outW), outH, outW);
  };
})(window.vae = window.vae || {});
