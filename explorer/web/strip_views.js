/* The views that decode a batch of codes into one strip or grid in the page: sample vs mean, traversals, the 2-D
   manifold, interpolation, prior samples, and the comparison. Views of the explorer (views.js); each draws only
   when the page's model runs (runsHere), and otherwise the server draws it through the view's bridge. */
(function (vae) {
  const SAMPLES = 8; // tabs/sample.py SAMPLES_PER_DIGIT
  const PRIOR_GRID = 32;
  const MANIFOLD = 20; // latent_views.MANIFOLD_SIZE

  function byId(id) { return document.getElementById(id); }

  /** `count` standard normals from a seed: a seed gives the same prior samples on every visit. */
  function gaussians(seed, count) {
    return Float32Array.from({ length: count }, vae.seededNormals(seed));
  }

  function clampInt(value, low, high, fallback) {
    return Math.max(low, Math.min(high, Math.round(Number(value)) || fallback));
  }

  vae.StripViews = class extends vae.View {
    constructor(explorer) {
      super(explorer);
      this.comparison = new vae.Comparison();
    }

    checkIndex(value, where) {
      const index = Number(value);
      if (!Number.isInteger(index) || index < 0 || index >= this.atlas.n) {
        byId(where).textContent = `Test image #${value} does not exist: pick 0–${this.atlas.n - 1}.`;
        return null;
      }
      return index;
    }

    async interpolate(a, b, steps) {
      if (!this.runsHere('server-interpolate')) return;
      const [i, j] = [this.checkIndex(a, 'interp-message'), this.checkIndex(b, 'interp-message')];
      if (i === null || j === null) return;
      byId('interp-message').textContent = '';
      const n = clampInt(steps, 3, 16, 10);
      const [from, to] = [this.atlas.mean(i), this.atlas.mean(j)];
      const z = new Float32Array(n * this.atlas.zDim);
      for (let k = 0; k < n; k++) {
        const t = k / (n - 1);
        for (let d = 0; d < this.atlas.zDim; d++) z[k * this.atlas.zDim + d] = (1 - t) * from[d] + t * to[d];
      }
      vae.drawDigits(byId('interp-canvas'), await this.model.decode(z, n), n, n, 3);
      this.frame('interpolate');
    }

    async priorSamples(seed) {
      if (!this.runsHere('server-prior')) return;
      const z = gaussians(seed, PRIOR_GRID * this.atlas.zDim);
      vae.drawDigits(byId('prior-canvas'), await this.model.decode(z, PRIOR_GRID), PRIOR_GRID, 8, 3);
      this.frame('prior');
    }

    async sampleVsMean(index, seed) {
      if (!this.runsHere('server-sample-vs-mean')) return;
      const i = this.checkIndex(index, 'sv-message');
      if (i === null) return;
      byId('sv-message').textContent = '';
      const [mean, std, zDim] = [this.atlas.mean(i), this.atlas.std(i), this.atlas.zDim];
      const noise = gaussians(seed, SAMPLES * zDim);
      const z = new Float32Array((SAMPLES + 1) * zDim);
      z.set(mean);
      for (let k = 0; k < SAMPLES; k++) {
        for (let d = 0; d < zDim; d++) z[(k + 1) * zDim + d] = mean[d] + std[d] * noise[k * zDim + d];
      }
      const decoded = await this.model.decode(z, SAMPLES + 1);
      const parts = [];
      if (this.testDigits) parts.push(this.testDigits.subarray(i * 784, (i + 1) * 784));
      for (let k = 0; k <= SAMPLES; k++) parts.push(decoded.subarray(k * 784, (k + 1) * 784));
      vae.drawDigits(byId('sv-canvas'), vae.stackDigits(parts), parts.length, parts.length, 4);
      this.frame('sample-vs-mean');
    }

    /** Where a traversal starts (tabs/traversals.py TRAVERSAL_STARTS): zero, a seeded prior sample, or a test image's mean. */
    traversalBase(start, seed, index) {
      const zDim = this.atlas.zDim;
      if (start === 'a prior sample') return gaussians(seed, zDim);
      if (start === "a test image's mean") {
        const i = this.checkIndex(index, 'traversal-caption');
        return i === null ? null : Float32Array.from(this.atlas.mean(i));
      }
      return new Float32Array(zDim);
    }

    async traversal(start, seed, index, rows, columns) {
      if (!this.runsHere('server-traversal')) return;
      const base = this.traversalBase(start, seed, index);
      if (!base) return;
      const informative = this.config.order.filter((d) => this.config.active[d]);
      const dims = (informative.length ? informative : this.config.order).slice(0, clampInt(rows, 1, 16, 8));
      const values = vae.traversalValues(clampInt(columns, 2, 15, 11), this.config.traversal_range);
      const canvas = byId('traversal-canvas');
      vae.drawDigits(canvas, await this.model.decode(vae.traversalCodes(base, dims, values), dims.length * values.length),
        dims.length * values.length, values.length, 2);
      byId('traversal-caption').textContent = `Rows, top to bottom: ${dims.map((d) => `z${d} (KL ${this.kl(d)})`).join(', ')}. ` +
        `Columns: ${values.map((v) => v.toFixed(1)).join(', ')}.`;
      const link = byId('traversal-download');
      link.href = vae.enlargedPng(canvas, 4);
      link.hidden = false;
      this.frame('traversal');
    }

    kl(d) { return Number((this.config.kl || [])[d] ?? NaN).toFixed(2); }

    async manifold(showMeans) {
      if (!this.runsHere('server-manifold') || this.atlas.zDim !== 2) return;
      const canvas = byId('manifold-canvas');
      const range = this.config.traversal_range, colours = this.config.class_colours;
      vae.drawDigits(canvas, await this.model.decode(vae.manifoldCodes(MANIFOLD, range), MANIFOLD * MANIFOLD), MANIFOLD * MANIFOLD, MANIFOLD, 1);
      if (showMeans) vae.drawMeansOverManifold(canvas, this.atlas.means, this.atlas.labels, MANIFOLD, range, colours);
      const legend = byId('manifold-legend');
      legend.replaceChildren(...(showMeans ? (this.config.classes || []).map((name, label) => {
        const item = document.createElement('span');
        item.textContent = `● ${name}  `;
        item.style.color = colours[label % colours.length];
        return item;
      }) : []));
      this.frame('manifold');
    }

    /** The server sends the comparison's plan (which images, which models); the page reconstructs with each model. */
    async compare(planText) {
      if (this.mode === 'server') return this.server('server-compare');
      let plan;
      try {
        plan = JSON.parse(planText);
      } catch (err) {
        return; // the server refused the selection and said why in the note
      }
      await this.comparison.render(byId('compare-browser'), plan, this.view('drawing').drawnDigit);
      this.frame('compare');
    }
  };
})(window.vae = window.vae || {});
