// Issue 17: a TypeScript SDK v2 client (2026-07-28) calling a tool the gateway holds for human approval.
//
//   MCP_URL=<url> MCP_TOKEN=<token> URL_FILE=<path> APPROVED_FILE=<path> node client-v2-approval.mjs
//
// The client declares URL-mode elicitation. The SDK's multi-round-trip driver hands the gateway's
// input_required (a URL elicitation of the approval page) to the elicitation handler below, which writes
// the URL to URL_FILE and waits for APPROVED_FILE (the Java test approves on the page, then creates it),
// then accepts; the driver retries with the gateway's requestState. A second identical call (the approval
// is single-use) is declined by the handler, so the driver gives up.
//
// Prints JSON lines: {"step":"elicitation",mode,url}, {"step":"call",text}, {"step":"replay",outcome},
// {"step":"done"}; {"step":"error",...} and exit 1 otherwise; 2 on timeout. The token is never printed.
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { existsSync, writeFileSync } from 'node:fs';

const emit = (record) => process.stdout.write(`${JSON.stringify(record)}\n`);
const fail = (during, error, code = 1) => {
  emit({ step: 'error', during, message: String(error?.message ?? error), code: error?.code });
  process.exit(code);
};
setTimeout(() => fail('watchdog', new Error('no result in time'), 2), 90_000).unref();

const transport = new StreamableHTTPClientTransport(new URL(process.env.MCP_URL), {
  authProvider: { token: async () => process.env.MCP_TOKEN },
});
const client = new Client({ name: 'portcullis-approval-v2', version: '0.1.0' },
  { capabilities: { elicitation: { url: {} } }, versionNegotiation: { mode: { pin: '2026-07-28' } } });

let elicitations = 0;
client.setRequestHandler('elicitation/create', async (request) => {
  elicitations += 1;
  emit({ step: 'elicitation', n: elicitations, mode: request.params.mode, url: request.params.url });
  if (elicitations > 1) {
    return { action: 'decline' };
  }
  writeFileSync(process.env.URL_FILE, request.params.url);
  const deadline = Date.now() + 60_000;
  while (!existsSync(process.env.APPROVED_FILE) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { action: 'accept' };
});

let step = 'connect';
try {
  await client.connect(transport);
  step = 'call';
  const result = await client.callTool({ name: 'echo', arguments: { message: 'pay 9000 to acme' } });
  emit({ step, isError: result.isError ?? false, text: (result.content ?? []).map((c) => c.text ?? '').join('') });
  step = 'replay';
  try {
    const again = await client.callTool({ name: 'echo', arguments: { message: 'pay 9000 to acme' } });
    emit({ step, outcome: 'succeeded', text: (again.content ?? []).map((c) => c.text ?? '').join('') });
  } catch (error) {
    emit({ step, outcome: 'failed', message: String(error?.message ?? error) });
  }
  await client.close();
  emit({ step: 'done' });
} catch (error) {
  fail(step, error);
}
