import { createHash, createHmac, timingSafeEqual, type Hash, type Hmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

import { SignatureV4 } from '@smithy/signature-v4';

import { ApiError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';

/**
 * SigV4 verification of API requests ("Signature Version 4 signing process" in the AWS
 * General Reference). The request is signed again with the secret of the access key it names,
 * over exactly the headers it lists as signed, and the two signatures are compared in
 * constant time.
 *
 * What is accepted:
 * - the `Authorization` header form only (`AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
 *   Signature=...`); presigned query strings and SigV4a are refused;
 * - a credential scope of `<date>/<the configured region>/workmail/aws4_request`, whose date is
 *   the day of `X-Amz-Date`, itself within 15 minutes of our clock;
 * - signed headers that include `host` and `x-amz-date` (the AWS CLI v1 and v2 sign
 *   `content-type;host;x-amz-date;x-amz-target`, the JS SDK more);
 * - the payload hash is always the SHA-256 of the body received; an `x-amz-content-sha256`
 *   header, signed or not, must equal it;
 * - `x-amz-security-token` only for an access key configured with that session token, and
 *   then required; a key configured without one refuses requests that carry one.
 */

export interface AccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Account that owns what the key creates; the server's account when absent. */
  readonly accountId?: string;
  /** Set for temporary credentials: requests must then carry this `x-amz-security-token`. */
  readonly sessionToken?: string;
}

export interface SignedRequest {
  readonly method: string;
  readonly path: string;
  /** Query parameters as sent, already decoded. */
  readonly query: Readonly<Record<string, string | string[]>>;
  readonly headers: IncomingHttpHeaders;
  readonly body: Uint8Array;
}

export interface VerifiedCaller {
  readonly accessKeyId: string;
  readonly accountId?: string;
  /** The region of the credential scope (the configured region). */
  readonly region: string;
}

export interface SigV4Options {
  readonly keys: readonly AccessKey[];
  readonly region: string;
  readonly service: string;
  readonly now?: () => Date;
}

export type SigV4Verifier = (request: SignedRequest) => Promise<VerifiedCaller>;

const ALGORITHM = 'AWS4-HMAC-SHA256';
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

type SourceData = string | ArrayBuffer | ArrayBufferView;

function toBytes(data: SourceData): string | Buffer {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** SHA-256 and HMAC-SHA-256 from node:crypto, in the shape the smithy signer asks for. */
class NodeSha256 {
  private hash: Hash | Hmac;
  private readonly secret?: string | Buffer;

  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : toBytes(secret);
    this.hash = this.fresh();
  }

  update(data: SourceData): void {
    this.hash.update(toBytes(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }

  reset(): void {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
}

interface ParsedAuthorization {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly terminator: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

function incomplete(message: string): ApiError {
  return new ApiError('IncompleteSignatureException', message);
}

function invalid(message: string): ApiError {
  return new ApiError('InvalidSignatureException', message);
}

function parseAuthorization(header: string): ParsedAuthorization {
  const space = header.indexOf(' ');
  const algorithm = space < 0 ? header : header.slice(0, space);
  if (algorithm !== ALGORITHM) {
    throw incomplete(`Only ${ALGORITHM} signatures in the Authorization header are accepted.`);
  }

  const parts = new Map<string, string>();
  for (const part of header.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim();
    if (eq < 0 || parts.has(name)) {
      throw incomplete('The Authorization header is malformed.');
    }
    parts.set(name, part.slice(eq + 1).trim());
  }

  const credential = parts.get('Credential');
  const signedHeaders = parts.get('SignedHeaders');
  const signature = parts.get('Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw incomplete('The Authorization header must hold Credential, SignedHeaders and Signature.');
  }

  const scope = credential.split('/');
  if (scope.length !== 5 || scope.some((item) => item === '')) {
    throw incomplete('Credential must be <access key>/<date>/<region>/<service>/aws4_request.');
  }
  const [accessKeyId, date, region, service, terminator] = scope as [
    string,
    string,
    string,
    string,
    string,
  ];

  const headers = signedHeaders.split(';');
  if (headers.some((name) => !HEADER_NAME.test(name))) {
    throw incomplete('SignedHeaders must be lower-case header names separated by semicolons.');
  }
  if (!/^[0-9a-f]{64}$/.test(signature)) {
    throw incomplete('Signature must be 64 lower-case hex digits.');
  }
  return { accessKeyId, date, region, service, terminator, signedHeaders: headers, signature };
}

function parseAmzDate(value: string | undefined): Date {
  const match = value === undefined ? null : AMZ_DATE.exec(value);
  if (!match) {
    throw incomplete('X-Amz-Date must be present, in the form YYYYMMDDTHHMMSSZ.');
  }
  const [y, mo, d, h, mi, s] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Date.UTC rolls 20240231 over into March; a date that does not read back is not a date.
  if (date.toISOString().replace(/[-:]|\.\d{3}/g, '') !== value) {
    throw incomplete('X-Amz-Date is not a valid date.');
  }
  return date;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function equalSecrets(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right);
}

export function createSigV4Verifier(options: SigV4Options): SigV4Verifier {
  const keys = new Map(options.keys.map((key) => [key.accessKeyId, key]));
  const now = options.now ?? (() => new Date());

  return async (request) => {
    const authorization = headerValue(request.headers, 'authorization');
    if (authorization === undefined || authorization.trim() === '') {
      throw new ApiError('MissingAuthenticationTokenException', 'Missing Authentication Token');
    }

    const auth = parseAuthorization(authorization.trim());
    for (const required of ['host', 'x-amz-date']) {
      if (!auth.signedHeaders.includes(required)) {
        throw incomplete(`'${required}' must be one of the SignedHeaders.`);
      }
    }
    const amzDate = headerValue(request.headers, 'x-amz-date');
    const signingDate = parseAmzDate(amzDate);

    const key = keys.get(auth.accessKeyId);
    if (key === undefined) {
      throw new ApiError(
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
      );
    }

    checkScope(auth, amzDate!, options);
    checkSkew(signingDate, now());
    checkSessionToken(key, request.headers, auth.signedHeaders);

    const bodyHash = createHash('sha256').update(request.body).digest('hex');
    const claimedHash = headerValue(request.headers, 'x-amz-content-sha256');
    if (claimedHash !== undefined && claimedHash !== bodyHash) {
      throw invalid('The x-amz-content-sha256 header does not match the body.');
    }

    const signed: Record<string, string> = {};
    for (const name of auth.signedHeaders) {
      const value = headerValue(request.headers, name);
      if (value === undefined) throw invalid(`The signed header '${name}' is not in the request.`);
      signed[name] = value;
    }

    const signer = new SignatureV4({
      credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
      region: auth.region,
      service: auth.service,
      sha256: NodeSha256,
      // The signer must not add headers of its own: the client's list is the one to check.
      applyChecksum: false,
    });
    const resigned = await signer.sign(
      {
        method: request.method,
        protocol: 'http:',
        hostname: signed.host ?? '',
        path: request.path,
        query: { ...request.query },
        headers: signed,
        body: request.body,
      },
      { signingDate, signableHeaders: new Set(auth.signedHeaders) },
    );

    const expected = /Signature=([0-9a-f]{64})$/.exec(resigned.headers.authorization ?? '')?.[1];
    const given = Buffer.from(auth.signature, 'hex');
    if (expected === undefined || !timingSafeEqual(Buffer.from(expected, 'hex'), given)) {
      throw invalid(
        'The request signature we calculated does not match the signature you provided. ' +
          'Check your AWS Secret Access Key and signing method.',
      );
    }

    return { accessKeyId: key.accessKeyId, accountId: key.accountId, region: auth.region };
  };
}

function checkScope(auth: ParsedAuthorization, amzDate: string, options: SigV4Options): void {
  if (auth.service !== options.service) {
    throw invalid(`Credential should be scoped to correct service: '${options.service}'.`);
  }
  if (auth.region !== options.region) {
    throw invalid(
      `Credential should be scoped to a valid region: this service answers for ` +
        `'${options.region}', not '${auth.region.slice(0, 64)}'.`,
    );
  }
  if (auth.date !== amzDate.slice(0, 8)) {
    throw invalid(`Date in Credential scope does not match the day of X-Amz-Date ${amzDate}.`);
  }
  if (auth.terminator !== 'aws4_request') {
    throw invalid(`Credential should be scoped with a valid terminator: 'aws4_request'.`);
  }
}

function checkSkew(signingDate: Date, now: Date): void {
  const skewSeconds = (signingDate.getTime() - now.getTime()) / 1000;
  if (Math.abs(skewSeconds) > LIMITS.sigv4ClockSkewSeconds) {
    throw invalid(
      `Signature ${skewSeconds < 0 ? 'expired' : 'not yet current'}: ` +
        `${signingDate.toISOString()} is more than ${LIMITS.sigv4ClockSkewSeconds / 60} ` +
        `minutes from the service's time ${now.toISOString()}.`,
    );
  }
}

function checkSessionToken(
  key: AccessKey,
  headers: IncomingHttpHeaders,
  signedHeaders: readonly string[],
): void {
  const token = headerValue(headers, 'x-amz-security-token');
  const rejected = new ApiError(
    'UnrecognizedClientException',
    'The security token included in the request is invalid.',
  );
  if (key.sessionToken === undefined) {
    if (token !== undefined) throw rejected;
    return;
  }
  if (token === undefined || !equalSecrets(token, key.sessionToken)) throw rejected;
  if (!signedHeaders.includes('x-amz-security-token')) {
    throw incomplete("'x-amz-security-token' must be one of the SignedHeaders.");
  }
}
