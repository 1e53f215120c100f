/* The checkpoint's encoder.onnx and decoder.onnx in onnxruntime-web: one WebAssembly thread, files from the
   server's vendored copy (no CDN, no cross-origin isolation needed). */
(function (vae) {
  class VaeModel {
    constructor(encoder, decoder, zDim) {
      this.encoder = encoder;
      this.decoder = decoder;
      this.zDim = zDim;
    }

    /** Pixel probabilities (n·784 floats in [0, 1]) for n latent codes packed in a Float32Array. */
    async decode(z, n) {
      const out = await this.decoder.run({ z: new ort.Tensor('float32', z, [n, this.zDim]) });
      return out.pixels.data;
    }

    /** q(z|x)'s mean and std (n·zDim floats each) for n images of 784 floats in [0, 1]. */
    async encode(images, n) {
      const out = await this.encoder.run({ image: new ort.Tensor('float32', images, [n, 1, 28, 28]) });
      return { mean: out.mean.data, std: out.std.data };
    }
  }

  vae.loadModel = async function (config) {
    if (typeof WebAssembly !== 'object') throw new Error('this browser has no WebAssembly');
    if (typeof ort !== 'object') throw new Error('onnxruntime-web did not load');
    ort.env.wasm.numThreads = 1;
    // an absolute URL: the runtime import()s its .mjs from here, and import() takes no bare relative specifier
    ort.env.wasm.wasmPaths = new URL(config.ort_base, document.baseURI).href;
    const options = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
    const encoder = await ort.InferenceSession.create(config.encoder, options);
    const decoder = await ort.InferenceSession.create(config.decoder, options);
    return new VaeModel(encoder, decoder, config.z_dim);
  };
})(window.vae = window.vae || {});
