"""The timing tests' recordings: the manifest matches what the script records, every file is there."""

import json

from tests.timing.make_word_fixtures import MANIFEST, SPEECH_DIR, recorded_sentences, recorded_words


def test_the_manifest_lists_every_word_and_sentence_of_the_script_and_nothing_else():
    entries = json.loads(MANIFEST.read_text())["sentences"]
    assert [entry["text"] for entry in entries] == [*recorded_words(), *recorded_sentences()]
    assert sorted(path.name for path in SPEECH_DIR.glob("*.flac")) == sorted(
        entry["file"] for entry in entries
    )
