"""Work after the answer: the job queue, client callbacks, unknown-outcome follow-ups, recovery,
provider callbacks and status queries."""
