/* What the model finds hard, in the page: the map coloured by a per-image score, the ranked gallery (hardest or
   easiest test images, with their reconstructions), a drawing's own −ELBO and percentile, and the out-of-distribution
   histograms from the checkpoint's ood.json. The rules of explorer/likelihood.py (scores.js), with the score names
   the server sends. A view of the explorer (views.js). */
(function (vae) {
  function byId(id) { return document.getElementById(id); }
  const SET_COLOURS = ['#222', '#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2'];

  function quantile(sorted, q) { return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]; }

  vae.LikelihoodView = class extends vae.View {
    constructor(explorer) {
      super(explorer);
      this.mapColouring = 'class';
      this.galleryPicked = null; // the gallery's images, for a click on one
      this.drawingScore = null; // the last drawing's scores and percentile (tests read it)
    }

    /** A score's name → its atlas key, as the server names them ({'−ELBO': 'score_elbo', …}). */
    scoreKeys() {
      return Object.fromEntries(Object.entries(this.config.score_names).map(([key, name]) => [name, key]));
    }

    // ------------------------------------------------------------------ the map, coloured by a score
    colourMap(choice) {
      this.mapColouring = choice || 'class';
      if (this.mode !== 'browser' || (this.mapColouring !== 'class' && !this.atlas?.scores)) return this.server('server-map-colour');
      this.applyMapColour();
    }

    applyMapColour() {
      if (this.mode !== 'browser' || !this.atlas) return;
      const choice = this.mapColouring || 'class';
      const byName = this.scoreKeys(), key = byName[choice];
      if (choice !== 'class' && !(key && this.atlas.scores)) return;
      if (choice === 'class' && !this.atlas.scores) return vae.colourMapPlots({ key: 'class' }, this.config.class_colours || []);
      const scores = this.atlas.scores ? Object.fromEntries(Object.entries(byName).map(([n, k]) => [n, this.atlas.scores[k]])) : null;
      let colouring = { key: 'class', scores };
      if (key) {
        const values = this.atlas.scores[key];
        const sorted = Float64Array.from(values).sort();
        colouring = { key, title: choice, values, scores, low: quantile(sorted, 0.01), high: Math.max(quantile(sorted, 0.99), quantile(sorted, 0.01) + 1e-6) };
      }
      vae.colourMapPlots(colouring, this.config.class_colours || []);
    }

    // ------------------------------------------------------------------ the ranked gallery
    /** A class dropdown's shown name → its label (null for "any"). */
    classIndex(name) {
      const index = (this.config.classes || []).indexOf(name);
      return index >= 0 ? index : null;
    }

    async drawGallery(scoreChoice, which, classChoice) {
      const caption = byId('rank-caption');
      if (!this.atlas.scores) {
        if (caption) caption.textContent = 'This checkpoint has no per-image scores (trained before them): run `python -m training evaluate` on its folder.';
        return;
      }
      const byName = this.scoreKeys(), key = byName[scoreChoice] || 'score_elbo';
      const label = Number.isInteger(classChoice) ? classChoice : null;
      const picked = vae.ranked(this.atlas.scores[key], this.atlas.labels, which === 'easiest' ? 'easiest' : 'hardest', label, this.config.gallery_size);
      this.galleryPicked = picked;
      const means = new Float32Array(picked.length * this.atlas.zDim);
      picked.forEach((i, k) => means.set(this.atlas.mean(i), k * this.atlas.zDim));
      const recon = await this.model.decode(means, picked.length);
      const tiles = vae.imagesAboveDecodings(picked, recon, this.testDigits, 12);
      vae.drawDigits(byId('rank-canvas'), vae.stackDigits(tiles), tiles.length, 12, 3);
      const scoreName = this.config.score_names[key];
      const list = picked.map((i) => `#${i} ${this.className(this.atlas.labels[i])} ${this.atlas.scores[key][i].toFixed(1)}`).join(' · ');
      if (caption) caption.textContent = `The ${which === 'easiest' ? 'easiest' : 'hardest'} ${picked.length} test images by ${scoreName} (nats)` +
        (label === null ? '' : ` among ${this.className(label)}`) + (this.testDigits ? ', each above its reconstruction' : ' (the test images are not available: decodings of their means, twice)') +
        `. Click one to open it in Sample vs mean. ${list}`;
      this.frame('gallery');
    }

    /** A click on the gallery canvas: which tile (image or its reconstruction), then open that image in Sample vs mean. */
    galleryClick(event) {
      const canvas = event.target;
      if (!this.galleryPicked || canvas.id !== 'rank-canvas') return;
      const box = canvas.getBoundingClientRect();
      const column = Math.floor(((event.clientX - box.left) / box.width) * canvas.width / 30);
      const row = Math.floor(Math.floor(((event.clientY - box.top) / box.height) * canvas.height / 30) / 2);
      const index = this.galleryPicked[row * 12 + column];
      if (index === undefined) return;
      const input = document.querySelector('#sv-index input[type=number]');
      if (input) {
        input.value = String(index);
        input.dispatchEvent(new Event('input', { bubbles: true }));
        input.dispatchEvent(new Event('change', { bubbles: true }));
      }
      Array.from(document.querySelectorAll('[role=tab]')).find((tab) => tab.innerText.trim() === (this.config.tabs?.sample || 'Sample vs mean'))?.click();
    }

    // ------------------------------------------------------------------ your drawing's score
    async showDrawingScore(input, mean, std) {
      const line = byId('draw-score');
      if (!line || !this.atlas.scores) return;
      const score = await vae.scoreImage(this.model, input, mean, std, this.config.score_noise, this.config); // the server's noise and likelihood
      const share = vae.percentileOf(this.atlas.scores.score_elbo, score.elbo);
      this.drawingScore = { ...score, percentile: share };
      line.textContent = `−ELBO ${score.elbo.toFixed(1)} nats (reconstruction ${score.recon.toFixed(1)} + KL ${score.kl.toFixed(1)}): ` +
        `more unusual than ${share.toFixed(0)} % of the ${this.config.dataset} test images.`;
    }

    // ------------------------------------------------------------------ out-of-distribution histograms
    async drawOod() {
      const canvas = byId('ood-canvas'), finding = byId('ood-finding');
      if (!canvas) return;
      if (!this.config.ood) {
        if (finding) finding.textContent = 'This checkpoint has no out-of-distribution histograms (trained before them): run `python -m training evaluate` on its folder.';
        return;
      }
      const name = this.name;
      const response = await fetch(this.config.ood);
      const ood = response.ok ? await response.json() : null;
      if (name !== this.name) return;
      if (!ood) { if (finding) finding.textContent = `ood.json could not be fetched (HTTP ${response.status}).`; return; }
      const choice = document.querySelector('#ood-score input[type=radio]:checked')?.value;
      const key = choice === '−ELBO' ? 'score_elbo' : 'score_nll';
      this.plotHistograms(canvas, ood, key);
      if (finding) finding.textContent = ood.finding;
      this.frame('ood');
    }

    /** Step curves of each set's fraction of images per (log-spaced) bin, one colour per set, with a legend. */
    plotHistograms(canvas, ood, key) {
      const table = ood.histograms[key], edges = table.edges, names = ood.sets.map((s) => s.name);
      const width = 900, height = 340, left = 50, right = 260, top = 12, bottom = 40;
      canvas.width = width; canvas.height = height;
      const g = canvas.getContext('2d');
      g.fillStyle = '#fff'; g.fillRect(0, 0, width, height);
      const lx = (v) => Math.log10(v), x0 = lx(edges[0]), x1 = lx(edges[edges.length - 1]);
      const px = (v) => left + ((lx(v) - x0) / (x1 - x0)) * (width - left - right);
      const peak = Math.max(...names.map((n) => Math.max(...table.fractions[n])), 1e-6);
      const py = (f) => height - bottom - (f / peak) * (height - top - bottom);
      g.strokeStyle = '#999'; g.lineWidth = 1; g.beginPath(); g.moveTo(left, top); g.lineTo(left, height - bottom); g.lineTo(width - right, height - bottom); g.stroke();
      g.fillStyle = '#444'; g.font = '12px sans-serif'; g.textAlign = 'center';
      for (let p = Math.floor(x0); p <= Math.floor(x1); p++) {
        for (const m of [1, 2, 5]) {
          const v = m * 10 ** p;
          if (v < edges[0] || v > edges[edges.length - 1]) continue;
          g.fillText(String(v), px(v), height - bottom + 15);
        }
      }
      const label = key === 'score_elbo' ? '−ELBO' : `−log p(x) (IWAE, k = ${ood.k})`;
      g.fillText(`${label} per image, nats (log scale); lower = the model finds it more likely`, left + (width - left - right) / 2, height - 6);
      g.textAlign = 'left';
      names.forEach((name, s) => {
        const colour = SET_COLOURS[s % SET_COLOURS.length], fractions = table.fractions[name];
        g.strokeStyle = colour; g.lineWidth = name === ood.own ? 2.5 : 1.5; g.beginPath();
        g.moveTo(px(edges[0]), py(0));
        fractions.forEach((f, b) => { g.lineTo(px(edges[b]), py(f)); g.lineTo(px(edges[b + 1]), py(f)); });
        g.lineTo(px(edges[edges.length - 1]), py(0)); g.stroke();
        const stats = ood.sets[s];
        g.fillStyle = colour;
        g.fillText(`${name}: median ${stats[key === 'score_elbo' ? 'median_elbo' : 'median_nll'].toFixed(0)}`, width - right + 12, top + 14 + 18 * s);
      });
      canvas.dataset.drawn = 'yes';
    }
  };
})(window.vae = window.vae || {});
