/* The explorer's browser side: loads the checkpoint's model and atlas into the page, then every view that decodes
   (sliders, nearest digits, drawing, map click, traversals, 2-D manifold, interpolation, prior samples, sample vs
   mean, compare) runs here with no request to the server. If the model cannot start, the page says so in one line and
   every view clicks its hidden server button instead (the server path, which is also the gradio_client API).
   Each view is its own object in its own file, registered below (views.js); the explorer holds what they share. */
(function (vae) {
  function byId(id) { return document.getElementById(id); }

  // What Gradio's js= listeners call (explorer/tabs/*.py) and tests call: vae.explorer.<method>(…) → the view's own.
  const ENTRY_POINTS = {
    sliders: ['decodeSliders'],
    strips: ['sampleVsMean', 'traversal', 'interpolate', 'priorSamples', 'manifold', 'compare'],
    likelihood: ['colourMap', 'drawGallery', 'classIndex', 'drawOod'],
    timeline: ['compareTimeline'],
    map: ['selectOnMap', 'toggleThumbnails', 'drawThumbnails'],
  };
  // What tests and benchmarks read (tests/test_browser*.py): vae.explorer.<name> → the view's own.
  const READ_BY_TESTS = {
    sliders: ['lastZ'], likelihood: ['galleryPicked', 'drawingScore'], timeline: ['timelineData'], map: ['lastNeighbours'],
    direction: ['directionEnds', 'direction'],
  };

  class Explorer {
    constructor() {
      // the open checkpoint, and the page's mode: 'loading', 'browser' (its model runs here) or 'server' (the fallback)
      this.mode = 'loading';
      this.name = null;
      this.config = null;
      this.model = null;
      this.atlas = null;
      this.testDigits = null; // the test images as bytes, when the server has them (the sprite)
      this.thumbnails = null;
      // the map's state, which several views show: the projection, the ★ (your drawing's posterior), the clicked
      // point and the box or lasso selection
      this.method = 't-SNE';
      this.marker = null;
      this.markerStd = null;
      this.lastPoint = null;
      this.selection = [];
      this.frames = {}; // view → {count, at}: when each view last put new pixels on its canvas (tests and benchmarks read it)
      this.whenReady = new Promise((resolve) => { this.becameReady = resolve; });

      this.views = new vae.Views();
      this.views.register('sliders', new vae.SliderView(this));
      this.views.register('drawing', new vae.DrawingView(this));
      this.views.register('strips', new vae.StripViews(this));
      this.views.register('map', new vae.MapInstrument(this));
      this.views.register('direction', new vae.DirectionView(this));
      this.views.register('likelihood', new vae.LikelihoodView(this));
      this.views.register('timeline', new vae.TimelineView(this));
      this.views.register('train', new vae.TrainView(this));
      this.views.register('opened', new vae.OpenViews(this)); // draws each view the first time it is shown
      for (const [view, methods] of Object.entries(ENTRY_POINTS)) {
        for (const method of methods) this[method] = (...args) => this.views.get(view)[method](...args);
      }
      for (const [view, names] of Object.entries(READ_BY_TESTS)) {
        for (const name of names) Object.defineProperty(this, name, { get: () => this.views.get(view)[name] });
      }

      document.addEventListener('click', (e) => {
        if (e.target.id === 'selection-clear') this.views.get('map').selectOnMap([]);
        this.views.get('likelihood').galleryClick(e);
      });
      document.addEventListener('change', (e) => { if (e.target.id === 'map-thumbnails') this.views.get('map').toggleThumbnails(e.target.checked); });
      new MutationObserver(() => this.onDomChange()).observe(document.documentElement, { childList: true, subtree: true });
    }

    /** Gradio's js_on_load and watch('value') seam: (re)load when the checkpoint changes. */
    async attach(element) {
      const holder = element.querySelector('[data-config]');
      if (!holder) return;
      const config = JSON.parse(holder.dataset.config);
      if (config.name === this.name) return this.showStatus(); // the page-load update repeats the checkpoint it opened with
      this.name = config.name;
      this.config = config;
      this.views.get('sliders').reset();
      this.marker = null; // the ★ was the drawing's mean under the previous model
      vae.placeStar(null);
      this.setMode('loading', 'Loading the model into your browser…');
      try {
        const [model, atlas] = await Promise.all([vae.loadModel(config), vae.loadAtlas(config)]);
        if (config !== this.config) return; // another checkpoint was picked meanwhile
        this.model = model;
        this.atlas = atlas;
        this.testDigits = null;
        this.setMode('browser');
        const sliders = this.views.get('sliders');
        sliders.decodeSliders(sliders.readSliders());
        this.views.get('drawing').redraw(); // drawn while loading, or under the previous checkpoint
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

    drawOpenedViews() { this.views.get('opened').drawOpenedViews(); }

    /** The map's projection changed (Gradio's listener): the ★ moves to its place on the new map. */
    setMethod(method) {
      this.method = method;
      this.views.get('drawing').placeMarker();
    }

    /** Gradio renders a tab's components when it is first opened and re-creates plots on updates: once a frame
        after DOM changes, wire what appeared (map clicks, the drawing pad) and draw views that appeared empty. */
    onDomChange() {
      if (this.domQueued) return;
      this.domQueued = true;
      requestAnimationFrame(() => {
        this.domQueued = false;
        const [map, drawing] = [this.views.get('map'), this.views.get('drawing')];
        vae.hookMapClicks((index) => drawing.mapClick(index), (indices) => map.selectOnMap(indices), (plot, moving) => map.drawThumbnails(plot, moving));
        this.views.get('likelihood').applyMapColour(); // a map plot Gradio re-created keeps the chosen colouring
        map.refreshMapInstrument(); // … and the selection, the neighbours and the σ ellipses
        drawing.wireDrawPad();
        drawing.placeMarker();
        this.drawOpenedViews();
      });
    }

    // ---------------------------------------------------------------- links that open a view (explorer/deep_links.py)
    /** After the server has opened the link's checkpoint and set its sliders or comparison: the page's part. */
    async openLink(linkText, plan) {
      if (!linkText) return;
      const link = JSON.parse(linkText); // written by the server's read_link: already validated
      await this.whenReady;
      if (link.point !== null && link.point !== undefined) this.views.get('drawing').mapClick(link.point);
      this.views.get('direction').openSelections(link.selections || {});
      if (link.step !== null && link.step !== undefined) this.views.get('timeline').openAt(link.step);
      if (link.compare && plan) this.views.get('strips').compare(plan);
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
        params.set('z', Array.from(this.views.get('sliders').currentZ(), (v) => Number(v.toFixed(2))).join(','));
      }
      if (tab === 'map' && this.lastPoint !== null) params.set('point', String(this.lastPoint));
      if (tab === 'map') Object.entries(this.views.get('direction').selectionsForLink()).forEach(([key, bits]) => params.set(key, bits));
      if (tab === 'likelihood') {
        const checked = (id) => document.querySelector(`#${id} input[type=radio]:checked`)?.value;
        params.set('rank', checked('rank-which') || 'hardest');
        const key = this.views.get('likelihood').scoreKeys()[checked('rank-score')];
        params.set('score', key ? key.slice('score_'.length) : 'elbo'); // deep_links.RANK_SCORES: the atlas keys' ends
        const label = document.querySelector('#rank-class input')?.value;
        const index = (this.config.classes || []).indexOf(label);
        if (index >= 0) params.set('class', String(index));
      }
      const timeline = this.views.get('timeline').timelineData;
      if (tab === 'timeline' && timeline) {
        params.set('step', String(timeline.snapshots[Number(byId('timeline-step').value)].step));
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

  vae.explorer = vae.explorer || new Explorer();
})(window.vae = window.vae || {});
