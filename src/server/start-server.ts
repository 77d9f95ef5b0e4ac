import type { FastifyInstance } from 'fastify';
import { CutoverError } from '../errors/index.js';
import { buildServer, type ServerOptions } from './build-server.js';

/** Default TCP port of `cutover serve`. */
export const DEFAULT_PORT = 4242;
/** Default listening address of `cutover serve` (loopback; use `0.0.0.0` in containers). */
export const DEFAULT_HOST = '127.0.0.1';

/** Options of {@link startServer}. */
export interface StartServerOptions extends ServerOptions {
  /** TCP port; 0 picks a free one. Default {@link DEFAULT_PORT}. */
  port?: number;
  /** Address to bind. Default {@link DEFAULT_HOST}. */
  host?: string;
}

/** A listening server. */
export interface RunningServer {
  app: FastifyInstance;
  /** Base URL, e.g. `http://127.0.0.1:4242`. */
  url: string;
  port: number;
  /** Graceful shutdown: stops accepting, ends streams, finishes requests, closes the database. */
  close(): Promise<void>;
}

/**
 * Builds the server ({@link buildServer}) and listens on `host:port`.
 *
 * @throws CutoverError `SERVER_PORT_IN_USE` (busy) when the port is taken,
 *   `SERVER_LISTEN_FAILED` (unavailable) for other bind errors, plus those of {@link buildServer}.
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const app = await buildServer(options);
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  try {
    await app.listen({ port, host });
  } catch (error) {
    await app.close().catch(() => undefined);
    const code = (error as { code?: unknown }).code;
    throw new CutoverError(
      code === 'EADDRINUSE' ? 'SERVER_PORT_IN_USE' : 'SERVER_LISTEN_FAILED',
      code === 'EADDRINUSE' ? 'busy' : 'unavailable',
      code === 'EADDRINUSE'
        ? `Port ${port} on ${host} is already in use.`
        : `Cannot listen on ${host}:${port}: ${error instanceof Error ? error.message : String(error)}.`,
      {
        location: `${host}:${port}`,
        hint: 'Pick another port with --port (or CUTOVER_PORT), or stop the process using it.',
        cause: error,
      },
    );
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  const urlHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    app,
    url: `http://${urlHost}:${boundPort}`,
    port: boundPort,
    close: () => app.close(),
  };
}
