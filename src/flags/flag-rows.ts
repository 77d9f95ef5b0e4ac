import type { FlagAction, FlagEvent, FlagRecord, FlagVersion } from './flag-store-types.js';
import type { Flag } from './model.js';

/** A row of `cutover.flags`. */
export interface FlagRow {
  key: string;
  definition: Flag;
  version: number;
  created_at: Date;
  updated_at: Date;
  updated_by: string;
}

/** A row of `cutover.flag_versions`. */
export interface VersionRow {
  key: string;
  version: number;
  action: FlagAction;
  definition: Flag | null;
  actor: string;
  reason: string | null;
  revision: string;
  previous_version: number;
  operation_id: string | null;
  created_at: Date;
}

/** A row of `cutover.flag_events`. */
export interface EventRow {
  id: string;
  at: Date;
  actor: string;
  action: string;
  flag_key: string | null;
  environment: string | null;
  version: number | null;
  reason: string | null;
  details: Record<string, unknown> | null;
}

/** A {@link FlagRow} as a {@link FlagRecord}. */
export function toRecord(row: FlagRow): FlagRecord {
  return {
    flag: row.definition,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
  };
}

/** A {@link VersionRow} as a {@link FlagVersion}. */
export function toVersion(row: VersionRow): FlagVersion {
  return {
    key: row.key,
    version: row.version,
    action: row.action,
    flag: row.definition,
    actor: row.actor,
    reason: row.reason,
    revision: Number(row.revision),
    previousVersion: row.previous_version,
    operationId: row.operation_id,
    createdAt: row.created_at,
  };
}

/** An {@link EventRow} as a {@link FlagEvent}. */
export function toEvent(row: EventRow): FlagEvent {
  return {
    id: Number(row.id),
    at: row.at,
    actor: row.actor,
    action: row.action,
    flagKey: row.flag_key,
    environment: row.environment,
    version: row.version,
    reason: row.reason,
    details: row.details,
  };
}
