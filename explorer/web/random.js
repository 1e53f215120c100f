/* One seeded random stream for the page: the same seed gives the same prior samples and the same drawing's score on
   every visit (mulberry32 for uniforms, Box–Muller for normals). */
(function (vae) {
  /** A function returning standard normal numbers, one per call, determined by `seed` (0 … 2³²−1). */
  vae.seededNormals = function (seed) {
    let a = Number(seed) >>> 0;
    const uniform = () => { // in (0, 1): never 0, so the logarithm below is finite
      a = (a + 0x6D2B79F5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
    };
    return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  };
})(window.vae = window.vae || {});
