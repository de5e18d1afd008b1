// Compose subgraphs with Apollo's real composer (@apollo/composition).
//
// Usage: node compose.mjs <subgraphs.json>
// where the file holds [{"name": "...", "url": "...", "sdl": "..."}, ...].
// Prints one JSON object: {"errors": [...], "hints": [...], "supergraphSdl": "..." | null}.
// Exits 0 when composition succeeds, 1 when it fails, 2 on bad input.
import { readFileSync } from "node:fs";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";

const [path] = process.argv.slice(2);
if (!path) {
  console.error("usage: node compose.mjs <subgraphs.json>");
  process.exit(2);
}

let subgraphs;
try {
  subgraphs = JSON.parse(readFileSync(path, "utf8")).map(({ name, url, sdl }) => ({
    name,
    url,
    typeDefs: parse(sdl),
  }));
} catch (error) {
  console.error(`${path}: ${error.message}`);
  process.exit(2);
}

const result = composeServices(subgraphs);
const errors = (result.errors ?? []).map((error) => error.message);
console.log(
  JSON.stringify({
    errors,
    hints: (result.hints ?? []).map((hint) => hint.toString()),
    supergraphSdl: errors.length ? null : result.supergraphSdl,
  }),
);
// exitCode, not exit(): exit() ends the process before a piped stdout has taken all
// of a large answer (the supergraph is over a pipe buffer), cutting its JSON short.
process.exitCode = errors.length ? 1 : 0;
