import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

import { createApiServer, type ApiServer, type ApiServerDeps } from '../../src/api/index.js';
import type { Organization, User } from '../../src/core/model.js';
import { FixtureEngine } from './fixtures/engine.js';
import { MemoryJobStore } from './fixtures/memory-store.js';

/** Credentials of the test configuration. Made up; they open nothing but the test server. */
export const TEST_KEY = Object.freeze({
  accessKeyId: 'AKIDAPITEST000000001',
  secretAccessKey: 'api-test-secret-0123456789abcdefghij',
  accountId: '123456789012',
});
export const REGION = 'us-east-1';

export interface TestApi {
  readonly api: ApiServer;
  readonly url: string;
  readonly store: MemoryJobStore;
  readonly engine: FixtureEngine;
  /** Mailboxes the server asked the hooks to create, as `organizationId/userId`. */
  readonly mailboxes: string[];
  close(): Promise<void>;
}

/** A server on a free port of 127.0.0.1 with the in-memory store and the fixture engine. */
export async function startTestApi(overrides: Partial<ApiServerDeps> = {}): Promise<TestApi> {
  const store = new MemoryJobStore();
  const engine = new FixtureEngine(store);
  const mailboxes: string[] = [];
  const api = createApiServer({
    store,
    engine,
    mailboxes: {
      async create(organization: Organization, user: User) {
        mailboxes.push(`${organization.organizationId}/${user.userId}`);
      },
      async sizeMb() {
        return 12.5;
      },
    },
    credentials: [TEST_KEY],
    region: REGION,
    ...overrides,
  });
  const url = await api.listen(0, '127.0.0.1');
  return { api, url, store, engine, mailboxes, close: () => api.close() };
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  /** The body as JSON, or undefined when it is not JSON. */
  readonly json: Record<string, unknown> | undefined;
}

export interface RawRequest {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Uint8Array;
}

/** One HTTP request exactly as given: no header added but Host and Content-Length. */
export function rawRequest(url: string, options: RawRequest = {}): Promise<Answer> {
  const target = new URL(options.path ?? '/', url);
  const body = options.body ?? '';
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      target,
      {
        method: options.method ?? 'POST',
        headers: {
          ...(options.headers?.['transfer-encoding'] === undefined
            ? { 'content-length': String(Buffer.byteLength(body)) }
            : {}),
          ...options.headers,
        },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> | undefined;
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export interface SignOptions {
  readonly key?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly region?: string;
  readonly service?: string;
  readonly date?: Date;
  /** Headers sent and signed besides Host, Content-Type, X-Amz-Target and X-Amz-Date. */
  readonly headers?: Record<string, string>;
  readonly contentType?: string;
  /** Sign `x-amz-content-sha256` too, as the JS SDK does. Default true. */
  readonly contentHash?: boolean;
}

/** The headers of a request signed by the smithy signer, as an SDK would send them. */
export async function signHeaders(
  url: string,
  target: string | undefined,
  body: string | Uint8Array,
  options: SignOptions = {},
): Promise<Record<string, string>> {
  const host = new URL(url).host;
  const headers: Record<string, string> = {
    host,
    'content-type': options.contentType ?? 'application/x-amz-json-1.1',
    ...(target === undefined ? {} : { 'x-amz-target': target }),
    ...options.headers,
  };
  const signer = new SignatureV4({
    credentials: options.key ?? TEST_KEY,
    region: options.region ?? REGION,
    service: options.service ?? 'workmail',
    sha256: Sha256,
    applyChecksum: options.contentHash ?? true,
  });
  const signed = await signer.sign(
    { method: 'POST', protocol: 'http:', hostname: host, path: '/', query: {}, headers, body },
    { signingDate: options.date ?? new Date() },
  );
  return signed.headers as Record<string, string>;
}

/** Calls an operation with a signed request; `input` is sent as JSON unless it is a string. */
export async function call(
  url: string,
  operation: string,
  input: unknown,
  options: SignOptions = {},
): Promise<Answer> {
  const body = typeof input === 'string' ? input : JSON.stringify(input);
  const headers = await signHeaders(url, `WorkMailService.${operation}`, body, options);
  return rawRequest(url, { headers, body });
}

/** Calls an operation that must succeed, and gives its output. */
export async function ok(
  url: string,
  operation: string,
  input: unknown,
): Promise<Record<string, unknown>> {
  const answer = await call(url, operation, input);
  if (answer.status !== 200 || answer.json === undefined) {
    throw new Error(`${operation} answered ${answer.status}: ${answer.text}`);
  }
  return answer.json;
}

export const ROLE_ARN = 'arn:aws:iam::123456789012:role/workmail-export';
export const KMS_KEY_ARN =
  'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** An Active organization with one registered user, made through the API itself. */
export async function seedOrganization(
  url: string,
  alias: string,
): Promise<{ organizationId: string; userId: string; email: string }> {
  const { OrganizationId } = await ok(url, 'CreateOrganization', { Alias: alias });
  const organizationId = OrganizationId as string;
  const { UserId } = await ok(url, 'CreateUser', {
    OrganizationId: organizationId,
    Name: 'bob',
    DisplayName: 'Bob',
  });
  const userId = UserId as string;
  const email = `bob@${alias}.awsapps.com`;
  await ok(url, 'RegisterToWorkMail', {
    OrganizationId: organizationId,
    EntityId: userId,
    Email: email,
  });
  return { organizationId, userId, email };
}
