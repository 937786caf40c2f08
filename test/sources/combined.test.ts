import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { listAllItems } from '../../src/core/source.js';
import { openCaldavCalendars } from '../../src/sources/caldav.js';
import { combineSources } from '../../src/sources/combined.js';
import { openImapMailbox } from '../../src/sources/imap.js';
import { type Dovecot, startDovecot } from '../helpers/dovecot.js';
import { corpusRoot } from '../helpers/paths.js';
import { type Radicale, startRadicale } from '../helpers/radicale.js';
import { imapClient, loadMailbox, readBody, sha256 } from './imap-corpus.js';

const admin = { name: 'admin', password: 'admin-pw' };
const carol = { name: 'carol', password: 'carol-pw' };
const signal = () => AbortSignal.timeout(30_000);

let dovecot: Dovecot;
let radicale: Radicale;

before(async () => {
  [dovecot, radicale] = await Promise.all([
    startDovecot({ users: [carol], masterUser: admin }),
    startRadicale({ users: [carol], admin }),
  ]);
  const client = imapClient(dovecot, carol.name, admin.name, admin.password);
  await client.connect();
  const enron = join(corpusRoot, 'mail/enron/corman-s/inbox');
  await loadMailbox(client, new Map([[['INBOX'], ['1', '2', '3'].map((n) => join(enron, n))]]));
  await client.logout();
  const calendar = await radicale.makeCalendar(carol, 'calendar', 'Calendar');
  for (const name of ['ical4j__evolution.ics', 'vobject__vtodo.ics']) {
    await radicale.put(
      carol,
      `${calendar}${name}`,
      readFileSync(join(corpusRoot, 'calendar', name)),
    );
  }
});

after(async () => {
  await Promise.all([dovecot?.destroy(), radicale?.stop()]);
});

test('an IMAP and a CalDAV source read as one mailbox', async () => {
  const mailbox = combineSources(
    await openImapMailbox({
      host: dovecot.host,
      port: dovecot.port,
      secure: false,
      user: carol.name,
      auth: { kind: 'master', admin: admin.name, password: admin.password },
    }),
    await openCaldavCalendars({
      serverUrl: radicale.url,
      user: carol.name,
      admin: { username: admin.name, password: admin.password },
    }),
  );
  try {
    const folders = await mailbox.listFolders(signal());
    assert.deepEqual(
      folders.map((f) => `${f.kind}:${f.path.join('/')}`),
      ['mail:INBOX', 'mail:Drafts', 'mail:Sent', 'mail:Trash', 'calendar:Calendar'],
    );

    const read = new Map<string, string[]>();
    for (const folder of folders) {
      const items = await listAllItems(mailbox, folder, signal());
      const hashes: string[] = [];
      for await (const content of mailbox.readItems(folder, items, signal())) {
        assert.ok('body' in content);
        hashes.push(`${content.item.kind}:${sha256(await readBody(content.body)).slice(0, 8)}`);
      }
      read.set(`${folder.kind}:${folder.path.join('/')}`, hashes);
    }
    assert.equal(read.get('mail:INBOX')?.length, 3);
    assert.ok(read.get('mail:INBOX')?.every((h) => h.startsWith('message:')));
    assert.deepEqual(
      read
        .get('calendar:Calendar')
        ?.map((h) => h.split(':')[0])
        .sort(),
      ['event', 'task'],
    );
  } finally {
    await mailbox.close();
  }
});
