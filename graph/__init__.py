"""Neo4j access, the graph model and its Cypher; nothing here knows HTTP or GraphQL.

Shared by the API (schema/, api/) and the loaders (seed/). Rooms, from the ground up:

- errors.py: the domain's errors, each with its code.
- model/: what the graph holds: labels and relation types (vocabulary.py), the
  likelihood scale and its Cypher (likelihood.py), what was known on a day
  (known.py), source reliability, dates, change kinds, and the seed document
  format (documents.py and its neighbours).
- store/: the driver behind read/write verbs (database.py), connection settings,
  admission of transactions.
- server/: the managed Neo4j server, assembled from Maven Central.
- linking/: what "linked to" means (rule.py), walked and stored, and the upkeep.
- reads/: the read questions (questions.py; lists by kind in kinds.py; an
  entity's history in history.py), the Cypher of each field (fields.py), and the
  compiled executor's plans and statements (compiled/).
- writes/: loading documents, importing batches with entity resolution, the
  versions a write keeps (versions.py), the change feed. Writes never import reads.
- setup.py: constraints, indexes and the closure, at start-up and on seed/import.

Where to change what:
- what "linked to" means: linking/rule.py;
- an argument of every question: reads/questions.py (its parameter in the
  statements) and schema/arguments.py (its check and default);
- a field of Incident: model/vocabulary.py (the property), reads/fields.py
  (ENTITY_ROW_FIELDS), schema/types.py (the GraphQL field).
"""
