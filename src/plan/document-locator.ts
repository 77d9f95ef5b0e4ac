import { isAlias, isMap, isScalar, isSeq, type Document, type Node } from 'yaml';

/** One step of a path into a plan: a mapping key or a list index. */
export type PathSegment = string | number;

/** A 1-based position in a source file. */
export interface Position {
  line: number;
  column: number;
}

/** Finds source positions for JSON paths. */
export interface Locator {
  /** Position of the value at `path` (or of the nearest ancestor that exists). */
  value(path: readonly PathSegment[]): Position | undefined;
  /** Position of the key at `path` (for unknown keys), else of the value. */
  key(path: readonly PathSegment[]): Position | undefined;
}

/** The locator of a plan given as a value: positions are unknown. */
export const NO_POSITIONS: Locator = { value: () => undefined, key: () => undefined };

/** The locator of a parsed YAML document; `at` turns a source offset into a position. */
export function documentLocator(doc: Document, at: (offset: number) => Position): Locator {
  const walk = (
    path: readonly PathSegment[],
  ): { node: Node | undefined; keyNode: Node | undefined; complete: boolean } => {
    let current: unknown = doc.contents;
    let keyNode: Node | undefined;
    let last: Node | undefined = doc.contents ?? undefined;
    for (const segment of path) {
      if (isAlias(current)) current = current.resolve(doc);
      if (isMap(current)) {
        const pair = current.items.find(
          (item) => isScalar(item.key) && String(item.key.value) === String(segment),
        );
        if (pair === undefined) return { node: last, keyNode: undefined, complete: false };
        keyNode = pair.key as Node;
        current = pair.value;
        last = (pair.value as Node | null) ?? keyNode;
      } else if (isSeq(current) && typeof segment === 'number') {
        const item: unknown = current.items[segment];
        if (item === undefined || item === null) {
          return { node: last, keyNode: undefined, complete: false };
        }
        keyNode = undefined;
        current = item;
        last = item as Node;
      } else {
        return { node: last, keyNode: undefined, complete: false };
      }
    }
    return { node: last, keyNode, complete: true };
  };
  const position = (node: Node | undefined): Position | undefined =>
    node?.range ? at(node.range[0]) : undefined;
  return {
    value: (path) => position(walk(path).node),
    key(path) {
      const found = walk(path);
      return position(found.keyNode ?? found.node);
    },
  };
}
