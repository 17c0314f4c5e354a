// A 2026-07-28 MCP server built with the TypeScript SDK v2 (@modelcontextprotocol/server),
// served statelessly over streamable HTTP with the SDK's createMcpHandler, on 127.0.0.1 only.
//
//   node server-v2.mjs [port]            (default: PORT or 0 = a free port)
//
// Tools: echo {message} → "Echo: <message>", add {a, b} → the sum, delete_everything {} and
// write_note {text} (harmless stand-ins for tools a policy should hide or guard).
// Ready when it prints "MCP v2 server listening on http://127.0.0.1:<port>/mcp" (stdout).
// Every request it receives is printed as one JSON line
//   {"request":{"method":"POST","path":"/mcp","rpc":"tools/call","headers":{...}}}
// with the MCP headers (mcp-protocol-version, mcp-method, mcp-name, mcp-session-id), whether an
// Authorization header arrived (never its value), host and origin, so a test can see exactly what
// a gateway forwarded. No token is ever printed.
//
// There is no Host/Origin validation here on purpose: createMcpHandler is validation-free and this
// server plays an unmodified upstream, like server-everything (the gateway adds the checks).
import http from 'node:http';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod/v4';

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);

function buildServer() {
  const server = new McpServer({ name: 'portcullis-v2-fixture', version: '0.1.0' });
  server.registerTool(
    'echo',
    { description: 'Echoes the message back', inputSchema: z.object({ message: z.string() }) },
    async ({ message }) => ({ content: [{ type: 'text', text: `Echo: ${message}` }] }),
  );
  server.registerTool(
    'add',
    { description: 'Adds two numbers', inputSchema: z.object({ a: z.number(), b: z.number() }) },
    async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }], structuredContent: { sum: a + b } }),
  );
  server.registerTool(
    'delete_everything',
    { description: 'Pretends to delete everything (a tool a policy must hide)' },
    async () => ({ content: [{ type: 'text', text: 'deleted everything (not really)' }] }),
  );
  server.registerTool(
    'write_note',
    { description: 'Pretends to write a note (a tool that needs a write scope)', inputSchema: z.object({ text: z.string() }) },
    async ({ text }) => ({ content: [{ type: 'text', text: `noted: ${text}` }] }),
  );
  return server;
}

const handler = createMcpHandler(() => buildServer(), {
  onerror: (error) => process.stderr.write(`mcp handler: ${error?.message ?? error}\n`),
});

const LOGGED_HEADERS = ['mcp-protocol-version', 'mcp-method', 'mcp-name', 'mcp-session-id', 'host', 'origin',
  'content-type', 'accept', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto'];

function logRequest(req, body) {
  const headers = {};
  for (const name of LOGGED_HEADERS) {
    if (req.headers[name] !== undefined) headers[name] = req.headers[name];
  }
  for (const name of Object.keys(req.headers)) {
    if (name.startsWith('mcp-param-')) headers[name] = req.headers[name];
  }
  headers.authorization = req.headers.authorization ? 'present' : 'absent';
  let rpc;
  try {
    const parsed = JSON.parse(body.toString('utf8'));
    rpc = Array.isArray(parsed) ? parsed.map((m) => m.method ?? 'response') : (parsed.method ?? 'response');
  } catch {
    rpc = body.length ? 'unparseable' : undefined;
  }
  process.stdout.write(`${JSON.stringify({ request: { method: req.method, path: req.url, rpc, headers } })}\n`);
}

const httpServer = http.createServer(async (req, res) => {
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  try {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    logRequest(req, body);
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? `127.0.0.1:${port}`}`);
    if (url.pathname !== '/mcp') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (Array.isArray(value)) value.forEach((v) => headers.append(name, v));
      else if (value !== undefined) headers.set(name, value);
    }
    const hasBody = !['GET', 'HEAD'].includes(req.method ?? 'GET');
    const request = new Request(url, { method: req.method, headers, body: hasBody ? body : undefined, signal: controller.signal });
    const response = await handler.fetch(request);
    const outHeaders = {};
    response.headers.forEach((value, name) => {
      outHeaders[name] = value;
    });
    res.writeHead(response.status, outHeaders);
    if (response.body) {
      for await (const chunk of response.body) {
        res.write(chunk);
      }
    }
    res.end();
  } catch (error) {
    process.stderr.write(`request failed: ${error?.stack ?? error}\n`);
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end();
  }
});

httpServer.listen(port, '127.0.0.1', () => {
  const { port: bound } = httpServer.address();
  process.stdout.write(`MCP v2 server listening on http://127.0.0.1:${bound}/mcp\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    httpServer.close();
    await handler.close().catch(() => {});
    process.exit(0);
  });
}
