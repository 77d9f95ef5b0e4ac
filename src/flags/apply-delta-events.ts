import type { ClientFeaturesResponse, FeatureDefinition, Segment } from './model.js';

/**
 * One event of the Unleash delta API (`/api/client/delta`): a `hydration`
 * carries the full state; the others change one feature or segment.
 */
export type DeltaEvent =
  | { eventId: number; type: 'hydration'; features: FeatureDefinition[]; segments?: Segment[] }
  | { eventId: number; type: 'feature-updated'; feature: FeatureDefinition }
  | { eventId: number; type: 'feature-removed'; featureName: string; project?: string }
  | { eventId: number; type: 'segment-updated'; segment: Segment }
  | { eventId: number; type: 'segment-removed'; segmentId: number };

/**
 * Applies delta events in order to `base` (default: empty) and returns the
 * resulting client features payload; `base` is not modified. A hydration
 * replaces everything; updates upsert by name/id (keeping list order, new
 * entries appended); removals delete. Unknown event types are ignored.
 */
export function applyDeltaEvents(
  events: readonly DeltaEvent[],
  base: ClientFeaturesResponse = { version: 2, features: [], segments: [] },
): ClientFeaturesResponse {
  const features = new Map<string, FeatureDefinition>();
  for (const f of base.features) features.set(f.name, f);
  const segments = new Map<number, Segment>();
  for (const s of base.segments ?? []) segments.set(s.id, s);
  for (const event of events) {
    switch (event.type) {
      case 'hydration':
        features.clear();
        segments.clear();
        for (const f of event.features) features.set(f.name, f);
        for (const s of event.segments ?? []) segments.set(s.id, s);
        break;
      case 'feature-updated':
        features.set(event.feature.name, event.feature);
        break;
      case 'feature-removed':
        features.delete(event.featureName);
        break;
      case 'segment-updated':
        segments.set(event.segment.id, event.segment);
        break;
      case 'segment-removed':
        segments.delete(event.segmentId);
        break;
      default:
        break;
    }
  }
  return {
    version: base.version,
    features: [...features.values()],
    segments: [...segments.values()],
  };
}
