"""The lead-event contract: the domain events the stage engine stores and publishes on
`stagetrack.lead-events`, their codec, and money's minor units. Every consumer of lead events
(the KPI projector, the dispatcher) decodes them with this package and nothing else."""
