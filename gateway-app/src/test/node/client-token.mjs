// MCP client with a pre-obtained bearer token (TypeScript SDK 1.x, Streamable HTTP).
//
//   node client-token.mjs <mcp-url> [token] [echo-message]
//   MCP_URL / MCP_TOKEN / ECHO_MESSAGE may be used instead of the arguments (the environment
//   keeps the token out of the process list).
//
// Prints one JSON line per step: connect, listTools, callTool, terminateSession, done.
// Exit 0 on success; on failure an {"step":"error",...} line and exit 1 (2 on timeout).
import { DEFAULT_ECHO_MESSAGE, fail, parseUrl, runMcpSteps, watchdog } from './mcp-steps.mjs';

watchdog(Number(process.env.CLIENT_TIMEOUT_SECONDS ?? 60));

let url;
try {
  url = parseUrl(process.argv[2] ?? process.env.MCP_URL, 'MCP URL (argument 1 or MCP_URL)');
} catch (error) {
  fail('arguments', error);
}
const token = process.argv[3] ?? process.env.MCP_TOKEN;
const message = process.argv[4] ?? process.env.ECHO_MESSAGE ?? DEFAULT_ECHO_MESSAGE;

const requestInit = token ? { headers: { Authorization: `Bearer ${token}` } } : undefined;
// ECHO_CALLS: how many echo calls in the one session (default 1); ECHO_ARGUMENT: the argument's name.
await runMcpSteps(url, { requestInit }, message, Number(process.env.ECHO_CALLS ?? 1), process.env.ECHO_ARGUMENT ?? 'message');
