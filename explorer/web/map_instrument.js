/* The latent map as an instrument, in the page: a box or lasso selection shows its images (with counts per class), the
   decoding of its mean latent vector and its reconstructions, and stays selected when the projection changes; a
   clicked point's 10 nearest test images in the latent space are shown against its 10 nearest on the 2-D map, with
   how many agree; on a 2-D latent, the posterior's σ is drawn as ellipses. A view of the explorer (views.js); the
   selection, the clicked point, the ★ and the projection are the explorer's, shared with the other views. */
(function (vae) {
  function byId(id) { return document.getElementById(id); }
  function plots() { return document.querySelectorAll('#latent-map .js-plotly-plot'); }
  const SHOWN = 36; // selected images drawn (the counts cover all of them)

  vae.MapInstrument = class extends vae.View {
    constructor(explorer) {
      super(explorer);
      this.lastNeighbours = null; // the point whose neighbours are marked, and them
      this.selectionMean = null;
    }

    get selection() { return this.explorer.selection; }

    // ------------------------------------------------------------------ selections
    async selectOnMap(indices) {
      if (this.mode !== 'browser') return;
      this.explorer.selection = Array.from(new Set(indices)).sort((a, b) => a - b);
      await this.drawSelection();
    }

    async drawSelection() {
      const caption = byId('selection-caption');
      const selection = this.selection || [];
      if (!selection.length) {
        if (caption) caption.textContent = 'Select points with the box or lasso tool of the map\'s toolbar: their images, their average and their reconstructions appear here.';
        this.drawEllipses();
        return;
      }
      const zDim = this.atlas.zDim, mean = this.atlas.meanOf(selection);
      this.selectionMean = mean;
      const shown = selection.slice(0, SHOWN);
      const means = new Float32Array((shown.length + 1) * zDim);
      means.set(mean, 0);
      shown.forEach((i, k) => means.set(this.atlas.mean(i), (k + 1) * zDim));
      const decoded = await this.model.decode(means, shown.length + 1);
      vae.drawDigits(byId('selection-mean-canvas'), decoded.subarray(0, 784), 1, 1, 5);
      const tiles = vae.imagesAboveDecodings(shown, decoded.subarray(784), this.testDigits, 12);
      vae.drawDigits(byId('selection-canvas'), vae.stackDigits(tiles), tiles.length, 12, 2);
      const counts = new Map();
      for (const i of selection) counts.set(this.atlas.labels[i], (counts.get(this.atlas.labels[i]) || 0) + 1);
      const perClass = Array.from(counts.entries()).sort((a, b) => b[1] - a[1]).map(([label, n]) => `${this.className(label)} × ${n}`).join(', ');
      if (caption) caption.textContent = `${selection.length} selected (${perClass}). Left: the decoding of their mean latent vector; ` +
        `right: ${shown.length < selection.length ? `the first ${shown.length}` : 'each'}${this.testDigits ? ' above its reconstruction' : ' (decodings of their means: the test images are not available)'}.`;
      this.markSelection();
      this.drawEllipses();
      this.frame('selection');
    }

    /** Mark the selection on every map plot (a plot re-created for another projection gets it again). */
    markSelection() {
      const chosen = new Set(this.selection || []);
      plots().forEach((plot) => {
        const traces = (plot._fullData || []).filter((t) => t.customdata && t.customdata.length);
        // marked on the trace objects: Gradio's next figure (Plotly.react on the same element) brings new ones
        if (!traces.length || traces.every((t) => plot.data[t.index].vaeSelection === this.selection)) return;
        traces.forEach((t) => { plot.data[t.index].vaeSelection = this.selection; });
        const selected = traces.map((t) => (chosen.size ? Array.from(t.customdata, (row, k) => (chosen.has(Number(row[0])) ? k : -1)).filter((k) => k >= 0) : null));
        Plotly.restyle(plot, { selectedpoints: selected }, traces.map((t) => t.index));
      });
    }

    /** After Gradio re-created a map plot (another projection, a new figure): its selection, neighbours and ellipses again. */
    refreshMapInstrument() {
      if (this.mode !== 'browser' || !this.atlas) return;
      this.markSelection();
      plots().forEach((plot) => { // a new figure from the server ends the page's own projection along a direction
        if (plot.dataset.projection && !String(plot._fullLayout?.title?.text || '').includes('along the direction')) delete plot.dataset.projection;
      });
      if (Array.from(plots()).some((plot) => plot.dataset.projection)) return;
      const shown = this.lastNeighbours ? `${this.lastNeighbours.index}:${this.explorer.method}` : null;
      const stale = Array.from(plots()).some((plot) => (plot._fullData || []).length &&
        (!(plot.data || []).some((t) => t.vaeNeighbours) && shown || plot.vaeNeighboursShown !== shown || plot.dataset.ellipses === undefined));
      if (stale && shown) this.showNeighbours(this.lastNeighbours.index);
      else if (stale) this.drawEllipses();
    }

    // ------------------------------------------------------------------ thumbnails (web/thumbnails.js)
    /** `moving`: plotly's relayouting data mid-gesture (the drawn digits follow it), else a full redraw. */
    drawThumbnails(plot, moving) {
      if (this.mode !== 'browser' || !this.explorer.thumbnails) return;
      if (!(moving && this.explorer.thumbnails.follow(plot, moving))) this.explorer.thumbnails.draw(plot);
    }

    toggleThumbnails(on) {
      const note = byId('thumbnails-note');
      if (!this.explorer.thumbnails) {
        if (note) note.textContent = on ? 'The test images are not available here (no data set on the server): no thumbnails.' : '';
        return;
      }
      this.explorer.thumbnails.forced = on;
      plots().forEach((plot) => this.drawThumbnails(plot));
    }

    // ------------------------------------------------------------------ neighbours: the latent space against the map
    /** Test image i's neighbours (or, with i = 'drawing', your drawing's), marked on the map with how many agree. */
    showNeighbours(i) {
      const caption = byId('neighbour-caption');
      const { marker, method } = this.explorer, NEIGHBOURS = this.config.map_neighbours;
      if (!this.atlas || !this.atlas.coords[method]) return; // the map tab not yet opened: drawn when it is
      const drawing = i === 'drawing';
      if (drawing && !marker) return;
      const found = drawing ? this.atlas.neighbours(marker, -1, method, NEIGHBOURS) : this.atlas.neighbours(this.atlas.mean(i), i, method, NEIGHBOURS);
      this.lastNeighbours = { index: i, method, ...found };
      if (caption) caption.textContent = `${drawing ? 'Your drawing' : `Test image #${i}`}: of its ${NEIGHBOURS} nearest test images in the latent space (○ on the map), ` +
        `${found.both} are also among its ${NEIGHBOURS} nearest on this ${method} map (×)` +
        (found.both === NEIGHBOURS ? ' — this map keeps them all. ' : ' — the rest show where the projection misleads. ') +
        `Latent: #${found.latent.join(', #')}. Map: #${found.onMap.join(', #')}.`;
      const coords = this.atlas.coords[method];
      const at = (list) => ({ x: list.map((j) => coords[2 * j]), y: list.map((j) => coords[2 * j + 1]) });
      plots().forEach((plot) => {
        const old = (plot.data || []).map((t, k) => (t.vaeNeighbours ? k : -1)).filter((k) => k >= 0);
        if (old.length) Plotly.deleteTraces(plot, old);
        plot.vaeNeighboursShown = `${i}:${method}`;
        Plotly.addTraces(plot, [
          { type: 'scattergl', mode: 'markers', ...at(found.latent), name: 'latent neighbours', hoverinfo: 'skip', vaeNeighbours: true,
            marker: { size: 12, symbol: 'circle-open', color: '#000', line: { width: 2 } } },
          { type: 'scattergl', mode: 'markers', ...at(found.onMap), name: 'map neighbours', hoverinfo: 'skip', vaeNeighbours: true,
            marker: { size: 10, symbol: 'x-thin-open', color: '#d62728', line: { width: 2 } } },
        ]);
      });
      this.drawEllipses();
    }

    // ------------------------------------------------------------------ σ on the 2-D latent plane
    /** On the latent plane itself: ellipses of ±1σ and ±2σ around the clicked point's mean and around your drawing's
        (red), and ±1σ around each of the first 200 selected points (the posterior is diagonal: axis-aligned). */
    drawEllipses() {
      const { lastPoint, marker, markerStd } = this.explorer;
      if (this.atlas?.zDim !== 2 || this.explorer.method !== this.config.latent_plane) {
        plots().forEach((plot) => { plot.dataset.ellipses = '0'; });
        return;
      }
      const shapes = [];
      const ellipse = (i, k, colour, width) => {
        const m = this.atlas.mean(i), s = this.atlas.std(i);
        shapes.push({ type: 'circle', xref: 'x', yref: 'y', x0: m[0] - k * s[0], x1: m[0] + k * s[0], y0: m[1] - k * s[1], y1: m[1] + k * s[1],
          line: { color: colour, width }, fillcolor: 'rgba(0,0,0,0)' });
      };
      (this.selection || []).slice(0, 200).forEach((i) => ellipse(i, 1, 'rgba(0,0,0,0.35)', 1));
      if (lastPoint !== null && lastPoint !== undefined) { ellipse(lastPoint, 1, '#000', 2); ellipse(lastPoint, 2, '#000', 1); }
      if (marker && markerStd) { // your drawing's posterior, around its ★
        for (const k of [1, 2]) {
          shapes.push({ type: 'circle', xref: 'x', yref: 'y', x0: marker[0] - k * markerStd[0], x1: marker[0] + k * markerStd[0],
            y0: marker[1] - k * markerStd[1], y1: marker[1] + k * markerStd[1], line: { color: '#d62728', width: 3 - k }, fillcolor: 'rgba(0,0,0,0)' });
        }
      }
      plots().forEach((plot) => { Plotly.relayout(plot, { shapes }); plot.dataset.ellipses = String(shapes.length); });
    }
  };
})(window.vae = window.vae || {});
