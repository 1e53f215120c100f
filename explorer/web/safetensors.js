/* Reads a .safetensors file in the page: the atlas (encoded means, labels, map coordinates) arrives as one binary
   file, never as JSON numbers. Format: 8-byte little-endian header length, a JSON header, then raw tensors. */
(function (vae) {
  const ARRAY_TYPES = { F32: Float32Array, F64: Float64Array, I32: Int32Array, I64: BigInt64Array, U8: Uint8Array };

  function readTensor(buffer, base, name, info) {
    const ArrayType = ARRAY_TYPES[info.dtype];
    if (!ArrayType) throw new Error(`atlas tensor ${name} has unsupported dtype ${info.dtype}`);
    const [begin, end] = info.data_offsets;
    const count = info.shape.reduce((a, b) => a * b, 1);
    if (!(begin >= 0 && end >= begin && base + end <= buffer.byteLength && end - begin === count * ArrayType.BYTES_PER_ELEMENT)) {
      throw new Error(`atlas tensor ${name} lies outside the file`);
    }
    // slice() copies, so every typed array starts aligned whatever the header length was
    return { shape: info.shape, data: new ArrayType(buffer.slice(base + begin, base + end)) };
  }

  vae.parseSafetensors = function (buffer) {
    if (buffer.byteLength < 8) throw new Error('the atlas file is empty');
    const headerLength = Number(new DataView(buffer).getBigUint64(0, true));
    if (headerLength > buffer.byteLength - 8) throw new Error('the atlas file is truncated');
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, headerLength)));
    const tensors = {};
    for (const [name, info] of Object.entries(header)) {
      if (name !== '__metadata__') tensors[name] = readTensor(buffer, 8 + headerLength, name, info);
    }
    return tensors;
  };
})(window.vae = window.vae || {});
