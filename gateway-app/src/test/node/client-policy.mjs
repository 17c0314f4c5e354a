// MCP client behind a route with a per-tool policy (TypeScript SDK 1.x, Streamable HTTP).
//
//   MCP_URL=<url> MCP_TOKEN=<token> node client-policy.mjs
//
// Prints JSON lines: connect, listTools (the names the caller sees), allowed (echo), stepUp (a
// tool that needs more scope: the HTTP status and challenge), hidden (a tool the caller may not
// see: the JSON-RPC error), done. Exit 0 when every step ran; the Java test judges the values.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { emit, fail, parseUrl, watchdog } from './mcp-steps.mjs';

watchdog(Number(process.env.CLIENT_TIMEOUT_SECONDS ?? 60));
const url = parseUrl(process.env.MCP_URL, 'MCP_URL');
const token = process.env.MCP_TOKEN;

// Record every response's status and challenge, so the step-up answer can be shown exactly.
const responses = [];
const fetchRecording = async (input, init) => {
  const response = await fetch(input, init);
  responses.push({ status: response.status, challenge: response.headers.get('www-authenticate') });
  return response;
};

const transport = new StreamableHTTPClientTransport(url, {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
  fetch: fetchRecording,
});
const client = new Client({ name: 'portcullis-interop-policy', version: '0.1.0' });
client.onerror = () => {};

let step = 'connect';
try {
  await client.connect(transport);
  emit({ step });

  step = 'listTools';
  const { tools } = await client.listTools();
  emit({ step, names: tools.map((t) => t.name).sort() });

  step = 'allowed';
  const result = await client.callTool({ name: 'echo', arguments: { message: 'allowed' } });
  emit({ step, text: (result.content ?? []).map((c) => c.text ?? '').join('') });

  step = 'stepUp';
  try {
    await client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } });
    emit({ step, outcome: 'succeeded' });
  } catch (error) {
    const last = responses[responses.length - 1];
    emit({ step, outcome: 'failed', status: last?.status, challenge: last?.challenge, message: String(error?.message ?? error) });
  }

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
