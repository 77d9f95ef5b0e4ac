import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** See {@link trackConnections}. */
export interface ConnectionTracker {
  /**
   * Starts draining: closes every connection with no request in flight now,
   * and every other one as soon as its last response is done; after
   * `timeoutMs`, closes whatever is left.
   */
  drain(timeoutMs: number): void;
}

/**
 * Counts the requests in flight on each connection of `server`, so a
 * graceful shutdown can close idle connections at once — including sockets a
 * client opened but never used, which Node's `closeIdleConnections` leaves
 * open until the client gives up — while in-flight requests finish.
 */
export function trackConnections(server: Server): ConnectionTracker {
  const inFlight = new Map<Socket, number>();
  let draining = false;
  server.on('connection', (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once('close', () => inFlight.delete(socket));
  });
  server.on('request', (request, response) => {
    const socket = request.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    response.once('close', () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (draining && left <= 0) socket.destroy();
    });
  });
  return {
    drain(timeoutMs) {
      draining = true;
      for (const [socket, count] of inFlight) if (count <= 0) socket.destroy();
      const timer = setTimeout(() => {
        for (const socket of inFlight.keys()) socket.destroy();
      }, timeoutMs);
      timer.unref();
    },
  };
}
