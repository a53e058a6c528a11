"""The stage engine's pure domain (docs/stage-model.md): the rules that move a lead, no I/O. The model it applies
and the events it writes are the shared kernel's (`services.common.stage_model`, `services.common.lead_events`).

- `decide`: `decide(lead, event, model) -> domain events`; `merge`: `decide_merge`, `merge_order`.
- `evolve`: `evolve(lead, domain event) -> lead`, `fold(events) -> lead`; `lead`: the frozen `Lead`.
- `attribution`: exact revenue shares; `batch`: a batch of envelopes decided together.
"""
