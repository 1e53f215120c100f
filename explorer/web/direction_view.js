/* Attribute directions, in the page: two map selections A and B (say upright and slanted 1s) give the direction
   d = mean_B − mean_A in the latent space. A slider moves a latent code along it (the clicked test image's mean, or
   the Latent sliders' z), decoded as it moves; a row shows the steps; and the map can be redrawn with d as its x axis
   (a custom projection). A view of the explorer (views.js). */
(function (vae) {
  function byId(id) { return document.getElementById(id); }
  function plots() { return document.querySelectorAll('#latent-map .js-plotly-plot'); }
  const ROW = [-1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5]; // multiples of d in the traversal row

  /** Indices → a base64url bitset (bit i of byte i >> 3, lowest first): explorer/deep_links.py reads it. */
  function toBits(indices, n) {
    const bytes = new Uint8Array(Math.ceil(n / 8));
    for (const i of indices) bytes[i >> 3] |= 1 << (i & 7);
    let text = '';
    for (const b of bytes) text += String.fromCharCode(b);
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  vae.DirectionView = class extends vae.View {
    constructor(explorer) {
      super(explorer);
      this.directionEnds = null; // { A, B: test image indices, for: the checkpoint they were chosen under }
      this.direction = null; // mean_B − mean_A
      this.moves = new vae.LatestOnly((withRow) => this.drawDirection(withRow));
      document.addEventListener('click', (e) => {
        const actions = { 'direction-a': () => this.setDirectionEnd('A'), 'direction-b': () => this.setDirectionEnd('B'),
          'direction-map': () => this.mapAlongDirection() };
        actions[e.target.id]?.();
      });
      document.addEventListener('input', (e) => { if (e.target.id === 'direction-amount') this.moves.push(false); });
      document.addEventListener('change', (e) => { if (e.target.id === 'direction-base-sliders') this.moves.push(true); });
    }

    /** The code the slider moves changed (another map point): redraw along the direction, if there is one. */
    baseMoved() {
      if (this.direction) this.moves.push(true);
    }

    /** The map's selection and the direction's two ends, for the link to this view. */
    selectionsForLink() {
      const out = {};
      if (!this.atlas) return out;
      const selection = this.explorer.selection || [];
      if (selection.length) out.sel = toBits(selection, this.atlas.n);
      const ends = this.directionEnds;
      if (ends && ends.for === this.name && ends.A) out.dir_a = toBits(ends.A, this.atlas.n);
      if (ends && ends.for === this.name && ends.B) out.dir_b = toBits(ends.B, this.atlas.n);
      return out;
    }

    /** A link's selections (already checked by the server): the direction's ends, then the selection. */
    async openSelections(selections) {
      if (this.mode !== 'browser') return;
      for (const [key, which] of [['dir_a', 'A'], ['dir_b', 'B']]) {
        if (selections[key]?.length) { this.explorer.selection = selections[key]; this.setDirectionEnd(which); }
      }
      this.explorer.selection = [];
      if (selections.sel?.length || selections.dir_a?.length) await this.view('map').selectOnMap(selections.sel || []);
    }

    /** "Use as A" / "Use as B": the current selection becomes one end of the direction. */
    setDirectionEnd(which) {
      const selection = this.explorer.selection || [];
      if (this.mode !== 'browser' || !selection.length) return;
      this.directionEnds = { ...(this.directionEnds || {}), [which]: selection.slice(), for: this.name };
      const ends = this.directionEnds;
      const describe = (end) => (end ? `${end.length} images` : 'not set');
      const caption = byId('direction-caption');
      if (ends.A && ends.B) {
        const a = this.atlas.meanOf(ends.A), b = this.atlas.meanOf(ends.B);
        this.direction = b.map((v, d) => v - a[d]);
        const length = Math.sqrt(this.direction.reduce((s, v) => s + v * v, 0));
        if (caption) caption.textContent = `A: ${describe(ends.A)}, B: ${describe(ends.B)}; the direction A→B has length ${length.toFixed(2)} in the latent space. ` +
          'Move the slider to walk along it; the row shows −1.5 … 2.5 steps of it.';
        this.drawDirection();
      } else if (caption) {
        caption.textContent = `A: ${describe(ends.A)}, B: ${describe(ends.B)}. Select another group on the map and use it as ${ends.A ? 'B' : 'A'}.`;
      }
    }

    /** The code the slider moves: the clicked test image's mean, or the Latent sliders' z. */
    directionBase() {
      const fromSliders = document.querySelector('#direction-base-sliders')?.checked;
      const point = this.explorer.lastPoint;
      if (!fromSliders && point !== null && point !== undefined) return Float32Array.from(this.atlas.mean(point));
      return this.view('sliders').currentZ();
    }

    /** The slider's decoding, and with `withRow` the row too (a slider move changes only the one image). */
    async drawDirection(withRow = true) {
      if (this.mode !== 'browser' || !this.direction || this.directionEnds?.for !== this.name) return;
      const amount = Number(byId('direction-amount')?.value || 0);
      const base = this.directionBase(), zDim = base.length, steps = withRow ? [amount, ...ROW] : [amount];
      const codes = new Float32Array(steps.length * zDim);
      steps.forEach((t, k) => { for (let d = 0; d < zDim; d++) codes[k * zDim + d] = base[d] + t * this.direction[d]; });
      const pixels = await this.model.decode(codes, steps.length);
      vae.drawDigits(byId('direction-canvas'), pixels.subarray(0, 784), 1, 1, 5);
      if (withRow) vae.drawDigits(byId('direction-row'), pixels.subarray(784), ROW.length, ROW.length, 2.5);
      const label = byId('direction-amount-label');
      if (label) label.textContent = `${amount >= 0 ? '+' : ''}${amount.toFixed(2)} × (B − A)`;
      this.frame('direction');
    }

    /** Redraw the map with x = the projection on d (centred) and y = the first PCA component made orthogonal to d. */
    mapAlongDirection() {
      if (this.mode !== 'browser' || !this.direction || typeof Plotly !== 'object') return;
      const zDim = this.atlas.zDim, d = this.direction;
      const norm = Math.sqrt(d.reduce((s, v) => s + v * v, 0)) || 1;
      const unit = d.map((v) => v / norm);
      const pc = this.atlas.pcaComponents.subarray(0, zDim);
      const dot = pc.reduce((s, v, k) => s + v * unit[k], 0);
      const other = pc.map((v, k) => v - dot * unit[k]);
      const otherNorm = Math.sqrt(other.reduce((s, v) => s + v * v, 0)) || 1;
      const centre = this.atlas.pcaCenter;
      const project = (i, axis) => { const m = this.atlas.mean(i); let s = 0; for (let k = 0; k < zDim; k++) s += (m[k] - centre[k]) * axis[k]; return s; };
      const yAxis = other.map((v) => v / otherNorm);
      plots().forEach((plot) => {
        const traces = (plot._fullData || []).filter((t) => t.customdata && t.customdata.length);
        Plotly.restyle(plot, {
          x: traces.map((t) => Array.from(t.customdata, (row) => project(Number(row[0]), unit))),
          y: traces.map((t) => Array.from(t.customdata, (row) => project(Number(row[0]), yAxis))),
        }, traces.map((t) => t.index));
        Plotly.relayout(plot, { 'title.text': 'Encoded means along the direction A→B', 'xaxis.title.text': 'along A→B', 'xaxis.showticklabels': true,
          'yaxis.title.text': 'first PCA component, orthogonal to A→B', 'yaxis.showticklabels': true, 'xaxis.autorange': true, 'yaxis.autorange': true });
        plot.dataset.projection = 'direction';
      });
      plots().forEach((plot) => { // the neighbours' marks stood on the previous projection
        const old = (plot.data || []).map((t, k) => (t.vaeNeighbours ? k : -1)).filter((k) => k >= 0);
        if (old.length) Plotly.deleteTraces(plot, old);
      });
      vae.placeStar(null);
    }
  };
})(window.vae = window.vae || {});
