// The thread behind batch-deflate.ts: deflates each buffer of a batch on its own, at the level
// it is told, and answers with the results joined into one buffer.
import { parentPort } from 'node:worker_threads';
import { deflateRawSync } from 'node:zlib';

import { joinUnpooled, type BatchAnswer, type BatchRequest } from './batch-deflate.js';

const port = parentPort;
if (port === null) throw new Error('deflate-worker.js runs only as a worker thread');

port.on('message', (request: BatchRequest) => {
  const input = Buffer.from(request.data.buffer, request.data.byteOffset, request.data.byteLength);
  const outputs: Buffer[] = [];
  let start = 0;
  let total = 0;
  for (const length of request.lengths) {
    const output = deflateRawSync(input.subarray(start, start + length), { level: request.level });
    outputs.push(output);
    start += length;
    total += output.length;
  }

  const data = joinUnpooled(outputs, total);
  const answer: BatchAnswer = { id: request.id, data, lengths: outputs.map((out) => out.length) };
  port.postMessage(answer, [data.buffer as ArrayBuffer]);
});
