import { CutoverError } from '../errors/index.js';

/**
 * Checks that `url` is a PostgreSQL connection URL
 * (`postgres://user:password@host:port/database` or `postgresql://…`).
 *
 * @param url The URL to check.
 * @param source Where it came from, for the message (e.g. `--database-url`, `DATABASE_URL`).
 * @returns The same URL.
 * @throws CutoverError `DATABASE_URL_INVALID` (category `config`).
 */
export function parseDatabaseUrl(url: string, source = 'database URL'): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    const port = /^[a-z]+:\/\/[^/]*:(\d+)(?:\/|$)/i.exec(url.replace(/\/\/[^@/]*@/, '//'))?.[1];
    if (port !== undefined && Number(port) > 65535) {
      throw invalid(source, `its port ${port} is out of range (1-65535)`);
    }
    throw invalid(
      source,
      /^[a-z][a-z0-9+.-]*:\/\//i.test(url)
        ? 'it does not parse as a URL (a password with special characters such as @ : / # ? must be percent-encoded, e.g. @ as %40)'
        : 'it is not a URL',
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw invalid(source, `its scheme is "${parsed.protocol}" instead of "postgres:"`);
  }
  if (parsed.hash !== '') {
    throw invalid(
      source,
      'it contains "#" (a password with special characters such as # @ : / ? must be percent-encoded, e.g. # as %23)',
    );
  }
  if (parsed.hostname === '' && !parsed.searchParams.has('host')) {
    throw invalid(source, 'it names no host');
  }
  return url;
}

/**
 * The URL with its password replaced by `***`, for messages and logs. A `#`
 * fragment is dropped too: an unencoded `#` in a password starts one, so the
 * fragment may hold the rest of the password.
 */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    if (parsed.hash !== '') parsed.hash = '';
    return parsed.toString();
  } catch {
    return '<invalid database URL>';
  }
}

function invalid(source: string, why: string): CutoverError {
  return new CutoverError('DATABASE_URL_INVALID', 'config', `The ${source} is invalid: ${why}.`, {
    location: source,
    hint: 'Use the form postgres://user:password@host:5432/database.',
  });
}
