// A 2026-07-28 MCP server built with the TypeScript SDK v2 (@modelcontextprotocol/server),
// served statelessly over streamable HTTP with the SDK's createMcpHandler, on 127.0.0.1 only.
//
//   node server-v2.mjs [port] [--conformance-fixtures]      (default port: PORT or 0 = a free port)
//
// Tools: echo {message} → "Echo: <message>", add {a, b} → the sum, delete_everything {} and
// write_note {text} (harmless stand-ins for tools a policy should hide or guard).
// --conformance-fixtures adds the tools, prompts and resources the conformance suite's server
// scenarios call (test_simple_text, test_tool_with_progress, test_simple_prompt,
// test://static-text, test_custom_headers with an x-mcp-header parameter, …), as the suite's
// descriptions specify them, so that more scenarios
// exercise the path through a gateway.
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
import { createMcpHandler, McpServer, ResourceTemplate } from '@modelcontextprotocol/server';
import * as z from 'zod/v4';

const args = process.argv.slice(2);
const fixtures = args.includes('--conformance-fixtures');
const portArg = args.find((a) => !a.startsWith('--'));
const port = Number(portArg ?? process.env.PORT ?? 0);

// A 1x1 red PNG and a tiny silent WAV: the suite only checks type, data and mimeType.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const WAV = 'UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const text = (t) => ({ content: [{ type: 'text', text: t }] });

function addConformanceFixtures(server) {
  server.registerTool('test_simple_text', { description: 'Returns simple text' },
    async () => text('This is a simple text response for testing.'));
  server.registerTool('test_image_content', { description: 'Returns an image' },
    async () => ({ content: [{ type: 'image', data: PNG, mimeType: 'image/png' }] }));
  server.registerTool('test_audio_content', { description: 'Returns audio' },
    async () => ({ content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }] }));
  server.registerTool('test_embedded_resource', { description: 'Returns an embedded resource' },
    async () => ({ content: [{ type: 'resource', resource: { uri: 'test://embedded-resource', mimeType: 'text/plain',
      text: 'This is an embedded resource content.' } }] }));
  server.registerTool('test_multiple_content_types', { description: 'Returns text, image and resource' },
    async () => ({ content: [
      { type: 'text', text: 'Multiple content types test:' },
      { type: 'image', data: PNG, mimeType: 'image/png' },
      { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json',
        text: JSON.stringify({ test: 'data', value: 123 }) } },
    ] }));
  server.registerTool('test_error_handling', { description: 'Always fails' },
    async () => ({ isError: true, content: [{ type: 'text', text: 'This tool intentionally returns an error for testing' }] }));
  server.registerTool('test_tool_with_progress', { description: 'Reports progress 0, 50, 100' }, async (ctx) => {
    const progressToken = ctx.mcpReq._meta?.progressToken;
    for (const progress of [0, 50, 100]) {
      if (progressToken !== undefined) {
        await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, progress, total: 100 } });
      }
      if (progress < 100) await sleep(50);
    }
    return text('progress reported');
  });

  // SEP-2243: a parameter mirrored into an Mcp-Param-Region header (x-mcp-header), which the SDK
  // checks against the body.
  server.registerTool('test_custom_headers', {
    description: 'Echoes a region that clients also send as the Mcp-Param-Region header',
    inputSchema: z.object({ region: z.string().meta({ 'x-mcp-header': 'Region' }) }),
  }, async ({ region }) => text(`region: ${region}`));

  server.registerPrompt('test_simple_prompt', { description: 'A simple prompt' }, async () => ({
    messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }],
  }));
  server.registerPrompt('test_prompt_with_arguments', {
    description: 'A prompt with arguments',
    argsSchema: z.object({ arg1: z.string(), arg2: z.string() }),
  }, async ({ arg1, arg2 }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` } }],
  }));
  server.registerPrompt('test_prompt_with_embedded_resource', {
    description: 'A prompt with an embedded resource',
    argsSchema: z.object({ resourceUri: z.string() }),
  }, async ({ resourceUri }) => ({
    messages: [
      { role: 'user', content: { type: 'resource', resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } } },
      { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
    ],
  }));
  server.registerPrompt('test_prompt_with_image', { description: 'A prompt with an image' }, async () => ({
    messages: [
      { role: 'user', content: { type: 'image', data: PNG, mimeType: 'image/png' } },
      { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
    ],
  }));

  server.registerResource('static-text', 'test://static-text',
    { description: 'A static text resource', mimeType: 'text/plain' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'This is the content of the static text resource.' }] }));
  server.registerResource('static-binary', 'test://static-binary',
    { description: 'A static binary resource', mimeType: 'image/png' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'image/png', blob: PNG }] }));
  server.registerResource('template', new ResourceTemplate('test://template/{id}/data', { list: undefined }),
    { description: 'A resource template', mimeType: 'application/json' },
    async (uri, { id }) => ({ contents: [{ uri: uri.href, mimeType: 'application/json',
      text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }) }] }));
}

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
  if (fixtures) addConformanceFixtures(server);
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
