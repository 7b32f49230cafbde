// A queue of PCM samples read out in fixed-size blocks: the heart of the AudioWorklet player.
// Pure (no Web Audio, no DOM), so it is tested on its own. Every sample pushed is read out exactly
// once, in order, with nothing dropped, padded or faded between chunks: the listener hears the
// very samples the API returned. When the queue runs dry before the end (the network or the
// server fell behind), the block is completed with silence and the gap counted as an underrun.

export class SampleQueue {
  constructor() {
    this.chunks = [];
    this.offset = 0; // read position inside chunks[0]
    this.queued = 0; // samples pushed and not read yet
    this.pushed = 0;
    this.played = 0;
    this.underruns = 0;
    this.ended = false;
    this.starved = false;
  }

  /** Append a Float32Array of samples. */
  push(samples) {
    if (samples.length === 0) return;
    this.chunks.push(samples);
    this.queued += samples.length;
    this.pushed += samples.length;
  }

  /** No more samples will come: once the queue is empty, playback is over. */
  end() {
    this.ended = true;
  }

  /** Drop what has not been played (Stop). */
  clear() {
    this.chunks = [];
    this.offset = 0;
    this.queued = 0;
    this.ended = true;
  }

  get drained() {
    return this.ended && this.queued === 0;
  }

  /** Fill `out` (a Float32Array) with the next samples; silence where there are none.
   * Returns how many real samples were written. */
  read(out) {
    let written = 0;
    while (written < out.length && this.chunks.length > 0) {
      const chunk = this.chunks[0];
      const take = Math.min(out.length - written, chunk.length - this.offset);
      out.set(chunk.subarray(this.offset, this.offset + take), written);
      written += take;
      this.offset += take;
      if (this.offset === chunk.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    if (written > 0) this.starved = false;
    if (written < out.length) {
      out.fill(0, written);
      // Running dry before the end is a gap the listener hears (counted once per gap); after
      // the end it is just the silence that follows.
      if (!this.ended && this.pushed > 0 && !this.starved) this.underruns += 1;
      this.starved = !this.ended;
    }
    this.queued -= written;
    this.played += written;
    return written;
  }
}
