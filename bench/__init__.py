"""threatgraph's benchmark: synthetic graphs, ours vs direct Cypher vs @neo4j/graphql."""
