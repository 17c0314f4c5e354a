// A loopback forwarder for the conformance suite, which cannot send a bearer token in server mode.
// It accepts requests on 127.0.0.1, adds "Authorization: Bearer <token>" and passes everything else
// through unchanged to the target (the gateway) — in particular the original Host and Origin, so
// the suite's DNS-rebinding scenario still tests the gateway's own Host/Origin checks. Responses
// (including SSE streams) are relayed as they arrive.
//
//   FORWARD_TARGET=http://127.0.0.1:<gateway-port> FORWARD_TOKEN=<token> [FORWARD_PORT=<port>] node forwarder.mjs
//
// The token comes from the environment (never argv) and is never printed. Ready when it prints
// "forwarder listening on http://127.0.0.1:<port>" (stdout); then one JSON line per request:
// {"forwarded":{"method":"POST","path":"/mcp","host":"…","origin":"…","status":200}}.
// Node 20 or later.
import http from 'node:http';

const target = new URL(process.env.FORWARD_TARGET ?? '');
const token = process.env.FORWARD_TOKEN;
if (!token) {
  process.stderr.write('FORWARD_TOKEN is required\n');
  process.exit(1);
}
const port = Number(process.env.FORWARD_PORT ?? 0);
const agent = new http.Agent({ keepAlive: true });
// Hop-by-hop headers belong to each connection, not to the request.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

function log(record) {
  process.stdout.write(`${JSON.stringify({ forwarded: record })}\n`);
}

const server = http.createServer((req, res) => {
  const headers = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!HOP_BY_HOP.has(name) && name !== 'authorization') headers[name] = value;
  }
  headers.authorization = `Bearer ${token}`;
  const record = { method: req.method, path: req.url, host: req.headers.host ?? null, origin: req.headers.origin ?? null };
  const upstream = http.request(
    { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent },
    (answer) => {
      record.status = answer.statusCode;
      log(record);
      const outHeaders = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (!HOP_BY_HOP.has(name)) outHeaders[name] = value;
      }
      res.writeHead(answer.statusCode ?? 502, outHeaders);
      res.flushHeaders();
      answer.pipe(res);
    },
  );
  upstream.on('error', (error) => {
    record.error = String(error?.message ?? error);
    log(record);
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end();
  });
  // The client went away (e.g. the suite closed an SSE stream): stop the upstream exchange too.
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`forwarder listening on http://127.0.0.1:${server.address().port}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
