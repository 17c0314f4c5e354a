// Shared helpers for the interop clients: one JSON object per line on stdout, the MCP steps
// the Java tests assert on, and uniform failure handling. Never prints tokens or secrets.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export const DEFAULT_ECHO_MESSAGE = 'hello from the TypeScript SDK';

/** Writes one JSON line to stdout. */
export function emit(record) {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

/** Prints an error line (stdout, for the test; stderr, for people) and exits non-zero. */
export function fail(during, error, exitCode = 1) {
  const record = { step: 'error', during, message: String(error?.message ?? error) };
  if (error?.code !== undefined) record.code = error.code;
  if (error?.name && error.name !== 'Error') record.name = error.name;
  emit(record);
  process.stderr.write(`${during} failed: ${error?.stack ?? error}\n`);
  process.exit(exitCode);
}

/** Kills the process if the whole run takes longer than `seconds` (a hung stream must not hang the build). */
export function watchdog(seconds) {
  const timer = setTimeout(() => fail('watchdog', new Error(`no result after ${seconds} s`), 2), seconds * 1000);
  timer.unref();
}

export function parseUrl(value, what) {
  if (!value) throw new Error(`missing ${what}`);
  return new URL(value);
}

/**
 * Connects, lists tools, calls echo (`calls` times, its text in `argument`), terminates the session and closes.
 * Emits: connect, listTools, callTool, terminateSession, done (or error and exit 1).
 */
export async function runMcpSteps(url, transportOptions, message, calls = 1, argument = 'message') {
  const transport = new StreamableHTTPClientTransport(url, transportOptions);
  const client = new Client({ name: 'portcullis-interop', version: '0.1.0' });
  let closing = false;
  client.onerror = (error) => {
    // Errors outside a request (for example the optional GET SSE stream failing). Reported, not fatal:
    // the test decides whether they matter.
    if (!closing) emit({ step: 'transportError', message: String(error?.message ?? error) });
  };

  let step = 'connect';
  try {
    await client.connect(transport);
    emit({
      step,
      protocolVersion: transport.protocolVersion ?? null,
      server: client.getServerVersion()?.name ?? null,
      session: transport.sessionId !== undefined,
    });

    step = 'listTools';
    const { tools } = await client.listTools();
    emit({ step, count: tools.length, hasEcho: tools.some((t) => t.name === 'echo') });

    step = 'callTool';
    for (let i = 0; i < calls; i++) {
      const result = await client.callTool({ name: 'echo', arguments: { [argument]: message } });
      const text = (result.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('');
      if (result.isError) throw new Error(`echo returned isError: ${text}`);
      emit({ step, tool: 'echo', text });
    }

    step = 'terminateSession';
    await transport.terminateSession();
    emit({ step });

    step = 'close';
    closing = true;
    await client.close();
    emit({ step: 'done' });
  } catch (error) {
    fail(step, error);
  }
}
