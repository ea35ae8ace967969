"""HTTP: the FastAPI app (OpenAI-compatible images API, native jobs/assets API, operations)."""
