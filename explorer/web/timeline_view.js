/* The training timeline in the page: the checkpoint's timeline.json (loss terms, KL and activity per dimension) and
   timeline.safetensors (the subset's map, reconstructions and prior decodings per snapshot) are fetched once per
   checkpoint; the scrubber and Play redraw a snapshot with no request to the server. It needs no model, so it also
   draws in the server fallback. A view of the explorer (views.js). */
(function (vae) {
  const PIXELS = 784;
  const CURVES = [['total', '#222', 'test −ELBO'], ['recon', '#1f77b4', 'recon'], ['kl', '#ff7f0e', 'KL']];

  function byId(id) { return document.getElementById(id); }

  async function fetchOk(url, what) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`the timeline's ${what} could not be fetched (HTTP ${response.status})`);
    return response;
  }

  /** [low, high] of the middle 96% of values: a few far points do not shrink the map. */
  function robustRange(values) {
    const sorted = Float32Array.from(values).sort();
    const low = sorted[Math.floor(sorted.length * 0.02)], high = sorted[Math.ceil(sorted.length * 0.98) - 1];
    return high > low ? [low, high] : [low - 1, high + 1];
  }

  function clear(canvas) {
    canvas.dataset.drawn = 'yes'; // as vae.drawDigits marks its canvases (tests read it)
    const g = canvas.getContext('2d');
    g.fillStyle = '#fff';
    g.fillRect(0, 0, canvas.width, canvas.height);
    return g;
  }

  vae.TimelineView = class extends vae.View {
    constructor(explorer) {
      super(explorer);
      this.timelineFor = null; // the checkpoint whose timeline is loaded (timelineData)
      this.timelineData = null;
      this.timelineStep = null; // a link's moment, shown once the timeline is loaded
      this.traversals = new vae.LatestOnly((k) => this.drawTimelineTraversal(k));
    }

    /** A link's moment: now if this checkpoint's timeline is loaded, else when it loads. */
    openAt(step) {
      this.timelineStep = step;
      if (this.timelineFor === this.name) this.timeline();
    }

    /** Draw the tab: load this checkpoint's timeline once, then the snapshot the scrubber is on. */
    async timeline() {
      const files = this.config && this.config.timeline;
      const view = byId('timeline-view');
      if (!view) return;
      view.hidden = !files;
      if (!files) return; // the server's notice says why (and offers a checkpoint that has one)
      if (this.timelineFor !== this.name) {
        const name = this.name;
        const [meta, buffer] = await Promise.all([(await fetchOk(files.json, 'snapshots')).json(),
          (await fetchOk(files.tensors, 'tensors')).arrayBuffer()]);
        if (name !== this.name) return; // another checkpoint was opened meanwhile
        this.timelineData = { snapshots: meta.snapshots, tensors: vae.parseSafetensors(buffer) };
        this.timelineFor = name;
        const scrubber = byId('timeline-step');
        scrubber.max = String(meta.snapshots.length - 1);
        scrubber.value = scrubber.max; // the finished model first; scrub back to watch it form
      }
      if (this.timelineStep !== undefined && this.timelineStep !== null) { // a link's moment: the snapshot at or before it
        const at = this.timelineData.snapshots.filter((s) => s.step <= this.timelineStep).length - 1;
        byId('timeline-step').value = String(Math.max(at, 0));
        this.timelineStep = null;
      }
      this.wireTimeline();
      this.listCompared();
      this.drawSnapshot(Number(byId('timeline-step').value));
    }

    /** The other checkpoints with a timeline, as the options of "side by side with" (names set as text). */
    listCompared() {
      const select = byId('timeline-compare');
      const names = this.config.timeline_names || [];
      if (select.dataset.for === this.name) return;
      select.dataset.for = this.name;
      select.replaceChildren(new Option('—', ''), ...names.map((n) => new Option(n, n)));
      this.timelineOther = null;
      byId('timeline-other').hidden = true;
    }

    /** Ask the server for another checkpoint's timeline files (it checks them with the one loader). */
    requestCompared(name) {
      this.timelineOther = null;
      byId('timeline-other').hidden = true;
      const box = document.querySelector('#timeline-other-name textarea, #timeline-other-name input');
      box.value = name;
      box.dispatchEvent(new Event('input', { bubbles: true }));
    }

    /** The server's answer: load that timeline and draw it beside the open one at the same moment. */
    async compareTimeline(answerText) {
      const answer = JSON.parse(answerText || '{}');
      const caption = byId('timeline-other-caption');
      byId('timeline-other').hidden = !answer.files && !answer.error; // "—": nothing beside the open run
      if (!answer.files) {
        caption.textContent = answer.error || 'That checkpoint has no timeline.';
        return;
      }
      const [meta, buffer] = await Promise.all([(await fetchOk(answer.files.json, 'snapshots')).json(),
        (await fetchOk(answer.files.tensors, 'tensors')).arrayBuffer()]);
      this.timelineOther = { name: answer.name, snapshots: meta.snapshots, tensors: vae.parseSafetensors(buffer) };
      this.drawSnapshot(Number(byId('timeline-step').value));
    }

    /** The compared run at the same optimizer step (its last snapshot at or before it). */
    drawCompared(step) {
      const other = this.timelineOther;
      if (!other) return;
      const k = Math.max(other.snapshots.filter((s) => s.step <= step).length - 1, 0);
      const s = other.snapshots[k];
      this.drawTimelineMap(other.tensors.coords, other.tensors.labels.data, k, 'timeline-map-other');
      const shown = other.tensors.recon.shape[1];
      vae.drawDigits(byId('timeline-recon-other'), other.tensors.recon.data.subarray(k * shown * PIXELS, (k + 1) * shown * PIXELS), shown, shown, 1);
      byId('timeline-other-caption').textContent = `${other.name} at step ${s.step} (epoch ${s.epoch.toFixed(2)}): test −ELBO ` +
        `${s.test.total.toFixed(1)} (recon ${s.test.recon.toFixed(1)} + KL ${s.test.kl.toFixed(1)}), ` +
        `${s.active.filter(Boolean).length} of ${s.active.length} dimensions active`;
    }

    /** A traversal by the decoder of that moment: the latest snapshot at or before k that kept one (epochs 1, 2,
        4, …), its 4 most informative dimensions from −3 to 3. Latest wins while scrubbing. */
    async drawTimelineTraversal(k) {
      const { snapshots } = this.timelineData;
      const decoders = this.config.timeline.decoders || {};
      let d = k;
      while (d >= 0 && !decoders[String(d)]) d--;
      const caption = byId('timeline-traversal-caption'), canvas = byId('timeline-traversal');
      canvas.style.visibility = d < 0 ? 'hidden' : 'visible'; // (canvas.digits is display: inline-block !important)
      if (d < 0) {
        caption.textContent = 'The run keeps its decoder at epochs 1, 2, 4, 8, … and the last: scrub to one of them for a traversal of that moment.';
        return;
      }
      const url = decoders[String(d)];
      this.timelineModels = this.timelineModels || new Map();
      if (!this.timelineModels.has(url)) this.timelineModels.set(url, vae.loadModel({ ...this.config, decoder: url }));
      const model = await this.timelineModels.get(url);
      const kl = snapshots[d].kl_per_dim;
      const dims = kl.map((_, i) => i).sort((a, b) => kl[b] - kl[a]).slice(0, 4);
      const values = vae.traversalValues(9, this.config.traversal_range);
      const codes = vae.traversalCodes(new Float32Array(this.config.z_dim), dims, values);
      vae.drawDigits(canvas, await model.decode(codes, dims.length * values.length), dims.length * values.length, values.length, 2);
      caption.textContent = `The decoder at step ${snapshots[d].step} (epoch ${snapshots[d].epoch.toFixed(0)}): its 4 most informative ` +
        `dimensions then (${dims.map((i) => `z${i}`).join(', ')}), each from −3 to 3, the others at 0.`;
      this.frame('timeline-traversal');
    }

    /** The scrubber and Play (once per element: Gradio may render the tab's HTML anew). */
    wireTimeline() {
      const scrubber = byId('timeline-step'), play = byId('timeline-play');
      if (!scrubber || scrubber === this.timelineScrubber) return;
      this.timelineScrubber = scrubber;
      scrubber.addEventListener('input', () => this.drawSnapshot(Number(scrubber.value)));
      byId('timeline-compare').addEventListener('change', (e) => this.requestCompared(e.target.value));
      play.addEventListener('click', () => this.playTimeline());
    }

    playTimeline() {
      const scrubber = byId('timeline-step');
      if (this.timelinePlaying) {
        clearInterval(this.timelinePlaying);
        this.timelinePlaying = null;
        byId('timeline-play').textContent = '▶ Play';
        return;
      }
      if (Number(scrubber.value) >= Number(scrubber.max)) scrubber.value = '0';
      byId('timeline-play').textContent = '⏸ Pause';
      this.timelinePlaying = setInterval(() => {
        const next = Number(scrubber.value) + 1;
        if (next > Number(scrubber.max) || !this.timelineData) return this.playTimeline(); // at the end: stop
        scrubber.value = String(next);
        this.drawSnapshot(next);
      }, 400);
    }

    drawSnapshot(k) {
      const data = this.timelineData;
      if (!data || !data.snapshots[k]) return;
      const { snapshots, tensors } = data;
      const snapshot = snapshots[k];
      this.drawTimelineMap(tensors.coords, tensors.labels.data, k);
      const shown = tensors.recon.shape[1], prior = tensors.prior.shape[1];
      vae.drawDigits(byId('timeline-recon'), tensors.recon.data.subarray(k * shown * PIXELS, (k + 1) * shown * PIXELS), shown, shown, 2);
      vae.drawDigits(byId('timeline-prior'), tensors.prior.data.subarray(k * prior * PIXELS, (k + 1) * prior * PIXELS), prior, prior, 2);
      this.drawTimelineCurves(snapshots, k);
      this.drawTimelineKl(snapshot);
      this.drawCompared(snapshot.step);
      this.traversals.push(k);
      const active = snapshot.active.filter(Boolean).length;
      const test = snapshot.test;
      byId('timeline-caption').textContent = `snapshot ${k + 1} of ${snapshots.length} · step ${snapshot.step} · epoch ` +
        `${snapshot.epoch.toFixed(2)} · test −ELBO ${test.total.toFixed(1)} (recon ${test.recon.toFixed(1)} + KL ` +
        `${test.kl.toFixed(1)}) · ${active} of ${snapshot.active.length} dimensions active`;
      this.frame('timeline');
    }

    /** The subset's points at snapshot k, scaled to fill the canvas (the caption of the axes says the spread). */
    drawTimelineMap(coords, labels, k, canvasId = 'timeline-map') {
      const canvas = byId(canvasId);
      const g = clear(canvas);
      const n = coords.shape[1];
      const points = coords.data.subarray(k * n * 2, (k + 1) * n * 2);
      const xs = points.filter((_, i) => i % 2 === 0), ys = points.filter((_, i) => i % 2 === 1);
      const [x0, x1] = robustRange(xs), [y0, y1] = robustRange(ys);
      const span = Math.max(x1 - x0, y1 - y0) * 1.15, cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
      const size = canvas.width, colours = this.config?.class_colours ?? ['#444']; // the Train tab may draw before a checkpoint opens
      for (let i = 0; i < n; i++) {
        g.fillStyle = colours[Number(labels[i]) % colours.length];
        g.fillRect(size / 2 + ((xs[i] - cx) / span) * size - 1.5, size / 2 - ((ys[i] - cy) / span) * size - 1.5, 3, 3);
      }
      g.fillStyle = '#555';
      g.font = '11px sans-serif';
      g.fillText(`width of the view: ${span.toPrecision(2)}`, 6, size - 6);
    }

    /** Test recon, KL and −ELBO against log(1 + step), with the current snapshot marked. */
    drawTimelineCurves(snapshots, k) {
      const canvas = byId('timeline-curves');
      const g = clear(canvas);
      const pad = 30, w = canvas.width - 2 * pad, h = canvas.height - 2 * pad;
      const lastStep = Math.log1p(snapshots[snapshots.length - 1].step) || 1;
      const top = Math.max(...snapshots.map((s) => s.test.total)) * 1.05;
      const x = (s) => pad + (Math.log1p(s.step) / lastStep) * w, y = (v) => pad + h - (v / top) * h;
      g.strokeStyle = '#ccc';
      g.strokeRect(pad, pad, w, h);
      CURVES.forEach(([key, colour, label], c) => {
        g.strokeStyle = colour;
        g.beginPath();
        snapshots.forEach((s, i) => (i ? g.lineTo(x(s), y(s.test[key])) : g.moveTo(x(s), y(s.test[key]))));
        g.stroke();
        g.fillStyle = colour;
        g.font = '11px sans-serif';
        g.fillText(label, pad + 6 + c * 70, pad - 8);
      });
      g.strokeStyle = '#d62728';
      g.beginPath();
      g.moveTo(x(snapshots[k]), pad);
      g.lineTo(x(snapshots[k]), pad + h);
      g.stroke();
      g.fillStyle = '#555';
      g.fillText(`0 … ${top.toFixed(0)} nats`, pad + 4, pad + h + 14);
      g.fillText(`step 0 … ${snapshots[snapshots.length - 1].step}`, pad + w - 90, pad + h + 14);
    }

    /** KL per dimension at this snapshot, in the finished model's order (most informative first). */
    drawTimelineKl(snapshot, canvasId = 'timeline-kl', order = this.config.order) {
      const canvas = byId(canvasId);
      const g = clear(canvas);
      order = order || snapshot.kl_per_dim.map((_, d) => d);
      const top = Math.max(1, ...snapshot.kl_per_dim), bar = canvas.width / order.length;
      order.forEach((d, i) => {
        const height = (snapshot.kl_per_dim[d] / top) * (canvas.height - 14);
        g.fillStyle = snapshot.active[d] ? '#1f77b4' : '#bbb';
        g.fillRect(i * bar + 1, canvas.height - height, Math.max(bar - 2, 1), height);
      });
      g.fillStyle = '#555';
      g.font = '11px sans-serif';
      g.fillText(`0 … ${top.toFixed(2)} nats`, 4, 11);
    }
  };
})(window.vae = window.vae || {});
