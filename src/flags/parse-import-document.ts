import { CutoverError, isCutoverError } from '../errors/index.js';
import type { Flag, Segment } from './model.js';
import { parseFlag, parseSegment } from './parse-flag.js';

/**
 * Reads an import document: `{ format, version, flags, segments? }`,
 * `{ flags }` or an array of flags. Validates every flag and segment and
 * reports all issues at once, with paths from the document's root.
 *
 * @throws CutoverError `FLAG_INVALID` (config); `details.issues` lists `{ path, message }`.
 */
export function parseImportDocument(document: unknown): { flags: Flag[]; segments: Segment[] } {
  const isObject = typeof document === 'object' && document !== null && !Array.isArray(document);
  const list: unknown = Array.isArray(document)
    ? document
    : isObject && 'flags' in document
      ? document.flags
      : undefined;
  const prefix = Array.isArray(document) ? '$' : '$.flags';
  if (!Array.isArray(list)) {
    throw new CutoverError('FLAG_INVALID', 'config', 'The import document has no list of flags.', {
      location: '$.flags',
      hint: 'Give the output of `cutover flags export`: { "format": "cutover-flags", "version": 1, "flags": [...] }.',
      details: { issues: [{ path: '$.flags', message: 'expected an array of flags' }] },
    });
  }
  const issues: { path: string; message: string }[] = [];
  const collect = <T>(at: string, parse: () => T): T | undefined => {
    try {
      return parse();
    } catch (error) {
      if (!isCutoverError(error)) throw error;
      const inner = error.details?.issues;
      if (!Array.isArray(inner)) {
        issues.push({ path: at, message: error.message });
        return undefined;
      }
      for (const issue of inner as { path?: unknown; message?: unknown }[]) {
        const path = typeof issue.path === 'string' ? issue.path : '$';
        issues.push({
          path: `${at}${path.replace(/^\$/, '')}`,
          message: typeof issue.message === 'string' ? issue.message : String(issue.message),
        });
      }
      return undefined;
    }
  };
  const segments: Segment[] = [];
  const rawSegments: unknown = isObject && 'segments' in document ? document.segments : [];
  if (!Array.isArray(rawSegments)) {
    issues.push({ path: '$.segments', message: 'expected an array of segments' });
  } else {
    const ids = new Set<number>();
    rawSegments.forEach((item: unknown, index) => {
      const at = `$.segments[${index}]`;
      const segment = collect(at, () => parseSegment(item));
      if (segment === undefined) return;
      if (ids.has(segment.id))
        issues.push({ path: `${at}.id`, message: `duplicate id ${segment.id}` });
      ids.add(segment.id);
      segments.push(segment);
    });
  }
  const flags: Flag[] = [];
  const keys = new Set<string>();
  list.forEach((item: unknown, index) => {
    const at = `${prefix}[${index}]`;
    const flag = collect(at, () => parseFlag(item));
    if (flag === undefined) return;
    if (keys.has(flag.key))
      issues.push({ path: `${at}.key`, message: `duplicate key "${flag.key}"` });
    keys.add(flag.key);
    flags.push(flag);
  });
  if (issues.length > 0) {
    throw new CutoverError(
      'FLAG_INVALID',
      'config',
      `The import document has ${issues.length} problem${issues.length === 1 ? '' : 's'}; nothing was imported.`,
      {
        location: issues[0]?.path,
        hint: 'Fix each listed path and import again.',
        details: { issues },
      },
    );
  }
  return { flags, segments };
}
