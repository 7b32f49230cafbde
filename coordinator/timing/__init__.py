"""Listening to what was spoken: the recogniser's words matched to the text (``align``), the
utterance checked word by word (``check``), and captions made from the timings (``captions``).
Pure: no model, no framework; the service layer (coordinator/service/listening.py) runs the
recogniser and hands its words here."""
