// PCM helpers, pure: the API's `pcm` is 16-bit little-endian mono at 24 kHz.

export const SAMPLE_RATE = 24000;
const INT16_SCALE = 32768;

/** Turns a byte stream into float samples. Network chunks may split a sample in two: the odd
 * byte is kept for the next chunk, so not one sample is lost or shifted. */
export class Pcm16Decoder {
  constructor() {
    this.carry = null;
    this.samples = 0;
  }

  /** `bytes`: a Uint8Array. Returns a Float32Array (possibly empty). */
  decode(bytes) {
    let data = bytes;
    if (this.carry !== null) {
      data = new Uint8Array(bytes.length + 1);
      data[0] = this.carry;
      data.set(bytes, 1);
      this.carry = null;
    }
    const whole = data.length - (data.length % 2);
    if (whole < data.length) this.carry = data[data.length - 1];
    const view = new DataView(data.buffer, data.byteOffset, whole);
    const out = new Float32Array(whole / 2);
    for (let i = 0; i < out.length; i += 1) out[i] = view.getInt16(i * 2, true) / INT16_SCALE;
    this.samples += out.length;
    return out;
  }
}

/** Float samples back to 16-bit integers (what a result keeps: half the size). */
export function toInt16(floats) {
  const out = new Int16Array(floats.length);
  for (let i = 0; i < floats.length; i += 1) {
    out[i] = Math.max(-INT16_SCALE, Math.min(INT16_SCALE - 1, Math.round(floats[i] * INT16_SCALE)));
  }
  return out;
}

export function toFloat32(ints) {
  const out = new Float32Array(ints.length);
  for (let i = 0; i < ints.length; i += 1) out[i] = ints[i] / INT16_SCALE;
  return out;
}

/** Concatenate Int16Array chunks. */
export function concatInt16(chunks) {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Int16Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

const WAV_HEADER_BYTES = 44;

/** A 16-bit mono WAV file of `ints`, as a Blob. */
export function wavBlob(ints, sampleRate = SAMPLE_RATE) {
  const header = new DataView(new ArrayBuffer(WAV_HEADER_BYTES));
  const dataBytes = ints.length * 2;
  const ascii = (at, text) => [...text].forEach((ch, i) => header.setUint8(at + i, ch.charCodeAt(0)));
  ascii(0, "RIFF");
  header.setUint32(4, 36 + dataBytes, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  header.setUint32(16, 16, true); // fmt chunk size
  header.setUint16(20, 1, true); // PCM
  header.setUint16(22, 1, true); // mono
  header.setUint32(24, sampleRate, true);
  header.setUint32(28, sampleRate * 2, true); // byte rate
  header.setUint16(32, 2, true); // block align
  header.setUint16(34, 16, true); // bits per sample
  ascii(36, "data");
  header.setUint32(40, dataBytes, true);
  return new Blob([header.buffer, littleEndianBytes(ints)], { type: "audio/wav" });
}

/** The raw bytes of `ints` as the API's `pcm` (little-endian whatever the machine). */
export function littleEndianBytes(ints) {
  const view = new DataView(new ArrayBuffer(ints.length * 2));
  for (let i = 0; i < ints.length; i += 1) view.setInt16(i * 2, ints[i], true);
  return new Uint8Array(view.buffer);
}

export function base64ToBytes(text) {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) out[i] = binary.charCodeAt(i);
  return out;
}
