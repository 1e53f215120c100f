/* Per-image scores in the page, by the rules of the server: a drawing's −ELBO as training/scores.py's score_images
   computes it for one image (its k samples of q(z|x) made with the server's own noise, config.score_noise), and the
   hardest or easiest test images by a score as explorer/likelihood.py's ranked picks them. */
(function (vae) {
  const PIXELS = 784;
  // the largest probability below 1 a float32 holds: the decoder's output cannot say more (a logit above ≈ 16.6)
  const LARGEST = 1 - 2 ** -24;

  /** −log p(x|z) summed over the pixels: binary cross-entropy of the image `x` (784 floats in [0, 1]) under pixel
      probabilities `p` (784 floats), the BCE-with-logits of training/loss.py written with the logits' sigmoid. */
  function crossEntropy(x, p) {
    let sum = 0;
    for (let i = 0; i < PIXELS; i++) {
      const q = Math.min(Math.max(p[i], Number.MIN_VALUE), LARGEST);
      sum -= x[i] * Math.log(q) + (1 - x[i]) * Math.log1p(-q);
    }
    return sum;
  }

  /** −log p(x|z) of a model trained with MSE: each pixel a Gaussian of variance ½ around `p` (training/loss.py),
      (x − p)² + `constant` (½·log π, sent by the server) per pixel. */
  function squaredError(x, p, constant) {
    let sum = 0;
    for (let i = 0; i < PIXELS; i++) sum += (x[i] - p[i]) * (x[i] - p[i]) + constant;
    return sum;
  }

  /** KL(q(z|x) ‖ N(0, I)) in closed form, summed over the dimensions (training/loss.py kl_per_dim). */
  function klToPrior(mean, std) {
    let kl = 0;
    for (let d = 0; d < mean.length; d++) kl += 0.5 * (mean[d] * mean[d] + std[d] * std[d] - 1) - Math.log(std[d]);
    return kl;
  }

  /** One image's reconstruction term, KL and −ELBO in nats: `input` 784 floats in [0, 1], q(z|x)'s `mean` and `std`,
      and `noise` (k·zDim standard normals, the server's): z_s = mean + std·noise_s, decoded by `model`; under the
      model's likelihood (config.likelihood: 'bce', or 'mse' with config.mse_pixel_constant). */
  vae.scoreImage = async function (model, input, mean, std, noise, config = {}) {
    const zDim = mean.length, k = noise.length / zDim;
    const z = new Float32Array(k * zDim);
    for (let s = 0; s < k; s++) for (let d = 0; d < zDim; d++) z[s * zDim + d] = mean[d] + std[d] * noise[s * zDim + d];
    const pixels = await model.decode(z, k);
    let recon = 0;
    const mse = config.likelihood === 'mse';
    for (let s = 0; s < k; s++) {
      const p = pixels.subarray(s * PIXELS, (s + 1) * PIXELS);
      recon += (mse ? squaredError(input, p, config.mse_pixel_constant) : crossEntropy(input, p)) / k;
    }
    const kl = klToPrior(mean, std);
    return { recon, kl, elbo: recon + kl };
  };

  /** Indices of the n test images with the highest (`which` = 'hardest') or lowest score in `values`, of class
      `label` only unless it is null; ties in index order. */
  vae.ranked = function (values, labels, which, label, n) {
    const indices = [];
    for (let i = 0; i < values.length; i++) if (label === null || labels[i] === label) indices.push(i);
    const sign = which === 'hardest' ? -1 : 1;
    indices.sort((a, b) => sign * (values[a] - values[b]) || a - b);
    return indices.slice(0, n);
  };

  /** The share of `values` (in %) below `value`: 97 = more unusual than 97 % of the test images. */
  vae.percentileOf = function (values, value) {
    let below = 0;
    for (let i = 0; i < values.length; i++) if (values[i] < value) below++;
    return (100 * below) / values.length;
  };
})(window.vae = window.vae || {});
