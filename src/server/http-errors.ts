import type { FastifyError, FastifyInstance } from 'fastify';
import { ZodError } from 'zod';
import { CutoverError, isCutoverError, type ErrorCategory } from '../errors/index.js';
import { isConnectionError } from '../db/index.js';
import { formatJsonPath } from '../flags/parse-flag.js';

/**
 * HTTP status of each {@link ErrorCategory} (the server's counterpart of the
 * CLI's exit codes):
 *
 * | category | status |
 * | --- | --- |
 * | usage, config, validation | 400 Bad Request |
 * | unauthorized | 401 Unauthorized |
 * | forbidden | 403 Forbidden |
 * | not_found | 404 Not Found |
 * | refused | 409 Conflict |
 * | busy | 423 Locked |
 * | unavailable | 503 Service Unavailable |
 * | failed | 500 Internal Server Error |
 */
export function httpStatusFor(category: ErrorCategory): number {
  switch (category) {
    case 'usage':
    case 'config':
    case 'validation':
      return 400;
    case 'unauthorized':
      return 401;
    case 'forbidden':
      return 403;
    case 'not_found':
      return 404;
    case 'refused':
      return 409;
    case 'busy':
      return 423;
    case 'unavailable':
      return 503;
    case 'failed':
      return 500;
  }
}

/** The JSON body of every error response: `{ error: { code, message, details } }` (plus `category`, `location`, `hint` when known). */
export interface ErrorBody {
  error: {
    code: string;
    category: ErrorCategory;
    message: string;
    location?: string;
    hint?: string;
    details: Record<string, unknown>;
  };
}

/** The error body of a {@link CutoverError}. */
export function errorBody(error: CutoverError): ErrorBody {
  return {
    error: {
      code: error.code,
      category: error.category,
      message: error.message,
      ...(error.location === undefined ? {} : { location: error.location }),
      ...(error.hint === undefined ? {} : { hint: error.hint }),
      details: error.details ?? {},
    },
  };
}

/**
 * Turns a zod error on part `part` of a request (`body`, `querystring`,
 * `params`) into CutoverError `code` (default `REQUEST_INVALID`, config) whose
 * `details.issues` lists `{ path, message }` per problem, paths in JSON-path
 * style from the part's root (`$.rollout`, `$.tag.name`), as `parseFlag` writes them.
 */
export function requestError(
  error: ZodError,
  part: string,
  code = 'REQUEST_INVALID',
): CutoverError {
  const issues = error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          path: formatJsonPath([...issue.path, key]),
          message: 'unknown key',
        }))
      : [{ path: formatJsonPath(issue.path), message: issue.message }],
  );
  const first = issues[0];
  return new CutoverError(
    code,
    'config',
    `The request ${part} is invalid${first === undefined ? '' : `: ${first.path}: ${first.message}`}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}.`,
    {
      location: first === undefined ? part : `${part} ${first.path}`,
      hint: 'Fix each path listed in details.issues.',
      details: { in: part, issues },
    },
  );
}

/**
 * Installs the one error handler of the server: a {@link CutoverError} maps
 * to {@link httpStatusFor} its category; a lost database connection to 503
 * `DATABASE_UNREACHABLE`; Fastify's own client errors (bad
 * JSON, body too large, unsupported media type) keep their 4xx status with
 * code `REQUEST_INVALID`; anything else is a 500 `INTERNAL` without internals.
 * Unknown routes answer 404 `ROUTE_NOT_FOUND`. Every body is an {@link ErrorBody}.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((raw: FastifyError | Error, request, reply) => {
    let error: CutoverError;
    if (isCutoverError(raw)) {
      error = raw;
    } else if (raw instanceof ZodError) {
      error = requestError(raw, 'body');
    } else if (isConnectionError(raw)) {
      error = new CutoverError(
        'DATABASE_UNREACHABLE',
        'unavailable',
        'The database cannot be reached.',
        {
          hint: 'Retry later; check the database behind this server.',
        },
      );
    } else {
      const status = (raw as FastifyError).statusCode;
      if (typeof status === 'number' && status >= 400 && status < 500) {
        const body = new CutoverError('REQUEST_INVALID', 'config', raw.message, {
          details: { fastifyCode: (raw as FastifyError).code },
        });
        return reply.status(status).send(errorBody(body));
      }
      request.log.error({ err: raw }, 'internal error');
      error = new CutoverError('INTERNAL', 'failed', 'Internal server error.', {
        hint: 'See the server log.',
      });
    }
    const status = httpStatusFor(error.category);
    if (status === 401) void reply.header('www-authenticate', 'Bearer realm="cutover"');
    return reply.status(status).send(errorBody(error));
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send(
        errorBody(
          new CutoverError(
            'ROUTE_NOT_FOUND',
            'not_found',
            `No route ${request.method} ${request.url.split('?')[0] ?? ''}.`,
            { hint: 'See the endpoints in the README, section "Flag server".' },
          ),
        ),
      ),
  );
}
