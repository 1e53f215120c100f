/* The Train tab's live view: the server says which run to show and a version of its live files (the status, once a
   second); the page fetches the run's progress.json (every step's training loss, the epochs' test loss) and, when a
   snapshot arrives, its timeline so far, and draws the curves, the map, the reconstructions, the prior samples and
   the KL per dimension at the latest snapshot. Nothing is computed on the server; it needs no model, so it also draws
   in the server fallback. A view of the explorer (views.js); it draws its map and KL bars as the timeline does. */
(function (vae) {
  const PIXELS = 784;
  const TERMS = [[1, '#222'], [2, '#1f77b4'], [3, '#ff7f0e']]; // [column of [step|epoch, total, recon, kl], colour]

  function byId(id) { return document.getElementById(id); }

  async function fetchFresh(url, version, what) {
    const response = await fetch(`${url}${url.includes('?') ? '&' : '?'}v=${encodeURIComponent(version)}`, { cache: 'no-store' });
    if (!response.ok) throw new Error(`the run's ${what} could not be fetched (HTTP ${response.status})`);
    return response;
  }

  /** The bridge's listener: keep the latest status (the page's explorer may not exist yet) and draw it. */
  vae.trainStatus = function (text) {
    vae.trainLatest = text;
    if (vae.explorer) vae.explorer.views.get('train').trainLive(text);
  };

  vae.TrainView = class extends vae.View {
    /** The server's status of the run on show (JSON); latest wins while a fetch is under way. */
    async trainLive(text) {
      const live = JSON.parse(text || '{}');
      const view = byId('train-view');
      if (!view) return;
      view.hidden = !live.files;
      if (!live.files || (this.trainShown && this.trainShown.version === live.version && this.trainShown.name === live.name)) return;
      this.trainShown = live;
      try {
        const progress = await (await fetchFresh(live.files.progress, live.version, 'progress')).json();
        let timeline = this.trainTimeline;
        if (live.files.json && (!timeline || timeline.name !== live.name || timeline.count !== live.snapshots)) {
          const [meta, buffer] = await Promise.all([(await fetchFresh(live.files.json, live.snapshots, 'snapshots')).json(),
            (await fetchFresh(live.files.tensors, live.snapshots, 'snapshot tensors')).arrayBuffer()]);
          timeline = { name: live.name, count: live.snapshots, snapshots: meta.snapshots, tensors: vae.parseSafetensors(buffer) };
        }
        if (this.trainShown !== live) return; // a newer status arrived meanwhile
        this.trainTimeline = timeline && timeline.name === live.name ? timeline : null;
        this.drawTraining(live, progress, this.trainTimeline);
      } catch (err) {
        byId('train-caption').textContent = `The live view could not be updated: ${err.message}`;
      }
    }

    drawTraining(live, progress, timeline) {
      this.drawTrainCurves(progress);
      // before a visitor's first run, a shipped model's run is drawn as an example of what theirs will draw
      let caption = live.state === 'example'
        ? `Example — how ${live.name} learned: ${progress.epochs} epochs, ${progress.steps} steps (the thin lines ` +
          `here are the test subset's loss at each snapshot, from step 0)`
        : `${live.name}: step ${progress.step} of ${progress.steps}`;
      if (timeline) {
        const { snapshots, tensors } = timeline;
        // the JSON is replaced after the tensors: never more snapshots than the tensors hold
        const k = Math.min(snapshots.length, tensors.coords.shape[0]) - 1;
        const s = snapshots[k];
        this.view('timeline').drawTimelineMap(tensors.coords, tensors.labels.data, k, 'train-map');
        const shown = tensors.recon.shape[1], prior = tensors.prior.shape[1];
        vae.drawDigits(byId('train-recon'), tensors.recon.data.subarray(k * shown * PIXELS, (k + 1) * shown * PIXELS), shown, shown, 2);
        vae.drawDigits(byId('train-prior'), tensors.prior.data.subarray(k * prior * PIXELS, (k + 1) * prior * PIXELS), prior, prior, 2);
        this.view('timeline').drawTimelineKl(s, 'train-kl', null);
        caption += ` · latest snapshot at step ${s.step}: test −ELBO ${s.test.total.toFixed(1)} (recon ` +
          `${s.test.recon.toFixed(1)} + KL ${s.test.kl.toFixed(1)}), ${s.active.filter(Boolean).length} of ` +
          `${s.active.length} dimensions active`;
      }
      byId('train-caption').textContent = caption;
      this.frame('train');
    }

    /** Every step's training loss (thin lines) and each epoch end's test loss (dots), against the step. */
    drawTrainCurves(progress) {
      const canvas = byId('train-curves');
      canvas.dataset.drawn = 'yes';
      const g = canvas.getContext('2d');
      g.fillStyle = '#fff';
      g.fillRect(0, 0, canvas.width, canvas.height);
      const pad = 30, w = canvas.width - 2 * pad, h = canvas.height - 2 * pad;
      const train = progress.train, test = progress.test.map(([epoch, ...terms]) => [epoch * (progress.steps / progress.epochs), ...terms]);
      const values = [...train.slice(Math.min(5, train.length - 1)), ...test].map((r) => r[1]).filter(Number.isFinite);
      const top = (values.length ? Math.max(...values) : 1) * 1.1;
      const x = (step) => pad + (step / Math.max(progress.steps, 1)) * w, y = (v) => pad + h - (Math.min(v, top) / top) * h;
      g.strokeStyle = '#ccc';
      g.strokeRect(pad, pad, w, h);
      TERMS.forEach(([column, colour]) => {
        g.strokeStyle = colour;
        g.lineWidth = 1;
        g.beginPath();
        train.forEach((r, i) => (i ? g.lineTo(x(r[0]), y(r[column])) : g.moveTo(x(r[0]), y(r[column]))));
        g.stroke();
        g.fillStyle = colour;
        test.forEach((r) => { g.beginPath(); g.arc(x(r[0]), y(r[column]), 3.5, 0, 2 * Math.PI); g.fill(); });
      });
      g.fillStyle = '#555';
      g.font = '11px sans-serif';
      g.fillText(`0 … ${top.toFixed(0)} nats (first steps cut)`, pad + 4, pad - 8);
      g.fillText(`step 0 … ${progress.steps}`, pad + w - 80, pad + h + 14);
    }
  };
})(window.vae = window.vae || {});
