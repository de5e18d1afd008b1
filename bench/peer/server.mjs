// The benchmark's peer: @neo4j/graphql 7 on Apollo Server 5, over the same Neo4j.
// Environment: NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD, PORT, TYPEDEFS (a file; the
// tuned peer's is made by bench/peer_tuned.py). Prints "ready <url>".
import { readFileSync } from "node:fs";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { Neo4jGraphQL } from "@neo4j/graphql";
import neo4j from "neo4j-driver";

const typeDefs = readFileSync(
  process.env.TYPEDEFS ?? new URL("./typedefs.graphql", import.meta.url),
  "utf8",
);
const driver = neo4j.driver(
  process.env.NEO4J_URI,
  neo4j.auth.basic(process.env.NEO4J_USER ?? "neo4j", process.env.NEO4J_PASSWORD ?? ""),
  { maxConnectionPoolSize: 100 },
);
// Comparing strings (a claim reported on or before a day) is a feature to turn on.
const features = { filters: { String: { LT: true, LTE: true, GT: true, GTE: true } } };
const neoSchema = new Neo4jGraphQL({ typeDefs, driver, features });
// Fails loudly (and the benchmark with it) when APOC core is missing.
await neoSchema.checkNeo4jCompat();
const server = new ApolloServer({ schema: await neoSchema.getSchema() });
const { url } = await startStandaloneServer(server, {
  listen: { port: Number(process.env.PORT ?? 4000), host: "127.0.0.1" },
  context: async () => ({}),
});
console.log(`ready ${url}`);
