// The thread behind digest-thread.ts: a running hash for each body it is told of, fed the
// body's chunks in order, each handed back once hashed; answered at its end.
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

import type { DigestAnswer, DigestRequest } from './digest-thread.js';

const port = parentPort;
if (port === null) throw new Error('digest-worker.js runs only as a worker thread');

const bodies = new Map<number, { hash: Hash; bytes: number }>();

port.on('message', (request: DigestRequest) => {
  const { id } = request;
  if (request.op === 'drop') {
    bodies.delete(id);
    return;
  }

  let body = bodies.get(id);
  if (body === undefined) {
    body = { hash: createHash(request.algorithm), bytes: 0 };
    bodies.set(id, body);
  }

  if (request.op === 'chunk') {
    const chunk = new Uint8Array(request.memory, request.offset, request.length);
    body.hash.update(chunk);
    body.bytes += chunk.length;
    port.postMessage(request, [request.memory]);
    return;
  }

  bodies.delete(id);
  const answer: DigestAnswer = {
    op: 'digest',
    id,
    hex: body.hash.digest('hex'),
    bytes: body.bytes,
  };
  port.postMessage(answer);
});
