import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';

import yauzl from 'yauzl';

import { LIMITS } from '../../src/core/limits.js';
import type { FolderKind } from '../../src/core/source.js';
import { planFolders } from '../../src/export/layout.js';
import { collisionKey } from '../../src/export/safe-names.js';
import type { FixtureFolder } from '../export/fixtures/file-source.js';
import { execFileAsync, exportFixture, readManifest } from '../export/fixtures/helpers.js';

/**
 * Folder and calendar names that try to leave the zip's target, hide control characters, or
 * collide once made safe or compared as case-insensitive file systems compare them: each
 * lands on its own safe path, and neither Info-ZIP nor a yauzl extraction writes outside the
 * target folder.
 */

const NAMES: readonly string[] = [
  '..',
  '.',
  '',
  '/',
  '\\',
  ':',
  'a/b',
  'a\\b',
  'a:b',
  'C:',
  '/etc/passwd',
  '../../escape',
  '..\\..\\escape',
  'nul\u0000inside',
  '\u0000',
  'bell\u0007tab\tnewline\ncr\r',
  'esc\u001b[31mred',
  'del\u007f c1\u0085\u009b',
  '\u202eevil\u202c',
  'x'.repeat(1000),
  `${'x'.repeat(999)}y`,
  'é'.repeat(1000),
  'a_b',
  'a b',
  'Case',
  'case',
  'CASE',
  'ΑΣ',
  'ασ',
  'ας',
  'Straße',
  'i',
  'ı',
  'e\u0301',
  '\u00e9',
  'manifest.json',
  '000001.eml',
];

/** Keys under which two names land on one directory on NTFS, APFS or HFS+. */
function caseInsensitiveKeys(name: string): string[] {
  const nfc = name.normalize('NFC');
  return [nfc.toUpperCase(), nfc.toLowerCase(), nfc.toUpperCase().toLowerCase()];
}

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

function folder(path: readonly string[], kind: FolderKind, index: number): FixtureFolder {
  const item =
    kind === 'calendar'
      ? {
          id: `e${index}`,
          kind: 'event' as const,
          text: `BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:${index}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`,
        }
      : { id: '1', kind: 'message' as const, text: `Subject: ${index}\r\n\r\nbody ${index}\r\n` };
  return { path, kind, items: [item] };
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

/**
 * Unpacks as a careless tool would, joining each entry name to the target, but with yauzl's
 * own name checks on; refuses (and so fails the test) any entry that resolves outside.
 */
async function extractWithYauzl(zipFile: string, target: string): Promise<number> {
  const zip = await yauzl.openPromise(zipFile, { lazyEntries: true, strictFileNames: true });
  let files = 0;
  try {
    for await (const entry of zip.eachEntry()) {
      const path = resolve(target, entry.fileName);
      if (path !== target && !path.startsWith(`${target}${sep}`)) {
        throw new Error(`entry ${JSON.stringify(entry.fileName)} resolves outside the target`);
      }
      if (entry.fileName.endsWith('/')) {
        await mkdir(path, { recursive: true });
        continue;
      }
      await mkdir(dirname(path), { recursive: true });
      await pipeline(
        await zip.openReadStreamPromise(entry),
        createWriteStream(path, { flags: 'wx' }),
      );
      files++;
    }
  } finally {
    zip.close();
  }
  return files;
}

let root: string;
let folders: FixtureFolder[];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mbx-hostile-names-'));
  folders = [];
  for (const [index, name] of NAMES.entries()) {
    folders.push(folder([name], 'mail', 3 * index));
    folders.push(folder(['Calendars', name], 'calendar', 3 * index + 1));
    folders.push(folder(['INBOX', name, name], 'mail', 3 * index + 2));
  }
  folders.push(
    folder(
      Array.from({ length: 100 }, (_, i) => (i % 2 ? '..' : '')),
      'mail',
      999,
    ),
  );
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('hostile folder and calendar names', () => {
  it('gives every folder and calendar its own safe path, also case-insensitively', async () => {
    const run = await exportFixture(join(root, 'store'), folders);
    const manifest = await readManifest(run.zipPath);
    assert.equal(manifest.folders.length, folders.length);

    for (const placed of manifest.folders) {
      for (const segment of placed.zipPath.split('/')) {
        assert.ok(isSafeSegment(segment), `unsafe segment ${JSON.stringify(segment)}`);
      }
    }
    // Folders listed by the source and the parents implied by them are all directories.
    const seen = new Map<string, string>();
    for (const placed of manifest.folders) {
      for (const key of caseInsensitiveKeys(placed.zipPath)) {
        const other = seen.get(key);
        assert.ok(other === undefined || other === placed.zipPath, `${placed.zipPath} ~ ${other}`);
        seen.set(key, placed.zipPath);
      }
    }
  });

  it('unpacks with Info-ZIP and with yauzl only inside the target folder', async () => {
    const run = await exportFixture(join(root, 'store-unzip'), folders);

    for (const tool of ['unzip', 'yauzl'] as const) {
      const work = join(root, `unpack-${tool}`);
      const target = join(work, 'target');
      await mkdir(target, { recursive: true });
      if (tool === 'unzip') await execFileAsync('unzip', ['-q', run.zipPath, '-d', target]);
      else await extractWithYauzl(run.zipPath, target);

      assert.deepEqual(await readdir(work), ['target'], `${tool} wrote beside its target`);
      const files = await walk(target);
      for (const file of files) {
        const inside = relative(target, file);
        assert.ok(inside !== '..' && !inside.startsWith(`..${sep}`), `${tool}: ${file}`);
      }
      const items = files.filter((file) => file.endsWith('.eml'));
      assert.equal(items.length, folders.length, `${tool}: items missing`);
      const bodies = new Set(await Promise.all(items.map((file) => readFile(file, 'latin1'))));
      assert.equal(bodies.size, folders.length, `${tool}: items overwrote each other`);
    }
  });
});

describe('name regressions', () => {
  it('tells apart names that differ only in a Greek final sigma, as NTFS and APFS do not', () => {
    const plan = planFolders(
      ['ΑΣ', 'ασ', 'ας'].map((name) => ({ path: [name], kind: 'mail' as const })),
    );
    const keys = plan.map((placement) => placement.zipPath.toUpperCase());
    assert.equal(new Set(keys).size, 3, JSON.stringify(plan.map((p) => p.zipPath)));
    assert.equal(collisionKey('ασ'), collisionKey('ΑΣ'));
  });

  it('tells apart a dotless ı from i, which NTFS upper-cases alike', () => {
    const plan = planFolders(
      ['i', 'ı', 'I'].map((name) => ({ path: [name], kind: 'mail' as const })),
    );
    assert.equal(new Set(plan.map((p) => p.zipPath.toUpperCase())).size, 3);
  });
});
