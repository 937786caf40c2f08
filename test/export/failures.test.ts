import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExportError } from '../../src/core/errors.js';
import type { PutObjectRequest } from '../../src/core/object-store.js';
import { runExport } from '../../src/export/pipeline.js';
import { verifyExport } from '../../src/export/verify.js';
import { corpusRoot } from '../helpers/paths.js';
import { FileObjectStore } from './fixtures/file-object-store.js';
import { FixtureSource, itemsFromDirectory, type FixtureFolder } from './fixtures/file-source.js';
import {
  BUCKET,
  KEY_ARN,
  LOG_KEY,
  START,
  ZIP_KEY,
  execFileAsync,
  exportFixture,
  readManifest,
  readZip,
} from './fixtures/helpers.js';
import { filesUnder } from '../helpers/files.js';

describe('failures and cancellation', () => {
  let root: string;
  let folders: (failure: 'open' | 'vanish' | number) => FixtureFolder[];
  let count = 0;
  const fresh = (): string => join(root, `run-${count++}`);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mbx-'));
    const messages = await itemsFromDirectory(join(corpusRoot, 'mime'), 'message', '.eml');
    const big = messages.find((m) => m.id === 'mail__attachment_pdf_crlf.eml')!;
    folders = (failure) => [
      { path: ['INBOX'], kind: 'mail', items: messages.slice(0, 5) },
      {
        path: ['Projects', 'Q3'],
        kind: 'mail',
        items: [...messages.slice(5, 8), { ...big, id: 'zz-broken', fail: failure }],
      },
      { path: ['Sent'], kind: 'mail', items: messages.slice(8, 12) },
    ];
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('fails the job on an unreadable item and stores nothing', async () => {
    const dir = fresh();
    await assert.rejects(exportFixture(dir, folders('open')), (error: unknown) => {
      assert.ok(error instanceof ExportError);
      assert.equal(error.code, 'ItemUnreadable');
      assert.match(error.message, /zz-broken/);
      assert.match(error.message, /Projects\/Q3/);
      assert.match(error.message, /job-1/);
      assert.ok(error.cause instanceof Error);
      return true;
    });
    assert.deepEqual(await filesUnder(dir), []);
  });

  it('fails the job on an item that breaks mid-read and stores nothing', async () => {
    const dir = fresh();
    await assert.rejects(exportFixture(dir, folders(3000)), { code: 'ItemUnreadable' });
    assert.deepEqual(await filesUnder(dir), []);
  });

  it('completes within the bad-item limit and names the item in the manifest', async () => {
    const run = await exportFixture(fresh(), folders('open'), { badItemLimit: 1 });
    assert.equal(run.result.unreadableItems, 1);
    assert.equal(run.result.itemsExported, 12);
    assert.equal(run.result.log.totalMessages, '12');
    const manifest = await readManifest(run.zipPath);
    assert.deepEqual(manifest.unreadable, [
      {
        folder: 'Projects/Q3',
        sourceId: 'zz-broken',
        kind: 'message',
        reason: 'item zz-broken is unreadable',
      },
    ]);
    const names = [...(await readZip(run.zipPath)).keys()];
    assert.ok(!names.includes('Projects/Q3/000004.eml'));
    assert.ok(names.includes('Projects/Q3/000003.eml'));
    assert.deepEqual((await verifyExport(run.zipPath, run.result.log)).problems, []);
  });

  it('keeps the zip whole when a tolerated item breaks mid-read, naming the partial entry', async () => {
    const run = await exportFixture(fresh(), folders(3000), { badItemLimit: 1 });
    const manifest = await readManifest(run.zipPath);
    const [problem] = manifest.unreadable;
    assert.equal(problem?.sourceId, 'zz-broken');
    assert.equal(problem?.partialEntry?.zipPath, 'Projects/Q3/000004.eml');
    assert.equal(problem?.partialEntry?.size, 3000);
    assert.equal((await readZip(run.zipPath)).get('Projects/Q3/000004.eml')?.length, 3000);
    await execFileAsync('unzip', ['-tq', run.zipPath]);
    assert.deepEqual((await verifyExport(run.zipPath, run.result.log)).problems, []);
  });

  it('reports an item deleted since the cut without failing', async () => {
    const run = await exportFixture(fresh(), folders('vanish'));
    const manifest = await readManifest(run.zipPath);
    assert.equal(manifest.deleted.length, 1);
    assert.equal(manifest.deleted[0]?.sourceId, 'zz-broken');
    assert.equal(manifest.unreadable.length, 0);
    assert.equal(run.result.unreadableItems, 0);
  });

  it('cancels through the signal and stores nothing', async () => {
    const dir = fresh();
    const controller = new AbortController();
    const hooks = { beforeRead: (index: number) => index === 3 && controller.abort() };
    const started = exportFixture(dir, folders('open'), { signal: controller.signal, hooks });
    await assert.rejects(started, (error: unknown) => {
      assert.ok(error instanceof ExportError);
      assert.equal(error.code, 'Cancelled');
      return true;
    });
    assert.deepEqual(await filesUnder(dir), []);
  });

  it('is cancelled cleanly while the store has not yet begun to read the zip', async () => {
    // A store that sets up slowly (a bucket check, a temporary file, a multipart upload) takes
    // the zip stream late: a cancel before that must fail the job, not crash the process with
    // an 'error' event nobody listens to yet.
    const dir = fresh();
    const slowStore = new (class extends FileObjectStore {
      override async put(request: PutObjectRequest) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        return super.put(request);
      }
    })(dir);
    const controller = new AbortController();
    const hooks = { beforeRead: (index: number) => index === 3 && controller.abort() };
    const started = exportFixture(dir, folders('open'), {
      signal: controller.signal,
      hooks,
      store: slowStore,
    });
    await assert.rejects(started, (error: unknown) => {
      assert.ok(error instanceof ExportError);
      assert.equal(error.code, 'Cancelled');
      return true;
    });
    assert.deepEqual(await filesUnder(dir), []);
  });

  it('rejects at once when cancelled before it starts', async () => {
    const dir = fresh();
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(exportFixture(dir, folders('open'), { signal: controller.signal }), {
      code: 'Cancelled',
    });
    assert.deepEqual(await filesUnder(dir), []);
  });

  it('fails with WriteFailed when the store refuses the zip, and the source is left alone', async () => {
    const dir = fresh();
    const store = new FileObjectStore(dir);
    const refusing = Object.assign(Object.create(store) as FileObjectStore, {
      put: async (request: PutObjectRequest) => {
        let seen = 0;
        for await (const chunk of request.body) {
          seen += (chunk as Buffer).length;
          if (seen > 2000) throw new Error('disk full');
        }
        return { bytes: seen };
      },
    });
    const source = new FixtureSource(folders('open'));
    await assert.rejects(
      runExport({
        jobId: 'job-9',
        source,
        objectStore: refusing,
        bucket: BUCKET,
        zipKey: ZIP_KEY,
        logKey: LOG_KEY,
        kmsKeyArn: KEY_ARN,
        signal: new AbortController().signal,
        startTime: START,
        badItemLimit: 5,
      }),
      (error: unknown) => {
        assert.ok(error instanceof ExportError);
        assert.equal(error.code, 'WriteFailed');
        assert.match(error.message, /s3:\/\/exports\/jobs\/job-1\/mailbox\.zip/);
        assert.equal((error.cause as Error).message, 'disk full');
        return true;
      },
    );
    assert.equal(source.closed, false);
  });

  it('fails with SourceUnavailable when the folders cannot be listed', async () => {
    const source = new FixtureSource([]);
    source.listFolders = async () => {
      throw new Error('connection refused');
    };
    const dir = fresh();
    await assert.rejects(
      runExport({
        jobId: 'job-2',
        source,
        objectStore: new FileObjectStore(dir),
        bucket: BUCKET,
        zipKey: ZIP_KEY,
        logKey: LOG_KEY,
        kmsKeyArn: KEY_ARN,
        signal: new AbortController().signal,
        startTime: START,
      }),
      { code: 'SourceUnavailable', message: /job-2: could not list the folders/ },
    );
    assert.deepEqual(await filesUnder(dir), []);
  });
});
