// Starts server-everything (streamable HTTP) for manual runs, the way the Java tests do:
// bound to 127.0.0.1 by loopback-preload.cjs and with an empty environment apart from PORT,
// because its get-env tool returns the whole environment to any caller.
//
//   node run-everything.mjs [port]        (default: PORT or 3001)
//
// Ready when it prints "MCP Streamable HTTP Server listening on port <port>" (on stderr);
// the endpoint is then http://127.0.0.1:<port>/mcp. Ctrl-C stops it.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = (relative) => fileURLToPath(new URL(relative, import.meta.url));
const port = process.argv[2] ?? process.env.PORT ?? '3001';

const child = spawn(
  process.execPath,
  [
    '--require',
    here('./loopback-preload.cjs'),
    here('./node_modules/@modelcontextprotocol/server-everything/dist/index.js'),
    'streamableHttp',
  ],
  { env: { PORT: String(port) }, stdio: 'inherit' },
);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
