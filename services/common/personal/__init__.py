"""Personal data: the keyed email identity, the sealing of personal fields under a person's data key, the data
keys themselves (wrapped by a master key) and what erasure and export share (docs/privacy.md)."""
