import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chown, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { listAllItems, type MailboxSource, type SourceFolder } from '../../src/core/source.js';
import { orderItems } from '../../src/export/layout.js';
import { MailboxWriter, openEmbeddedMailbox } from '../../src/store/index.js';
import { type Dovecot, startDovecot } from '../helpers/dovecot.js';
import { corpusRoot } from '../helpers/paths.js';

const hasDovecot = spawnSync('doveadm', ['help'], { stdio: 'ignore' }).error === undefined;
const signal = new AbortController().signal;
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** `doveadm save` with the message on standard input. */
function save(dovecot: Dovecot, user: string, mailbox: string, message: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('doveadm', ['-c', dovecot.configPath, 'save', '-u', user, '-m', mailbox], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`doveadm save exited ${code}: ${stderr}`)),
    );
    child.stdin.end(message);
  });
}

/** `doveadm fetch` output as records of `field: value` lines, separated by form feeds. */
function records(text: string): Array<Record<string, string>> {
  return text
    .split('\f\n')
    .filter((block) => block.trim() !== '')
    .map((block) =>
      Object.fromEntries(
        block
          .split('\n')
          .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
      ),
    );
}

async function readAll(source: MailboxSource, folder: SourceFolder) {
  const items = orderItems(await listAllItems(source, folder, signal));
  const bodies = new Map<string, Buffer>();
  for await (const content of source.readItems(folder, items, signal)) {
    assert.ok('body' in content, `item ${content.item.id} unreadable`);
    const chunks: Buffer[] = [];
    const body = Buffer.isBuffer(content.body) ? [content.body] : content.body;
    for await (const chunk of body) chunks.push(chunk as Buffer);
    bodies.set(content.item.id, Buffer.concat(chunks));
  }
  return { items, bodies };
}

/** Dovecot stores with `mail_save_crlf = yes`: every bare LF becomes CRLF. */
function asDovecotStores(message: Buffer): Buffer {
  return Buffer.from(message.toString('latin1').replace(/(?<!\r)\n/g, '\r\n'), 'latin1');
}

describe(
  'a Maildir that Dovecot wrote',
  { skip: !hasDovecot && 'doveadm is not installed' },
  () => {
    let dovecot: Dovecot;
    before(async () => {
      dovecot = await startDovecot({
        users: [
          { name: 'alice', password: 'alice-pw' },
          { name: 'bob', password: 'bob-pw' },
        ],
        masterUser: { name: 'admin', password: 'admin-pw' },
      });
    });
    after(async () => {
      await dovecot?.destroy();
    });

    it('reads folders, ids, flags, dates and bytes as Dovecot has them', async () => {
      const mime = join(corpusRoot, 'mime');
      const samples = (await readdir(mime))
        .filter((n) => n.endsWith('.eml'))
        .sort()
        .slice(0, 12);
      const mailboxes = ['INBOX', 'INBOX/child', 'Top', 'Top/Sub', 'Ärger', '日本', 'Solo/Leaf'];
      await dovecot.doveadm(['mailbox', 'create', '-u', 'alice', ...mailboxes.slice(1)]);
      const saved = new Map<string, string[]>();
      for (const [n, name] of samples.entries()) {
        const mailbox = mailboxes[n % mailboxes.length]!;
        const stored = asDovecotStores(await readFile(join(mime, name)));
        saved.set(mailbox, [...(saved.get(mailbox) ?? []), sha(stored)]);
        await save(dovecot, 'alice', mailbox, await readFile(join(mime, name)));
      }
      await dovecot.doveadm([
        'flags',
        'add',
        '-u',
        'alice',
        '\\Seen \\Flagged $Forwarded mykw',
        'mailbox',
        'INBOX',
        'all',
      ]);
      await dovecot.doveadm([
        'flags',
        'add',
        '-u',
        'alice',
        '\\Answered \\Draft',
        'mailbox',
        'Top/Sub',
        'all',
      ]);
      await dovecot.doveadm([
        'flags',
        'add',
        '-u',
        'alice',
        '\\Deleted other',
        'mailbox',
        'Ärger',
        'all',
      ]);

      const source = openEmbeddedMailbox({ maildir: dovecot.mailRoot('alice') });
      const folders = await source.listFolders(signal);
      // `Solo` has no directory of its own (a \NoSelect parent): only real folders are listed.
      assert.deepEqual(
        folders.map((f) => f.path.join('/')),
        ['INBOX', 'INBOX/child', 'Solo/Leaf', 'Top', 'Top/Sub', 'Ärger', '日本'],
      );

      let compared = 0;
      for (const folder of folders) {
        const name = folder.path.join('/');
        const status = await dovecot.doveadm([
          'mailbox',
          'status',
          '-u',
          'alice',
          'uidvalidity',
          name,
        ]);
        assert.equal(folder.validity, /uidvalidity=(\d+)/.exec(status)?.[1], name);

        const fetched = records(
          await dovecot.doveadm([
            'fetch',
            '-u',
            'alice',
            'guid flags date.received size.physical',
            'mailbox',
            name,
            'all',
          ]),
        );
        const { items, bodies } = await readAll(source, folder);
        assert.deepEqual(
          items.map((i) => i.id),
          fetched.map((r) => r.guid).sort(),
          `ids of ${name}`,
        );
        assert.deepEqual([...bodies.values()].map(sha).sort(), [...(saved.get(name) ?? [])].sort());
        for (const record of fetched) {
          const item = items.find((i) => i.id === record.guid)!;
          const flags = record.flags!.split(' ').filter((f) => f !== '' && f !== '\\Recent');
          assert.deepEqual([...item.flags!].sort(), flags.sort(), `flags of ${name} ${item.id}`);
          assert.equal(item.size, Number(record['size.physical']));
          assert.equal(
            Math.floor(item.internalDate!.getTime() / 1000),
            new Date(record['date.received']!).getTime() / 1000,
          );
          compared += 1;
        }
      }
      assert.equal(compared, samples.length);
    });

    it('serves a Maildir that our writer made', async () => {
      const root = dovecot.mailRoot('bob');
      const writer = await MailboxWriter.open(join(root, '..'));
      const plan: Array<[string[], string[]]> = [
        [['INBOX'], ['\\Seen', '$Forwarded']],
        [
          ['INBOX', 'child'],
          ['\\Answered', 'Work'],
        ],
        [
          ['Ärger', 'Ünter'],
          ['\\Flagged', '\\Draft'],
        ],
        [['Archive'], ['\\Deleted']],
      ];
      const written = new Map<string, { id: string; flags: string[] }>();
      for (const [n, [path, flags]] of plan.entries()) {
        const item = await writer.deliverMessage(path, `Subject: ${n}\r\n\r\nbody ${n}\r\n`, {
          flags,
        });
        written.set(path.join('/'), { id: item.id, flags });
      }
      // Dovecot's mail processes run as the mail owner and write their index files beside ours.
      const owner = await stat(join(root, '..', '..'));
      spawnSync('chown', ['-R', `${owner.uid}:${owner.gid}`, join(root, '..')]);
      await chown(join(root, '..'), owner.uid, owner.gid);

      const listed = (await dovecot.doveadm(['mailbox', 'list', '-u', 'bob'])).split('\n');
      for (const [name, { id, flags }] of written) {
        assert.ok(listed.includes(name), `Dovecot lists ${name}: ${listed.join(', ')}`);
        const [record] = records(
          await dovecot.doveadm(['fetch', '-u', 'bob', 'guid flags', 'mailbox', name, 'all']),
        );
        assert.equal(record!.guid, id);
        const seen = record!.flags!.split(' ').filter((f) => f !== '' && f !== '\\Recent');
        assert.deepEqual(seen.sort(), [...flags].sort(), `flags of ${name}`);
      }
    });
  },
);
