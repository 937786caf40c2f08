import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { importPath } from '../../src/import/index.js';

const message = (subject: string) =>
  `From: Ann <ann@example.com>\r\nSubject: ${subject}\r\n\r\nAbout ${subject}.\r\n`;

/** `dir` joined with `name`, a name of raw bytes (Latin-1 here, so not UTF-8). */
const bytePath = (dir: string, name: Buffer) => Buffer.concat([Buffer.from(`${dir}/`), name]);
const latin1 = (text: string) => Buffer.from(text, 'latin1');

describe('importing files whose names are not UTF-8', () => {
  let root: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mailbox-export-names-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('imports Maildir messages by their bytes and names the other inputs it skips', async () => {
    const input = join(root, 'input');
    await mkdir(join(input, 'Maildir', 'cur'), { recursive: true });
    await mkdir(join(input, 'Maildir', 'new'), { recursive: true });
    const cur = join(input, 'Maildir', 'cur');
    await writeFile(bytePath(cur, latin1('1700000000.M1P1.h\u00e9te:2,S')), message('h\u00f4te'));
    await writeFile(join(cur, '1700000001.M1P1.host:2,'), message('plain'));
    await writeFile(bytePath(input, latin1('caf\u00e9.eml')), message('caf\u00e9'));
    await mkdir(bytePath(input, latin1('d\u00e9j\u00e0')));
    await writeFile(join(input, 'ok.eml'), message('ok'));
    // A name that holds U+FFFD itself is UTF-8, and imported as any other.
    await writeFile(join(input, 'odd\uFFFD.eml'), message('odd'));

    const report = await importPath(join(root, 'mailbox'), input, { durable: false });

    const reason = 'its name is not UTF-8: rename it (for example with convmv) to import it';
    assert.deepEqual(report.skipped, [
      { input: join(input, 'caf\\xe9.eml'), reason },
      { input: join(input, 'd\\xe9j\\xe0'), reason },
    ]);
    assert.deepEqual(report.totals, { message: 4 });

    const subjects: string[] = [];
    const stored = join(root, 'mailbox');
    for (const entry of await readdir(stored, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !/(^|\/)(cur|new)$/.test(entry.parentPath)) continue;
      const text = await readFile(join(entry.parentPath, entry.name), 'utf8');
      subjects.push(/^Subject: (.*)\r$/m.exec(text)![1]!);
    }
    assert.deepEqual(subjects.sort(), ['h\u00f4te', 'odd', 'ok', 'plain']);
  });
});
