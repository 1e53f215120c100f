/* The registry of the page's views. Each view is its own object, made with the explorer (explorer.js) that holds
   what they share — the open checkpoint's config, model, atlas and test digits, the mode (browser, server, loading)
   and the map's state — and registered under a name in one list (Explorer's constructor), so a reader sees which
   views exist; a view that needs another asks the registry for it by name. */
(function (vae) {
  vae.Views = class {
    constructor() {
      this.byName = new Map();
    }

    register(name, view) {
      if (this.byName.has(name)) throw new Error(`two views are named ${name}`);
      this.byName.set(name, view);
      return view;
    }

    get(name) {
      const view = this.byName.get(name);
      if (!view) throw new Error(`no view is named ${name}`);
      return view;
    }
  };

  /** What every view reads from the explorer, by the names the views used when they were its methods. */
  vae.View = class {
    constructor(explorer) {
      this.explorer = explorer;
    }

    get config() { return this.explorer.config; }
    get model() { return this.explorer.model; }
    get atlas() { return this.explorer.atlas; }
    get testDigits() { return this.explorer.testDigits; }
    get mode() { return this.explorer.mode; }
    get name() { return this.explorer.name; }

    view(name) { return this.explorer.views.get(name); }
    frame(name) { this.explorer.frame(name); }
    server(bridge) { this.explorer.server(bridge); }
    runsHere(bridge) { return this.explorer.runsHere(bridge); }
    className(label) { return this.explorer.className(label); }
  };
})(window.vae = window.vae || {});
