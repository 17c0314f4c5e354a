// MCP client over the 2024-11-05 HTTP+SSE transport (TypeScript SDK 1.x SSEClientTransport).
//
//   MCP_URL=<gateway SSE URL> MCP_TOKEN=<token> node client-sse.mjs
//
// Prints JSON lines: endpoint (the POST URL the client was told to use), connect, listTools (names),
// callTool (echo), hidden (a tool the policy hides: the JSON-RPC error), done.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { emit, fail, parseUrl, watchdog } from './mcp-steps.mjs';

watchdog(Number(process.env.CLIENT_TIMEOUT_SECONDS ?? 60));
const url = parseUrl(process.env.MCP_URL, 'MCP_URL');
const token = process.env.MCP_TOKEN;

const posted = [];
const fetchRecording = async (input, init) => {
  if ((init?.method ?? 'GET') === 'POST') posted.push(String(input));
  return fetch(input, init);
};
const transport = new SSEClientTransport(url, {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
  fetch: fetchRecording,
});
const client = new Client({ name: 'portcullis-interop-sse', version: '0.1.0' });
client.onerror = () => {};

let step = 'connect';
try {
  await client.connect(transport);
  emit({ step: 'endpoint', url: posted[0] ?? null });
  emit({ step });

  step = 'listTools';
  const { tools } = await client.listTools();
  emit({ step, names: tools.map((t) => t.name).sort() });

  step = 'callTool';
  const result = await client.callTool({ name: 'echo', arguments: { message: 'over sse' } });
  emit({ step, text: (result.content ?? []).map((c) => c.text ?? '').join('') });

  step = 'hidden';
  try {
    await client.callTool({ name: 'get-env', arguments: {} });
    emit({ step, outcome: 'succeeded' });
  } catch (error) {
    emit({ step, outcome: 'failed', code: error?.code, message: String(error?.message ?? error) });
  }

  step = 'close';
  await client.close();
  emit({ step: 'done' });
} catch (error) {
  fail(step, error);
}
