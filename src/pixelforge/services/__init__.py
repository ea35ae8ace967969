"""Use cases: generate (and, later, edit, compare, threads, batches, credits, accounts)."""
