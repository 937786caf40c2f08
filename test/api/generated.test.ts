import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { repoRoot } from '../helpers/paths.js';

const run = promisify(execFile);
const GENERATOR = join(repoRoot, 'scripts/gen-model.mjs');
const GENERATED = join(repoRoot, 'src/api/generated');

describe('the code generated from the service model', () => {
  let copy: string;

  before(async () => {
    copy = await mkdtemp(join(tmpdir(), 'mbx-generated-'));
    await cp(GENERATED, copy, { recursive: true });
  });

  after(async () => {
    await rm(copy, { recursive: true, force: true });
  });

  it('is what the generator makes of model/ now', async () => {
    await run(process.execPath, [GENERATOR, '--check'], { cwd: repoRoot });
  });

  it('is found out of date when one of its files differs', async () => {
    await writeFile(join(copy, 'operations.ts'), '// edited by hand\n');
    await assert.rejects(
      run(process.execPath, [GENERATOR, '--check', '--out', copy], { cwd: repoRoot }),
      (error: { code?: number; stderr?: string }) => {
        assert.equal(error.code, 1);
        assert.match(
          error.stderr ?? '',
          /operations\.ts is out of date with model\/: run npm run gen/,
        );
        assert.doesNotMatch(error.stderr ?? '', /shapes\.ts/);
        return true;
      },
    );
  });
});
