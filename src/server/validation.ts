import type { FastifyInstance } from 'fastify';
import { ZodError } from 'zod';
import { isCutoverError } from '../errors/index.js';
import { requestError } from './http-errors.js';

/**
 * What a route schema part (`body`, `querystring`, `params`) is on this
 * server: anything with `parse(input)` returning the parsed value or
 * throwing — a zod schema, or a parser like `{ parse: parseFlag }` that throws
 * a {@link CutoverError} (e.g. `FLAG_INVALID` with `details.issues`).
 */
export interface RequestParser {
  parse(input: unknown): unknown;
}

/**
 * Makes every route schema part a {@link RequestParser}: the parsed value
 * replaces the raw one (zod defaults and coercions apply), a ZodError becomes
 * `REQUEST_INVALID` (400) with `details.issues: [{ path, message }]`, and a
 * thrown CutoverError goes to the error handler as is.
 */
export function installValidation(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const parser = schema as unknown as RequestParser;
    return (data: unknown) => {
      try {
        return { value: parser.parse(data) };
      } catch (error) {
        if (error instanceof ZodError) return { error: requestError(error, httpPart ?? 'body') };
        if (isCutoverError(error)) return { error };
        throw error;
      }
    };
  });
}
