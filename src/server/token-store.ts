import { createHash, randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import { CutoverError } from '../errors/index.js';
import { notifyFlagChange } from '../flags/flag-notification.js';
import { parseEnvironmentName } from '../flags/flag-mutations.js';
import { recordFlagEvent } from '../flags/record-flag-event.js';
import { withTransaction } from '../store/with-transaction.js';

/**
 * `client`: read-only access to the client API (`/api/client/*`) of one
 * environment. `admin`: the admin API (`/api/admin/*`), every environment.
 */
export type TokenType = 'client' | 'admin';

/** A token as listed (never its secret). */
export interface TokenRecord {
  id: number;
  /** Unique among active tokens; recorded as the actor of admin changes. */
  name: string;
  type: TokenType;
  /** The environment of a client token; null for admin tokens. */
  environment: string | null;
  /** The token's start, for recognising it (`*:production.3f9a1c2b…`). */
  display: string;
  createdAt: Date;
  createdBy: string;
  revokedAt: Date | null;
}

/** What {@link TokenStore.create} returns: the secret, shown once, and the record. */
export interface CreatedToken {
  /** The secret token; only its sha256 hash is stored. */
  token: string;
  record: TokenRecord;
}

/** An active token as the server keeps it in memory to authenticate requests. */
export interface ActiveToken {
  id: number;
  name: string;
  type: TokenType;
  environment: string | null;
  /** sha256 of the token (32 bytes). */
  hash: Buffer;
}

/** Options of {@link createTokenStore}. */
export interface TokenStoreOptions {
  /** Random source for secrets. Default `crypto.randomBytes`. */
  randomBytes?: (size: number) => Buffer;
  /** Clock for recorded times. Default `() => new Date()`. */
  now?: () => Date;
}

/**
 * API tokens of `cutover serve`, in `cutover.tokens`. Tokens look like
 * Unleash's (`*:production.<64 hex>` for a client token of `production`,
 * `*:*.<64 hex>` for an admin token) and are stored only as sha256 hashes.
 * Creating and revoking write the audit log (`cutover.flag_events`) and
 * notify channel `cutover_flags` (`{ "type": "tokens" }`) so running servers
 * reload their token list.
 *
 * Errors: `TOKEN_INVALID` (config: bad name/type/environment), `TOKEN_EXISTS`
 * (refused: an active token has that name), `TOKEN_NOT_FOUND` (not_found).
 */
export interface TokenStore {
  /** Creates a token. @throws `TOKEN_INVALID`, `TOKEN_EXISTS` */
  create(
    input: { name: string; type: TokenType; environment?: string | undefined },
    meta: { actor: string },
  ): Promise<CreatedToken>;
  /** Tokens, oldest first; revoked ones only with `includeRevoked`. */
  list(options?: { includeRevoked?: boolean | undefined }): Promise<TokenRecord[]>;
  /** Revokes the active token with this name (or numeric id). @throws `TOKEN_NOT_FOUND` */
  revoke(nameOrId: string, meta: { actor: string }): Promise<TokenRecord>;
  /** Every active token with its hash (what the server authenticates against). */
  active(): Promise<ActiveToken[]>;
}

/** Opens the token store on `pool` (the control schema must exist). */
export function createTokenStore(pool: pg.Pool, options: TokenStoreOptions = {}): TokenStore {
  const random = options.randomBytes ?? nodeRandomBytes;
  const now = options.now ?? (() => new Date());
  return {
    async create(input, meta) {
      const name = parseTokenName(input.name);
      if (input.type !== 'client' && input.type !== 'admin') {
        throw tokenInvalid(
          `The token type "${String(input.type)}" is invalid.`,
          'type',
          'Use client or admin.',
        );
      }
      let environment: string | null = null;
      if (input.type === 'client') {
        if (input.environment === undefined || input.environment === '') {
          throw tokenInvalid(
            'A client token needs an environment.',
            'environment',
            'Pass --env <environment> (e.g. production).',
          );
        }
        environment = parseEnvironmentName(input.environment);
      } else if (input.environment !== undefined) {
        throw tokenInvalid(
          'An admin token is for every environment; it takes none.',
          'environment',
          'Drop --env, or create a client token.',
        );
      }
      const secret = random(32).toString('hex');
      const token = `*:${environment ?? '*'}.${secret}`;
      const display = `*:${environment ?? '*'}.${secret.slice(0, 8)}…`;
      const at = now();
      let row: TokenRow | undefined;
      try {
        row = await withTransaction(pool, async (client) => {
          const { rows } = await client.query<TokenRow>(
            `insert into cutover.tokens (name, type, environment, hash, display, created_at, created_by)
             values ($1, $2, $3, $4, $5, $6, $7) returning *`,
            [name, input.type, environment, hashToken(token), display, at, meta.actor],
          );
          await recordFlagEvent(client, {
            at,
            actor: meta.actor,
            action: 'token-create',
            environment,
            details: { token: name, type: input.type },
          });
          await notifyFlagChange(client, { type: 'tokens' });
          return rows[0];
        });
      } catch (error) {
        if ((error as { code?: unknown }).code === '23505') {
          throw new CutoverError(
            'TOKEN_EXISTS',
            'refused',
            `A token named "${name}" exists already.`,
            {
              location: name,
              hint: 'Pick another name, or revoke the old token first (cutover tokens revoke <name>).',
            },
          );
        }
        throw error;
      }
      if (row === undefined) throw new Error('insert returned no row');
      return { token, record: toRecord(row) };
    },

    async list(options = {}) {
      const { rows } = await pool.query<TokenRow>(
        `select * from cutover.tokens where $1 or revoked_at is null order by id`,
        [options.includeRevoked === true],
      );
      return rows.map(toRecord);
    },

    async revoke(nameOrId, meta) {
      const at = now();
      return withTransaction(pool, async (client) => {
        const { rows } = await client.query<TokenRow>(
          `update cutover.tokens set revoked_at = $2, revoked_by = $3
            where revoked_at is null and (name = $1 or id::text = $1) returning *`,
          [nameOrId, at, meta.actor],
        );
        const row = rows[0];
        if (row === undefined) {
          throw new CutoverError(
            'TOKEN_NOT_FOUND',
            'not_found',
            `No active token is named "${nameOrId}".`,
            {
              location: nameOrId,
              hint: 'List the tokens with `cutover tokens list`.',
            },
          );
        }
        await recordFlagEvent(client, {
          at,
          actor: meta.actor,
          action: 'token-revoke',
          environment: row.environment,
          details: { token: row.name, type: row.type },
        });
        await notifyFlagChange(client, { type: 'tokens' });
        return toRecord(row);
      });
    },

    async active() {
      const { rows } = await pool.query<TokenRow>(
        'select * from cutover.tokens where revoked_at is null order by id',
      );
      return rows.map((row) => ({
        id: Number(row.id),
        name: row.name,
        type: row.type,
        environment: row.environment,
        hash: row.hash,
      }));
    },
  };
}

/** sha256 of a token (what `cutover.tokens.hash` holds). */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Finds the active token matching `presented`: hashes it with sha256 and
 * compares the hash with **every** active token's hash using
 * `crypto.timingSafeEqual`, without stopping at a match, so the time taken
 * reveals neither which token matched nor how much of a hash did.
 * Returns undefined when none matches.
 */
export function matchToken(
  presented: string,
  tokens: readonly ActiveToken[],
): ActiveToken | undefined {
  const hash = hashToken(presented);
  let found: ActiveToken | undefined;
  for (const token of tokens) {
    if (token.hash.length === hash.length && timingSafeEqual(token.hash, hash)) found ??= token;
  }
  return found;
}

interface TokenRow {
  id: string;
  name: string;
  type: TokenType;
  environment: string | null;
  hash: Buffer;
  display: string;
  created_at: Date;
  created_by: string;
  revoked_at: Date | null;
}

function toRecord(row: TokenRow): TokenRecord {
  return {
    id: Number(row.id),
    name: row.name,
    type: row.type,
    environment: row.environment,
    display: row.display,
    createdAt: row.created_at,
    createdBy: row.created_by,
    revokedAt: row.revoked_at,
  };
}

function parseTokenName(name: unknown): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,99}$/.test(name)) {
    throw tokenInvalid(
      `The token name ${JSON.stringify(name)} is invalid.`,
      'name',
      'Use letters, digits, "_", ".", "@", ":" and "-" (e.g. web-production).',
    );
  }
  return name;
}

function tokenInvalid(message: string, location: string, hint: string): CutoverError {
  return new CutoverError('TOKEN_INVALID', 'config', message, { location, hint });
}
