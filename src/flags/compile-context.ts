import type { CompiledConstraint, ConstraintEnvironment } from './compile-constraint.js';
import { ContextField } from './context-value.js';

/** What compiling a payload needs besides the payload: clock, randomness, host name, resolved segments. */
export interface CompileContext extends ConstraintEnvironment {
  random: () => number;
  hostname: () => string;
  segments: Map<number, CompiledConstraint[]>;
}

/** A plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A parameter value as a string (Unleash parameters may be numbers). */
export function str(value: unknown): string {
  return typeof value === 'string' ? value : String(value);
}

/** The field of a rule that reads no context field. */
export const NO_FIELD = new ContextField('');
