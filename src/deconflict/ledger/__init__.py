"""The verifiable ledger: Merkle log, signed notes, the store-backed log, offline checks."""
