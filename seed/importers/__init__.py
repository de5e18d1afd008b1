"""Importers: STIX 2.1 bundles, MISP galaxies and MITRE ATT&CK into the graph.

Each importer turns its input into `graph.writes.batches.ImportBatch`es; the
resolution layer matches them against the graph and writes each batch in one
transaction. See docs/importers.md for the mappings and tables.
"""
