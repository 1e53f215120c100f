/* The latent sliders in the page: slider k moves latent dimension config.order[k]; each new z is decoded, and the
   8 test images whose encodings are nearest are shown beside it. A view of the explorer (views.js). */
(function (vae) {
  const NEAREST = 8;

  function sameValues(a, b) {
    return a && b && a.length === b.length && a.every((v, i) => v === b[i]);
  }

  vae.SliderView = class extends vae.View {
    constructor(explorer) {
      super(explorer);
      this.values = []; // slider k's value (display order): slider k moves latent dimension config.order[k]
      this.lastZ = null;
      this.moves = new vae.LatestOnly((z) => this.drawSliders(z));
      this.heldInputs = new Set(); // sliders whose input event Gradio gets after the next paint (onInput)
      this.replaying = null;
      // a slider's own input event starts its decode at once; Gradio's .change listener (decodeSliders) also covers
      // values the server sets, and the repeat of the same z is dropped in drawSliders
      document.addEventListener('input', (e) => this.onInput(e), true);
    }

    /** A new checkpoint: values the server sets while its model loads (a link's z) are kept and drawn once it is ready. */
    reset() {
      this.values = [];
      this.lastZ = null;
    }

    /** The z the sliders show (slider k holds latent dimension order[k]). */
    currentZ() {
      const values = this.readSliders(), z = new Float32Array(this.config.z_dim);
      this.config.order.forEach((d, k) => { z[d] = Number(values[k]) || 0; });
      return z;
    }

    /** Slider values in display order: the last ones Gradio reported, with any slider on screen read directly
        (an inactive dimension's slider may be folded away while it still holds a value). */
    readSliders() {
      const values = [];
      for (let k = 0; k < this.config.z_dim; k++) {
        const input = document.querySelector(`#slider-${k} input[type=range]`);
        values.push(input ? Number(input.value) : Number(this.values[k] || 0));
      }
      return values;
    }

    /** A slider's input event: decode at once. Gradio's own handling of the event (≈ 14 ms a move on a 2-core EPYC:
        its .change listener clones the page's state) ran in the same task and held the new pixels off the screen
        for a frame or two; it gets the event after the paint instead, at most once a frame per slider. */
    onInput(event) {
      const input = event.target;
      if (this.mode !== 'browser' || !input.matches?.('.latent-slider input[type=range]') || input === this.replaying) return;
      this.decodeSliders(this.readSliders());
      event.stopImmediatePropagation();
      if (this.heldInputs.has(input)) return;
      this.heldInputs.add(input);
      vae.afterPaint().then(() => {
        this.heldInputs.delete(input);
        this.replaying = input;
        input.dispatchEvent(new Event('input', { bubbles: true }));
        this.replaying = null;
      });
    }

    /** Slider values (display order) → z: slider k holds latent dimension order[k]. */
    decodeSliders(values) {
      if (this.mode === 'server') return this.server('server-decode');
      if (!this.config) return;
      // kept while the model loads too: a folded-away slider has no input to read its value back from
      this.values = values.slice(0, this.config.z_dim).map(Number);
      if (this.mode !== 'browser') return;
      const z = new Float32Array(this.config.z_dim);
      this.config.order.forEach((d, k) => { z[d] = this.values[k] || 0; });
      this.moves.push(z);
    }

    async drawSliders(z) {
      if (sameValues(z, this.lastZ)) return;
      this.lastZ = z;
      const pixels = await this.model.decode(z, 1);
      vae.drawDigits(document.getElementById('slider-canvas'), pixels, 1, 1, 10);
      this.frame('sliders');
      await vae.afterPaint(); // the nearest digits after the decoding is on screen, and not for a z already replaced
      if (!this.moves.hasPending) await this.drawNearest(z);
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
      vae.drawDigits(document.getElementById('nearest-canvas'), digits, NEAREST, NEAREST / 2, 2);
      const what = this.testDigits ? 'The 8 test images' : 'Decodings of the 8 test images';
      const caption = document.getElementById('nearest-caption');
      if (caption) caption.textContent = `${what} whose encodings are nearest to z: #${nearest.join(', #')} (${nearest.map((i) => this.className(this.atlas.labels[i])).join(' · ')}).`;
      this.frame('nearest');
    }
  };
})(window.vae = window.vae || {});
