import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseEnvironmentName, parseTagFilter } from '../../flags/flag-mutations.js';
import type { ChangeMeta } from '../../flags/flag-store-types.js';
import { parseFlag, parseSegment } from '../../flags/parse-flag.js';
import { CutoverError } from '../../errors/index.js';
import type { ServerContext } from '../server-context.js';

const keyParams = z.object({ key: z.string().min(1) });
const segmentParams = z.object({ id: z.coerce.number().int().min(0) });
const versionParams = z.object({ key: z.string().min(1), version: z.coerce.number().int().min(0) });
const environment = z
  .string()
  .optional()
  .transform((value) => (value === undefined ? undefined : parseEnvironmentName(value, 'env')));
const reason = z.string().max(2000).optional();
const operationId = z.string().min(1).max(200).optional();
const flagBody = { parse: parseFlag };
const rolloutBody = z.strictObject({
  rollout: z.number().int().min(0).max(100),
  env: environment,
  reason,
  operationId,
});
const patchBody = z.strictObject({
  rollout: z.number().int().min(0).max(100).optional(),
  enabled: z.boolean().optional(),
  users: z.array(z.string()).optional(),
  env: environment,
  reason,
  operationId,
});
interface SwitchBody {
  env?: string | undefined;
  reason?: string | undefined;
  operationId?: string | undefined;
}
const switchBody = z
  .strictObject({ env: environment, reason, operationId })
  .nullish()
  .transform((body): SwitchBody => body ?? {});
const tagBody = z.strictObject({
  tag: z.union([
    z.string().transform((value) => parseTagFilter(value)),
    z.strictObject({ name: z.string().min(1), value: z.string() }),
  ]),
  env: environment,
  reason,
  operationId,
});
const restoreBody = z.strictObject({ version: z.number().int().min(0), reason, operationId });
const listQuery = z.object({
  tag: z
    .string()
    .optional()
    .transform((value) => (value === undefined ? undefined : parseTagFilter(value))),
});
const limitQuery = z.object({ limit: z.coerce.number().int().min(1).max(10_000).optional() });
const eventsQuery = z.object({
  key: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});
const metricsQuery = z.object({ key: z.string().optional(), env: z.string().optional() });
const importQuery = z.object({
  mode: z.enum(['merge', 'replace']).optional(),
  reason: z.string().optional(),
});

/** `operationId` of the body, else the `Idempotency-Key` header. */
function operationOf(
  request: FastifyRequest,
  body?: { operationId?: string | undefined },
): string | undefined {
  if (body?.operationId !== undefined) return body.operationId;
  const header = request.headers['idempotency-key'];
  return typeof header === 'string' && header !== '' ? header : undefined;
}

function reasonOf(
  request: FastifyRequest,
  body?: { reason?: string | undefined },
): string | undefined {
  if (body?.reason !== undefined) return body.reason;
  const header = request.headers['x-cutover-reason'];
  if (typeof header !== 'string' || header === '') return undefined;
  // Non-ASCII reasons arrive percent-encoded (header values are Latin-1).
  if (!/%[0-9A-Fa-f]{2}/.test(header)) return header;
  try {
    return decodeURIComponent(header);
  } catch {
    return header;
  }
}

/**
 * The {@link ChangeMeta} of an admin request: the caller's token name as
 * actor, the reason and the idempotency key from `body` or else the headers.
 */
function changeMeta(
  caller: { name: string },
  request: FastifyRequest,
  body?: { reason?: string | undefined; operationId?: string | undefined },
): ChangeMeta {
  return {
    actor: caller.name,
    reason: reasonOf(request, body),
    operationId: operationOf(request, body),
  };
}

/**
 * The admin API (`/api/admin/*`, admin tokens only). Every change is recorded
 * with the token's name as actor and the reason from the body's `reason` or
 * the `X-Cutover-Reason` header, and the idempotency key from the body's
 * `operationId` or the `Idempotency-Key` header. See the README, "Flag server".
 */
export function registerAdminRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const admin = (request: FastifyRequest) => ctx.authenticate(request, 'admin');

  app.get<{ Querystring: z.infer<typeof listQuery> }>(
    '/api/admin/flags',
    { schema: { querystring: listQuery } },
    async (request) => {
      await admin(request);
      return { flags: await ctx.flags.list({ tag: request.query.tag }) };
    },
  );

  app.post<{ Body: unknown }>(
    '/api/admin/flags',
    { schema: { body: flagBody } },
    async (request, reply) => {
      const caller = await admin(request);
      const change = await ctx.flags.create(request.body, changeMeta(caller, request));
      return reply.code(201).send(change);
    },
  );

  app.get<{ Params: z.infer<typeof keyParams> }>(
    '/api/admin/flags/:key',
    { schema: { params: keyParams } },
    async (request) => {
      await admin(request);
      return ctx.flags.get(request.params.key);
    },
  );

  app.put<{ Params: z.infer<typeof keyParams>; Body: unknown }>(
    '/api/admin/flags/:key',
    { schema: { params: keyParams, body: flagBody } },
    async (request) => {
      const caller = await admin(request);
      return ctx.flags.update(request.params.key, request.body, changeMeta(caller, request));
    },
  );

  app.delete<{ Params: z.infer<typeof keyParams> }>(
    '/api/admin/flags/:key',
    { schema: { params: keyParams } },
    async (request) => {
      const caller = await admin(request);
      return ctx.flags.delete(request.params.key, changeMeta(caller, request));
    },
  );

  app.post<{ Params: z.infer<typeof keyParams>; Body: z.infer<typeof rolloutBody> }>(
    '/api/admin/flags/:key/rollout',
    { schema: { params: keyParams, body: rolloutBody } },
    async (request) => {
      const caller = await admin(request);
      return ctx.flags.setRollout(request.params.key, request.body.rollout, {
        ...changeMeta(caller, request, request.body),
        env: request.body.env,
      });
    },
  );

  app.patch<{ Params: z.infer<typeof keyParams>; Body: z.infer<typeof patchBody> }>(
    '/api/admin/flags/:key',
    { schema: { params: keyParams, body: patchBody } },
    async (request) => {
      const caller = await admin(request);
      const { rollout, enabled, users } = request.body;
      return ctx.flags.patch(
        request.params.key,
        { rollout, enabled, users },
        { ...changeMeta(caller, request, request.body), env: request.body.env },
      );
    },
  );

  for (const action of ['enable', 'disable'] as const) {
    app.post<{ Params: z.infer<typeof keyParams>; Body: SwitchBody }>(
      `/api/admin/flags/:key/${action}`,
      { schema: { params: keyParams, body: switchBody } },
      async (request) => {
        const caller = await admin(request);
        const meta = { ...changeMeta(caller, request, request.body), env: request.body.env };
        return action === 'enable'
          ? ctx.flags.enable(request.params.key, meta)
          : ctx.flags.disable(request.params.key, meta);
      },
    );
  }

  app.post<{ Body: z.infer<typeof tagBody> }>(
    '/api/admin/disable-by-tag',
    { schema: { body: tagBody } },
    async (request) => {
      const caller = await admin(request);
      const changes = await ctx.flags.disableByTag(request.body.tag, {
        ...changeMeta(caller, request, request.body),
        env: request.body.env,
      });
      return { changes };
    },
  );

  app.get<{ Params: z.infer<typeof keyParams>; Querystring: z.infer<typeof limitQuery> }>(
    '/api/admin/flags/:key/history',
    { schema: { params: keyParams, querystring: limitQuery } },
    async (request) => {
      await admin(request);
      return {
        versions: await ctx.flags.history(request.params.key, { limit: request.query.limit }),
      };
    },
  );

  app.get<{ Params: z.infer<typeof versionParams> }>(
    '/api/admin/flags/:key/versions/:version',
    { schema: { params: versionParams } },
    async (request) => {
      await admin(request);
      return ctx.flags.getVersion(request.params.key, request.params.version);
    },
  );

  app.post<{ Params: z.infer<typeof keyParams>; Body: z.infer<typeof restoreBody> }>(
    '/api/admin/flags/:key/restore',
    { schema: { params: keyParams, body: restoreBody } },
    async (request) => {
      const caller = await admin(request);
      return ctx.flags.restoreVersion(
        request.params.key,
        request.body.version,
        changeMeta(caller, request, request.body),
      );
    },
  );

  app.get('/api/admin/export', async (request) => {
    await admin(request);
    return ctx.flags.export();
  });

  app.post<{ Querystring: z.infer<typeof importQuery>; Body: unknown }>(
    '/api/admin/import',
    { schema: { querystring: importQuery, body: z.unknown() }, bodyLimit: 50 * 1024 * 1024 },
    async (request) => {
      const caller = await admin(request);
      const changes = await ctx.flags.import(request.body, {
        ...changeMeta(caller, request, { reason: request.query.reason }),
        mode: request.query.mode,
      });
      return { changes };
    },
  );

  app.get<{ Querystring: z.infer<typeof eventsQuery> }>(
    '/api/admin/events',
    { schema: { querystring: eventsQuery } },
    async (request) => {
      await admin(request);
      return { events: await ctx.flags.events(request.query) };
    },
  );

  app.get<{ Querystring: z.infer<typeof metricsQuery> }>(
    '/api/admin/metrics',
    { schema: { querystring: metricsQuery } },
    async (request) => {
      await admin(request);
      return {
        metrics: await ctx.reports.flagMetrics({
          key: request.query.key,
          environment: request.query.env,
        }),
      };
    },
  );

  app.get('/api/admin/segments', async (request) => {
    await admin(request);
    return { segments: await ctx.flags.listSegments() };
  });

  app.put<{ Params: z.infer<typeof segmentParams>; Body: unknown }>(
    '/api/admin/segments/:id',
    { schema: { params: segmentParams, body: { parse: parseSegment } } },
    async (request) => {
      const caller = await admin(request);
      const body = request.body as { id: number };
      if (body.id !== request.params.id) {
        throw new CutoverError(
          'SEGMENT_ID_MISMATCH',
          'config',
          `The body's id ${body.id} differs from the segment ${request.params.id} in the URL.`,
          { location: '$.id', hint: 'Use the same id in the URL and the body.' },
        );
      }
      return ctx.flags.putSegment(body, changeMeta(caller, request));
    },
  );

  app.delete<{ Params: z.infer<typeof segmentParams> }>(
    '/api/admin/segments/:id',
    { schema: { params: segmentParams } },
    async (request) => {
      const caller = await admin(request);
      return ctx.flags.deleteSegment(request.params.id, changeMeta(caller, request));
    },
  );

  app.get('/api/admin/applications', async (request) => {
    await admin(request);
    return { applications: await ctx.reports.applications() };
  });
}
