/* Every view is alive when it is first shown: a view on screen that has not been drawn for the open checkpoint is
   drawn with its controls' current values (read from the page), by the page's model or, in the server fallback, by
   the server through the view's bridge. Checked once a frame after the page changes, when a view's element changes
   size (a tab shown: display none → its size) and when a checkpoint is ready. Registered with the views (views.js):
   it draws each of them through the registry. */
(function (vae) {
  function control(id, selector) { return document.querySelector(`#${id} ${selector}`); }
  function number(id) { return Number(control(id, 'input[type=number]')?.value ?? NaN); }
  function choice(id) { return control(id, 'input[type=radio]:checked')?.value; }
  function checked(id) { return control(id, 'input[type=checkbox]')?.checked ?? true; }
  function dropdown(id) { return control(id, 'input')?.value; }

  vae.OpenViews = class extends vae.View {
    /** A tab renders its content when first opened (a DOM change), but a later visit, or Gradio showing content it
        rendered earlier, only changes what is displayed: a view's element then goes from no size to its size. */
    constructor(explorer) {
      super(explorer);
      this.shown = new ResizeObserver(() => this.drawOpenedViews());
    }

    /** Each view: its canvas (drawn in the page), its server image and bridge (the fallback), and how to draw it.
        `anyCheckpoint`: it does not change with the open checkpoint (the comparison has its own picks);
        `pageOnly`: the page draws it in the server fallback too. */
    openViews() {
      const sliders = this.view('sliders'), strips = this.view('strips'), likelihood = this.view('likelihood');
      return [
        { canvas: 'slider-canvas', server: 'slider-image', bridge: 'server-decode',
          draw: () => { sliders.lastZ = null; sliders.decodeSliders(sliders.readSliders()); } }, // a new canvas: draw even the same z
        { canvas: 'sv-canvas', server: 'sv-strip', bridge: 'server-sample-vs-mean',
          draw: () => { strips.sampleVsMean(number('sv-index'), number('sv-seed')); this.server('sv-widths-bridge'); } },
        { canvas: 'traversal-canvas', server: 'traversal-image', bridge: 'server-traversal',
          draw: () => strips.traversal(choice('trav-start'), number('trav-seed'), number('trav-index'), number('trav-rows'), number('trav-columns')) },
        { canvas: 'manifold-canvas', server: 'manifold-image', bridge: 'server-manifold', only: () => this.config.z_dim === 2,
          draw: () => strips.manifold(checked('manifold-means')) },
        { canvas: 'interp-canvas', server: 'interp-strip', bridge: 'server-interpolate',
          draw: () => strips.interpolate(number('interp-a'), number('interp-b'), number('interp-steps')) },
        { canvas: 'prior-canvas', server: 'prior-image', bridge: 'server-prior', draw: () => strips.priorSamples(number('prior-seed')) },
        { canvas: 'rank-canvas', server: 'rank-image', bridge: 'server-rank',
          draw: () => likelihood.drawGallery(choice('rank-score'), choice('rank-which'), likelihood.classIndex(dropdown('rank-class'))) },
        { canvas: 'ood-anchor', server: 'ood-anchor', pageOnly: true, draw: () => likelihood.drawOod() },
        { canvas: 'compare-browser', server: 'compare-image', bridge: 'compare-open', anyCheckpoint: true,
          draw: () => this.server('compare-open') },
        // drawn by the server in both modes: two checkpoints of its own, whatever is open
        { canvas: 'lessons-anchor', server: 'lessons-anchor', pageOnly: true, anyCheckpoint: true,
          draw: () => this.server('lessons-open') },
        // no model needed; its anchor stays shown when a checkpoint without a timeline hides the view
        { canvas: 'timeline-anchor', server: 'timeline-anchor', pageOnly: true, draw: () => this.view('timeline').timeline() },
        // the run the server last named: its status may have arrived before this explorer existed (vae.trainLatest),
        // or not yet (then asked again at the next check)
        { canvas: 'train-anchor', server: 'train-anchor', pageOnly: true, anyCheckpoint: true,
          draw: () => (vae.trainLatest ? this.view('train').trainLive(vae.trainLatest) : delete document.getElementById('train-anchor').dataset.openedFor) },
      ];
    }

    drawOpenedViews() {
      if (this.mode === 'loading' || !this.config) return;
      for (const view of this.openViews()) {
        const target = document.getElementById(this.mode === 'browser' ? view.canvas : view.server);
        if (target) this.shown.observe(target); // again for an element Gradio re-created (a no-op for the same one)
        const drawnFor = view.anyCheckpoint ? '*' : this.name;
        if (!target || !target.offsetParent || target.dataset.openedFor === drawnFor || (view.only && !view.only())) continue;
        target.dataset.openedFor = drawnFor; // before drawing: a frame that comes meanwhile does not ask again
        if (this.mode === 'browser' || view.pageOnly) view.draw();
        else this.server(view.bridge);
      }
    }
  };
})(window.vae = window.vae || {});
