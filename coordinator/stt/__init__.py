"""Speech in: decoding uploaded audio, transcribing it with Whisper, voice activity detection.

The public API other rooms use (the HTTP routes, the voice WebSocket, a Wyoming server):

- ``decode_audio(data, max_seconds=...)`` → 16 kHz mono float32 samples (``audio.py``), and
  ``decode_isolated`` (``isolated.py``): the same in a child process, for uploads from strangers;
- ``Transcriber.transcribe(samples, language=..., prompt=..., temperature=..., task=...)`` →
  ``Transcript(text, language, duration, segments)``, blocking (``engine.py``); with
  ``word_timestamps=True`` each segment has its ``words``; ``on_segment`` hears each segment as
  soon as it is decoded (what streamed transcripts send);
- ``SpeechToText.transcribe(...)``: the same, async and limited to the server's slots, with the
  queue and timeout every model of this server has (429 when full, 503 after the wait); given an
  ``AudioSource`` instead of samples, it decodes on the slot, after admission;
- ``render(transcript, response_format)`` → OpenAI's json, text, verbose_json, srt, vtt, and
  ``TextDeltas``/``stream_usage`` for its transcript.text stream events (``formats.py``);
- ``names_the_recogniser(model, served_id)``: which model names mean the recogniser (``model_names.py``);
- ``TurnDetector`` (``vad.py``): where a speaker's turn starts and ends in streamed PCM.
"""
