"""A bare FastAPI app with one JSON route: the framework floor `bench/floor.py`
compares vaultapi's per-request CPU against (same uvicorn settings)."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"status": "ok"}
