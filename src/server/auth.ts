import type { FastifyRequest } from 'fastify';
import { CutoverError } from '../errors/index.js';
import { matchToken, type ActiveToken, type TokenType } from './token-store.js';

/** The caller of a request, once authenticated. */
export interface Caller {
  /** Token name: the actor recorded in the audit log for admin changes. */
  name: string;
  type: TokenType;
  /** The environment of a client token; null for an admin token. */
  environment: string | null;
}

/**
 * The token presented by a request: the `Authorization` header, either the
 * raw token (what Unleash SDKs send) or `Bearer <token>`. Undefined when absent.
 */
export function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || header.trim() === '') return undefined;
  const value = header.trim();
  return /^bearer\s+/i.test(value) ? value.replace(/^bearer\s+/i, '') : value;
}

/**
 * Authenticates `request` against the active tokens and checks it is of type
 * `required`. When no cached token matches, `reload` (if given) re-reads the
 * tokens from the database once, so a token created a moment ago works at once.
 *
 * @throws CutoverError `TOKEN_MISSING` / `TOKEN_UNKNOWN` (unauthorized → 401),
 *   `TOKEN_FORBIDDEN` (forbidden → 403) for a token of the other type.
 */
export async function authenticate(
  request: FastifyRequest,
  tokens: readonly ActiveToken[],
  required: TokenType,
  reload?: () => Promise<readonly ActiveToken[]>,
): Promise<Caller> {
  const presented = presentedToken(request);
  if (presented === undefined) {
    throw new CutoverError('TOKEN_MISSING', 'unauthorized', 'This endpoint needs an API token.', {
      hint: `Send "Authorization: <${required} token>"; create one with \`cutover tokens create --type ${required}\`.`,
    });
  }
  let token = matchToken(presented, tokens);
  if (token === undefined && reload !== undefined) token = matchToken(presented, await reload());
  if (token === undefined) {
    throw new CutoverError(
      'TOKEN_UNKNOWN',
      'unauthorized',
      'The API token is not valid (unknown or revoked).',
      {
        hint: 'Check the token, or create a new one with `cutover tokens create`.',
      },
    );
  }
  if (token.type !== required) {
    throw new CutoverError(
      'TOKEN_FORBIDDEN',
      'forbidden',
      `${token.type === 'admin' ? 'An' : 'A'} ${token.type} token (${token.name}) cannot use the ${required} API.`,
      {
        hint:
          required === 'admin'
            ? 'Client tokens are read-only; use an admin token for /api/admin.'
            : 'Use a client token (one environment) for /api/client.',
        details: { token: token.name },
      },
    );
  }
  return { name: token.name, type: token.type, environment: token.environment };
}
