// MCP client that starts without a token and lets the TypeScript SDK 1.x discover the
// authorization server and obtain one with the OAuth client_credentials grant
// (ClientCredentialsProvider from @modelcontextprotocol/sdk/client/auth-extensions.js).
//
//   node client-credentials.mjs <mcp-url> <client-id> <client-secret> <scope> [expected-issuer] [echo-message]
//   MCP_URL / CLIENT_ID / CLIENT_SECRET / SCOPE / EXPECTED_ISSUER / ECHO_MESSAGE may be used instead; ECHO_ARGUMENT
//   names the echo tool's argument (default message)
//   (the environment keeps the secret out of the process list).
//
// expected-issuer is the issuer the credentials are registered with; the SDK refuses to send them
// to any other authorization server the protected resource metadata might name. Without it the
// SDK prints a deprecation warning on stderr and trusts whatever the resource advertises.
//
// Every HTTP exchange is printed as {"step":"http","method":..,"url":..,"status":..,...} in the
// order the responses arrive, followed by the MCP steps of mcp-steps.mjs. Token requests
// additionally show the form parameter names, grant_type, resource and scope, and how the
// client authenticated; tokens and secrets are never printed.
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { DEFAULT_ECHO_MESSAGE, emit, fail, parseUrl, runMcpSteps, watchdog } from './mcp-steps.mjs';

watchdog(Number(process.env.CLIENT_TIMEOUT_SECONDS ?? 60));

const arg = (index, name) => process.argv[index] ?? process.env[name];
let url;
let clientId;
let clientSecret;
let scope;
let expectedIssuer;
try {
  url = parseUrl(arg(2, 'MCP_URL'), 'MCP URL (argument 1 or MCP_URL)');
  clientId = arg(3, 'CLIENT_ID');
  clientSecret = arg(4, 'CLIENT_SECRET');
  scope = arg(5, 'SCOPE');
  expectedIssuer = arg(6, 'EXPECTED_ISSUER') || undefined;
  if (!clientId) throw new Error('missing client id (argument 2 or CLIENT_ID)');
  if (!clientSecret) throw new Error('missing client secret (argument 3 or CLIENT_SECRET)');
} catch (error) {
  fail('arguments', error);
}
const message = arg(7, 'ECHO_MESSAGE') ?? DEFAULT_ECHO_MESSAGE;

const originalFetch = globalThis.fetch;

function requestMethod(input, init) {
  return (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
}

function requestUrl(input) {
  if (input instanceof Request) return input.url;
  return String(input);
}

function headerOf(input, init, name) {
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  return headers.get(name);
}

/** The form body of a token request, or undefined for anything else. */
function formBody(init) {
  const body = init?.body;
  if (body instanceof URLSearchParams) return body;
  if (typeof body === 'string' && body.includes('grant_type=')) return new URLSearchParams(body);
  return undefined;
}

/** Describes the request without secrets: only whether and how credentials were presented. */
function describeRequest(input, init) {
  const record = { step: 'http', method: requestMethod(input, init), url: requestUrl(input) };
  const authorization = headerOf(input, init, 'authorization');
  record.authorization = authorization ? authorization.split(' ')[0].toLowerCase() : 'none';
  const form = formBody(init);
  if (form && form.has('grant_type')) {
    record.kind = 'token';
    record.params = [...new Set(form.keys())];
    record.grant_type = form.get('grant_type');
    record.resource = form.get('resource');
    record.scope = form.get('scope');
  }
  return record;
}

async function loggingFetch(input, init) {
  const record = describeRequest(input, init);
  let response;
  try {
    response = await originalFetch(input, init);
  } catch (error) {
    emit({ ...record, error: String(error?.cause?.message ?? error?.message ?? error) });
    throw error;
  }
  record.status = response.status;
  const challenge = response.headers.get('www-authenticate');
  if (challenge) record.wwwAuthenticate = challenge;
  const location = response.headers.get('location');
  if (location) record.location = location;
  if (record.kind === 'token') {
    // What was granted, never the token itself.
    try {
      const body = await response.clone().json();
      record.response = {
        token_type: body.token_type,
        scope: body.scope,
        expires_in: body.expires_in,
        error: body.error,
        error_description: body.error_description,
      };
    } catch {
      record.response = { error: 'unparseable token response' };
    }
  }
  emit(record);
  return response;
}

// The transport gets the wrapper through its `fetch` option and uses it for the MCP requests and
// for discovery; the global is replaced as well so that nothing escapes the log.
globalThis.fetch = loggingFetch;

let authProvider;
try {
  authProvider = new ClientCredentialsProvider({
    clientId,
    clientSecret,
    scope,
    expectedIssuer,
    clientName: 'portcullis-interop',
  });
} catch (error) {
  fail('provider', error);
}

// ECHO_ARGUMENT: the echo tool's argument name (server-everything: message; the Java test server: text).
await runMcpSteps(url, { authProvider, fetch: loggingFetch }, message, 1, process.env.ECHO_ARGUMENT || 'message');
