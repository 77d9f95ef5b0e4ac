import type pg from 'pg';

/** Something that runs queries: a pool, or a client (inside a transaction). */
export type Queryable = pg.Pool | pg.PoolClient | pg.ClientBase;
