"""The stage model every service agrees on: its types, YAML loading, checks, CEL conditions and the
shipped `the-model.yaml`. Pure: the standard library and its own parsing libraries (PyYAML, jsonschema,
cel-python), no I/O beyond reading the model file."""
