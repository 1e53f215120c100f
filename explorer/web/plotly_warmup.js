/* Gradio imports plotly (its PlotlyPlot chunk, 4.6 MB) the first time a plot is shown; evaluating it is one long task
   of ≈ 1.4 s on the main thread (measured in headless Chromium on a 2-core AMD EPYC), and it landed on whichever tab
   first showed a plot (the sliders' KL bars), delaying its pixels. The page imports that same module while its model
   loads, so the module cache already holds it when a plot appears. */
(function (vae) {
  let started = null;

  /** Import Gradio's plotly chunk once (same URL as Gradio's own import, so one module instance); never fails the page. */
  vae.warmPlotly = function (chunk) {
    if (started || !chunk) return started;
    const gradioModule = document.querySelector('script[type=module][src*="/assets/"]');
    if (!gradioModule) return null;
    started = import(new URL(chunk, gradioModule.src).href).catch(() => null);
    return started;
  };
})(window.vae = window.vae || {});
