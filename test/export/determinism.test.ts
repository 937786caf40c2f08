import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { corpusRoot } from '../helpers/paths.js';
import { itemsFromDirectory, type FixtureFolder } from './fixtures/file-source.js';
import { exportFixture, exportInChild, readZip } from './fixtures/helpers.js';

describe('the same mailbox gives the same zip', () => {
  let root: string;
  let folders: FixtureFolder[];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mbx-'));
    const messages = await itemsFromDirectory(join(corpusRoot, 'mime'), 'message', '.eml');
    const events = await itemsFromDirectory(join(corpusRoot, 'calendar'), 'event', '.ics');
    folders = [
      {
        path: ['INBOX'],
        kind: 'mail',
        items: messages.slice(0, 30).map((item, i) => ({
          ...item,
          id: String(i * 7 + 1),
          flags: ['\\Seen', '$Label1'],
          internalDate: '2023-07-01T23:30:00Z',
        })),
      },
      { path: ['INBOX', 'Ünïcödé'], kind: 'mail', items: messages.slice(30, 40) },
      { path: ['Calendar'], kind: 'calendar', items: events.slice(0, 10) },
    ];
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('twice in one process, whatever order the source lists things in', async () => {
    const first = await exportFixture(join(root, 'a'), folders);
    const reordered = [...folders]
      .reverse()
      .map((folder) => ({ ...folder, items: [...folder.items].reverse() }));
    const second = await exportFixture(join(root, 'b'), reordered);

    const bytes = await readFile(first.zipPath);
    assert.ok(bytes.equals(await readFile(second.zipPath)));
    assert.equal(first.result.log.sha384Hash, second.result.log.sha384Hash);

    const names = [...(await readZip(first.zipPath)).keys()];
    assert.deepEqual(names.slice(0, 3), [
      'Calendar/',
      'Calendar/000001.eml',
      'Calendar/000002.eml',
    ]);
    assert.ok(names.includes('INBOX/000002.eml'));
    // Numeric ids sort by value: id 8 is the second message, not id 43 or 141.
    const manifest = JSON.parse((await readZip(first.zipPath)).get('manifest.json')!.toString());
    const inbox = manifest.items.filter((i: { folder: string }) => i.folder === 'INBOX');
    assert.deepEqual(
      inbox.slice(0, 3).map((i: { sourceId: string }) => i.sourceId),
      ['1', '8', '15'],
    );
  });

  for (const compression of ['default', 'store'] as const) {
    it(`in other time zones (${compression})`, async () => {
      const here = await exportFixture(join(root, `here-${compression}`), folders, { compression });
      const expected = await readFile(here.zipPath);
      for (const tz of ['Pacific/Kiritimati', 'America/St_Johns']) {
        const dir = join(root, `${tz.replace('/', '-')}-${compression}`);
        const report = await exportInChild({ folders, root: dir, compression }, { TZ: tz });
        const zip = await readFile(join(dir, 'exports', 'jobs', 'job-1', 'mailbox.zip'));
        assert.ok(zip.equals(expected), `zip made under TZ=${tz} differs`);
        assert.equal(report.log.sha384Hash, here.result.log.sha384Hash);
      }
    });
  }
});
