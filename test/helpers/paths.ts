import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root, found from this file whether it runs from `test/` or `dist/test/`. */
export const repoRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('dist')) dir = dirname(dir);
  return dir;
})();

/**
 * The shared test corpus: the folder `MAILBOX_EXPORT_CORPUS` names (a relative path is taken
 * from the current folder), else `../shared/corpus` beside the project. Tests may read it; the
 * product never does.
 */
export const corpusRoot = process.env.MAILBOX_EXPORT_CORPUS
  ? resolve(process.env.MAILBOX_EXPORT_CORPUS)
  : resolve(repoRoot, '../shared/corpus');
