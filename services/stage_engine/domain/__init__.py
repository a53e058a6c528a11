"""The stage engine's pure domain (docs/stage-model.md): no I/O beyond reading a model file.

- `model`: load + validate a stage model (`load_model`, `load_model_file`, `default_model`, `ModelError`).
- `decide`: `decide(lead, event, model) -> domain events`; `merge`: `decide_merge`, `merge_order`.
- `evolve`: `evolve(lead, domain event) -> lead`, `fold(events) -> lead`; `lead`: the frozen `Lead`.
- `events` + `event_codec`: the domain events and their JSON form; `attribution`: exact revenue shares.
"""
