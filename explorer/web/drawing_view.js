/* Your drawing and the latent map in the page: a stroke is brought to MNIST's form, encoded and decoded, and its mean
   is marked ★ on the map; a click on the map decodes that test image's mean. A view of the explorer (views.js). */
(function (vae) {
  function byId(id) { return document.getElementById(id); }

  vae.DrawingView = class extends vae.View {
    constructor(explorer) {
      super(explorer);
      this.strokes = new vae.LatestOnly((pad) => this.drawReconstruction(pad));
      this.drawnDigit = null; // the last drawing in MNIST form: the compare view reconstructs it with each checkpoint
      // a stroke that starts before the next frame has wired a freshly rendered pad (a busy page) is not lost: the
      // pad's own listeners, added here in the capture phase, still receive this pointerdown
      document.addEventListener('pointerdown', (e) => { if (e.target.closest?.('#drawpad')) this.wireDrawPad(); }, true);
    }

    /** A drawing made while the model loaded, or under the previous checkpoint: reconstructed by this one. */
    redraw() {
      if (this.pad && !this.pad.empty) this.strokes.push(this.pad);
    }

    /** Give the drawing pad its listeners once Gradio has rendered it (and again if it renders a new one). */
    wireDrawPad() {
      const element = byId('drawpad');
      if (!element || element === this.padElement) return;
      this.padElement = element;
      this.pad = new vae.DrawPad(element, { onStroke: (p) => this.onStroke(p), onStrokeEnd: (p) => this.onStrokeEnd(p) });
    }

    onStroke(pad) {
      if (this.mode === 'browser') this.strokes.push(pad);
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
      const { mean, std } = await this.model.encode(input, 1);
      const pixels = await this.model.decode(mean, 1);
      vae.drawDigits(byId('draw-left-canvas'), digit, 1, 1, 6);
      this.drawnDigit = digit;
      vae.drawDigits(byId('draw-right-canvas'), pixels, 1, 1, 6);
      const explorer = this.explorer;
      explorer.marker = Float32Array.from(mean);
      explorer.markerStd = Float32Array.from(std); // its σ ellipse on a 2-D latent plane (map_instrument.js)
      this.placeMarker();
      this.view('map').showNeighbours('drawing'); // its latent neighbours against its map neighbours, and its σ ellipses
      message.textContent = "The model's input (left, MNIST form) and its reconstruction (right). It is marked ★ on the latent map.";
      this.frame('drawing');
      await this.view('likelihood').showDrawingScore(input, mean, std); // its −ELBO and percentile among the test images
    }

    /** The ★: the drawing's mean, placed on the map the explorer shows. */
    placeMarker() {
      if (this.mode !== 'browser') return;
      const { marker, method } = this.explorer;
      vae.placeStar(marker && this.atlas.coords[method] ? this.atlas.placeOnMap(marker, method) : null);
    }

    async mapClick(index) {
      this.explorer.lastPoint = index;
      if (this.mode !== 'browser') return vae.sendMapClickToServer(index);
      const pixels = await this.model.decode(this.atlas.mean(index), 1);
      vae.drawDigits(byId('clicked-right-canvas'), pixels, 1, 1, 6);
      const original = byId('clicked-left-canvas');
      if (this.testDigits) vae.drawDigits(original, this.testDigits.subarray(index * 784, (index + 1) * 784), 1, 1, 6);
      original.style.visibility = this.testDigits ? 'visible' : 'hidden';
      this.view('map').showNeighbours(index);
      this.view('direction').baseMoved(); // the direction's slider moves this image now
      byId('clicked-caption').textContent = `Test image #${index}, ${this.className(this.atlas.labels[index])}` +
        (this.testDigits ? ': the image (left) and the decoding of its encoded mean (right).' : ': the decoding of its encoded mean (the test images are not available to show the original).');
      this.frame('map');
    }
  };
})(window.vae = window.vae || {});
