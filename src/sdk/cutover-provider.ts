import {
  ErrorCode,
  OpenFeatureEventEmitter,
  ProviderEvents,
  StandardResolutionReasons,
} from '@openfeature/server-sdk';
import type {
  EvaluationContext,
  EvaluationContextValue,
  FlagMetadata,
  JsonValue,
  Provider,
  ResolutionDetails,
} from '@openfeature/server-sdk';
import type { FlagContext } from '../flags/model.js';
import { createFlagClient } from './flag-client.js';
import type { FlagClient, FlagClientOptions, FlagEvaluation } from './flag-client.js';

/** Options of {@link CutoverProvider}: a client to use, or the options to create one. */
export type CutoverProviderOptions = FlagClientOptions | { client: FlagClient };

type FlagKind = 'boolean' | 'string' | 'number' | 'object';

const CONTEXT_FIELDS = new Set([
  'targetingKey',
  'userId',
  'sessionId',
  'remoteAddress',
  'environment',
  'appName',
  'currentTime',
  'properties',
]);

/**
 * Maps an OpenFeature evaluation context to the Unleash context the evaluator
 * reads: `userId` (else `targetingKey`), `sessionId`, `remoteAddress`,
 * `environment`, `appName`, `currentTime` (a string, or a Date as an ISO string) taken by name; every
 * other top-level primitive (and the entries of a `properties` object) goes to
 * `properties` as a string (Dates as ISO strings; nested objects are ignored).
 */
export function toFlagContext(context: EvaluationContext): FlagContext {
  const out: FlagContext = {};
  const userId = asString(context.userId) ?? asString(context.targetingKey);
  if (userId !== undefined) out.userId = userId;
  const sessionId = asString(context.sessionId);
  if (sessionId !== undefined) out.sessionId = sessionId;
  const remoteAddress = asString(context.remoteAddress);
  if (remoteAddress !== undefined) out.remoteAddress = remoteAddress;
  const environment = asString(context.environment);
  if (environment !== undefined) out.environment = environment;
  const appName = asString(context.appName);
  if (appName !== undefined) out.appName = appName;
  const currentTime = context.currentTime;
  if (currentTime instanceof Date) out.currentTime = currentTime.toISOString();
  else if (typeof currentTime === 'string') out.currentTime = currentTime;
  const properties: Record<string, string> = {};
  const nested = context.properties;
  if (
    nested !== null &&
    typeof nested === 'object' &&
    !Array.isArray(nested) &&
    !(nested instanceof Date)
  ) {
    for (const [key, value] of Object.entries(nested)) {
      const text = asString(value);
      if (text !== undefined) properties[key] = text;
    }
  }
  for (const [key, value] of Object.entries(context)) {
    if (CONTEXT_FIELDS.has(key)) continue;
    const text = asString(value);
    if (text !== undefined) properties[key] = text;
  }
  if (Object.keys(properties).length > 0) out.properties = properties;
  return out;
}

function asString(value: EvaluationContextValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return value.toISOString();
  return undefined;
}

/**
 * OpenFeature provider (server paradigm, `@openfeature/server-sdk`) backed by
 * a cutover {@link FlagClient}: evaluation is local and synchronous; the
 * returned promises are already settled.
 *
 * Resolution:
 * - boolean: whether the flag is on; `variant` = the variant name when one applies.
 * - string / number / object: from the flag's variant. No variant (flag off, or no
 *   variant for this context) → the default value with reason `DISABLED` (flag
 *   off) or `DEFAULT`. string: a `string`/`csv` payload, or the variant name when
 *   it has no payload; number: a `number` payload; object: a `json` payload that is
 *   an object or an array. Another payload type → `TYPE_MISMATCH`; a payload
 *   that does not parse → `PARSE_ERROR`.
 * - reasons: `TARGETING_MATCH`, `SPLIT`, `DEFAULT`, `DISABLED`, `STATIC`, `STALE`
 *   (copy older than `staleAfterMs`; `flagMetadata.stalenessMs` says how old) and
 *   `ERROR` with `FLAG_NOT_FOUND`, `TYPE_MISMATCH`, `PARSE_ERROR`,
 *   `PROVIDER_NOT_READY` or `GENERAL`. Never throws.
 *
 * Events: `PROVIDER_CONFIGURATION_CHANGED` (with `flagsChanged`) on every
 * change; `PROVIDER_STALE` when the copy gets stale; `PROVIDER_ERROR` on an
 * authorization or payload error; `PROVIDER_READY` when the copy is confirmed
 * fresh again after either. `initialize()` waits for the client's first copy
 * (`ready()`); `onClose()` closes the client when the provider created it.
 */
export class CutoverProvider implements Provider {
  readonly metadata = { name: 'cutover' } as const;
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();
  /** The flag client the provider evaluates with. */
  readonly client: FlagClient;
  readonly #ownsClient: boolean;
  readonly #unsubscribe: (() => void)[];
  #degraded = false;

  /**
   * @param options - `{ client }` to use an existing client (not closed by `onClose`),
   *   or {@link FlagClientOptions} to create one.
   * @throws the configuration errors of {@link createFlagClient}
   */
  constructor(options: CutoverProviderOptions) {
    if ('client' in options) {
      this.client = options.client;
      this.#ownsClient = false;
    } else {
      this.client = createFlagClient(options);
      this.#ownsClient = true;
    }
    this.#unsubscribe = [
      this.client.on('change', (event) => {
        this.events.emit(ProviderEvents.ConfigurationChanged, {
          flagsChanged: event.changed,
          message: `${event.changed.length} flag(s) changed (${event.source})`,
          metadata: event.revision === undefined ? {} : { revision: event.revision },
        });
      }),
      this.client.on('stale', (event) => {
        this.#degraded = true;
        this.events.emit(ProviderEvents.Stale, {
          message: `flag copy is ${Math.round(event.stalenessMs)} ms old`,
        });
      }),
      this.client.on('error', (error) => {
        if (
          error.category === 'unauthorized' ||
          error.category === 'forbidden' ||
          error.category === 'config'
        ) {
          this.#degraded = true;
          this.events.emit(ProviderEvents.Error, {
            message: error.message,
            errorCode:
              error.code === 'FLAG_PAYLOAD_INVALID' ? ErrorCode.PARSE_ERROR : ErrorCode.GENERAL,
          });
        }
      }),
      this.client.on('fresh', () => {
        if (!this.#degraded) return;
        this.#degraded = false;
        this.events.emit(ProviderEvents.Ready, { message: 'flag copy confirmed fresh' });
      }),
    ];
  }

  /** Waits for the client's first copy (rejects after its `readyTimeoutMs`). */
  async initialize(): Promise<void> {
    await this.client.ready();
  }

  /** Removes the provider's listeners; closes the client if the provider created it. */
  async onClose(): Promise<void> {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    if (this.#ownsClient) await this.client.close();
  }

  resolveBooleanEvaluation(
    flagKey: string,
    defaultValue: boolean,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<boolean>> {
    return Promise.resolve(this.#resolve(flagKey, defaultValue, context, 'boolean'));
  }

  resolveStringEvaluation(
    flagKey: string,
    defaultValue: string,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<string>> {
    return Promise.resolve(this.#resolve(flagKey, defaultValue, context, 'string'));
  }

  resolveNumberEvaluation(
    flagKey: string,
    defaultValue: number,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<number>> {
    return Promise.resolve(this.#resolve(flagKey, defaultValue, context, 'number'));
  }

  resolveObjectEvaluation<T extends JsonValue>(
    flagKey: string,
    defaultValue: T,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<T>> {
    return Promise.resolve(this.#resolve(flagKey, defaultValue, context, 'object'));
  }

  #resolve<T>(
    flagKey: string,
    defaultValue: T,
    context: EvaluationContext | undefined,
    kind: FlagKind,
  ): ResolutionDetails<T> {
    try {
      const evaluation = this.client.evaluate(flagKey, toFlagContext(context ?? {}));
      if (evaluation.reason === 'ERROR') {
        return failure(defaultValue, toErrorCode(evaluation.errorCode), evaluation.errorMessage);
      }
      const flagMetadata = metadataOf(evaluation, this.client.staleness());
      const variant = evaluation.variant.enabled ? evaluation.variant.name : undefined;
      if (kind === 'boolean') {
        return {
          value: evaluation.enabled as T,
          reason: evaluation.reason,
          ...(variant === undefined ? {} : { variant }),
          flagMetadata,
        };
      }
      if (!evaluation.variant.enabled) {
        const underlying =
          evaluation.reason === 'STALE' ? evaluation.staleReason : evaluation.reason;
        const reason =
          evaluation.reason === 'STALE'
            ? StandardResolutionReasons.STALE
            : underlying === 'DISABLED' || !evaluation.enabled
              ? StandardResolutionReasons.DISABLED
              : StandardResolutionReasons.DEFAULT;
        return { value: defaultValue, reason, flagMetadata };
      }
      const value = valueFromVariant(evaluation, kind);
      if ('error' in value) return failure(defaultValue, value.error, value.message);
      return { value: value.value as T, reason: evaluation.reason, variant, flagMetadata };
    } catch (error) {
      return failure(
        defaultValue,
        ErrorCode.GENERAL,
        error instanceof Error ? error.message : String(error),
      );
    }
  }
}

type VariantValue = { value: JsonValue } | { error: ErrorCode; message: string };

function valueFromVariant(evaluation: FlagEvaluation, kind: FlagKind): VariantValue {
  const variant = evaluation.variant;
  const payload = variant.payload;
  const where = `variant "${variant.name}"`;
  if (kind === 'string') {
    if (payload === undefined) return { value: variant.name };
    if (payload.type === 'string' || payload.type === 'csv') return { value: payload.value };
    return mismatch(where, payload.type, 'string');
  }
  if (payload === undefined) {
    return {
      error: ErrorCode.TYPE_MISMATCH,
      message: `The ${where} has no payload; a ${kind} flag needs one.`,
    };
  }
  if (kind === 'number') {
    if (payload.type !== 'number') return mismatch(where, payload.type, 'number');
    const number = payload.value.trim() === '' ? NaN : Number(payload.value);
    if (!Number.isFinite(number)) {
      return {
        error: ErrorCode.PARSE_ERROR,
        message: `The number payload of the ${where} is "${payload.value}", not a number.`,
      };
    }
    return { value: number };
  }
  if (payload.type !== 'json') return mismatch(where, payload.type, 'object');
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.value);
  } catch (error) {
    return {
      error: ErrorCode.PARSE_ERROR,
      message: `The json payload of the ${where} does not parse: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  if (parsed === null || typeof parsed !== 'object') {
    return {
      error: ErrorCode.TYPE_MISMATCH,
      message: `The json payload of the ${where} is not an object or an array.`,
    };
  }
  return { value: parsed as JsonValue };
}

function mismatch(where: string, actual: string, wanted: string): VariantValue {
  return {
    error: ErrorCode.TYPE_MISMATCH,
    message: `The ${where} has a ${actual} payload; a ${wanted} flag needs ${wanted === 'object' ? 'a json' : wanted === 'string' ? 'a string or csv' : 'a number'} payload.`,
  };
}

function failure<T>(
  defaultValue: T,
  errorCode: ErrorCode,
  message: string | undefined,
): ResolutionDetails<T> {
  return {
    value: defaultValue,
    reason: StandardResolutionReasons.ERROR,
    errorCode,
    ...(message === undefined ? {} : { errorMessage: message }),
  };
}

function toErrorCode(code: string | undefined): ErrorCode {
  switch (code) {
    case 'FLAG_NOT_FOUND':
      return ErrorCode.FLAG_NOT_FOUND;
    case 'PROVIDER_NOT_READY':
      return ErrorCode.PROVIDER_NOT_READY;
    case 'PARSE_ERROR':
      return ErrorCode.PARSE_ERROR;
    case 'TYPE_MISMATCH':
      return ErrorCode.TYPE_MISMATCH;
    case 'TARGETING_KEY_MISSING':
      return ErrorCode.TARGETING_KEY_MISSING;
    case 'INVALID_CONTEXT':
      return ErrorCode.INVALID_CONTEXT;
    default:
      return ErrorCode.GENERAL;
  }
}

function metadataOf(evaluation: FlagEvaluation, stalenessMs: number): FlagMetadata {
  if (evaluation.reason !== 'STALE') return {};
  return {
    stalenessMs: Number.isFinite(stalenessMs) ? Math.round(stalenessMs) : -1,
    ...(evaluation.staleReason === undefined ? {} : { evaluationReason: evaluation.staleReason }),
  };
}
