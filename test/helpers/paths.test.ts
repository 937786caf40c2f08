import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';

import { repoRoot } from './paths.js';

/** `corpusRoot` as a fresh process sees it, with `MAILBOX_EXPORT_CORPUS` set or not. */
function corpusRootWith(corpus: string | undefined, cwd: string): string {
  const env = { ...process.env };
  delete env.MAILBOX_EXPORT_CORPUS;
  if (corpus !== undefined) env.MAILBOX_EXPORT_CORPUS = corpus;

  const helper = pathToFileURL(join(import.meta.dirname, 'paths.js')).href;
  const script = `const { corpusRoot } = await import(${JSON.stringify(helper)});
process.stdout.write(corpusRoot);`;
  const ran = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd,
    env,
    encoding: 'utf8',
  });
  assert.equal(ran.status, 0, ran.stderr);
  return ran.stdout;
}

describe('the test corpus', () => {
  it('is ../shared/corpus beside the project unless MAILBOX_EXPORT_CORPUS names another', () => {
    assert.equal(corpusRootWith(undefined, tmpdir()), resolve(repoRoot, '../shared/corpus'));
    assert.equal(corpusRootWith('', tmpdir()), resolve(repoRoot, '../shared/corpus'));
    assert.equal(corpusRootWith('/srv/corpus', tmpdir()), '/srv/corpus');
    // A relative path is taken from where the tests run, as a shell user would expect.
    const here = realpathSync(tmpdir());
    assert.equal(corpusRootWith('corpus', here), join(here, 'corpus'));
  });
});
