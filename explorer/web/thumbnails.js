/* The test digits drawn on the map at their points, from the sprite the page already loaded: a canvas laid over the
   plot's data area. While a pan or zoom is under way (plotly_relayouting, every frame) the drawn canvas is only moved
   and scaled with a CSS transform, like map tiles; it is redrawn when the gesture ends. Redrawing 10,000 digits on
   every frame ran at 8 redraws/s in headless Chromium here. On when the "Thumbnails" box is ticked, and by itself
   once few enough points are in view to see each digit. */
(function (vae) {
  const AUTO_BELOW = 600; // visible points under which the digits are drawn without the box ticked
  const COLUMNS = 100; // web_assets.SPRITE_COLUMNS

  vae.Thumbnails = class {
    constructor(sprite, atlasCount) {
      this.sprite = sprite; // an ImageBitmap of 28×28 tiles, COLUMNS a row
      this.n = atlasCount;
      this.forced = false;
      this.frames = 0; // redraws, for the benchmark's frames per second
    }

    /** Draw onto `plot` (a plotly graph div) from its traces' current x, y (the page's own projection too). */
    draw(plot) {
      const layout = plot._fullLayout;
      if (!layout || !layout.xaxis || !layout.yaxis) return;
      const xa = layout.xaxis, ya = layout.yaxis;
      let canvas = plot.querySelector('canvas.vae-thumbs');
      if (!canvas) {
        canvas = document.createElement('canvas');
        canvas.className = 'vae-thumbs';
        plot.style.position = 'relative';
        plot.appendChild(canvas);
      }
      const width = Math.round(xa._length), height = Math.round(ya._length);
      if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
      canvas.style.left = `${xa._offset}px`;
      canvas.style.top = `${ya._offset}px`;
      canvas.style.transform = '';
      canvas.vaeRanges = { x: xa.range.slice(), y: ya.range.slice() };
      const g = canvas.getContext('2d');
      g.clearRect(0, 0, width, height);
      const points = [];
      for (const trace of plot._fullData || []) {
        if (!trace.customdata || !trace.visible || trace.visible === 'legendonly') continue;
        const xs = trace.x, ys = trace.y;
        for (let k = 0; k < xs.length; k++) {
          const px = xa.l2p(xs[k]), py = ya.l2p(ys[k]);
          if (px >= 0 && px <= width && py >= 0 && py <= height) points.push([px, py, Number(trace.customdata[k][0])]);
        }
      }
      const on = this.forced || points.length < AUTO_BELOW;
      canvas.style.display = on ? 'block' : 'none';
      plot.dataset.thumbnails = on ? String(points.length) : '0';
      if (!on) return;
      // bigger digits when fewer are in view: 28 px each below 100 points, down to 10 px for the whole map
      const size = Math.max(10, Math.min(28, Math.round(28 * Math.sqrt(100 / Math.max(points.length, 1)))));
      g.imageSmoothingEnabled = size < 28;
      for (const [px, py, i] of points) {
        const sx = (i % COLUMNS) * 28, sy = Math.floor(i / COLUMNS) * 28;
        g.drawImage(this.sprite, sx, sy, 28, 28, px - size / 2, py - size / 2, size, size);
      }
      this.frames += 1;
    }

    /** Mid-gesture: move and scale the last drawing to the axis ranges plotly reports (`event`: its relayouting data). */
    follow(plot, event) {
      const canvas = plot.querySelector('canvas.vae-thumbs');
      const drawn = canvas && canvas.vaeRanges;
      const x0 = event['xaxis.range[0]'], x1 = event['xaxis.range[1]'], y0 = event['yaxis.range[0]'], y1 = event['yaxis.range[1]'];
      if (!drawn || canvas.style.display === 'none' || [x0, x1, y0, y1].some((v) => v === undefined)) return false;
      const sx = (drawn.x[1] - drawn.x[0]) / (x1 - x0), sy = (drawn.y[1] - drawn.y[0]) / (y1 - y0);
      const left = ((drawn.x[0] - x0) / (x1 - x0)) * canvas.width, top = ((y1 - drawn.y[1]) / (y1 - y0)) * canvas.height;
      canvas.style.transformOrigin = '0 0';
      canvas.style.transform = `translate(${left}px, ${top}px) scale(${sx}, ${sy})`;
      this.frames += 1;
      return true;
    }
  };

  /** The sprite as an image the canvas can draw from (the same URL as the digits' bytes: served from the cache). */
  vae.loadSpriteImage = async function (url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`the test digits could not be fetched (HTTP ${response.status})`);
    return createImageBitmap(await response.blob());
  };
})(window.vae = window.vae || {});
