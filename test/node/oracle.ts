// Test oracles the Workers tests cannot run inside workerd, served by the loopback mock:
// POST /__oracle/validate {schema, objects} checks objects against OpenAI's OpenAPI document;
// GET /__oracle/sdk?union=Tool (or ?interface=X) lists what the installed `openai` SDK declares.

import type { IncomingMessage, ServerResponse } from "node:http";

function answer(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

export function serveOracle(url: URL, req: IncomingMessage, res: ServerResponse): void {
  let raw = "";
  req.setEncoding("utf8");
  req.on("data", (chunk: string) => (raw += chunk));
  // Ajv and the TypeScript parser load on first use: most test runs never ask.
  req.on("end", () => void respond(url, raw, res));
}

async function respond(url: URL, raw: string, res: ServerResponse): Promise<void> {
  try {
    if (url.pathname === "/__oracle/validate") {
      const { validateObjects } = await import("./spec-validator");
      const { schema, objects } = JSON.parse(raw) as { schema: string; objects: unknown[] };
      return answer(res, 200, validateObjects(schema, objects));
    }
    if (url.pathname === "/__oracle/sdk") {
      const { interfaceKeys, unionTypeTags } = await import("./sdk-unions");
      const union = url.searchParams.get("union");
      const names = union === null ? interfaceKeys(url.searchParams.get("interface") ?? "") : unionTypeTags(union);
      return answer(res, 200, names);
    }
    answer(res, 404, { error: `no oracle at ${url.pathname}` });
  } catch (error) {
    answer(res, 500, { error: error instanceof Error ? error.message : String(error) });
  }
}
