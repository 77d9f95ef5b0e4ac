import { dataStepKinds, type DataStepKindsOptions } from './data-step-kinds.js';
import { defaultStepKinds } from './default-step-kinds.js';
import { createFlagStepKind } from './flag-step.js';
import type { StepKind } from './step-kind.js';

/**
 * Every step kind cutover ships, in the order of a typical plan: `snapshot`,
 * `backup`, `migrate`, `sql`, `backfill`, `verify`, `flag`, `wait`,
 * `approve`, `notify`. The CLI uses `createStepKindRegistry(builtinStepKinds())`; add
 * your own kinds to the array.
 */
export function builtinStepKinds(options: DataStepKindsOptions = {}): StepKind<never, unknown>[] {
  const byName = new Map(
    [
      ...defaultStepKinds(),
      ...dataStepKinds(options),
      createFlagStepKind() as StepKind<never, unknown>,
    ].map((kind) => [kind.name, kind] as const),
  );
  const order = [
    'snapshot',
    'backup',
    'migrate',
    'sql',
    'backfill',
    'verify',
    'flag',
    'wait',
    'approve',
    'notify',
  ];
  return [
    ...order.flatMap((name) => {
      const kind = byName.get(name);
      return kind === undefined ? [] : [kind];
    }),
    ...[...byName.values()].filter((kind) => !order.includes(kind.name)),
  ];
}
