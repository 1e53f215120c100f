/* Digits on canvases: model outputs (floats in [0, 1]) and test digits (bytes) drawn at 28×28 per digit and scaled
   up by CSS with crisp pixels; the test set arrives as one PNG sprite of 28×28 tiles. */
(function (vae) {
  const SIZE = 28, PIXELS = 784, GAP = 2;

  /** Draw `count` digits (784 values each; floats in [0, 1] or bytes) in a grid of `columns`, `scale` CSS px per pixel. */
  vae.drawDigits = function (canvas, pixels, count, columns, scale) {
    if (!canvas) return; // Gradio renders a tab's components when the tab is first opened
    canvas.dataset.drawn = 'yes';
    const rows = Math.ceil(count / columns);
    const width = columns * SIZE + (columns - 1) * GAP, height = rows * SIZE + (rows - 1) * GAP;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    canvas.style.width = `${width * scale}px`;
    canvas.style.height = `${height * scale}px`;
    const factor = pixels instanceof Uint8Array || pixels instanceof Uint8ClampedArray ? 1 : 255;
    const image = new ImageData(width, height);
    image.data.fill(255); // white gaps between digits
    for (let k = 0; k < count; k++) {
      const x0 = (k % columns) * (SIZE + GAP), y0 = Math.floor(k / columns) * (SIZE + GAP);
      for (let y = 0; y < SIZE; y++) {
        for (let x = 0; x < SIZE; x++) {
          const v = Math.round(Math.min(Math.max(pixels[k * PIXELS + y * SIZE + x] * factor, 0), 255));
          const o = 4 * ((y0 + y) * width + x0 + x);
          image.data[o] = image.data[o + 1] = image.data[o + 2] = v;
        }
      }
    }
    canvas.getContext('2d').putImageData(image, 0, 0);
  };

  /** The test digits as bytes (N·784), read once from the sprite PNG (tiles in rows of `columns`). */
  vae.loadSprite = async function (url, count, columns) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`the test digits could not be fetched (HTTP ${response.status})`);
    const bitmap = await createImageBitmap(await response.blob());
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext('2d');
    context.drawImage(bitmap, 0, 0);
    const rgba = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
    const digits = new Uint8Array(count * PIXELS);
    for (let k = 0; k < count; k++) {
      const x0 = (k % columns) * SIZE, y0 = Math.floor(k / columns) * SIZE;
      for (let y = 0; y < SIZE; y++) {
        for (let x = 0; x < SIZE; x++) digits[k * PIXELS + y * SIZE + x] = rgba[4 * ((y0 + y) * bitmap.width + x0 + x)];
      }
    }
    return digits;
  };

  /** Tiles for drawDigits: rows of `columns` test images (`testDigits` bytes, or their decodings when the page has
      none), each row followed by the row of their decodings (`decoded`: one 784-float image per index, in order). */
  vae.imagesAboveDecodings = function (indices, decoded, testDigits, columns) {
    const tiles = [], decoding = (k) => decoded.subarray(k * PIXELS, (k + 1) * PIXELS);
    for (let row = 0; row < indices.length; row += columns) {
      const part = indices.slice(row, row + columns);
      part.forEach((i, k) => tiles.push(testDigits ? testDigits.subarray(i * PIXELS, (i + 1) * PIXELS) : decoding(row + k)));
      part.forEach((_, k) => tiles.push(decoding(row + k)));
    }
    return tiles;
  };

  /** Pack chosen digits (from byte and float sources) into one float array for drawDigits. */
  vae.stackDigits = function (parts) {
    const out = new Float32Array(parts.length * PIXELS);
    parts.forEach((part, k) => {
      const factor = part instanceof Uint8Array ? 1 / 255 : 1;
      for (let i = 0; i < PIXELS; i++) out[k * PIXELS + i] = part[i] * factor;
    });
    return out;
  };
})(window.vae = window.vae || {});
