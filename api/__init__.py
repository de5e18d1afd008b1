"""The HTTP face of threatgraph: the Starlette app, its operations endpoints and the CLI.

- app.py: the app (GraphQL view, request guard, health, metrics); settings.py
  reads every API setting from the environment.
- auth.py, persisted.py, trusted_documents.py, bookmarks.py: who may do what,
  persisted queries, trusted documents, read-your-writes.
- graphiql*.py, browser*.py: GraphiQL and the Neo4j Browser guide.
- cli.py and cli_*.py: the `threatgraph` command.
- closure_refresher.py: the background task keeping the stored closure usable.
"""
