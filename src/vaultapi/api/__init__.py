"""HTTP layer: thin routers that parse, call one service and map to a schema."""
