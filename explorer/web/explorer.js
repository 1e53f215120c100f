/* The explorer's browser side: loads the checkpoint's model and atlas into the page, then every view that decodes
   (sliders, nearest digits, drawing, map click, traversals, 2-D manifold, interpolation, prior samples, sample vs
   mean, compare) runs here with no request to the server. If the model cannot start, the page says so in one line and
   every view clicks its hidden server button instead (the server path, which is also the gradio_client API).
   The views' methods live in their own files (slider_view.js, drawing_view.js, strip_views.js, timeline_view.js,
   open_views.js), loaded before this one. */
(function (vae) {
  function byId(id) { return document.getElementById(id); }

  class Explorer {
    constructor() {
      this.mode = 'loading';
      this.name = null;
      this.method = 't-SNE';
      this.marker = null; // the drawing's encoded mean, for the ★
      this.lastZ = null;
      this.frames = {}; // view → {count, at}: when each view last put new pixels on its canvas (tests and benchmarks read it)
      this.sliderValues = []; // slider k's value (display order): slider k moves latent dimension config.order[k]
      this.lastPoint = null; // the last map point shown, for the link to this view
      this.whenReady = new Promise((resolve) => { this.becameReady = resolve; });
      this.comparison = new vae.Comparison();
      this.sliders = new vae.LatestOnly((z) => this.drawSliders(z));
      this.heldInputs = new Set(); // slider inputs whose event Gradio gets after the next paint (onDomInput)
      this.drawing = new vae.LatestOnly((pad) => this.drawReconstruction(pad));
      this.timelineTraversals = new vae.LatestOnly((k) => this.drawTimelineTraversal(k));
      // a slider's own input event starts its decode at once; Gradio's .change listener (decodeSliders) also covers values
      // the server sets, and the repeat of the same z is dropped in drawSliders
      document.addEventListener('input', (e) => this.onDomInput(e), true);
      // a stroke that starts before the next frame has wired a freshly rendered pad (a busy page) is not lost: the
      // pad's own listeners, added here in the capture phase, still receive this pointerdown
      document.addEventListener('pointerdown', (e) => { if (e.target.closest?.('#drawpad')) this.wireDrawPad(); }, true);
      document.addEventListener('click', (e) => this.galleryClick(e));
      this.directionMoves = new vae.LatestOnly((withRow) => this.drawDirection(withRow));
      document.addEventListener('click', (e) => {
        const actions = { 'selection-clear': () => this.selectOnMap([]), 'direction-a': () => this.setDirectionEnd('A'),
          'direction-b': () => this.setDirectionEnd('B'), 'direction-map': () => this.mapAlongDirection() };
        actions[e.target.id]?.();
      });
      document.addEventListener('input', (e) => { if (e.target.id === 'direction-amount') this.directionMoves.push(false); });
      document.addEventListener('change', (e) => {
        if (e.target.id === 'direction-base-sliders') this.directionMoves.push(true);
        if (e.target.id === 'map-thumbnails') this.toggleThumbnails(e.target.checked);
      });
      new MutationObserver(() => this.onDomChange()).observe(document.documentElement, { childList: true, subtree: true });
      this.watchShownViews();
    }

    /** Gradio's js_on_load and watch('value') seam: (re)load when the checkpoint changes. */
    async attach(element) {
      const holder = element.querySelector('[data-config]');
      if (!holder) return;
      const config = JSON.parse(holder.dataset.config);
      if (config.name === this.name) return this.showStatus(); // the page-load update repeats the checkpoint it opened with
      this.name = config.name;
      this.config = config;
      // values the server sets while the model loads (a link's z) are kept by decodeSliders and drawn once it is ready
      this.sliderValues = [];
      this.lastZ = null;
      this.marker = null; // the ★ was the drawing's mean under the previous model
      vae.placeStar(null);
      this.setMode('loading', 'Loading the model into your browser…');
      try {
        const [model, atlas] = await Promise.all([vae.loadModel(config), vae.loadAtlas(config.atlas)]);
        if (config !== this.config) return; // another checkpoint was picked meanwhile
        this.model = model;
        this.atlas = atlas;
        this.testDigits = null;
        this.setMode('browser');
        this.decodeSliders(this.readSliders());
        if (this.pad && !this.pad.empty) this.drawing.push(this.pad); // drawn while loading, or under the previous checkpoint
        this.drawOpenedViews(); // the tab on screen, drawn by this checkpoint's model
        this.thumbnails = null;
        if (config.sprite) {
          this.testDigits = await vae.loadSprite(config.sprite, atlas.n, config.sprite_columns);
          this.thumbnails = new vae.Thumbnails(await vae.loadSpriteImage(config.sprite), atlas.n);
          this.thumbnails.forced = Boolean(byId('map-thumbnails')?.checked);
        }
        this.becameReady(); // a link's view waits for the model and the test images
        requestIdleCallback(() => vae.warmPlotly(config.plotly_chunk), { timeout: 1000 });
      } catch (err) {
        if (config === this.config) this.fallBack(err);
      }
    }

    setMode(mode, status) {
      this.mode = mode;
      document.body.classList.toggle('vae-browser', mode === 'browser');
      document.body.classList.toggle('vae-server', mode === 'server');
      this.statusText = status;
      this.showStatus();
    }

    showStatus() {
      const text = this.mode === 'browser'
        ? `⚡ The model runs in your browser (onnxruntime-web ${this.config.ort_version}, WebAssembly, 1 thread): sliders, drawing, map clicks, traversals, interpolation, samples and comparisons need no server.`
        : this.statusText;
      document.querySelectorAll('.vae-status').forEach((el) => { el.textContent = text; });
    }

    fallBack(err) {
      console.error('vae-explorer:', err);
      this.model = null;
      this.setMode('server', `⚠️ The in-browser model could not start (${err.message}); the server decodes instead, which is slower.`);
      this.becameReady();
      this.drawOpenedViews();
    }

    server(id) { byId(id)?.click(); }

    /** True when the page's model can draw now; in the server fallback, asks the server (the view's bridge) instead.
        While the model loads, neither: the views on screen are drawn once it is ready (drawOpenedViews). */
    runsHere(bridge) {
      if (this.mode === 'server') this.server(bridge);
      return this.mode === 'browser';
    }

    frame(view) {
      const f = (this.frames[view] = this.frames[view] || { count: 0, at: 0 });
      f.count += 1;
      f.at = performance.now();
    }

    className(label) { return (this.config.classes || [])[label] ?? String(label); }

    /** Gradio renders a tab's components when it is first opened and re-creates plots on updates: once a frame
        after DOM changes, wire what appeared (map clicks, the drawing pad) and draw views that appeared empty. */
    onDomChange() {
      if (this.domQueued) return;
      this.domQueued = true;
      requestAnimationFrame(() => {
        this.domQueued = false;
        vae.hookMapClicks((index) => this.mapClick(index), (indices) => this.selectOnMap(indices), (plot, moving) => this.drawThumbnails(plot, moving));
        this.applyMapColour(); // a map plot Gradio re-created keeps the chosen colouring
        this.refreshMapInstrument(); // … and the selection, the neighbours and the σ ellipses
        this.wireDrawPad();
        this.placeMarker();
        this.drawOpenedViews();
      });
    }

    // ---------------------------------------------------------------- links that open a view (explorer/deep_links.py)
    /** After the server has opened the link's checkpoint and set its sliders or comparison: the page's part. */
    async openLink(linkText, plan) {
      if (!linkText) return;
      const link = JSON.parse(linkText); // written by the server's read_link: already validated
      await this.whenReady;
      if (link.point !== null && link.point !== undefined) this.mapClick(link.point);
      this.openSelections(link.selections || {});
      if (link.step !== null && link.step !== undefined) { // the timeline's moment: now if it is loaded, else when it loads
        this.timelineStep = link.step;
        if (this.timelineFor === this.name) this.timeline();
      }
      if (link.compare && plan) this.compare(plan);
    }

    /** The tab on screen, as deep_links.TABS names it (Gradio marks the selected tab button; app.TAB_LABELS maps). */
    currentTab() {
      const selected = document.querySelector('[role=tab][aria-selected=true]')?.textContent.trim();
      const entry = Object.entries(this.config?.tabs || {}).find(([, label]) => label === selected);
      return entry ? entry[0] : null;
    }

    /** A URL that opens what is on screen: checkpoint, tab, and the tab's state (z, map point, compared checkpoints). */
    copyLink() {
      const params = new URLSearchParams();
      if (this.name) params.set('checkpoint', this.name);
      const tab = this.currentTab();
      if (tab) params.set('tab', tab);
      if (tab === 'sliders' && this.config) {
        const values = this.readSliders();
        const z = new Array(this.config.z_dim).fill(0);
        this.config.order.forEach((d, k) => { z[d] = values[k] || 0; });
        params.set('z', z.map((v) => Number(v.toFixed(2))).join(','));
      }
      if (tab === 'map' && this.lastPoint !== null) params.set('point', String(this.lastPoint));
      if (tab === 'map') Object.entries(this.selectionsForLink()).forEach(([key, bits]) => params.set(key, bits));
      if (tab === 'likelihood') {
        const checked = (id) => document.querySelector(`#${id} input[type=radio]:checked`)?.value;
        params.set('rank', checked('rank-which') || 'hardest');
        params.set('score', { '−ELBO': 'elbo', reconstruction: 'recon', KL: 'kl', '−log p(x)': 'nll' }[checked('rank-score')] || 'elbo');
        const label = document.querySelector('#rank-class input')?.value;
        const index = (this.config.classes || []).indexOf(label);
        if (index >= 0) params.set('class', String(index));
      }
      if (tab === 'timeline' && this.timelineData) {
        params.set('step', String(this.timelineData.snapshots[Number(byId('timeline-step').value)].step));
      }
      if (tab === 'compare') {
        const names = Array.from(document.querySelectorAll('#compare-pick input:checked'), (i) => i.parentElement.innerText.trim());
        if (names.length) params.set('compare', names.join(','));
      }
      const url = `${location.origin}${location.pathname}?${params.toString().replace(/%2C/g, ',')}`;
      navigator.clipboard?.writeText(url).catch(() => {}); // only on https or localhost; the box shows it anyway
      return url;
    }
  }

  Object.assign(Explorer.prototype, vae.SliderView, vae.DrawingView, vae.StripViews, vae.TimelineView, vae.TrainView,
    vae.LikelihoodView, vae.MapInstrument, vae.DirectionView, vae.OpenViews);
  vae.explorer = vae.explorer || new Explorer();
})(window.vae = window.vae || {});
