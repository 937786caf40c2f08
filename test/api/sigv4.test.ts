import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  call,
  rawRequest,
  REGION,
  signHeaders,
  startTestApi,
  TEST_KEY,
  type TestApi,
} from './helpers.js';

const LIST = 'WorkMailService.ListOrganizations';

let server: TestApi;
before(async () => {
  server = await startTestApi({
    credentials: [
      TEST_KEY,
      {
        accessKeyId: 'ASIATEMPORARY0000001',
        secretAccessKey: 'temporary-secret-0123456789',
        sessionToken: 'session-token-value',
      },
    ],
  });
});
after(async () => {
  await server.close();
});

function assertError(
  answer: { status: number; json?: Record<string, unknown> },
  status: number,
  type: string,
) {
  assert.equal(answer.status, status, JSON.stringify(answer.json));
  assert.equal(answer.json?.__type, type);
  assert.equal(typeof answer.json?.Message, 'string');
}

describe('SigV4', () => {
  it('accepts a request signed by the smithy signer, with and without a signed body hash', async () => {
    for (const contentHash of [true, false]) {
      const answer = await call(server.url, 'ListOrganizations', {}, { contentHash });
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(answer.json, { OrganizationSummaries: [] });
    }
  });

  it('refuses an unknown access key', async () => {
    const answer = await call(
      server.url,
      'ListOrganizations',
      {},
      {
        key: { accessKeyId: 'AKIDUNKNOWN000000000', secretAccessKey: TEST_KEY.secretAccessKey },
      },
    );
    assertError(answer, 403, 'UnrecognizedClientException');
  });

  it('refuses a signature made with another secret', async () => {
    const answer = await call(
      server.url,
      'ListOrganizations',
      {},
      {
        key: { accessKeyId: TEST_KEY.accessKeyId, secretAccessKey: 'not-the-secret' },
      },
    );
    assertError(answer, 403, 'InvalidSignatureException');
  });

  it('refuses a clock 16 minutes off either way, and accepts 14', async () => {
    for (const minutes of [-16, 16]) {
      const date = new Date(Date.now() + minutes * 60_000);
      assertError(
        await call(server.url, 'ListOrganizations', {}, { date }),
        403,
        'InvalidSignatureException',
      );
    }
    const date = new Date(Date.now() - 14 * 60_000);
    assert.equal((await call(server.url, 'ListOrganizations', {}, { date })).status, 200);
  });

  it('refuses a scope of another service or region', async () => {
    assertError(
      await call(server.url, 'ListOrganizations', {}, { service: 's3' }),
      403,
      'InvalidSignatureException',
    );
    assertError(
      await call(server.url, 'ListOrganizations', {}, { region: 'eu-west-1' }),
      403,
      'InvalidSignatureException',
    );
  });

  it('refuses a body changed after signing, whether or not its hash was signed', async () => {
    for (const contentHash of [true, false]) {
      const headers = await signHeaders(server.url, LIST, '{}', { contentHash });
      const answer = await rawRequest(server.url, { headers, body: '{"MaxResults":5}' });
      assertError(answer, 403, 'InvalidSignatureException');
    }
  });

  it('refuses an x-amz-content-sha256 that is not the hash of the body', async () => {
    const headers = await signHeaders(server.url, LIST, '{}', { contentHash: false });
    headers['x-amz-content-sha256'] =
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    assertError(
      await rawRequest(server.url, { headers, body: '{}' }),
      403,
      'InvalidSignatureException',
    );
  });

  it('refuses a signed header changed after signing', async () => {
    const headers = await signHeaders(server.url, LIST, '{}');
    headers['x-amz-target'] = 'WorkMailService.ListUsers';
    assertError(
      await rawRequest(server.url, { headers, body: '{}' }),
      403,
      'InvalidSignatureException',
    );
  });

  it('answers MissingAuthenticationToken without an Authorization header', async () => {
    const headers = await signHeaders(server.url, LIST, '{}');
    delete headers.authorization;
    assertError(
      await rawRequest(server.url, { headers, body: '{}' }),
      403,
      'MissingAuthenticationTokenException',
    );
  });

  it('answers IncompleteSignature for malformed Authorization headers', async () => {
    const good = await signHeaders(server.url, LIST, '{}');
    const signature = /Signature=([0-9a-f]+)/.exec(good.authorization!)![1];
    const scope = `${TEST_KEY.accessKeyId}/${good['x-amz-date']!.slice(0, 8)}/${REGION}/workmail/aws4_request`;
    const malformed = [
      'Basic dXNlcjpwYXNz',
      'AWS4-HMAC-SHA256',
      `AWS4-HMAC-SHA256 Credential=${scope}, Signature=${signature}`,
      `AWS4-HMAC-SHA256 Credential=${TEST_KEY.accessKeyId}/x, SignedHeaders=host;x-amz-date, Signature=${signature}`,
      `AWS4-HMAC-SHA256 Credential=${scope}, SignedHeaders=Host;X-Amz-Date, Signature=${signature}`,
      `AWS4-HMAC-SHA256 Credential=${scope}, SignedHeaders=content-type;x-amz-date, Signature=${signature}`,
      `AWS4-HMAC-SHA256 Credential=${scope}, SignedHeaders=host;x-amz-date, Signature=zz`,
      `AWS4-HMAC-SHA256 Credential=${scope}, Credential=${scope}, SignedHeaders=host;x-amz-date, Signature=${signature}`,
    ];
    for (const authorization of malformed) {
      const answer = await rawRequest(server.url, {
        headers: { ...good, authorization },
        body: '{}',
      });
      assertError(answer, 403, 'IncompleteSignatureException');
    }

    const noDate = { ...good };
    delete noDate['x-amz-date'];
    assertError(
      await rawRequest(server.url, { headers: noDate, body: '{}' }),
      403,
      'IncompleteSignatureException',
    );
  });

  it('takes a session token only for the key configured with it', async () => {
    const temporary = {
      accessKeyId: 'ASIATEMPORARY0000001',
      secretAccessKey: 'temporary-secret-0123456789',
    };
    const withToken = { 'x-amz-security-token': 'session-token-value' };
    assert.equal(
      (await call(server.url, 'ListOrganizations', {}, { key: temporary, headers: withToken }))
        .status,
      200,
    );
    assertError(
      await call(server.url, 'ListOrganizations', {}, { key: temporary }),
      403,
      'UnrecognizedClientException',
    );
    assertError(
      await call(
        server.url,
        'ListOrganizations',
        {},
        { key: temporary, headers: { 'x-amz-security-token': 'other' } },
      ),
      403,
      'UnrecognizedClientException',
    );
    assertError(
      await call(server.url, 'ListOrganizations', {}, { headers: withToken }),
      403,
      'UnrecognizedClientException',
    );
  });
});
