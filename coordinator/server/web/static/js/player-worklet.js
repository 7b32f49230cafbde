// The AudioWorklet side of the player (see player.js for why a worklet). Runs on the audio
// thread at the context's rate (24 kHz, the API's): samples posted by the page are queued and
// played out block by block, exactly, with no resampling here.
import { SampleQueue } from "./audio-queue.js";

// How often the page hears how far playback got, in render blocks (128 samples each): ~50 ms.
const PROGRESS_EVERY_BLOCKS = 10;

class PcmPlayerProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = new SampleQueue();
    this.blocks = 0;
    this.reportedEnd = false;
    this.playback = 0;
    this.port.onmessage = (event) => {
      const { type, samples, playback } = event.data;
      if (type === "push") this.queue.push(samples);
      else if (type === "end") this.queue.end();
      else if (type === "reset") {
        this.queue = new SampleQueue();
        this.reportedEnd = false;
        this.playback = playback;
      } else if (type === "stop") this.queue.clear();
    };
  }

  process(_inputs, outputs) {
    const channel = outputs[0][0];
    this.queue.read(channel);
    for (let c = 1; c < outputs[0].length; c += 1) outputs[0][c].set(channel);
    this.blocks += 1;
    const drained = this.queue.drained;
    if (this.blocks % PROGRESS_EVERY_BLOCKS === 0 || (drained && !this.reportedEnd)) {
      const { played, pushed, underruns } = this.queue;
      const type = drained ? "drained" : "progress";
      this.port.postMessage({ type, playback: this.playback, played, pushed, underruns });
      if (drained) this.reportedEnd = true;
    }
    return true; // keep the node alive: the same player serves the next request
  }
}

registerProcessor("pcm-player", PcmPlayerProcessor);
