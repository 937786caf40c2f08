import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import PostalMime from 'postal-mime';

import { LIMITS } from '../../src/core/limits.js';
import { HeaderCapture, parseHeaderFields } from '../../src/export/message-header.js';
import { MUTATIONS, seeded } from '../hostile/fixtures/mutations.js';
import { corpusRoot } from '../helpers/paths.js';

/**
 * The manifest reads four header fields without a whole parse of the header block. These
 * tests hold its answers to what postal-mime's full parse of the same block gives, on the
 * corpus and on damaged copies of it.
 */

interface Fields {
  subject?: string;
  from?: { name: string; address: string };
  date?: string;
  messageId?: string;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** The manifest keeps this much of a field, and no half of a surrogate pair. */
function cut(value: string | undefined): string | null {
  if (value === undefined) return null;
  return value.slice(0, LIMITS.manifestFieldChars).replace(/[\ud800-\udbff]$/, '');
}

/** The four fields as postal-mime's whole parse gives them, `null` where it gives none. */
async function byPostalMime(block: Buffer): Promise<Record<string, unknown>> {
  const email = await PostalMime.parse(Buffer.concat([block, Buffer.from('\r\n\r\n')]));
  const present = new Set(email.headers.map((header) => header.key));
  const date = email.date !== undefined && ISO_DATE.test(email.date) ? email.date : null;
  const from = email.from?.address ? email.from : undefined;
  return {
    subject: present.has('subject') ? cut(email.subject) : null,
    from: from ? { name: cut(from.name), address: cut(from.address) } : null,
    date: present.has('date') ? date : null,
    messageId: cut(email.messageId || undefined),
  };
}

function ours(block: Buffer): Record<string, unknown> {
  const fields: Fields = parseHeaderFields(block);
  return {
    subject: fields.subject ?? null,
    from: fields.from ?? null,
    date: fields.date ?? null,
    messageId: fields.messageId ?? null,
  };
}

function captured(message: Buffer): Buffer {
  const capture = new HeaderCapture();
  capture.observe(message);
  const block = capture.block();
  assert.ok(block !== undefined);
  return block;
}

async function corpusMessages(): Promise<Array<[string, Buffer]>> {
  const dir = join(corpusRoot, 'mime');
  const names = (await readdir(dir)).filter((name) => name.endsWith('.eml')).sort();
  assert.ok(names.length > 50, `only ${names.length} corpus messages`);
  return Promise.all(names.map(async (name) => [name, await readFile(join(dir, name))]));
}

describe('header fields for the manifest', () => {
  it('match what a whole parse by postal-mime gives, on the MIME corpus', async () => {
    for (const [name, message] of await corpusMessages()) {
      const block = captured(message);
      assert.deepEqual(ours(block), await byPostalMime(block), name);
    }
  });

  it('match postal-mime on damaged copies of the corpus', async () => {
    const random = seeded(7);
    let compared = 0;
    for (const [name, message] of await corpusMessages()) {
      for (const [mutation, mutate] of Object.entries(MUTATIONS)) {
        const block = captured(mutate(message, random));
        if (block.length === 0) continue;
        assert.deepEqual(ours(block), await byPostalMime(block), `${name}, ${mutation}`);
        compared++;
      }
    }
    assert.ok(compared > 300, `only ${compared} damaged messages compared`);
  });

  it('reads folded, encoded and repeated fields, and marks what it cannot read', () => {
    const block = Buffer.from(
      [
        'Subject: =?UTF-8?B?Q2Fmw6k=?=',
        '  au lait',
        'From: "Ann Example" <ann@example.org>',
        'From: other@example.org',
        'Date: not a date',
        'Message-ID:',
        '',
        '',
      ].join('\r\n'),
    );
    assert.deepEqual(parseHeaderFields(block), {
      status: 'parsed',
      subject: 'Café  au lait',
      from: { name: 'Ann Example', address: 'ann@example.org' },
      unparsed: ['date', 'messageId'],
    });
  });

  it('stops at the first empty line, with CRLF or bare LF', () => {
    const block = Buffer.from('Subject: first\n\nSubject: body text\n');
    assert.equal(parseHeaderFields(block).subject, 'first');
    assert.deepEqual(parseHeaderFields(undefined), { status: 'too-large' });
  });
});
