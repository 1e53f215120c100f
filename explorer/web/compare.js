/* The compare view's reconstructions in the page: the server's plan names each data set's test images (bytes) and
   the ONNX files of each checkpoint; every checkpoint's model is loaded once and reconstructs the same images (and
   your drawing). Names are set as text, never as HTML. */
(function (vae) {
  const PIXELS = 784;

  function decodeBase64(text) {
    const raw = atob(text || '');
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function row(container, label, pixels, count) {
    const line = document.createElement('div');
    line.className = 'compare-row';
    const name = document.createElement('span');
    name.className = 'compare-label';
    name.textContent = label;
    const canvas = document.createElement('canvas');
    canvas.className = 'digits';
    line.append(name, canvas);
    container.append(line);
    vae.drawDigits(canvas, pixels, count, count, 2);
    return canvas;
  }

  vae.Comparison = class {
    constructor() {
      this.models = new Map(); // checkpoint name → VaeModel (kept: switching back and forth loads nothing twice)
    }

    async model(config) {
      if (!this.models.has(config.name)) this.models.set(config.name, vae.loadModel(config));
      return this.models.get(config.name);
    }

    /** Draw every group: its test images (+ the drawing) on top, then one row per checkpoint. */
    async render(container, plan, drawing) {
      const blocks = [];
      for (const group of plan.groups) {
        const images = decodeBase64(group.images);
        let count = images.length / PIXELS;
        let inputs = Float32Array.from(images, (v) => v / 255);
        if (drawing) {
          const withDrawing = new Float32Array((count + 1) * PIXELS);
          withDrawing.set(inputs);
          withDrawing.set(Float32Array.from(drawing, (v) => v / 255), count * PIXELS);
          inputs = withDrawing;
          count += 1;
        }
        const rows = [];
        if (count === 0) { // no test images reachable on the server and nothing drawn yet
          blocks.push({ group, inputs, count, rows });
          continue;
        }
        for (const config of group.models) {
          const model = await this.model(config);
          const { mean } = await model.encode(inputs, count);
          rows.push([config.name, await model.decode(mean, count)]);
        }
        blocks.push({ group, inputs, count, rows });
      }
      container.replaceChildren();
      for (const { group, inputs, count, rows } of blocks) {
        const title = document.createElement('h4');
        title.textContent = `${group.dataset} test images${drawing ? ' + your drawing' : ''}`;
        container.append(title);
        if (count === 0) {
          const note = document.createElement('p');
          note.textContent = `The ${group.dataset} test images are not available on this server: draw a digit on the Reconstructions tab to compare reconstructions of it.`;
          container.append(note);
          continue;
        }
        row(container, 'input', inputs, count);
        for (const [name, pixels] of rows) row(container, name, pixels, count);
      }
    }
  };
})(window.vae = window.vae || {});
