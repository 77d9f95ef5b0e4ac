import type { FlagContext } from './model.js';

/**
 * Context fields the host application sets once (Unleash's "static context"):
 * used when an evaluation context does not carry the field itself.
 */
export interface StaticContext {
  appName?: string;
  environment?: string;
}

/** Reads one context field as a string (`undefined` when absent). */
export type ContextGetter = (context: FlagContext) => string | undefined;

function asString(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  // Same conversion as unleash-client's resolveContextValue (objects become '[object Object]').
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  return typeof value === 'string' ? value : String(value);
}

/**
 * `object[field]`, except what plain objects inherit from `Object.prototype`
 * (all functions; `__proto__` is handled by the caller). Context values are
 * strings, numbers, booleans or dates, never functions.
 */
function read(object: object, field: string): unknown {
  const value = (object as Record<string, unknown>)[field];
  return typeof value === 'function' ? undefined : value;
}

function fromProperties(context: FlagContext, field: string): unknown {
  const properties = context.properties;
  if (typeof properties !== 'object' || properties === null) return undefined;
  return read(properties, field);
}

/**
 * A compiled reader of context field `field`, with the lookup rule of the
 * Unleash SDKs (`resolveContextValue`): the top-level field, else
 * `properties[field]`; any non-null value is converted with `String()`.
 * Unlike `unleash-client`, what objects inherit from `Object.prototype`
 * (`constructor`, `toString`, `__proto__`, …) is never read as a value.
 */
export function contextGetter(field: string, defaults: StaticContext = {}): ContextGetter {
  switch (field) {
    case 'userId':
      return (c) => asString(c.userId ?? fromProperties(c, 'userId'));
    case 'sessionId':
      return (c) => asString(c.sessionId ?? fromProperties(c, 'sessionId'));
    case 'remoteAddress':
      return (c) => asString(c.remoteAddress ?? fromProperties(c, 'remoteAddress'));
    case 'environment': {
      const fallback = defaults.environment;
      return (c) => asString(c.environment ?? fallback ?? fromProperties(c, 'environment'));
    }
    case 'appName': {
      const fallback = defaults.appName;
      return (c) => asString(c.appName ?? fallback ?? fromProperties(c, 'appName'));
    }
    case 'currentTime':
      return (c) => asString(c.currentTime ?? fromProperties(c, 'currentTime'));
    case 'properties':
      return (c) => asString(c.properties);
    case '__proto__':
      return (c) => {
        const p = c.properties;
        const own = (o: object): unknown =>
          Object.hasOwn(o, field) ? (o as Record<string, unknown>)[field] : undefined;
        return asString(own(c) ?? (typeof p === 'object' && p !== null ? own(p) : undefined));
      };
    default:
      return (c) => asString(read(c, field) ?? fromProperties(c, field));
  }
}
