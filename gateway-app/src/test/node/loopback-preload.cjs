'use strict';
// Preload (node --require ./loopback-preload.cjs ...) that keeps test servers off the network:
// a net.Server (and so an http.Server or an Express app) that is asked to listen without a
// host is bound to 127.0.0.1 instead of every interface. An explicit host, a Unix socket path,
// a file descriptor or a handle is left alone.
const net = require('node:net');

const LOOPBACK = '127.0.0.1';
const originalListen = net.Server.prototype.listen;

function isPort(value) {
  if (typeof value === 'number') return true;
  // process.env.PORT arrives as a string; Node treats a numeric string as a port, anything else as a pipe name.
  return typeof value === 'string' && value.trim() !== '' && Number.isInteger(Number(value));
}

function isPortOptions(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    !(value instanceof net.Server) &&
    !(value instanceof net.Socket) &&
    value.path == null &&
    value.fd == null &&
    value.handle == null &&
    value._handle == null
  );
}

net.Server.prototype.listen = function loopbackListen(...args) {
  if (args.length === 0 || typeof args[0] === 'function') {
    // listen() / listen(callback): an ephemeral port on all interfaces.
    args.unshift(0, LOOPBACK);
  } else if (args[0] == null || isPort(args[0])) {
    // listen(port[, host][, backlog][, callback]): insert the host when none was given.
    if (typeof args[1] !== 'string') {
      args.splice(1, args[1] === undefined || args[1] === null ? 1 : 0, LOOPBACK);
    }
  } else if (isPortOptions(args[0]) && args[0].host == null) {
    args[0] = { ...args[0], host: LOOPBACK };
  }
  return originalListen.apply(this, args);
};
