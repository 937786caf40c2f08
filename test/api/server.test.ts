import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import { pino } from 'pino';

import { REDACTED_PATHS } from '../../src/core/log.js';
import { MemoryJobStore } from './fixtures/memory-store.js';
import {
  call,
  rawRequest,
  signHeaders,
  startTestApi,
  TEST_KEY,
  type Answer,
  type TestApi,
} from './helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LIST = 'WorkMailService.ListOrganizations';

/** A store whose organization listing fails as a broken database would. */
class BrokenStore extends MemoryJobStore {
  override async listOrganizations(): Promise<never> {
    throw new Error('disk I/O error');
  }
}

const logLines: string[] = [];
let server: TestApi;
let broken: TestApi;

before(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const logger = pino(
    { level: 'debug', redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
    sink,
  );
  server = await startTestApi({ logger, limits: { bodyBytes: 2048 } });
  broken = await startTestApi({ logger, store: new BrokenStore() });
});
after(async () => {
  await server.close();
  await broken.close();
});

function assertError(answer: Answer, status: number, type: string) {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.json?.__type, type);
  assert.equal(typeof answer.json?.Message, 'string');
  assert.equal(answer.headers['x-amzn-errortype'], type);
  assert.match(String(answer.headers['x-amzn-requestid']), UUID);
  assert.equal(answer.headers['content-type'], 'application/x-amz-json-1.1');
}

describe('protocol', () => {
  it('answers an unknown or missing X-Amz-Target with UnknownOperationException', async () => {
    assertError(await call(server.url, 'DeleteEverything', {}), 400, 'UnknownOperationException');
    assertError(await call(server.url, 'toString', {}), 400, 'UnknownOperationException');
    const headers = await signHeaders(server.url, undefined, '{}');
    assertError(
      await rawRequest(server.url, { headers, body: '{}' }),
      400,
      'UnknownOperationException',
    );
    const other = await signHeaders(server.url, 'OtherService.ListOrganizations', '{}');
    assertError(
      await rawRequest(server.url, { headers: other, body: '{}' }),
      400,
      'UnknownOperationException',
    );
  });

  it('takes application/x-amz-json-1.1 and application/json, and answers 415 otherwise', async () => {
    for (const contentType of ['application/json', 'application/x-amz-json-1.1; charset=utf-8']) {
      assert.equal((await call(server.url, 'ListOrganizations', {}, { contentType })).status, 200);
    }
    for (const contentType of ['text/plain', 'application/x-amz-json-1.0', 'multipart/form-data']) {
      assertError(
        await call(server.url, 'ListOrganizations', {}, { contentType }),
        415,
        'UnsupportedMediaTypeException',
      );
    }
  });

  it('answers 413 for a body past the limit, declared or streamed', async () => {
    const body = JSON.stringify({ NextToken: 'x'.repeat(4000) });
    assertError(
      await call(server.url, 'ListOrganizations', body),
      413,
      'RequestEntityTooLargeException',
    );

    const headers = await signHeaders(server.url, LIST, body);
    const chunked = { ...headers, 'transfer-encoding': 'chunked' };
    const answer = await rawRequest(server.url, { headers: chunked, body });
    assertError(answer, 413, 'RequestEntityTooLargeException');
  });

  it('answers SerializationException for bodies that are not a JSON object', async () => {
    for (const body of ['{"MaxResults": 5', '[]', '"text"', '42', 'null', 'true', '{"a":1}x']) {
      assertError(await call(server.url, 'ListOrganizations', body), 400, 'SerializationException');
    }
    const invalidUtf8 = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]);
    const headers = await signHeaders(server.url, LIST, invalidUtf8);
    assertError(
      await rawRequest(server.url, { headers, body: invalidUtf8 }),
      400,
      'SerializationException',
    );
  });

  it('takes an empty body as {} and ignores members the model does not know', async () => {
    assert.equal((await call(server.url, 'ListOrganizations', '')).status, 200);
    const answer = await call(server.url, 'ListOrganizations', {
      Unknown: { deep: [1, 2] },
      __proto__: 1,
    });
    assert.equal(answer.status, 200, answer.text);
  });

  it('serves only POST / for operations', async () => {
    assertError(
      await rawRequest(server.url, { method: 'GET', path: '/' }),
      400,
      'UnknownOperationException',
    );
    assertError(
      await rawRequest(server.url, { method: 'POST', path: '/other' }),
      400,
      'UnknownOperationException',
    );
    assertError(
      await rawRequest(server.url, { method: 'PUT', path: '/' }),
      400,
      'UnknownOperationException',
    );
  });

  it('answers /healthz and /metrics, unsigned', async () => {
    const health = await rawRequest(server.url, { method: 'GET', path: '/healthz' });
    assert.equal(health.status, 200);
    assert.deepEqual(health.json, { status: 'ok' });
    assert.match(String(health.headers['x-amzn-requestid']), UUID);

    await call(server.url, 'ListOrganizations', {});
    const metrics = await rawRequest(server.url, { method: 'GET', path: '/metrics' });
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /^mailbox_export_jobs\{state="RUNNING"\} 0$/m);
    assert.match(metrics.text, /^mailbox_export_exported_bytes_total 0$/m);
    assert.match(
      metrics.text,
      /^mailbox_export_api_request_duration_seconds_count\{operation="ListOrganizations",status="200"\} [1-9]/m,
    );
  });

  it('answers a fault of its own with 500 InternalFailure, logged under the request id', async () => {
    const answer = await call(broken.url, 'ListOrganizations', {});
    assertError(answer, 500, 'InternalFailure');
    const requestId = String(answer.headers['x-amzn-requestid']);
    assert.ok(String(answer.json?.Message).includes(requestId));
    assert.ok(!answer.text.includes('disk I/O'), 'the cause stays in the log');

    const logged = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const failure = logged.find((entry) => entry.requestId === requestId && entry.level === 50);
    assert.ok(failure, 'an error line with the request id');
    assert.match(JSON.stringify(failure.err), /disk I\/O error/);
  });

  it('logs one line per request with its id, and never a secret or a signature', async () => {
    const headers = await signHeaders(server.url, LIST, '{}');
    const answer = await rawRequest(server.url, { headers, body: '{}' });
    const requestId = String(answer.headers['x-amzn-requestid']);
    const line = logLines.find((l) => l.includes(requestId) && l.includes('request answered'));
    assert.ok(line);
    assert.equal(JSON.parse(line).accessKeyId, TEST_KEY.accessKeyId);

    const signature = /Signature=([0-9a-f]{64})/.exec(headers.authorization!)![1]!;
    const all = logLines.join('\n');
    assert.ok(!all.includes(TEST_KEY.secretAccessKey));
    assert.ok(!all.includes(signature));
    assert.ok(!/authorization/i.test(all));
  });

  it('sets the configured timeouts on the node server', () => {
    assert.equal(server.api.server.headersTimeout, 10_000);
    assert.equal(server.api.server.requestTimeout, 30_000);
  });
});
