import type { ActiveToken, TokenStore } from './token-store.js';

/**
 * The active tokens, kept in memory while change notifications are received
 * (reloaded after a `tokens` notification or a reconnection); read from the
 * database on every request while they are not.
 */
export class TokenCache {
  private generation = 0;
  private cache: { generation: number; tokens: ActiveToken[] } | undefined;
  private loading: { generation: number; promise: Promise<ActiveToken[]> } | undefined;

  constructor(
    private readonly store: TokenStore,
    private readonly listening: () => boolean,
  ) {}

  /** Forgets the cached list. */
  invalidate(): void {
    this.generation += 1;
  }

  /**
   * Reads the tokens from the database now (after a token did not match: it
   * may have been created a moment ago, before its notification arrived).
   */
  async reload(): Promise<ActiveToken[]> {
    this.invalidate();
    return this.get();
  }

  /** The active tokens. */
  async get(): Promise<ActiveToken[]> {
    if (this.cache !== undefined && this.cache.generation === this.generation && this.listening()) {
      return this.cache.tokens;
    }
    if (this.loading !== undefined && this.loading.generation === this.generation) {
      return this.loading.promise;
    }
    const generation = this.generation;
    const promise = this.store.active().then((tokens) => {
      if (generation === this.generation) this.cache = { generation, tokens };
      return tokens;
    });
    this.loading = { generation, promise };
    const clear = (): void => {
      if (this.loading?.promise === promise) this.loading = undefined;
    };
    promise.then(clear, clear);
    return promise;
  }
}
