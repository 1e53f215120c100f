/* The latent codes the dimension views decode, built in the page by the same rules as explorer/latent_views.py:
   traversal grids (one dimension swept per row) and the 2-D manifold (a grid over [-3, 3]², z₁ up), plus the
   test means drawn over the manifold. */
(function (vae) {
  const RANGE = 3; // latent_views.TRAVERSAL_RANGE and MANIFOLD_EXTENT
  const SIZE = 28, GAP = 2; // digits.js draws 28×28 digits with 2 px gaps
  // figures.CLASS_COLOURS
  const CLASS_COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

  vae.CLASS_COLOURS = CLASS_COLOURS;

  /** `columns` evenly spaced values from −3 to 3. */
  vae.traversalValues = function (columns) {
    return Array.from({ length: columns }, (_, k) => -RANGE + (2 * RANGE * k) / (columns - 1));
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

  /** size² codes over [-3, 3]², row-major, the top row at z₁ = +3 (latent_views.manifold_codes). */
  vae.manifoldCodes = function (size) {
    const codes = new Float32Array(size * size * 2);
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        codes[2 * (r * size + c)] = -RANGE + (2 * RANGE * c) / (size - 1);
        codes[2 * (r * size + c) + 1] = RANGE - (2 * RANGE * r) / (size - 1);
      }
    }
    return codes;
  };

  /** Dots for the test means (n×2) over a manifold canvas drawn by drawDigits with `size` digits a side. */
  vae.drawMeansOverManifold = function (canvas, means, labels, size) {
    const context = canvas.getContext('2d');
    const first = SIZE / 2, last = first + (size - 1) * (SIZE + GAP);
    const scale = (last - first) / (2 * RANGE);
    for (let i = 0; i < labels.length; i++) {
      const x = Math.round(first + (means[2 * i] + RANGE) * scale), y = Math.round(first + (RANGE - means[2 * i + 1]) * scale);
      if (x < 1 || y < 1 || x >= canvas.width - 1 || y >= canvas.height - 1) continue;
      context.fillStyle = CLASS_COLOURS[labels[i] % CLASS_COLOURS.length];
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
