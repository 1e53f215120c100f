/* A drawing pad: white ink on black like MNIST, pointer (mouse, pen, touch) strokes, and a clear button.
   It reports its pixels while a stroke moves and when it ends; what happens with them is the explorer's job. */
(function (vae) {
  const SIZE = 252; // 9 × 28; below images.WORK_SIZE, so the server's fallback path does no extra shrink
  const PEN_WIDTH = 20;

  vae.DrawPad = class {
    constructor(root, { onStroke, onStrokeEnd }) {
      this.canvas = root.querySelector('canvas');
      this.canvas.width = this.canvas.height = SIZE;
      this.context = this.canvas.getContext('2d', { willReadFrequently: true });
      this.onStroke = onStroke;
      this.onStrokeEnd = onStrokeEnd;
      this.last = null;
      this.clear();
      this.canvas.addEventListener('pointerdown', (e) => this.start(e));
      this.canvas.addEventListener('pointermove', (e) => this.move(e));
      for (const type of ['pointerup', 'pointercancel', 'pointerleave']) this.canvas.addEventListener(type, (e) => this.end(e));
      root.querySelector('button.clear').addEventListener('click', () => this.clear());
    }

    clear() {
      this.context.fillStyle = '#000';
      this.context.fillRect(0, 0, SIZE, SIZE);
      this.empty = true;
    }

    point(event) {
      const box = this.canvas.getBoundingClientRect();
      return [((event.clientX - box.left) * SIZE) / box.width, ((event.clientY - box.top) * SIZE) / box.height];
    }

    start(event) {
      this.canvas.setPointerCapture?.(event.pointerId);
      this.last = this.point(event);
      this.line(this.last, this.last);
    }

    move(event) {
      if (!this.last) return;
      const next = this.point(event);
      this.line(this.last, next);
      this.last = next;
    }

    end(event) {
      if (!this.last) return;
      this.last = null;
      this.onStrokeEnd(this);
    }

    line(from, to) {
      const c = this.context;
      c.strokeStyle = '#fff';
      c.lineWidth = PEN_WIDTH;
      c.lineCap = c.lineJoin = 'round';
      c.beginPath();
      c.moveTo(from[0], from[1]);
      c.lineTo(to[0], to[1]);
      c.stroke();
      this.empty = false;
      this.onStroke(this);
    }

    /** The pad as grayscale floats in [0, 1] (SIZE² values, row by row). */
    gray() {
      const rgba = this.context.getImageData(0, 0, SIZE, SIZE).data;
      const out = new Float64Array(SIZE * SIZE);
      for (let i = 0; i < out.length; i++) out[i] = rgba[4 * i] / 255;
      return { gray: out, height: SIZE, width: SIZE };
    }

    pngDataUrl() { return this.canvas.toDataURL('image/png'); }
  };
})(window.vae = window.vae || {});
