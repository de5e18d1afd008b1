"""The HTTP face of threatgraph: the Starlette app, its operations endpoints and the CLI."""
