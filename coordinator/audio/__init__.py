"""Audio: SNAC decoding (offline and streaming) and atomic audio/code file output."""
