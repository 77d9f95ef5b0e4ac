import { CutoverError } from '../errors/index.js';
import type { StepKind } from './step-kind.js';

/** A step kind with its types erased, as the registry and the runner hold it. */
export type AnyStepKind = StepKind<unknown, unknown>;

/**
 * The step kinds a plan may use, looked up by name (the YAML key of a step).
 * Immutable once created: build one per process (or per test) with
 * {@link createStepKindRegistry}; there is no global registry.
 */
export interface StepKindRegistry {
  /** The kind named `name`, or undefined. */
  get(name: string): AnyStepKind | undefined;
  /**
   * The kind named `name`.
   * @throws CutoverError `STEP_KIND_UNKNOWN` (config) listing the known kinds.
   */
  require(name: string): AnyStepKind;
  /** Names of the registered kinds, in registration order. */
  names(): string[];
  /** The registered kinds, in registration order. */
  kinds(): readonly AnyStepKind[];
}

/**
 * Creates a registry from a list of step kinds, e.g.
 * `createStepKindRegistry([...defaultStepKinds(), myKind])`.
 *
 * @throws CutoverError `STEP_KIND_DUPLICATE` (config) when two kinds share a name,
 *   `STEP_KIND_INVALID` (config) when a name is not a lowercase identifier.
 */
export function createStepKindRegistry(
  kinds: readonly StepKind<never, unknown>[] | readonly AnyStepKind[],
): StepKindRegistry {
  const byName = new Map<string, AnyStepKind>();
  for (const kind of kinds as readonly AnyStepKind[]) {
    if (!/^[a-z][a-z0-9_-]*$/.test(kind.name)) {
      throw new CutoverError(
        'STEP_KIND_INVALID',
        'config',
        `Step kind name "${kind.name}" is not a lowercase identifier.`,
        { hint: 'Name step kinds like `snapshot` or `feature-flag`.' },
      );
    }
    if (byName.has(kind.name)) {
      throw new CutoverError(
        'STEP_KIND_DUPLICATE',
        'config',
        `Step kind "${kind.name}" is registered twice.`,
        { hint: 'Register each step kind once.' },
      );
    }
    byName.set(kind.name, kind);
  }
  const list = Object.freeze([...byName.values()]);
  return {
    get: (name) => byName.get(name),
    require(name) {
      const kind = byName.get(name);
      if (kind === undefined) {
        throw new CutoverError('STEP_KIND_UNKNOWN', 'config', `Unknown step kind "${name}".`, {
          hint: `Use one of: ${[...byName.keys()].join(', ')}.`,
        });
      }
      return kind;
    },
    names: () => [...byName.keys()],
    kinds: () => list,
  };
}
