import { createServer, type IncomingMessage, type Server } from 'node:http';

/** A request the test webhook server received. */
export interface ReceivedHook {
  path: string;
  body: Record<string, unknown>;
  contentType: string | undefined;
}

/** A real local HTTP server that records JSON POSTs (answering `status`, default 200). */
export interface WebhookServer {
  url: string;
  received: ReceivedHook[];
  /** Status the server answers with from now on. */
  status: number;
  close(): Promise<void>;
}

/** Starts a {@link WebhookServer} on a free port of 127.0.0.1. */
export async function startWebhookServer(): Promise<WebhookServer> {
  const state: { received: ReceivedHook[]; status: number } = { received: [], status: 200 };
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        body = { raw: text };
      }
      state.received.push({ path: req.url ?? '/', body, contentType: req.headers['content-type'] });
      res.statusCode = state.status;
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    get received() {
      return state.received;
    },
    get status() {
      return state.status;
    },
    set status(value: number) {
      state.status = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
