import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { SourceItem } from '../../src/core/source.js';
import { planReads, uidOf, uidSet } from '../../src/sources/imap-read.js';
import { KeyedSemaphores, Semaphore } from '../../src/sources/semaphore.js';

const item = (id: string, size?: number): SourceItem => ({
  id,
  kind: 'message',
  ...(size !== undefined ? { size } : {}),
});
const limits = { batchBytes: 100, batchMessages: 3, streamThreshold: 50, chunkBytes: 10 };

test('small items are batched by bytes and count; large and unsized ones stream alone', () => {
  const items = [
    item('1', 40),
    item('2', 40),
    item('3', 40), // would pass 100 bytes: a new batch
    item('4', 60), // over the threshold
    item('5'), // size unknown
    item('6', 1),
    item('7', 1),
    item('8', 1),
    item('9', 1), // fourth in a batch of at most three
  ];
  const steps = planReads(items, limits).map((s) =>
    s.kind === 'batch' ? s.items.map((i) => i.id).join(',') : `stream ${s.item.id}`,
  );
  assert.deepEqual(steps, ['1,2', '3', 'stream 4', 'stream 5', '6,7,8', '9']);
});

test('UID sets are compact and ordered', () => {
  assert.equal(uidSet([9, 3, 4, 5, 7, 12, 13]), '3:5,7,9,12:13');
  assert.equal(uidSet([42]), '42');
});

test('only canonical 32-bit numbers are UIDs', () => {
  assert.equal(uidOf(item('17')), 17);
  assert.equal(uidOf(item('4294967295')), 4294967295);
  for (const bad of ['0', '017', '4294967296', '1e3', ' 5', '5:7', '', 'abc']) {
    assert.equal(uidOf(item(bad)), undefined, bad);
  }
});

test('a semaphore hands permits out in order and gives up a waiter on abort', async () => {
  const semaphore = new Semaphore(1);
  await semaphore.acquire();
  const order: string[] = [];
  const controller = new AbortController();
  const first = semaphore.acquire().then(() => order.push('first'));
  const aborted = semaphore.acquire(controller.signal).catch(() => order.push('aborted'));
  const third = semaphore.acquire().then(() => order.push('third'));
  assert.equal(semaphore.waiting, 3);
  controller.abort();
  await aborted;
  semaphore.release();
  await first;
  semaphore.release();
  await third;
  assert.deepEqual(order, ['aborted', 'first', 'third']);
});

test('sources of one server share one semaphore while any holds it', () => {
  const servers = new KeyedSemaphores();
  const a = servers.hold('mail:993', 2);
  const b = servers.hold('mail:993', 5);
  const other = servers.hold('mail:143', 1);
  assert.equal(a.semaphore, b.semaphore);
  assert.equal(b.semaphore.capacity, 2);
  assert.notEqual(a.semaphore, other.semaphore);
  a.drop();
  b.drop();
  assert.notEqual(servers.hold('mail:993', 3).semaphore, a.semaphore);
});
