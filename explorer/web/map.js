/* The latent map's browser side. Gradio's Plot has no click event (gradio issues #5292, #11413), so a
   plotly_click listener hands the clicked point to the explorer; the ★ of your drawing is an overlay placed
   with the plot's own axis scales, so it moves with zoom and needs no new figure from the server. */
(function (vae) {
  function plots() { return document.querySelectorAll('#latent-map .js-plotly-plot'); }

  /** Attach the click and selection listeners to every map plot that does not have them yet (Gradio re-creates the
      plot on updates). `onSelected` gets the test-image indices of a box or lasso selection (none: an empty list). */
  vae.hookMapClicks = function (onClick, onSelected, onView) {
    plots().forEach((plot) => {
      if (!plot.on || plot.vaeClickHooked === plot._ev) return;
      plot.vaeClickHooked = plot._ev;
      plot.on('plotly_click', (event) => {
        const point = event && event.points && event.points[0];
        if (point && point.customdata) onClick(Number(point.customdata[0]));
      });
      // plotly deselects on a click or a new figure: the explorer keeps its selection until "Clear the selection"
      plot.on('plotly_selected', (event) => {
        const points = ((event && event.points) || []).filter((p) => p.customdata);
        if (points.length) onSelected(points.map((p) => Number(p.customdata[0])));
      });
      plot.on('plotly_afterplot', () => { vae.placeStar(plot.vaeStar); onView(plot); });
      plot.on('plotly_relayouting', (event) => onView(plot, event)); // every frame of a pan or zoom
      plot.on('plotly_relayout', () => onView(plot));
    });
  };

  /** Show ★ at data coordinates xy on the map (null hides it). */
  vae.placeStar = function (xy) {
    plots().forEach((plot) => {
      plot.vaeStar = xy;
      let star = plot.querySelector('.vae-star');
      const layout = plot._fullLayout;
      if (!xy || !layout || !layout.xaxis || !layout.yaxis) {
        if (star) star.style.display = 'none';
        return;
      }
      if (!star) {
        star = document.createElement('div');
        star.className = 'vae-star';
        star.textContent = '★';
        plot.style.position = 'relative';
        plot.appendChild(star);
      }
      const x = layout.xaxis._offset + layout.xaxis.l2p(xy[0]);
      const y = layout.yaxis._offset + layout.yaxis.l2p(xy[1]);
      star.style.display = 'block';
      star.style.left = `${x}px`;
      star.style.top = `${y}px`;
    });
  };

  /** Colour every map plot's points by `colouring` ({ key, title, values, low, high }: one score per test image on a
      continuous scale, as explorer/figures.py does) or by class (`colouring.key === 'class'`, with `classColours`).
      A plot Gradio re-created is coloured again (its traces are new objects). */
  vae.colourMapPlots = function (colouring, classColours) {
    if (typeof Plotly !== 'object') return;
    plots().forEach((plot) => {
      // plotly.py sends arrays base64-encoded: the decoded customdata (index, label, scores) is on _fullData
      const traces = (plot._fullData || []).map((t) => [plot.data[t.index], t.index, t.customdata])
        .filter(([t, , rows]) => t && rows && rows.length);
      if (!traces.length || traces.every(([t]) => t.vaeColour === colouring.key && (t.vaeHover || !colouring.scores))) return;
      const scored = colouring.key !== 'class';
      const update = {
        'marker.color': traces.map(([, , rows], k) => (scored ? Array.from(rows, (row) => colouring.values[row[0]]) : classColours[k % classColours.length])),
        'marker.colorscale': traces.map(() => (scored ? 'Viridis' : null)), // explorer/figures.py SCORE_COLOURSCALE
        'marker.cmin': traces.map(() => (scored ? colouring.low : null)),
        'marker.cmax': traces.map(() => (scored ? colouring.high : null)),
        'marker.showscale': traces.map((_, k) => scored && k === 0),
        'marker.colorbar.title.text': traces.map(() => (scored ? `${colouring.title} (nats)` : '')),
        'marker.colorbar.thickness': traces.map(() => 14),
      };
      if (colouring.scores && !traces.every(([t]) => t.vaeHover)) { // each image's scores on hover, from the page's atlas
        const names = Object.keys(colouring.scores);
        update.customdata = traces.map(([, , rows]) => Array.from(rows, (row) => [row[0], row[1], ...names.map((n) => colouring.scores[n][row[0]])]));
        update.hovertemplate = traces.map(([t]) => t.hovertemplate.replace('<extra></extra>', '') +
          names.map((n, k) => `<br>${n} %{customdata[${2 + k}]:.1f}`).join('') + '<extra></extra>');
        traces.forEach(([t]) => { t.vaeHover = true; });
      }
      traces.forEach(([t]) => { t.vaeColour = colouring.key; });
      Plotly.restyle(plot, update, traces.map(([, i]) => i));
      Plotly.relayout(plot, { 'legend.x': scored ? 1.12 : 1.02 });
      plot.dataset.colouredBy = colouring.key; // tests read it
    });
  };

  /** Hand a map click to the server through the hidden textbox (the fallback path). */
  vae.sendMapClickToServer = function (index) {
    const box = document.querySelector('#map-click-index textarea, #map-click-index input');
    if (!box) return;
    box.value = `${index}:${Date.now()}`; // the time makes a second click on one point a change too
    box.dispatchEvent(new Event('input', { bubbles: true }));
  };
})(window.vae = window.vae || {});
