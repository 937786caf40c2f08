import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { ExportError } from '../../src/core/errors.js';
import { MailboxWriter } from '../../src/store/index.js';
import { openEmbeddedStore, runEmbedded } from './fixtures/embedded.js';
import { filesUnder } from '../helpers/files.js';

/**
 * The embedded object store on a full file system: a tmpfs of 2 MiB, mounted for the test
 * (the tests run as root), receives an export of about 3 MiB that does not compress. The job
 * fails with an `ExportError` that says the disk is full, and the bucket holds no object and
 * no temporary file. The same for a full temporary folder, where an export keeps its cut and
 * its manifest's records. Skipped, saying why, where mounting is not permitted.
 */

const run = promisify(execFile);

let root: string;
let mountPoint: string;
let smallTmp: string;
let mounted = false;
let tmpMounted = false;
let midTmp: string;
let midMounted = false;
let mountRefusal = '';

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mbx-hostile-disk-'));
  mountPoint = join(root, 'small-disk');
  smallTmp = join(root, 'small-tmp');
  await mkdir(mountPoint);
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint]);
    mounted = true;
    await mkdir(smallTmp);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', smallTmp]);
    tmpMounted = true;
    midTmp = join(root, 'mid-tmp');
    await mkdir(midTmp);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', midTmp]);
    midMounted = true;
  } catch (error) {
    mountRefusal = (error as Error).message.split('\n')[0] ?? 'mount failed';
  }
});

after(async () => {
  if (mounted) await run('umount', [mountPoint]);
  if (tmpMounted) await run('umount', [smallTmp]);
  if (midMounted) await run('umount', [midTmp]);
  await rm(root, { recursive: true, force: true });
});

/**
 * Exports `mailboxDir` with TMPDIR on the small `tmp`: the job fails as Internal, naming the
 * folder and the full disk, and leaves no object, no temporary file and no record file.
 */
async function failsOnFullTmpdir(mailboxDir: string, storeName: string, tmp: string) {
  const store = await openEmbeddedStore(join(root, storeName));
  const before = await filesUnder(store.bucketDir);

  // The store's own files are not in TMPDIR: only the export's records are.
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  const failure = await runEmbedded(mailboxDir, store.objects, store.kmsKeyArn).then(
    () => undefined,
    (error: unknown) => error,
  );
  if (saved === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = saved;

  assert.ok(failure instanceof ExportError, `not an ExportError: ${String(failure)}`);
  assert.equal(failure.code, 'Internal');
  assert.ok(failure.message.includes(tmp), failure.message);
  assert.match(failure.message, /no space left on device/);
  assert.deepEqual(await filesUnder(store.bucketDir), before, 'an object or temp file is left');
  assert.deepEqual(await filesUnder(tmp), [], 'a record file is left in TMPDIR');
}

describe('a full disk under the embedded object store', () => {
  it('fails the export saying the disk is full, and leaves nothing behind', async (t) => {
    if (!mounted) {
      t.skip(`cannot mount a tmpfs here (${mountRefusal}); the full-disk case is not tested`);
      return;
    }

    const mailboxDir = join(root, 'mailbox');
    const writer = await MailboxWriter.open(mailboxDir, { durable: false });
    for (let i = 0; i < 6; i++) {
      const body = randomBytes(384 * 1024).toString('base64');
      await writer.deliverMessage(['INBOX'], `Subject: noise ${i}\r\n\r\n${body}\r\n`);
    }
    const store = await openEmbeddedStore(root, join(mountPoint, 'buckets'));
    const before = await filesUnder(store.bucketDir);

    const failure = await runEmbedded(mailboxDir, store.objects, store.kmsKeyArn).then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(failure instanceof ExportError, `not an ExportError: ${String(failure)}`);
    assert.equal(failure.code, 'WriteFailed');
    assert.match(failure.message, /no space left on device/);
    assert.match(failure.message, /mailbox\.zip/);

    assert.deepEqual(await filesUnder(store.bucketDir), before, 'an object or temp file is left');
    assert.equal(await store.objects.head('exports', 'org/job/mailbox.zip'), undefined);
  });

  it('leaves no zip behind when the disk fills up between the zip and its export log', async (t) => {
    if (!mounted) {
      t.skip(`cannot mount a tmpfs here (${mountRefusal})`);
      return;
    }

    const mailboxDir = join(root, 'small-mailbox');
    const writer = await MailboxWriter.open(mailboxDir, { durable: false });
    await writer.deliverMessage(['INBOX'], `Subject: small\r\n\r\n${'x'.repeat(1000)}\r\n`);

    // The same mailbox gives the same zip, whose object file size is learned on a roomy disk.
    const roomy = await openEmbeddedStore(join(root, 'roomy'));
    await runEmbedded(mailboxDir, roomy.objects, roomy.kmsKeyArn);
    const zipFile = (await stat(join(roomy.bucketDir, 'org', 'job', 'mailbox.zip'))).size;

    // Fill the small disk until exactly the zip's pages are free: the log cannot follow.
    const store = await openEmbeddedStore(join(root, 'tight'), join(mountPoint, 'tight'));
    const free = await statfs(mountPoint);
    const page = free.bsize;
    const filler = free.bavail * page - Math.ceil(zipFile / page) * page;
    await writeFile(join(mountPoint, 'filler'), Buffer.alloc(filler));
    const before = await filesUnder(store.bucketDir);

    const failure = await runEmbedded(mailboxDir, store.objects, store.kmsKeyArn).then(
      () => undefined,
      (error: unknown) => error,
    );
    await rm(join(mountPoint, 'filler'));
    assert.ok(failure instanceof ExportError, `not an ExportError: ${String(failure)}`);
    assert.match(failure.message, /export-log\.json.*no space left on device/);
    assert.deepEqual(await filesUnder(store.bucketDir), before, 'the zip stands without its log');
    assert.match(failure.message, /deleted again/);
  });

  it('fails the export as Internal, naming TMPDIR, when the temporary folder is full', async (t) => {
    if (!tmpMounted) {
      t.skip(`cannot mount a tmpfs here (${mountRefusal})`);
      return;
    }

    // Some 300 KiB of cut and more of manifest, against 64 KiB of temporary folder.
    const mailboxDir = join(root, 'many-small');
    const writer = await MailboxWriter.open(mailboxDir, { durable: false });
    for (let i = 0; i < 2000; i++) {
      await writer.deliverMessage(['INBOX'], `Subject: small ${i}\r\n\r\nbody ${i}\r\n`);
    }
    await failsOnFullTmpdir(mailboxDir, 'tmp-full', smallTmp);
  });

  it('names the full temporary folder, not the closed entry threads, when the zip fails', async (t) => {
    if (!midMounted) {
      t.skip(`cannot mount a tmpfs here (${mountRefusal})`);
      return;
    }

    // 8 MiB hold the cut of these 30,000 messages and the manifest's first records; the zip's
    // central directory is then the first to find the disk full. Its failure closes the entry
    // threads under the messages still waiting, which must not hide why.
    const mailboxDir = join(root, 'thirty-thousand');
    const cur = join(mailboxDir, 'Maildir', 'cur');
    await mkdir(cur, { recursive: true });
    for (let n = 0; n < 30_000; n++) {
      const body = `Subject: small ${n}\r\nFrom: a@example.com\r\n\r\nbody ${n}\r\n`;
      await writeFile(join(cur, `${1_700_000_000 + n}.M${n}P1.vm:2,S`), body);
    }
    await failsOnFullTmpdir(mailboxDir, 'mid-full', midTmp);
  });
});
