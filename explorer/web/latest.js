/* Latest value wins: a slider or a pen moves faster than the model runs, so while one inference runs, newer
   requests replace each other and only the newest runs next. Stale frames are dropped, never queued. */
(function (vae) {
  vae.LatestOnly = class {
    constructor(work) {
      this.work = work;
      this.pending = null;
      this.hasPending = false;
      this.running = false;
    }

    push(value) {
      this.pending = value;
      this.hasPending = true;
      if (!this.running) this.drain();
    }

    async drain() {
      this.running = true;
      while (this.hasPending) {
        const value = this.pending;
        this.hasPending = false;
        this.pending = null;
        try {
          await this.work(value);
        } catch (err) {
          console.error('vae-explorer:', err);
        }
      }
      this.running = false;
    }
  };

  /** Resolves once the page has painted what was drawn before the call: after the next frame, in a new task. */
  vae.afterPaint = function () {
    return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  };
})(window.vae = window.vae || {});
