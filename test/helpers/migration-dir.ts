import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A temporary directory of migration files for one test. */
export interface MigrationDir {
  /** Absolute path of the directory (the migrations directory itself). */
  dir: string;
  /** Writes (or overwrites) `name` (may contain `/`) with `text`. */
  write(name: string, text: string): Promise<void>;
  /** Deletes `name`. */
  remove(name: string): Promise<void>;
  /** Deletes the whole temporary tree. */
  cleanup(): Promise<void>;
}

/** Creates a temporary migrations directory holding `files` (name → text). */
export async function createMigrationDir(
  files: Record<string, string> = {},
): Promise<MigrationDir> {
  const root = await mkdtemp(join(tmpdir(), 'cutover-mig-'));
  const dir = join(root, 'migrations');
  await mkdir(dir);
  const write = async (name: string, text: string): Promise<void> => {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), text);
  };
  for (const [name, text] of Object.entries(files)) await write(name, text);
  return {
    dir,
    write,
    remove: (name) => rm(join(dir, name), { recursive: true, force: true }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** A dbmate-style file: `-- migrate:up` then `-- migrate:down` sections. */
export function dbmate(up: string, down?: string, options: { transaction?: boolean } = {}): string {
  const opt = options.transaction === false ? ' transaction:false' : '';
  return `-- migrate:up${opt}\n${up}\n${down === undefined ? '' : `\n-- migrate:down${opt}\n${down}\n`}`;
}
