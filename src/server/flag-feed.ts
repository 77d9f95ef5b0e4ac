import { createHash } from 'node:crypto';
import { environmentRevision, type FlagSnapshot, type FlagStore } from '../flags/flag-store.js';
import type { FlagNotification } from '../flags/flag-store.js';
import { flagsToClientFeatures } from '../flags/flag-to-feature.js';
import type { ClientFeaturesResponse } from '../flags/model.js';

/** One environment's client payload at one revision, serialised once and shared. */
export interface EnvironmentPayload {
  environment: string;
  /** Random id of the database's flag store. */
  epoch: string;
  /** Revision of this environment's payload (monotonic). */
  revision: number;
  /** Strong ETag, quoted: `"<epoch 8>:<environment>:<revision>"`. */
  etag: string;
  /** `features` as JSON. */
  body: string;
  features: ClientFeaturesResponse;
}

/** Filters of `GET /api/client/features` (Unleash's query parameters). */
export interface FeatureFilter {
  /** Only features whose name starts with this. */
  namePrefix?: string | undefined;
  /** Only features carrying one of these tags (`name:value`). */
  tags?: string[] | undefined;
}

/** Receives pushed payloads (an SSE connection). */
export interface FeedSubscriber {
  readonly environment: string;
  deliver(payload: EnvironmentPayload): void;
  close(): void;
}

interface Cache {
  generation: number;
  snapshot: FlagSnapshot;
  payloads: Map<string, EnvironmentPayload>;
}

/** Options of {@link FlagFeed}. */
export interface FlagFeedOptions {
  /** Coalescing delay between a change notification and the push, in ms. Default 2. */
  debounceMs?: number;
  /** True while change notifications are being received; when false the cache is bypassed. */
  listening: () => boolean;
  /** Called when a push fails to read the database (it is retried). */
  onError?: (error: unknown) => void;
}

/**
 * The server's view of the flags: the latest {@link FlagSnapshot}, cached
 * while LISTEN/NOTIFY is connected and dropped on every change notification
 * (a generation counter makes a read that raced with a notification count as
 * stale), the per-environment payloads serialised once per revision, and the
 * streaming subscribers, pushed to after each change (coalesced over
 * `debounceMs`). With the listener down, every read goes to the database.
 */
export class FlagFeed {
  private generation = 0;
  private cache: Cache | undefined;
  private loading: { generation: number; promise: Promise<Cache> } | undefined;
  private readonly subscribers = new Map<string, Set<FeedSubscriber>>();
  private timer: NodeJS.Timeout | undefined;
  private retryMs = 0;
  private closed = false;
  private readonly debounceMs: number;

  constructor(
    private readonly store: FlagStore,
    private readonly options: FlagFeedOptions,
  ) {
    this.debounceMs = options.debounceMs ?? 2;
  }

  /** The current payload of `env`. */
  async payload(environment: string): Promise<EnvironmentPayload> {
    return payloadOf(await this.current(), environment);
  }

  /** The payload of `env` restricted by `filter`, with an ETag specific to the filter. */
  async filtered(environment: string, filter: FeatureFilter): Promise<EnvironmentPayload> {
    const full = await this.payload(environment);
    const tags = filter.tags ?? [];
    if (filter.namePrefix === undefined && tags.length === 0) return full;
    const cache = await this.current();
    const wanted = new Set(tags);
    const byKey = new Map(cache.snapshot.flags.map((f) => [f.key, f]));
    const features = full.features.features.filter((feature) => {
      if (filter.namePrefix !== undefined && !feature.name.startsWith(filter.namePrefix))
        return false;
      if (wanted.size === 0) return true;
      const flagTags = byKey.get(feature.name)?.tags ?? {};
      return Object.entries(flagTags).some(([name, value]) => wanted.has(`${name}:${value}`));
    });
    const payload: ClientFeaturesResponse = { ...full.features, features };
    const filterHash = createHash('sha256')
      .update(JSON.stringify([filter.namePrefix ?? null, [...wanted].sort()]))
      .digest('hex')
      .slice(0, 8);
    return {
      ...full,
      etag: `${full.etag.slice(0, -1)}:${filterHash}"`,
      body: JSON.stringify(payload),
      features: payload,
    };
  }

  /** Registers a subscriber; returns the function that removes it. */
  subscribe(subscriber: FeedSubscriber): () => void {
    let set = this.subscribers.get(subscriber.environment);
    if (set === undefined) {
      set = new Set();
      this.subscribers.set(subscriber.environment, set);
    }
    set.add(subscriber);
    return () => {
      const current = this.subscribers.get(subscriber.environment);
      current?.delete(subscriber);
      if (current?.size === 0) this.subscribers.delete(subscriber.environment);
    };
  }

  /** Number of connected subscribers. */
  get subscriberCount(): number {
    let n = 0;
    for (const set of this.subscribers.values()) n += set.size;
    return n;
  }

  /** Feeds a `cutover_flags` notification in. */
  notify(notification: FlagNotification): void {
    if (notification.type !== 'flags') return;
    if (this.cache !== undefined && notification.revision <= this.cache.snapshot.revision) return;
    this.invalidate();
  }

  /** Forgets the cache (e.g. after the listener reconnected) and pushes to subscribers. */
  invalidate(): void {
    this.generation += 1;
    this.schedulePush(this.debounceMs);
  }

  /** Stops pushing and closes every subscriber. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const set of this.subscribers.values()) for (const s of set) s.close();
    this.subscribers.clear();
  }

  private async current(): Promise<Cache> {
    const cache = this.cache;
    if (cache !== undefined && cache.generation === this.generation && this.options.listening()) {
      return cache;
    }
    if (this.loading !== undefined && this.loading.generation === this.generation) {
      return this.loading.promise;
    }
    const generation = this.generation;
    const promise = this.store.snapshot().then((snapshot) => {
      const loaded: Cache = { generation, snapshot, payloads: new Map() };
      if (
        this.cache === undefined ||
        this.cache.generation < generation ||
        this.cache.snapshot.revision < snapshot.revision
      ) {
        this.cache = loaded;
      }
      return loaded;
    });
    this.loading = { generation, promise };
    promise.then(
      () => this.clearLoading(promise),
      () => this.clearLoading(promise),
    );
    return promise;
  }

  private clearLoading(promise: Promise<Cache>): void {
    if (this.loading?.promise === promise) this.loading = undefined;
  }

  private schedulePush(delay: number): void {
    if (this.closed || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.push();
    }, delay);
  }

  private async push(): Promise<void> {
    if (this.subscribers.size === 0) return;
    let cache: Cache;
    try {
      cache = await this.current();
      this.retryMs = 0;
    } catch (error) {
      this.options.onError?.(error);
      this.retryMs = Math.min(Math.max(this.retryMs * 2, 100), 5_000);
      this.schedulePush(this.retryMs);
      return;
    }
    for (const [environment, set] of this.subscribers) {
      const payload = payloadOf(cache, environment);
      for (const subscriber of set) subscriber.deliver(payload);
    }
  }
}

function payloadOf(cache: Cache, environment: string): EnvironmentPayload {
  const existing = cache.payloads.get(environment);
  if (existing !== undefined) return existing;
  const { snapshot } = cache;
  const revision = environmentRevision(snapshot, environment);
  const features = flagsToClientFeatures(snapshot.flags, environment, snapshot.segments);
  const payload: EnvironmentPayload = {
    environment,
    epoch: snapshot.epoch,
    revision,
    etag: `"${snapshot.epoch.slice(0, 8)}:${environment}:${revision}"`,
    body: JSON.stringify(features),
    features,
  };
  cache.payloads.set(environment, payload);
  return payload;
}

/** True when the `If-None-Match` header value matches `etag` (lists, `W/` and `*` handled). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .some((t) => t === '*' || t === etag);
}
