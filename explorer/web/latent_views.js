/* The latent codes the dimension views decode, built in the page by the same rules as explorer/latent_views.py:
   traversal grids (one dimension swept per row) and the 2-D manifold (a grid over [-range, range]², z₁ up), plus
   the test means drawn over the manifold. `range` is the server's (config.traversal_range). */
(function (vae) {
  const SIZE = 28, GAP = 2; // digits.js draws 28×28 digits with 2 px gaps

  /** `columns` evenly spaced values from −range to range. */
  vae.traversalValues = function (columns, range) {
    return Array.from({ length: columns }, (_, k) => -range + (2 * range * k) / (columns - 1));
  };

  /** (rows·columns) codes, row-major: row r is `base` with dimension dims[r] set to each value in turn. */
  vae.traversalCodes = function (base, dims, values) {
    const zDim = base.length;
    const codes = new Float32Array(dims.length * values.length * zDim);
    dims.forEach((d, r) => {
      values.forEach((v, c) => {
        const at = (r * values.length + c) * zDim;
        codes.set(base, at);
        codes[at + d] = v;
      });
    });
    return codes;
  };

  /** size² codes over [-range, range]², row-major, the top row at z₁ = +range (latent_views.manifold_codes). */
  vae.manifoldCodes = function (size, range) {
    const codes = new Float32Array(size * size * 2);
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        codes[2 * (r * size + c)] = -range + (2 * range * c) / (size - 1);
        codes[2 * (r * size + c) + 1] = range - (2 * range * r) / (size - 1);
      }
    }
    return codes;
  };

  /** Dots for the test means (n×2) over a manifold canvas drawn by drawDigits with `size` digits a side over
      [-range, range]², in the class `colours`. */
  vae.drawMeansOverManifold = function (canvas, means, labels, size, range, colours) {
    const context = canvas.getContext('2d');
    const first = SIZE / 2, last = first + (size - 1) * (SIZE + GAP);
    const scale = (last - first) / (2 * range);
    for (let i = 0; i < labels.length; i++) {
      const x = Math.round(first + (means[2 * i] + range) * scale), y = Math.round(first + (range - means[2 * i + 1]) * scale);
      if (x < 1 || y < 1 || x >= canvas.width - 1 || y >= canvas.height - 1) continue;
      context.fillStyle = colours[labels[i] % colours.length];
      context.fillRect(x - 1, y - 1, 3, 3);
    }
  };

  /** A PNG data URL of a digits canvas enlarged `scale`× with crisp pixels (for the download link). */
  vae.enlargedPng = function (canvas, scale) {
    const big = document.createElement('canvas');
    big.width = canvas.width * scale;
    big.height = canvas.height * scale;
    const context = big.getContext('2d');
    context.imageSmoothingEnabled = false;
    context.drawImage(canvas, 0, 0, big.width, big.height);
    return big.toDataURL('image/png');
  };
})(window.vae = window.vae || {});
