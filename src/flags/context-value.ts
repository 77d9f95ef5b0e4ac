import type { FlagContext } from './model.js';

/**
 * Context fields the host application sets once (Unleash's "static context"):
 * used when an evaluation context does not carry the field itself.
 */
export interface StaticContext {
  appName?: string;
  environment?: string;
}

const USER_ID = 0;
const SESSION_ID = 1;
const REMOTE_ADDRESS = 2;
const ENVIRONMENT = 3;
const APP_NAME = 4;
const CURRENT_TIME = 5;
const PROPERTIES = 6;
const OTHER = 7;
const PROTO = 8;

/**
 * A compiled reference to one context field (read with {@link fieldValue}).
 * All instances share one shape so that reading stays monomorphic.
 */
export class ContextField {
  readonly kind: number;
  readonly name: string;
  /** Static-context value for `appName` / `environment`. */
  readonly fallback: string | undefined;

  constructor(name: string, defaults: StaticContext = {}) {
    this.name = name;
    switch (name) {
      case 'userId':
        this.kind = USER_ID;
        break;
      case 'sessionId':
        this.kind = SESSION_ID;
        break;
      case 'remoteAddress':
        this.kind = REMOTE_ADDRESS;
        break;
      case 'environment':
        this.kind = ENVIRONMENT;
        break;
      case 'appName':
        this.kind = APP_NAME;
        break;
      case 'currentTime':
        this.kind = CURRENT_TIME;
        break;
      case 'properties':
        this.kind = PROPERTIES;
        break;
      case '__proto__':
        this.kind = PROTO;
        break;
      default:
        this.kind = OTHER;
    }
    this.fallback =
      name === 'environment'
        ? defaults.environment
        : name === 'appName'
          ? defaults.appName
          : undefined;
  }
}

function asString(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  // Same conversion as unleash-client's resolveContextValue (objects become '[object Object]').
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  return typeof value === 'string' ? value : String(value);
}

/**
 * `object[name]`, except what plain objects inherit from `Object.prototype`
 * (all functions; `__proto__` has its own path). Context values are strings,
 * numbers, booleans or dates, never functions.
 */
function read(object: object, name: string): unknown {
  const value = (object as Record<string, unknown>)[name];
  return typeof value === 'function' ? undefined : value;
}

function fromProperties(context: FlagContext, name: string): unknown {
  const properties = context.properties;
  if (typeof properties !== 'object' || properties === null) return undefined;
  return read(properties, name);
}

function ownValue(object: object, name: string): unknown {
  return Object.hasOwn(object, name) ? (object as Record<string, unknown>)[name] : undefined;
}

/**
 * The value of `field` in `context` as a string, `undefined` when absent —
 * the lookup rule of the Unleash SDKs (`resolveContextValue`): the top-level
 * field (for `appName`/`environment` then the static context), else
 * `properties[name]`; any non-null value is converted with `String()`.
 * Unlike `unleash-client`, what objects inherit from `Object.prototype`
 * (`constructor`, `toString`, `__proto__`, …) is never read as a value.
 */
export function fieldValue(field: ContextField, context: FlagContext): string | undefined {
  switch (field.kind) {
    case USER_ID: {
      const v = context.userId;
      return typeof v === 'string' ? v : asString(v ?? fromProperties(context, 'userId'));
    }
    case SESSION_ID: {
      const v = context.sessionId;
      return typeof v === 'string' ? v : asString(v ?? fromProperties(context, 'sessionId'));
    }
    case REMOTE_ADDRESS:
      return asString(context.remoteAddress ?? fromProperties(context, 'remoteAddress'));
    case ENVIRONMENT: {
      const v = context.environment;
      return typeof v === 'string'
        ? v
        : asString(v ?? field.fallback ?? fromProperties(context, 'environment'));
    }
    case APP_NAME: {
      const v = context.appName;
      return typeof v === 'string'
        ? v
        : asString(v ?? field.fallback ?? fromProperties(context, 'appName'));
    }
    case CURRENT_TIME:
      return asString(context.currentTime ?? fromProperties(context, 'currentTime'));
    case PROPERTIES:
      return asString(context.properties);
    case PROTO: {
      const p = context.properties;
      return asString(
        ownValue(context, field.name) ??
          (typeof p === 'object' && p !== null ? ownValue(p, field.name) : undefined),
      );
    }
    default: {
      const name = field.name;
      const top = read(context, name);
      if (top !== undefined && top !== null) return asString(top);
      const p = context.properties;
      if (typeof p !== 'object' || p === null) return undefined;
      return asString(read(p, name));
    }
  }
}
