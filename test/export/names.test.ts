import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { LIMITS } from '../../src/core/limits.js';
import type { SourceFolder } from '../../src/core/source.js';
import { planFolders } from '../../src/export/layout.js';
import { SiblingNames, collisionKey, safeName } from '../../src/export/safe-names.js';
import type { FixtureFolder } from './fixtures/file-source.js';
import { execFileAsync, exportFixture, readManifest, readZip } from './fixtures/helpers.js';

const HOSTILE_PATHS: string[][] = [
  ['../../etc'],
  ['..', '..', 'tmp'],
  ['/etc/passwd'],
  ['C:\\Windows', 'System32'],
  ['a/b'],
  ['a_b'],
  ['a\\b'],
  ['ctl\u0001\u001f\u007f'],
  ['nul\u0000byte'],
  ['.'],
  ['..'],
  [''],
  [],
  ['x'.repeat(1000)],
  ['é'.repeat(1000)],
  ['😀'.repeat(300)],
  ['Foo'],
  ['foo'],
  ['FOO'],
  ['Foo (2)'],
  ['e\u0301'],
  ['\u00e9'],
  ['000001.eml'],
  ['manifest.json'],
  ['MANIFEST.JSON'],
  ['CON'],
  ['trailing. '],
  ['trailing._'],
  ['INBOX', '000001.eml'],
  ['INBOX', '..'],
  ['lone \ud800 surrogate'],
];

function isSafeSegment(segment: string): boolean {
  return (
    segment !== '' &&
    segment !== '.' &&
    segment !== '..' &&
    // eslint-disable-next-line no-control-regex
    !/[\u0000-\u001f\u007f-\u009f/\\:*?"<>|]/.test(segment) &&
    !/[. ]$/.test(segment) &&
    Buffer.byteLength(segment) <= LIMITS.folderNameBytes
  );
}

async function walk(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    found.push(path);
    if (entry.isDirectory()) found.push(...(await walk(path)));
  }
  return found;
}

describe('folder names made safe', () => {
  let root: string;
  let folders: FixtureFolder[];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mbx-'));
    folders = HOSTILE_PATHS.map((path, i) => ({
      path,
      kind: 'mail',
      items: [{ id: '1', kind: 'message', text: `Subject: folder ${i}\r\n\r\nbody ${i}\r\n` }],
    }));
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('puts every folder on its own safe path, and unzip writes only inside its target', async () => {
    const run = await exportFixture(join(root, 'store'), folders);
    const manifest = await readManifest(run.zipPath);
    assert.equal(manifest.folders.length, HOSTILE_PATHS.length);

    const keys = new Set(manifest.folders.map((f) => collisionKey(f.zipPath)));
    assert.equal(keys.size, HOSTILE_PATHS.length, 'two folders share a path');
    for (const folder of manifest.folders) {
      for (const segment of folder.zipPath.split('/')) {
        assert.ok(isSafeSegment(segment), `unsafe segment ${JSON.stringify(segment)}`);
      }
      assert.ok(!collisionKey(folder.zipPath).endsWith('.eml'));
      assert.notEqual(collisionKey(folder.zipPath), 'manifest.json');
    }
    const names = [...(await readZip(run.zipPath)).keys()];
    assert.equal(new Set(names.map(collisionKey)).size, names.length, 'entries collide');

    // unzip -d: everything lands inside target, every message is there once.
    const work = join(root, 'unzip');
    const target = join(work, 'target');
    await mkdir(target, { recursive: true });
    await execFileAsync('unzip', ['-q', run.zipPath, '-d', target]);
    assert.deepEqual(await readdir(work), ['target']);
    const files = await walk(target);
    for (const file of files) assert.ok(!relative(target, file).startsWith(`..${sep}`));
    const messages = files.filter((file) => file.endsWith('.eml'));
    assert.equal(messages.length, HOSTILE_PATHS.length);
    const bodies = new Set(await Promise.all(messages.map((file) => readFile(file, 'utf8'))));
    assert.equal(bodies.size, HOSTILE_PATHS.length);
  });

  it('keeps ordinary names as they are', () => {
    const plan = planFolders([
      { path: ['INBOX'], kind: 'mail' },
      { path: ['INBOX', 'Projects', 'Q3 – Zürich'], kind: 'mail' },
      { path: ['Sent Items'], kind: 'mail' },
    ]);
    assert.deepEqual(
      plan.map((p) => [p.zipPath, p.impliedParents]),
      [
        ['INBOX', []],
        ['INBOX/Projects/Q3 – Zürich', ['INBOX/Projects']],
        ['Sent Items', []],
      ],
    );
  });

  it('tells names apart the same way whatever order they are listed in', () => {
    const listed: SourceFolder[] = HOSTILE_PATHS.map((path) => ({ path, kind: 'mail' }));
    const forward = planFolders(listed).map((p) => [p.folder.path, p.zipPath]);
    const backward = planFolders([...listed].reverse()).map((p) => [p.folder.path, p.zipPath]);
    assert.deepEqual(backward, forward);
    // Claimed in code-unit order: a name already taken pushes the next one to a suffix.
    const foo = forward.filter(([path]) =>
      ['Foo', 'foo', 'FOO', 'Foo (2)'].includes((path as string[])[0]!),
    );
    assert.deepEqual(
      foo.map(([, zipPath]) => zipPath),
      ['FOO', 'Foo (2)', 'Foo (2) (2)', 'foo (3)'],
    );
  });

  it('makes any name safe and keeps siblings apart (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary', maxLength: 300 }), { maxLength: 30 }),
        (names) => {
          const siblings = new SiblingNames();
          const claimed = names.map((name) => siblings.claim(name));
          for (const name of claimed) assert.ok(isSafeSegment(name), JSON.stringify(name));
          assert.equal(new Set(claimed.map(collisionKey)).size, names.length);
        },
      ),
    );
    assert.equal(safeName('..'), '__');
    assert.equal(safeName(''), '_');
    assert.equal(safeName('a/b\\c:d'), 'a_b_c_d');
    assert.equal(safeName('nul'), '_nul');
  });
});
