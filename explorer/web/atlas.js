/* The encoded test set in the page: means and stds per test digit, labels, and the map's 2-D coordinates.
   Nearest digits, a point's neighbours and the ★'s place on the map are computed here by the rules of
   explorer/core.py and explorer/neighbours.py, with the constants the server sends (web_assets.page_rules). */
(function (vae) {

  function squaredDistances(means, n, zDim, z) {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      const row = i * zDim;
      for (let d = 0; d < zDim; d++) {
        const diff = means[row + d] - z[d];
        sum += diff * diff;
      }
      out[i] = sum;
    }
    return out;
  }

  /** Indices of the k smallest values, smallest first, ties by index (a sorted insertion list: k is small). */
  function smallest(values, k) {
    const best = [];
    for (let i = 0; i < values.length; i++) {
      if (best.length === k && values[i] >= values[best[k - 1]]) continue;
      let at = best.length === k ? k - 1 : best.length;
      best[at] = i;
      while (at > 0 && values[best[at - 1]] > values[i]) {
        best[at] = best[at - 1];
        best[--at] = i;
      }
    }
    return best;
  }

  vae.Atlas = class {
    /** `rules`: the runtime config's latent_plane, tsne_neighbours and score_names. */
    constructor(tensors, rules) {
      this.latentPlane = rules.latent_plane; // a 2-D latent is its own map
      this.tsneNeighbours = rules.tsne_neighbours;
      const scoreKeys = Object.keys(rules.score_names);
      for (const key of ['means', 'stds', 'labels', 'pca', 'pca_components', 'pca_center']) {
        if (!tensors[key]) throw new Error(`the atlas has no ${key}`);
      }
      [this.n, this.zDim] = tensors.means.shape;
      this.means = tensors.means.data;
      this.stds = tensors.stds.data;
      this.labels = Int32Array.from(tensors.labels.data, Number);
      this.coords = { PCA: tensors.pca.data };
      if (tensors.tsne) this.coords['t-SNE'] = tensors.tsne.data;
      if (tensors.umap) this.coords.UMAP = tensors.umap.data;
      if (this.zDim === 2) this.coords[this.latentPlane] = this.means;
      this.pcaComponents = tensors.pca_components.data; // (2, zDim)
      this.pcaCenter = tensors.pca_center.data;
      // per-image scores in nats (training/scores.py), when the checkpoint has them
      this.scores = scoreKeys.every((key) => tensors[key]) ? Object.fromEntries(scoreKeys.map((key) => [key, tensors[key].data])) : null;
    }

    mean(i) { return this.means.subarray(i * this.zDim, (i + 1) * this.zDim); }

    /** The average of some test digits' encoded means (a selection's, a direction's end). */
    meanOf(indices) {
      const mean = new Float32Array(this.zDim);
      for (const i of indices) { const m = this.mean(i); for (let d = 0; d < this.zDim; d++) mean[d] += m[d] / indices.length; }
      return mean;
    }

    /** The k points of a 2-D map nearest to (x, y), point `skip` left out (-1: none). */
    nearestOnMap(coords, x, y, skip, k) {
      const distances = new Float64Array(this.n);
      for (let j = 0; j < this.n; j++) distances[j] = j === skip ? Infinity : (coords[2 * j] - x) ** 2 + (coords[2 * j + 1] - y) ** 2;
      return smallest(distances, k).filter((j) => j !== skip);
    }

    /** The k test images nearest to a latent code in the latent space (by posterior means) and to its place on the
        2-D map `method`, and how many are both (explorer/neighbours.py); test image `i` (-1: a drawing) is left out. */
    neighbours(mean, i, method, k) {
      const latent = this.nearest(mean, k + 1).filter((j) => j !== i).slice(0, k);
      const coords = this.coords[method];
      const [x, y] = i >= 0 ? [coords[2 * i], coords[2 * i + 1]] : this.placeOnMap(mean, method);
      const onMap = coords ? this.nearestOnMap(coords, x, y, i, k) : [];
      const both = latent.filter((j) => onMap.includes(j)).length;
      return { latent, onMap, both };
    }

    std(i) { return this.stds.subarray(i * this.zDim, (i + 1) * this.zDim); }

    /** The k test digits whose encoded means are nearest (Euclidean) to z. */
    nearest(z, k) { return smallest(squaredDistances(this.means, this.n, this.zDim, z), k); }

    /** Where a new encoding lands: the latent plane is z itself; PCA projects it; t-SNE (no transform) averages its nearest neighbours. */
    placeOnMap(mean, method) {
      if (method === this.latentPlane) return [mean[0], mean[1]];
      if (method === 'PCA') {
        const xy = [0, 0];
        for (let c = 0; c < 2; c++) {
          for (let d = 0; d < this.zDim; d++) xy[c] += (mean[d] - this.pcaCenter[d]) * this.pcaComponents[c * this.zDim + d];
        }
        return xy;
      }
      const coords = this.coords[method];
      const distances = squaredDistances(this.means, this.n, this.zDim, mean).map(Math.sqrt);
      let wx = 0, wy = 0, total = 0;
      for (const i of smallest(distances, this.tsneNeighbours)) {
        const w = 1 / (distances[i] + 1e-6);
        wx += w * coords[2 * i];
        wy += w * coords[2 * i + 1];
        total += w;
      }
      return [wx / total, wy / total];
    }
  };

  /** The checkpoint's atlas, from the runtime config's URL and rules. */
  vae.loadAtlas = async function (config) {
    const response = await fetch(config.atlas);
    if (!response.ok) throw new Error(`the atlas could not be fetched (HTTP ${response.status})`);
    return new vae.Atlas(vae.parseSafetensors(await response.arrayBuffer()), config);
  };
})(window.vae = window.vae || {});
