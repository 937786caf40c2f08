import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import fc from 'fast-check';

import { KMS_KEY_ARN, ROLE_ARN, ok, seedOrganization, signHeaders } from '../api/helpers.js';
import { OPERATION_NAMES, inputFor, type KnownValues } from './fixtures/api-values.js';
import {
  answersIn,
  breach,
  exchange,
  send,
  startHostileApi,
  trickle,
  type HostileApi,
} from './fixtures/wire.js';

/**
 * The API front under hostile input: every answer is a 2xx or a 4xx carrying an error of the
 * catalogue, or the connection is closed at a limit; never a 5xx, and the server keeps
 * answering. Limits are set small here so that each one is reached quickly.
 */

const BODY_LIMIT = 1024 * 1024;
const HEADERS_TIMEOUT_MS = 1000;
const REQUEST_TIMEOUT_MS = 2000;
const RUNS = 40;

let server: HostileApi;
let known: KnownValues;

before(async () => {
  server = await startHostileApi({
    bodyBytes: BODY_LIMIT,
    headersTimeoutMs: HEADERS_TIMEOUT_MS,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
  });
  const seeded = await seedOrganization(server.url, 'fuzzorg');
  const { JobId } = await ok(server.url, 'StartMailboxExportJob', {
    ClientToken: 'fuzz-token-1',
    OrganizationId: seeded.organizationId,
    EntityId: seeded.userId,
    RoleArn: ROLE_ARN,
    KmsKeyArn: KMS_KEY_ARN,
    S3BucketName: 'exports',
    S3Prefix: 'fuzz',
  });
  known = {
    strings: [
      seeded.organizationId,
      seeded.userId,
      seeded.email,
      JobId as string,
      ROLE_ARN,
      KMS_KEY_ARN,
      'fuzzorg',
      'bob',
      'exports',
      'fuzz',
      'fuzz-token-1',
    ],
  };
});

after(async () => {
  await server.close();
});

/** A request signed as an SDK signs it, then sent. */
async function signedCall(target: string | undefined, body: string | Uint8Array) {
  const headers = await signHeaders(server.url, target, body);
  return send(server.url, { headers, body });
}

function assertKept(outcome: Awaited<ReturnType<typeof send>>, what: string, mayClose = false) {
  const fault = breach(outcome, mayClose);
  assert.equal(fault, undefined, `${what}: ${fault}`);
}

async function assertStillServing(): Promise<void> {
  const health = await fetch(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  const listed = await signedCall('WorkMailService.ListOrganizations', '{}');
  assert.equal(listed.kind === 'answer' && listed.status, 200);
}

describe('API fuzzing', () => {
  for (const operation of OPERATION_NAMES) {
    it(`answers mutated ${operation} inputs with 2xx or a catalogued 4xx`, async () => {
      await fc.assert(
        fc.asyncProperty(inputFor(operation, known), async (body) => {
          const outcome = await signedCall(`WorkMailService.${operation}`, body);
          assertKept(outcome, `${operation} ${body.slice(0, 200)}`);
        }),
        { numRuns: RUNS },
      );
    });
  }

  it('answers bodies that are not JSON, truncated or with bytes flipped, with a 4xx', async () => {
    const valid = Buffer.from(JSON.stringify({ OrganizationId: known.strings[0], MaxResults: 5 }));
    const mutated = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.integer({ min: 0, max: valid.length }).map((end) => valid.subarray(0, end)),
      fc
        .array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        })
        .map((flips) => {
          const bytes = Buffer.from(valid);
          for (const [at, value] of flips) bytes[at] = value;
          return bytes;
        }),
      fc.string({ unit: 'binary', maxLength: 100 }).map((text) => Buffer.from(text)),
    );
    const target = fc.constantFrom(...OPERATION_NAMES.map((name) => `WorkMailService.${name}`));
    await fc.assert(
      fc.asyncProperty(target, mutated, async (name, body) => {
        assertKept(await signedCall(name, body), `${name} ${Buffer.from(body).toString('hex')}`);
      }),
      { numRuns: 200 },
    );
  });

  it('answers 10,000 levels of nesting and very long strings with a 4xx', async () => {
    const depth = 10_000;
    const bodies = [
      '['.repeat(depth) + ']'.repeat(depth),
      '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
      `{"OrganizationId":${'['.repeat(depth)}${']'.repeat(depth)}}`,
      `{"Domains":${'['.repeat(depth)}${']'.repeat(depth)}}`,
      `{"Alias":${'{"Alias":'.repeat(depth)}"x"${'}'.repeat(depth)}}`,
      '['.repeat(BODY_LIMIT / 2 - 1),
      '['.repeat(BODY_LIMIT / 2) + ']'.repeat(BODY_LIMIT / 2),
      JSON.stringify({ Alias: 'x'.repeat(BODY_LIMIT - 20) }),
      JSON.stringify({ OrganizationId: '\ud800'.repeat(150_000) }),
      JSON.stringify({ NextToken: 'A'.repeat(900_000) }),
      JSON.stringify(Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, i]))),
    ];
    for (const operation of OPERATION_NAMES) {
      for (const body of bodies) {
        const outcome = await signedCall(`WorkMailService.${operation}`, body);
        assertKept(outcome, `${operation} with ${body.slice(0, 40)}... (${body.length} chars)`);
      }
    }
    await assertStillServing();
  });

  it('answers requests with a header missing or broken with a catalogued 4xx', async () => {
    const body = JSON.stringify({ OrganizationId: known.strings[0] });
    const signed = await signHeaders(server.url, 'WorkMailService.DescribeOrganization', body);
    const names = Object.keys(signed);
    for (const name of ['x-amz-target', 'content-type', 'authorization', 'x-amz-date', 'host']) {
      assert.ok(names.includes(name), `the signer sent no ${name}`);
    }

    const variants = fc.oneof(
      // One header left out.
      fc.constantFrom(...names).map((left) => {
        const headers = { ...signed };
        delete headers[left];
        return headers;
      }),
      // One header's value replaced by printable junk (node refuses to send controls).
      fc
        .tuple(fc.constantFrom(...names), fc.string({ unit: 'grapheme-ascii', maxLength: 300 }))
        .map(([name, value]) => ({ ...signed, [name]: value })),
      // One digit of the signature changed.
      fc.nat(63).map((at) => {
        const authorization = signed.authorization as string;
        const start = authorization.indexOf('Signature=') + 'Signature='.length + at;
        const digit = authorization[start] === '0' ? '1' : '0';
        const changed = authorization.slice(0, start) + digit + authorization.slice(start + 1);
        return { ...signed, authorization: changed };
      }),
      // Dates far off, malformed, or impossible.
      fc
        .constantFrom('20000101T000000Z', '99991231T235959Z', '20240231T000000Z', 'yesterday', '')
        .map((date) => ({ ...signed, 'x-amz-date': date })),
    );
    await fc.assert(
      fc.asyncProperty(variants, async (headers) => {
        const outcome = await send(server.url, { headers, body });
        assertKept(outcome, JSON.stringify(headers));
        assert.ok(outcome.kind === 'answer' && outcome.status !== 200, JSON.stringify(headers));
      }),
      { numRuns: 150 },
    );
  });

  it('refuses 10 MB bodies, declared or chunked, and its memory stays bounded', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x5b);
    const tenMegabytes = 10 * 1024 * 1024;
    const stream = () =>
      Readable.from(
        (function* () {
          for (let sent = 0; sent < tenMegabytes; sent += chunk.length) yield chunk;
        })(),
      );
    const headers = await signHeaders(server.url, 'WorkMailService.ListOrganizations', '{}');
    const rssBefore = process.memoryUsage().rss;

    for (let round = 0; round < 3; round++) {
      const outcomes = await Promise.all([
        send(server.url, {
          headers: { ...headers, 'content-length': String(tenMegabytes) },
          body: stream(),
        }),
        send(server.url, {
          headers: { ...headers, 'transfer-encoding': 'chunked' },
          body: stream(),
        }),
        send(server.url, {
          headers: { ...headers, 'content-length': '1' },
          body: Buffer.alloc(tenMegabytes, 0x20),
        }),
      ]);
      for (const outcome of outcomes) {
        assertKept(outcome, '10 MB body', true);
        if (outcome.kind === 'answer') assert.notEqual(outcome.status, 200);
      }
    }

    const grown = process.memoryUsage().rss - rssBefore;
    assert.ok(grown < 96 * 1024 * 1024, `rss grew by ${Math.round(grown / 2 ** 20)} MiB`);
    await assertStillServing();
  });

  it('closes a connection whose body comes one byte a second at the request timeout', async () => {
    const body = Buffer.from('{"MaxResults":5}'.padEnd(100, ' '));
    const { url } = server;
    const host = new URL(url).host;
    const head =
      `POST / HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-amz-json-1.1\r\n` +
      `X-Amz-Target: WorkMailService.ListOrganizations\r\nContent-Length: ${body.length}\r\n\r\n`;
    const started = Date.now();
    const { received, bytesSent } = await trickle(url, head, body, 1000);
    const elapsed = Date.now() - started;

    assert.ok(bytesSent < body.length, 'the server waited for the whole trickled body');
    assert.ok(elapsed >= REQUEST_TIMEOUT_MS - 100, `closed after ${elapsed} ms`);
    assert.ok(received === '' || received.startsWith('HTTP/1.1 408'), received.slice(0, 200));

    const headers = await trickle(url, '', Buffer.from(head), 200);
    assert.ok(headers.bytesSent < head.length, 'the server waited for trickled headers');
    await assertStillServing();
  });

  it('answers headers holding NUL, controls, 8-bit bytes or RTL marks with a catalogued 4xx', async () => {
    const host = new URL(server.url).host;
    const odd = fc.oneof(
      fc.constantFrom('\u0000', '\r', '\u0001', '\u007f', '\u00ff\u00fe', '\u202e', '\ud800', 'é'),
      fc.string({ unit: 'binary', maxLength: 40 }),
    );
    const name = fc.constantFrom(
      'X-Amz-Target',
      'Content-Type',
      'Authorization',
      'X-Amz-Date',
      'Host',
    );
    await fc.assert(
      fc.asyncProperty(name, odd, fc.boolean(), async (header, value, utf8) => {
        const lines = [
          'POST / HTTP/1.1',
          `Host: ${host}`,
          'Content-Type: application/x-amz-json-1.1',
          'X-Amz-Target: WorkMailService.ListOrganizations',
          'Content-Length: 2',
          'Connection: close',
        ].filter((line) => !line.startsWith(`${header}:`));
        const head = `${[...lines, `${header}: ${value}`].join('\r\n')}\r\n\r\n{}`;
        const text = await exchange(server.url, Buffer.from(head, utf8 ? 'utf8' : 'latin1'));
        const answers = answersIn(text);
        assert.ok(answers.length > 0, `no answer to ${JSON.stringify(head)}: ${text}`);
        for (const answer of answers) assertKept(answer, JSON.stringify(head));
      }),
      { numRuns: 150 },
    );
    await assertStillServing();
  });
});

describe('API regressions', () => {
  it('answers a request without a Host header with a SigV4 error, not a bare 400', async () => {
    const body = '{}';
    const headers = await signHeaders(server.url, 'WorkMailService.ListOrganizations', body);
    delete headers.host;
    const outcome = await send(server.url, { headers, body });
    assertKept(outcome, 'no Host');
    assert.ok(outcome.kind === 'answer' && outcome.status === 403, JSON.stringify(outcome));
  });

  it('answers bytes left after a short Content-Length with a JSON error, not a bare 400', async () => {
    const host = new URL(server.url).host;
    const text = await exchange(
      server.url,
      `POST / HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 2\r\n\r\n{}garbage garbage\r\n\r\n`,
    );
    const answers = answersIn(text);
    // The garbage may be read before the first request is answered: then only it is answered.
    assert.ok(answers.length >= 1, text);
    for (const answer of answers) assertKept(answer, text);
    const last = answers[answers.length - 1] as { body: string };
    assert.match(last.body, /"__type":"SerializationException"/);
  });
});
