// MCP client built with the TypeScript SDK v2 (@modelcontextprotocol/client), speaking the
// 2026-07-28 revision over streamable HTTP with a bearer token it already holds.
//
//   MCP_URL=<url> MCP_TOKEN=<token> [NEGOTIATION=auto|pin|legacy] node client-v2.mjs
//
// NEGOTIATION (default auto): auto probes with server/discover and falls back to initialize on
// any non-modern answer; pin demands 2026-07-28 (no fallback); legacy is the 2025 handshake.
// The token is given to the transport as an AuthProvider ({ token }), so it is sent as
// "Authorization: Bearer" on every request; it is never printed.
//
// Prints JSON lines (the Java test judges the values):
//   {"step":"http",...}      every HTTP exchange: method, status, the MCP request headers the SDK
//                            set (mcp-protocol-version, mcp-method, mcp-name, mcp-param-*), the
//                            JSON-RPC method, response content type and WWW-Authenticate; the
//                            body of a refusal (status >= 400) and of the server/discover answer
//   connect                  negotiated protocol version, era, server name
//   listTools                the tool names the caller sees
//   echo, add                results of allowed calls
//   stepUp                   write_note: outcome, HTTP status and challenge of the refusal
//   hidden                   delete_everything: outcome, JSON-RPC code and message
//   done
// Exit 0 when every step ran; 1 with {"step":"error",...} otherwise; 2 on timeout.
import { Client } from '@modelcontextprotocol/client';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

function emit(record) {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

function describe(error) {
  const record = { message: String(error?.message ?? error) };
  if (error?.code !== undefined) record.code = error.code;
  if (error?.name && error.name !== 'Error') record.name = error.name;
  if (error?.data !== undefined) record.data = error.data;
  return record;
}

function fail(during, error, exitCode = 1) {
  emit({ step: 'error', during, ...describe(error) });
  process.stderr.write(`${during} failed: ${error?.stack ?? error}\n`);
  process.exit(exitCode);
}

const seconds = Number(process.env.CLIENT_TIMEOUT_SECONDS ?? 60);
setTimeout(() => fail('watchdog', new Error(`no result after ${seconds} s`), 2), seconds * 1000).unref();

if (!process.env.MCP_URL) fail('arguments', new Error('missing MCP_URL'));
const url = new URL(process.env.MCP_URL);
const token = process.env.MCP_TOKEN;
const negotiation = process.env.NEGOTIATION ?? 'auto';
const mode = negotiation === 'pin' ? { pin: '2026-07-28' } : negotiation;

const REQUEST_HEADERS = ['mcp-protocol-version', 'mcp-method', 'mcp-name', 'mcp-session-id'];

// Records every exchange so that refusals can be shown exactly (status, challenge, body).
const recordingFetch = async (input, init) => {
  const request = new Request(input, init);
  const record = { step: 'http', method: request.method, authorization: request.headers.has('authorization') ? 'bearer' : 'none' };
  for (const name of REQUEST_HEADERS) {
    if (request.headers.has(name)) record[name] = request.headers.get(name);
  }
  request.headers.forEach((value, name) => {
    if (name.startsWith('mcp-param-')) record[name] = value;
  });
  if (request.method === 'POST') {
    try {
      const body = JSON.parse(await request.clone().text());
      record.rpc = Array.isArray(body) ? body.map((m) => m.method) : body.method;
    } catch {
      record.rpc = 'unparseable';
    }
  }
  let response;
  try {
    response = await fetch(request);
  } catch (error) {
    emit({ ...record, error: String(error?.cause?.message ?? error?.message ?? error) });
    throw error;
  }
  record.status = response.status;
  record.contentType = response.headers.get('content-type');
  const challenge = response.headers.get('www-authenticate');
  if (challenge) record.wwwAuthenticate = challenge;
  // Bodies of refusals and of the era probe's answer, to show exactly why a connection fell back.
  const json = (record.contentType ?? '').startsWith('application/json');
  if (response.status >= 400 || (json && record.rpc === 'server/discover')) {
    record.body = (await response.clone().text()).slice(0, 1000);
  }
  emit(record);
  return response;
};

const transport = new StreamableHTTPClientTransport(url, {
  authProvider: token ? { token: async () => token } : undefined,
  onInsufficientScope: 'throw',
  fetch: recordingFetch,
});
const client = new Client(
  { name: 'portcullis-interop-v2', version: '0.1.0' },
  { versionNegotiation: { mode } },
);
client.onerror = (error) => emit({ step: 'transportError', ...describe(error) });

let step = 'connect';
try {
  await client.connect(transport);
  const version = client.getNegotiatedProtocolVersion() ?? null;
  emit({
    step,
    negotiation,
    protocolVersion: version,
    era: client.getDiscoverResult() ? 'modern' : 'legacy',
    server: client.getServerVersion()?.name ?? null,
  });

  step = 'listTools';
  const { tools } = await client.listTools();
  emit({ step, names: tools.map((t) => t.name).sort() });

  step = 'echo';
  const echoed = await client.callTool({ name: 'echo', arguments: { message: process.env.ECHO_MESSAGE ?? 'hello from SDK v2' } });
  emit({ step, isError: echoed.isError ?? false, text: (echoed.content ?? []).map((c) => c.text ?? '').join('') });

  step = 'add';
  const added = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
  emit({ step, isError: added.isError ?? false, text: (added.content ?? []).map((c) => c.text ?? '').join('') });

  step = 'stepUp';
  try {
    const result = await client.callTool({ name: 'write_note', arguments: { text: 'needs more scope' } });
    emit({ step, outcome: 'succeeded', isError: result.isError ?? false });
  } catch (error) {
    emit({ step, outcome: 'failed', ...describe(error) });
  }

  step = 'hidden';
  try {
    const result = await client.callTool({ name: 'delete_everything', arguments: {} });
    emit({ step, outcome: 'succeeded', isError: result.isError ?? false,
      text: (result.content ?? []).map((c) => c.text ?? '').join('') });
  } catch (error) {
    emit({ step, outcome: 'failed', ...describe(error) });
  }

  step = 'close';
  await client.close();
  emit({ step: 'done' });
} catch (error) {
  fail(step, error);
}
