"""The Neo4j server threatgraph assembles from Maven Central and runs itself.

Used when NEO4J_URI is unset (a developer machine, CI, the test suite). With
NEO4J_URI set, nothing here runs: any Neo4j 5 is used as it is.
"""
