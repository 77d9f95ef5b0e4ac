import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ServerContext } from '../server-context.js';
import { etagMatches, type EnvironmentPayload, type FeedSubscriber } from '../flag-feed.js';

const featuresQuery = z.looseObject({
  namePrefix: z.string().optional(),
  tag: z.union([z.string(), z.array(z.string())]).optional(),
  project: z.string().optional(),
});

const registerBody = z.looseObject({
  appName: z.string().min(1),
  instanceId: z.string().optional(),
  sdkVersion: z.string().optional(),
  strategies: z.array(z.string()).optional(),
  started: z.union([z.string(), z.number()]).optional(),
  interval: z.number().optional(),
});

const count = z.number().int().min(0);
const metricsBody = z.looseObject({
  appName: z.string().min(1),
  instanceId: z.string().optional(),
  bucket: z.looseObject({
    start: z.string().min(1),
    stop: z.string().min(1),
    toggles: z.record(
      z.string(),
      z.looseObject({ yes: count, no: count, variants: z.record(z.string(), count).optional() }),
    ),
  }),
});

/**
 * The Unleash client API (`/api/client/*`, client tokens only) and the
 * stream. See the README, "Flag server", for the protocol.
 */
export function registerClientRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get<{ Querystring: z.infer<typeof featuresQuery> }>(
    '/api/client/features',
    { schema: { querystring: featuresQuery } },
    async (request, reply) => {
      const caller = await ctx.authenticate(request, 'client');
      const tag = request.query.tag;
      const payload = await ctx.feed.filtered(caller.environment ?? '', {
        namePrefix: request.query.namePrefix,
        tags: tag === undefined ? [] : Array.isArray(tag) ? tag : [tag],
      });
      void reply.header('etag', payload.etag).header('cache-control', 'no-cache');
      if (etagMatches(request.headers['if-none-match'], payload.etag)) {
        return reply.code(304).send();
      }
      return reply.type('application/json; charset=utf-8').send(payload.body);
    },
  );

  app.post<{ Body: z.infer<typeof registerBody> }>(
    '/api/client/register',
    { schema: { body: registerBody } },
    async (request, reply) => {
      const caller = await ctx.authenticate(request, 'client');
      await ctx.reports.register(caller.environment ?? '', request.body);
      return reply.code(202).send();
    },
  );

  app.post<{ Body: z.infer<typeof metricsBody> }>(
    '/api/client/metrics',
    { schema: { body: metricsBody } },
    async (request, reply) => {
      const caller = await ctx.authenticate(request, 'client');
      await ctx.reports.recordMetrics(caller.environment ?? '', request.body);
      return reply.code(202).send();
    },
  );

  app.get('/api/client/stream', async (request, reply) => {
    const caller = await ctx.authenticate(request, 'client');
    const environment = caller.environment ?? '';
    const res = reply.raw;
    let started = false;
    let pending: EnvironmentPayload | undefined;
    let last: EnvironmentPayload | undefined;
    const timers: { heartbeat?: NodeJS.Timeout } = {};
    const write = (payload: EnvironmentPayload): void => {
      if (last !== undefined && last.epoch === payload.epoch && payload.revision <= last.revision) {
        return;
      }
      last = payload;
      res.write(`event: features\nid: ${payload.revision}\ndata: ${payload.body}\n\n`);
    };
    const subscriber: FeedSubscriber = {
      environment,
      deliver(payload) {
        if (started) write(payload);
        else if (pending === undefined || payload.revision > pending.revision) pending = payload;
      },
      close() {
        clearInterval(timers.heartbeat);
        if (started) res.end();
      },
    };
    // Subscribe before reading, so a change committed meanwhile is not missed.
    const unsubscribe = ctx.feed.subscribe(subscriber);
    let first: EnvironmentPayload;
    try {
      first = await ctx.feed.payload(environment);
    } catch (error) {
      unsubscribe();
      throw error;
    }
    reply.hijack();
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'close',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${ctx.options.retryMs}\n\n`);
    started = true;
    write(pending !== undefined && pending.revision > first.revision ? pending : first);
    timers.heartbeat = setInterval(() => res.write(': ping\n\n'), ctx.options.heartbeatMs);
    timers.heartbeat.unref();
    res.on('close', () => {
      clearInterval(timers.heartbeat);
      unsubscribe();
    });
  });
}
