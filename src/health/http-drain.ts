import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How often, while the server closes, connections that have gone idle are closed. */
const IDLE_SWEEP_MS = 50;

/**
 * Closing an HTTP server closes only the connections idle at that moment: one whose
 * response is still being prepared would answer `Connection: keep-alive` and then hold
 * the exit until the client hangs up. So the server's connections are tracked (per
 * connection, not per request): `endPendingResponses` makes every response not yet
 * sent say `Connection: close` (requests arriving later get it from the drain
 * middleware), and `sweepIdle` closes connections as they go idle.
 */
export function trackConnections(server: Server): {
  endPendingResponses(): void;
  sweepIdle(): () => void;
} {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return {
    endPendingResponses() {
      for (const socket of sockets) {
        // Node keeps the response being written on its socket; no public API exposes it.
        const response = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
        if (response && !response.headersSent) response.shouldKeepAlive = false;
      }
    },
    sweepIdle() {
      const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
      return () => clearInterval(sweep);
    },
  };
}
