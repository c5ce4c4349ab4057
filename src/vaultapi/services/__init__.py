"""Rules of the domain. No FastAPI here, and no commit: the request does that."""
