import type { ClientFeaturesResponse, FeatureDefinition } from '../flags/model.js';

/**
 * Names of the features that differ between two copies, sorted: added,
 * removed or changed definitions, and features whose strategies use a
 * segment that was added, removed or changed.
 */
export function diffFeatures(
  previous: ClientFeaturesResponse | undefined,
  next: ClientFeaturesResponse,
): string[] {
  const before = new Map<string, string>(
    (previous?.features ?? []).map((f) => [f.name, JSON.stringify(f)]),
  );
  const changedSegments = new Set<number>();
  const beforeSegments = new Map((previous?.segments ?? []).map((s) => [s.id, JSON.stringify(s)]));
  const afterSegments = new Map((next.segments ?? []).map((s) => [s.id, JSON.stringify(s)]));
  for (const id of new Set([...beforeSegments.keys(), ...afterSegments.keys()])) {
    if (beforeSegments.get(id) !== afterSegments.get(id)) changedSegments.add(id);
  }
  const usesChangedSegment = (f: FeatureDefinition): boolean =>
    changedSegments.size > 0 &&
    f.strategies.some((s) => (s.segments ?? []).some((id) => changedSegments.has(id)));
  const changed = new Set<string>();
  for (const feature of next.features) {
    const old = before.get(feature.name);
    if (old !== JSON.stringify(feature) || usesChangedSegment(feature)) changed.add(feature.name);
    before.delete(feature.name);
  }
  for (const name of before.keys()) changed.add(name);
  return [...changed].sort();
}
