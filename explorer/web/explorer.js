/* The explorer's browser side: loads the checkpoint's model and atlas into the page, then every view that decodes
   (sliders, nearest digits, drawing, map click, traversals, 2-D manifold, interpolation, prior samples, sample vs
   mean, compare) runs here with no request to the server. If the model cannot start, the page says so in one line and every view clicks its hidden
   server button instead (the server path, which is also the gradio_client API). */
(function (vae) {
  const NEAREST = 8;
  const SAMPLES = 8; // tabs/sample.py SAMPLES_PER_DIGIT
  const PRIOR_GRID = 32;

  function byId(id) { return document.getElementById(id); }

  /** mulberry32: a small seeded generator, so a seed gives the same prior samples on every visit. */
  function gaussians(seed, count) {
    let state = (Number(seed) | 0) >>> 0;
    const uniform = () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
    return out;
  }

  function sameValues(a, b) {
    return a && b && a.length === b.length && a.every((v, i) => v === b[i]);
  }

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
      this.drawing = new vae.LatestOnly((pad) => this.drawReconstruction(pad));
      // a slider's own input event starts its decode at once; Gradio's .change listener (decodeSliders) also covers values
      // the server sets, and the repeat of the same z is dropped in drawSliders
      document.addEventListener('input', (e) => this.onDomInput(e), true);
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
        const manifoldCanvas = byId('manifold-canvas');
        if (manifoldCanvas) delete manifoldCanvas.dataset.drawn; // drawn again for this checkpoint when shown
        if (config.sprite) this.testDigits = await vae.loadSprite(config.sprite, atlas.n, config.sprite_columns);
        this.becameReady(); // a link's view waits for the model and the test images
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
      this.server('server-decode');
    }

    server(id) { byId(id)?.click(); }

    /** Give the drawing pad its listeners once Gradio has rendered it (and again if it renders a new one). */
    wireDrawPad() {
      const element = byId('drawpad');
      if (!element || element === this.padElement) return;
      this.padElement = element;
      this.pad = new vae.DrawPad(element, { onStroke: (p) => this.onStroke(p), onStrokeEnd: (p) => this.onStrokeEnd(p) });
    }

    /** In the server fallback, an empty slider image (a click made before Gradio was ready is lost) asks once more. */
    fillServerImage() {
      const image = byId('slider-image');
      if (!image || image.querySelector('img') || image === this.serverImageAsked) return;
      this.serverImageAsked = image;
      this.server('server-decode');
    }

    frame(view) {
      const f = (this.frames[view] = this.frames[view] || { count: 0, at: 0 });
      f.count += 1;
      f.at = performance.now();
    }

    className(label) { return (this.config.classes || [])[label] ?? String(label); }

    // ---------------------------------------------------------------- sliders and the nearest real images
    /** Slider values in display order: the last ones Gradio reported, with any slider on screen read directly
        (an inactive dimension's slider may be folded away while it still holds a value). */
    readSliders() {
      const values = [];
      for (let k = 0; k < this.config.z_dim; k++) {
        const input = document.querySelector(`#slider-${k} input[type=range]`);
        values.push(input ? Number(input.value) : Number(this.sliderValues[k] || 0));
      }
      return values;
    }

    onDomInput(event) {
      if (this.mode === 'browser' && event.target.matches?.('.latent-slider input[type=range]')) this.decodeSliders(this.readSliders());
    }

    /** Slider values (display order) → z: slider k holds latent dimension order[k]. */
    decodeSliders(values) {
      if (this.mode === 'server') return this.server('server-decode');
      if (!this.config) return;
      // kept while the model loads too: a folded-away slider has no input to read its value back from
      this.sliderValues = values.slice(0, this.config.z_dim).map(Number);
      if (this.mode !== 'browser') return;
      const z = new Float32Array(this.config.z_dim);
      this.config.order.forEach((d, k) => { z[d] = this.sliderValues[k] || 0; });
      this.sliders.push(z);
    }

    async drawSliders(z) {
      if (sameValues(z, this.lastZ)) return;
      this.lastZ = z;
      const pixels = await this.model.decode(z, 1);
      vae.drawDigits(byId('slider-canvas'), pixels, 1, 1, 10);
      this.frame('sliders');
      await this.drawNearest(z);
    }

    async drawNearest(z) {
      const nearest = this.atlas.nearest(z, NEAREST);
      let digits;
      if (this.testDigits) {
        digits = vae.stackDigits(nearest.map((i) => this.testDigits.subarray(i * 784, (i + 1) * 784)));
      } else {
        const means = new Float32Array(NEAREST * this.atlas.zDim);
        nearest.forEach((i, k) => means.set(this.atlas.mean(i), k * this.atlas.zDim));
        digits = await this.model.decode(means, NEAREST);
      }
      vae.drawDigits(byId('nearest-canvas'), digits, NEAREST, NEAREST / 2, 2);
      const what = this.testDigits ? 'The 8 test images' : 'Decodings of the 8 test images';
      const caption = byId('nearest-caption');
      if (caption) caption.textContent = `${what} whose encodings are nearest to z: #${nearest.join(', #')} (${nearest.map((i) => this.className(this.atlas.labels[i])).join(' · ')}).`;
      this.frame('nearest');
    }

    // ---------------------------------------------------------------- drawing → MNIST form → encoder → decoder, ★
    onStroke(pad) {
      if (this.mode === 'browser') this.drawing.push(pad);
    }

    onStrokeEnd(pad) {
      if (this.mode !== 'server') return;
      const box = document.querySelector('#drawing-data textarea, #drawing-data input');
      box.value = pad.pngDataUrl();
      box.dispatchEvent(new Event('input', { bubbles: true }));
    }

    async drawReconstruction(pad) {
      const { gray, height, width } = pad.gray();
      const digit = vae.toMnist(gray, height, width);
      const message = byId('draw-caption');
      if (!digit) {
        message.textContent = 'The canvas is blank: draw a digit.';
        return;
      }
      const input = Float32Array.from(digit, (v) => v / 255);
      const { mean } = await this.model.encode(input, 1);
      const pixels = await this.model.decode(mean, 1);
      vae.drawDigits(byId('draw-left-canvas'), digit, 1, 1, 6);
      this.drawnDigit = digit; // the compare view reconstructs it with each checkpoint
      vae.drawDigits(byId('draw-right-canvas'), pixels, 1, 1, 6);
      this.marker = Float32Array.from(mean);
      this.placeMarker();
      message.textContent = "The model's input (left, MNIST form) and its reconstruction (right). It is marked ★ on the latent map.";
      this.frame('drawing');
    }

    setMethod(method) {
      this.method = method;
      this.placeMarker();
    }

    placeMarker() {
      if (this.mode !== 'browser') return;
      vae.placeStar(this.marker && this.atlas.coords[this.method] ? this.atlas.placeOnMap(this.marker, this.method) : null);
    }

    /** Gradio renders a tab's components when it is first opened and re-creates plots on updates: once a frame
        after DOM changes, wire what appeared (map clicks, the drawing pad) and fill views that appeared empty. */
    onDomChange() {
      if (this.domQueued) return;
      this.domQueued = true;
      requestAnimationFrame(() => {
        this.domQueued = false;
        vae.hookMapClicks((index) => this.mapClick(index));
        this.wireDrawPad();
        if (this.mode === 'server') return this.fillServerImage();
        if (this.mode !== 'browser') return;
        this.placeMarker();
        const sliderCanvas = byId('slider-canvas');
        if (sliderCanvas && !sliderCanvas.dataset.drawn) { // the sliders tab was just opened: draw its current z
          this.lastZ = null;
          this.decodeSliders(this.readSliders());
        }
        const manifoldCanvas = byId('manifold-canvas');
        if (manifoldCanvas && !manifoldCanvas.dataset.drawn && this.atlas.zDim === 2 && manifoldCanvas.offsetParent) {
          this.manifold(document.querySelector('#manifold-means input')?.checked ?? true); // the 2-D tab was just opened
        }
      });
    }

    // ---------------------------------------------------------------- the map
    async mapClick(index) {
      this.lastPoint = index;
      if (this.mode !== 'browser') return vae.sendMapClickToServer(index);
      const pixels = await this.model.decode(this.atlas.mean(index), 1);
      vae.drawDigits(byId('clicked-right-canvas'), pixels, 1, 1, 6);
      const original = byId('clicked-left-canvas');
      if (this.testDigits) vae.drawDigits(original, this.testDigits.subarray(index * 784, (index + 1) * 784), 1, 1, 6);
      original.style.visibility = this.testDigits ? 'visible' : 'hidden';
      byId('clicked-caption').textContent = `Test image #${index}, ${this.className(this.atlas.labels[index])}` +
        (this.testDigits ? ': the image (left) and the decoding of its encoded mean (right).' : ': the decoding of its encoded mean (the test images are not available to show the original).');
      this.frame('map');
    }

    // ---------------------------------------------------------------- buttons: interpolation, prior, sample vs mean
    checkIndex(value, where) {
      const index = Number(value);
      if (!Number.isInteger(index) || index < 0 || index >= this.atlas.n) {
        byId(where).textContent = `Test image #${value} does not exist: pick 0–${this.atlas.n - 1}.`;
        return null;
      }
      return index;
    }

    async interpolate(a, b, steps) {
      if (this.mode !== 'browser') return this.server('server-interpolate');
      const [i, j] = [this.checkIndex(a, 'interp-message'), this.checkIndex(b, 'interp-message')];
      if (i === null || j === null) return;
      byId('interp-message').textContent = '';
      const n = Math.min(Math.max(Math.round(Number(steps)) || 10, 3), 16);
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
      if (this.mode !== 'browser') return this.server('server-prior');
      const z = gaussians(seed, PRIOR_GRID * this.atlas.zDim);
      vae.drawDigits(byId('prior-canvas'), await this.model.decode(z, PRIOR_GRID), PRIOR_GRID, 8, 3);
      this.frame('prior');
    }

    async sampleVsMean(index, seed) {
      if (this.mode !== 'browser') return this.server('server-sample-vs-mean');
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
    // ---------------------------------------------------------------- traversals, 2-D manifold, compare
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
      if (this.mode !== 'browser') return this.server('server-traversal');
      const base = this.traversalBase(start, seed, index);
      if (!base) return;
      const informative = this.config.order.filter((d) => this.config.active[d]);
      const dims = (informative.length ? informative : this.config.order).slice(0, Math.max(1, Math.min(16, Math.round(Number(rows)) || 8)));
      const values = vae.traversalValues(Math.max(2, Math.min(15, Math.round(Number(columns)) || 11)));
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
      if (this.mode !== 'browser') return this.server('server-manifold');
      if (this.atlas.zDim !== 2) return;
      const size = 20; // latent_views.MANIFOLD_SIZE
      const canvas = byId('manifold-canvas');
      vae.drawDigits(canvas, await this.model.decode(vae.manifoldCodes(size), size * size), size * size, size, 1);
      if (showMeans) vae.drawMeansOverManifold(canvas, this.atlas.means, this.atlas.labels, size);
      const legend = byId('manifold-legend');
      legend.replaceChildren(...(showMeans ? (this.config.classes || []).map((name, label) => {
        const item = document.createElement('span');
        item.textContent = `● ${name}  `;
        item.style.color = vae.CLASS_COLOURS[label % vae.CLASS_COLOURS.length];
        return item;
      }) : []));
      this.frame('manifold');
    }

    async compare(planText) {
      if (this.mode !== 'browser') return this.server('server-compare');
      let plan;
      try {
        plan = JSON.parse(planText);
      } catch (err) {
        return; // the server refused the selection and said why in the note
      }
      await this.comparison.render(byId('compare-browser'), plan, this.drawnDigit || null);
      this.frame('compare');
    }
    // ---------------------------------------------------------------- links that open a view (explorer/deep_links.py)
    /** After the server has opened the link's checkpoint and set its sliders or comparison: the page's part. */
    async openLink(linkText, plan) {
      if (!linkText) return;
      const link = JSON.parse(linkText); // written by the server's read_link: already validated
      await this.whenReady;
      if (link.point !== null && link.point !== undefined) this.mapClick(link.point);
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
