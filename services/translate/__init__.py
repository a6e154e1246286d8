"""Each notice into each needed language, once."""
