import { CutoverError } from '../errors/index.js';

/** CutoverError `FLAG_CLIENT_CLOSED` (refused): the client was closed before it was ready. */
export function closedError(): CutoverError {
  return new CutoverError(
    'FLAG_CLIENT_CLOSED',
    'refused',
    'The flag client was closed before it was ready.',
    {
      hint: 'Call ready() before close().',
    },
  );
}

/**
 * A CutoverError `code` (`category`) whose message is `message` followed by
 * the cause's message; `cause` is kept as the error's cause.
 */
export function wrapError(
  code: string,
  category: 'failed' | 'unavailable' | 'config',
  message: string,
  cause: unknown,
  location?: string,
): CutoverError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new CutoverError(code, category, `${message.replace(/\.$/, '')}: ${detail}.`, {
    ...(location === undefined ? {} : { location }),
    cause,
  });
}
