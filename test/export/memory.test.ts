import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { exportInChild, readManifest } from './fixtures/helpers.js';

const MESSAGE_BYTES = 300 * 1024 * 1024;
const RSS_BOUND = 200 * 1024 * 1024;

/** A message of `size` bytes: a header, then numbered lines that do not repeat exactly. */
function generatedMessage(size: number): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  async function* lines(): AsyncGenerator<Buffer> {
    const header = Buffer.from(
      'From: Big <big@example.com>\r\nSubject: 300 MB\r\nMessage-ID: <big@example.com>\r\n' +
        'Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n\r\n',
    );
    hash.update(header);
    yield header;
    let written = header.length;
    let n = 0;
    while (written < size) {
      const batch: string[] = [];
      for (let i = 0; i < 4096; i++, n++)
        batch.push(`line ${n} ${(n * 2654435761) % 4294967296}\r\n`);
      let chunk = Buffer.from(batch.join(''));
      if (written + chunk.length > size) chunk = chunk.subarray(0, size - written);
      hash.update(chunk);
      written += chunk.length;
      yield chunk;
    }
  }
  return { stream: Readable.from(lines()), sha256: () => hash.digest('hex') };
}

describe('memory stays bounded', () => {
  let root: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mbx-'));
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('streams a 300 MB message with a resident set far below its size', async () => {
    const file = join(root, 'big.eml');
    const message = generatedMessage(MESSAGE_BYTES);
    await pipeline(message.stream, createWriteStream(file));
    assert.equal((await stat(file)).size, MESSAGE_BYTES);

    const store = join(root, 'store');
    const folders = [
      {
        path: ['INBOX'],
        kind: 'mail' as const,
        items: [{ id: '1', kind: 'message' as const, file }],
      },
    ];
    const report = await exportInChild({ folders, root: store, compression: 'fast' });
    console.log(
      `peak RSS ${(report.peakRss / 2 ** 20).toFixed(1)} MiB ` +
        `(${(report.rssBefore / 2 ** 20).toFixed(1)} MiB before the export)`,
    );
    assert.ok(report.peakRss < RSS_BOUND, `peak RSS ${report.peakRss} bytes`);

    const zipPath = join(store, 'exports', 'jobs', 'job-1', 'mailbox.zip');
    assert.equal(String((await stat(zipPath)).size), report.log.totalBytes);
    const manifest = await readManifest(zipPath);
    assert.equal(manifest.items[0]?.size, MESSAGE_BYTES);
    assert.equal(manifest.items[0]?.sha256, message.sha256());
    assert.equal(manifest.items[0]?.header?.subject, '300 MB');
  });
});
