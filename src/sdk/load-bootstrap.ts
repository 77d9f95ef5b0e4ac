import { readFileSync } from 'node:fs';
import { CutoverError } from '../errors/index.js';
import type { ClientFeaturesResponse } from '../flags/model.js';
import { parseClientFeatures } from './parse-features.js';

/** Reads a file as UTF-8 text, synchronously (injectable for tests). */
export type ReadTextFile = (path: string) => string;

/** Default {@link ReadTextFile}: `fs.readFileSync(path, 'utf8')`. */
export const readTextFile: ReadTextFile = (path) => readFileSync(path, 'utf8');

/**
 * Loads a bootstrap copy of the flags: an object (used as is, after
 * validation) or the path of a JSON file holding what
 * `GET /api/client/features` returns (e.g. saved with
 * `curl -H "Authorization: $TOKEN" $URL/api/client/features > flags.json`).
 * Synchronous, so a client created with a bootstrap evaluates at once.
 *
 * @throws CutoverError `FLAG_BOOTSTRAP_UNREADABLE` (config) when the file cannot be read,
 *   `FLAG_BOOTSTRAP_INVALID` (config) when it is not JSON, `FLAG_PAYLOAD_INVALID` (config)
 *   when the JSON is not a client features response (with the JSON path of each problem).
 */
export function loadBootstrap(
  bootstrap: ClientFeaturesResponse | string,
  readFile: ReadTextFile = readTextFile,
): ClientFeaturesResponse {
  if (typeof bootstrap !== 'string') return parseClientFeatures(bootstrap, 'bootstrap object');
  let text: string;
  try {
    text = readFile(bootstrap);
  } catch (error) {
    throw new CutoverError(
      'FLAG_BOOTSTRAP_UNREADABLE',
      'config',
      `Cannot read the flag bootstrap file ${bootstrap}: ${error instanceof Error ? error.message : String(error)}.`,
      {
        location: bootstrap,
        hint: 'Check the path (relative paths start at the working directory) and its permissions.',
        cause: error,
      },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CutoverError(
      'FLAG_BOOTSTRAP_INVALID',
      'config',
      `The flag bootstrap file ${bootstrap} is not valid JSON: ${error instanceof Error ? error.message : String(error)}.`,
      {
        location: bootstrap,
        hint: 'Save the body of GET /api/client/features as the bootstrap file.',
        cause: error,
      },
    );
  }
  return parseClientFeatures(json, bootstrap);
}
