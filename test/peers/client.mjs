// A real MCP client built on the official TypeScript SDK, driven by the Go
// end-to-end tests. It takes a JSON plan as its only argument:
//
//   {"transport": "stdio", "command": "...", "args": [...], "env": {...}}
//   {"transport": "http", "url": "http://127.0.0.1:PORT/mcp"}
//   plus "steps": [{"op": "listTools"}, {"op": "callTool", "name": "...", ...}]
//
// and prints one JSON document: {"protocol": ..., "results": [...]} where
// each result is {"ok": value} or {"error": message}. It answers sampling,
// elicitation and roots requests with fixed values the tests look for.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  ToolListChangedNotificationSchema,
  LoggingMessageNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";

const plan = JSON.parse(process.argv[2]);
const client = new Client(
  { name: "node-e2e-client", version: "1.0.0" },
  { capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } } },
);
client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
  const first = req.params.messages[0]?.content;
  const text = first && first.type === "text" ? first.text : "";
  return { role: "assistant", model: "node-test-model", content: { type: "text", text: `node sampled: ${text}` } };
});
client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { name: "Node Tester", check: true } }));
client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: "file:///node-root", name: "node root" }] }));
let listChanged = 0;
client.setNotificationHandler(ToolListChangedNotificationSchema, async () => { listChanged++; });
const logs = [];
client.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => { logs.push(n.params); });

let transport;
let negotiated = null;
if (plan.transport === "stdio") {
  transport = new StdioClientTransport({ command: plan.command, args: plan.args ?? [], env: plan.env, stderr: "inherit" });
} else {
  transport = new StreamableHTTPClientTransport(new URL(plan.url));
}

const results = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// wire records the order in which messages arrive, below the SDK, whose
// own notification handlers run a microtask later than responses: a
// progress notification and the response right behind it in one read can
// otherwise look reordered to onprogress.
const wire = [];
const connect = client.connect.bind(client);
client.connect = async (t) => {
  await connect(t);
  const onmessage = t.onmessage;
  t.onmessage = (msg, extra) => {
    if (msg.method === "notifications/progress") wire.push({ progress: msg.params.progress, token: msg.params.progressToken });
    else if (msg.id !== undefined && msg.method === undefined) wire.push({ response: msg.id });
    onmessage?.(msg, extra);
  };
};
const setVersion = transport.setProtocolVersion?.bind(transport);
transport.setProtocolVersion = (v) => { negotiated = v; setVersion?.(v); };
try {
  await client.connect(transport);
  for (const step of plan.steps) {
    try {
      results.push({ ok: await run(step) });
    } catch (e) {
      results.push({ error: String(e?.message ?? e), code: e?.code });
    }
  }
} catch (e) {
  results.push({ error: "connect: " + String(e?.message ?? e) });
}
const out = {
  protocol: negotiated,
  server: client.getServerVersion() ?? null,
  instructions: client.getInstructions() ?? null,
  listChanged,
  logs,
  results,
};
process.stdout.write(JSON.stringify(out) + "\n");
await client.close().catch(() => {});
process.exit(0);

async function run(step) {
  switch (step.op) {
    case "listTools": {
      const all = [];
      let cursor;
      do {
        const page = await client.listTools(cursor ? { cursor } : {});
        all.push(...page.tools.map((t) => t.name));
        cursor = page.nextCursor;
      } while (cursor);
      return all;
    }
    case "waitTool": {
      // Tools registered after initialization arrive with list_changed.
      for (let i = 0; i < 100; i++) {
        const page = await client.listTools();
        if (page.tools.some((t) => t.name === step.name)) return true;
        await sleep(50);
      }
      return false;
    }
    case "callTool": {
      const onprogress = [];
      const opts = step.progress ? { onprogress: (p) => onprogress.push(p.progress), resetTimeoutOnProgress: true } : {};
      const from = wire.length;
      const res = await client.callTool({ name: step.name, arguments: step.arguments ?? {} }, undefined, opts);
      const text = (res.content ?? []).filter((c) => c.type === "text").map((c) => c.text).join("\n");
      // Progress that reached the wire before this call's response.
      const progress = [];
      for (const m of wire.slice(from)) {
        if (m.response !== undefined) break;
        if (m.progress !== undefined) progress.push(m.progress);
      }
      return { text, isError: !!res.isError, progress, onprogress, structured: res.structuredContent ?? null };
    }
    case "cancelTool": {
      const ctl = new AbortController();
      const started = Date.now();
      setTimeout(() => ctl.abort("test cancels"), step.afterMs ?? 300);
      try {
        await client.callTool({ name: step.name, arguments: step.arguments ?? {} }, undefined, { signal: ctl.signal });
        return { cancelled: false, ms: Date.now() - started };
      } catch (e) {
        return { cancelled: true, ms: Date.now() - started, error: String(e?.message ?? e) };
      }
    }
    case "listPrompts":
      return (await client.listPrompts()).prompts.map((p) => p.name);
    case "getPrompt": {
      const res = await client.getPrompt({ name: step.name, arguments: step.arguments ?? {} });
      return res.messages.map((m) => (m.content.type === "text" ? m.content.text : m.content.type));
    }
    case "listResources": {
      const all = [];
      let cursor;
      do {
        const page = await client.listResources(cursor ? { cursor } : {});
        all.push(...page.resources.map((r) => r.uri));
        cursor = page.nextCursor;
      } while (cursor);
      return all;
    }
    case "listResourceTemplates":
      return (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
    case "readResource": {
      const res = await client.readResource({ uri: step.uri });
      return res.contents.map((c) => c.text ?? `blob:${(c.blob ?? "").length}`);
    }
    case "complete": {
      const res = await client.complete({ ref: step.ref, argument: step.argument });
      return res.completion.values;
    }
    case "setLevel":
      await client.setLoggingLevel(step.level);
      return true;
    case "sleep":
      await sleep(step.ms);
      return true;
    case "logs":
      return logs.length;
    default:
      throw new Error(`unknown op ${step.op}`);
  }
}
