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

const hasOwn = (object: object, key: string): boolean => Object.hasOwn(object, key);

function asString(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  // Same conversion as unleash-client's resolveContextValue (objects become '[object Object]').
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  return typeof value === 'string' ? value : String(value);
}

function fromProperties(context: FlagContext, field: string): unknown {
  const properties = context.properties;
  if (properties === undefined || properties === null || typeof properties !== 'object') {
    return undefined;
  }
  return hasOwn(properties, field) ? properties[field] : undefined;
}

/**
 * A compiled reader of context field `field`, with the lookup rule of the
 * Unleash SDKs (`resolveContextValue`): the top-level field, else
 * `properties[field]`; any non-null value is converted with `String()`.
 * Unlike `unleash-client`, names inherited from `Object.prototype`
 * (`constructor`, `toString`, …) are not read from the prototype.
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
    default:
      return (c) => {
        const top = hasOwn(c, field) ? (c as Record<string, unknown>)[field] : undefined;
        return asString(top ?? fromProperties(c, field));
      };
  }
}
