// Starts @modelcontextprotocol/server-everything from this folder's pinned
// install, passing its transport argument through, so tests do not depend
// on npx or the network.
import { fileURLToPath } from "node:url";
import path from "node:path";
const here = path.dirname(fileURLToPath(import.meta.url));
process.argv.splice(1, 1, path.join(here, "node_modules/@modelcontextprotocol/server-everything/dist/index.js"));
await import(path.join(here, "node_modules/@modelcontextprotocol/server-everything/dist/index.js"));
