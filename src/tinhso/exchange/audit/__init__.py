"""The audit chain: tamper-evident records of every exchange, checkpoints, proofs and witnesses."""
