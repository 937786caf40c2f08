import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { LIMITS } from '../../src/core/limits.js';
import type { ManifestItem } from '../../src/export/manifest.js';
import { MailboxWriter } from '../../src/store/index.js';
import { corpusRoot } from '../helpers/paths.js';
import { exportMailbox, openEmbeddedStore, type EmbeddedExport } from './fixtures/embedded.js';
import {
  MUTATIONS,
  headerEnd,
  headerNames,
  seeded,
  withMegabyteLine,
} from './fixtures/mutations.js';

/**
 * Every message of the MIME corpus, and damaged variants of each, goes into an embedded
 * mailbox and out through the export: the zip holds each one byte for byte, the manifest
 * reads subject, sender and date where it can and says so where it cannot, and the job
 * completes.
 */

const MIME_DIR = join(corpusRoot, 'mime');
const FIELDS = [
  ['subject', 'subject'],
  ['from', 'from'],
  ['date', 'date'],
] as const;

interface Stored {
  readonly label: string;
  readonly bytes: Buffer;
}

let root: string;
let stored: Map<string, Stored>;
let run: EmbeddedExport;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mbx-hostile-mail-'));
  const mailboxDir = join(root, 'mailbox');
  const writer = await MailboxWriter.open(mailboxDir, { durable: false });
  stored = new Map();
  const deliver = async (folder: string, label: string, bytes: Buffer) => {
    const item = await writer.deliverMessage([folder], bytes, {
      internalDate: new Date('2025-01-01T00:00:00Z'),
    });
    stored.set(item.id, { label, bytes });
  };

  const files = (await readdir(MIME_DIR)).filter((name) => name.endsWith('.eml')).sort();
  assert.ok(files.length > 50, `only ${files.length} corpus messages`);
  for (const [index, name] of files.entries()) {
    const original = await readFile(join(MIME_DIR, name));
    await deliver('INBOX', name, original);
    for (const [mutation, mutate] of Object.entries(MUTATIONS)) {
      await deliver(mutation, `${name} ${mutation}`, mutate(original, seeded(index + 1)));
    }
    // A megabyte line costs time in every stage: a few messages carry one.
    if (index % 40 === 0) {
      await deliver('long-lines', `${name} 1 MB header line`, withMegabyteLine(original, 'header'));
      await deliver('long-lines', `${name} 1 MB body line`, withMegabyteLine(original, 'body'));
    }
  }

  const store = await openEmbeddedStore(root);
  run = await exportMailbox(mailboxDir, store, join(root, 'export.zip'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

function storedOf(item: ManifestItem): Stored {
  const found = stored.get(item.sourceId);
  assert.ok(found, `the manifest names ${item.sourceId}, which was never stored`);
  return found;
}

describe('corpus and damaged messages through an export', () => {
  it('completes, with every message in the manifest and none unreadable', () => {
    assert.equal(run.result.unreadableItems, 0);
    assert.equal(run.result.itemsExported, stored.size);
    assert.equal(run.manifest.items.length, stored.size);
    assert.deepEqual(run.manifest.unreadable, []);
    assert.deepEqual(run.manifest.deleted, []);
    assert.equal(new Set(run.manifest.items.map((item) => item.sourceId)).size, stored.size);
  });

  it('holds every message byte for byte', () => {
    for (const item of run.manifest.items) {
      const { label, bytes } = storedOf(item);
      const entry = run.entries.get(item.zipPath);
      assert.ok(entry, `${label}: no entry ${item.zipPath}`);
      assert.ok(entry.equals(bytes), `${label}: the zip holds other bytes`);
      assert.equal(item.size, bytes.length, label);
    }
  });

  it('fills subject, sender and date where it can, and marks them unparsed otherwise', () => {
    const statuses = new Map<string, number>();
    for (const item of run.manifest.items) {
      const { label, bytes } = storedOf(item);
      const header = item.header;
      assert.ok(header, `${label}: no header record`);
      statuses.set(header.status, (statuses.get(header.status) ?? 0) + 1);

      const end = headerEnd(bytes);
      const blockBytes = end < 0 ? bytes.length : end;
      if (header.status === 'too-large') {
        assert.ok(blockBytes > LIMITS.headerBytesParsed, `${label}: too-large at ${blockBytes}`);
        continue;
      }
      assert.equal(header.status, 'parsed', `${label}: ${JSON.stringify(header)}`);

      const names = headerNames(bytes);
      for (const [name, field] of FIELDS) {
        const filled = header[field] !== undefined;
        const marked = header.unparsed?.includes(field) ?? false;
        if (names.has(name)) {
          assert.ok(filled !== marked, `${label}: ${name} ${JSON.stringify(header)}`);
        } else {
          // A bare `Date` line with no colon may be read as a header without a value.
          assert.ok(!filled, `${label}: ${name} is not in the message`);
        }
      }
    }
    assert.ok((statuses.get('parsed') ?? 0) > stored.size * 0.9, JSON.stringify([...statuses]));
  });
});
