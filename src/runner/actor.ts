import { userInfo } from 'node:os';

/**
 * The actor recorded in the audit log for commands run by a person: the OS
 * user name (`USER`/`USERNAME` when the passwd entry is missing), else `unknown`.
 */
export function defaultActor(env: NodeJS.ProcessEnv = process.env): string {
  try {
    const name = userInfo().username;
    if (name !== '') return name;
  } catch {
    // no passwd entry (some containers)
  }
  return env.USER ?? env.USERNAME ?? 'unknown';
}
