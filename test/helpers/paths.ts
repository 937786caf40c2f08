import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root, found from this file whether it runs from `test/` or `dist/test/`. */
export const repoRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('dist')) dir = dirname(dir);
  return dir;
})();

/** The shared test corpus beside the project. Tests may read it; the product never does. */
export const corpusRoot = resolve(repoRoot, '../shared/corpus');
