import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

import type { JobEngine } from '../core/engine.js';
import { ApiError } from '../core/errors.js';
import type { JobStore } from '../core/job-store.js';
import { LIMITS } from '../core/limits.js';
import { silentLogger, type Logger } from '../core/log.js';
import type { MailboxBinding } from '../core/model.js';
import {
  DEFAULT_MAILBOX_QUOTA_MB,
  type Caller,
  type MailboxHooks,
  type OperationContext,
} from './context.js';
import { OPERATIONS, type OperationName } from './generated/operations.js';
import { SERVICE } from './generated/service.js';
import { createServiceMetrics, storeJobCounter, type ServiceMetrics } from './metrics.js';
import { OPERATION_HANDLERS } from './operations/index.js';
import {
  checkContentType,
  errorAnswer,
  operationFromTarget,
  parseJsonBody,
  successAnswer,
  type WireAnswer,
} from './protocol.js';
import { createSigV4Verifier, type AccessKey } from './sigv4.js';
import { validateInput } from './validate.js';

/**
 * The HTTP front of the WorkMail API (node:http): `POST /` for every operation, plus
 * `GET /healthz` and `GET /metrics`, which are not signed (serve them only where the
 * operator's network allows). Each request is read within the body limit, checked (SigV4,
 * target, media type, JSON, model), handed to its operation, and answered in the JSON 1.1
 * form with an `x-amzn-RequestId`. Client faults are 4xx; only a fault of ours is a 500.
 */

export interface ApiLimits {
  /** Largest request body, in bytes; larger ones get 413. */
  readonly bodyBytes: number;
  /** Time a client has to send its headers (node `headersTimeout`). */
  readonly headersTimeoutMs: number;
  /** Time a client has to send the whole request (node `requestTimeout`). */
  readonly requestTimeoutMs: number;
}

export interface ApiServerDeps {
  readonly store: JobStore;
  readonly engine: JobEngine;
  readonly mailboxes: MailboxHooks;
  /** The access keys allowed to call; each signs with its secret. */
  readonly credentials: readonly AccessKey[];
  /** The region the service answers for; credential scopes must name it. */
  readonly region: string;
  /** Account of keys configured without one. Default `111122223333`. */
  readonly accountId?: string;
  readonly limits?: Partial<ApiLimits>;
  /** Default: a logger that drops everything. */
  readonly logger?: Logger;
  /** Default: new metrics whose jobs gauge reads the store. */
  readonly metrics?: ServiceMetrics;
  /** Where new organizations' mailboxes live. Default: the embedded mail store. */
  readonly defaultBinding?: MailboxBinding;
  /** Quota of new users' mailboxes in MB. Default 51,200 (WorkMail's 50 GB). */
  readonly mailboxQuotaMb?: number;
  /** The clock, for SigV4 skew and job times. */
  readonly now?: () => Date;
}

export interface ApiServer {
  /** `http://host:port` once listening. */
  readonly url: string;
  readonly metrics: ServiceMetrics;
  /** The node server, for callers that need its events. */
  readonly server: Server;
  /** Listens on `host` (default 127.0.0.1) and `port` (default 0: a free one); gives the URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Stops accepting, closes idle connections, and waits for requests in flight. */
  close(): Promise<void>;
}

/** The request could not be read (the client went away, or node timed it out). */
class RequestGone extends Error {}

export function createApiServer(deps: ApiServerDeps): ApiServer {
  const limits: ApiLimits = {
    bodyBytes: deps.limits?.bodyBytes ?? LIMITS.apiBodyBytes,
    headersTimeoutMs: deps.limits?.headersTimeoutMs ?? LIMITS.apiHeadersTimeoutMs,
    requestTimeoutMs: deps.limits?.requestTimeoutMs ?? LIMITS.apiRequestTimeoutMs,
  };
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new RangeError('headersTimeoutMs must not exceed requestTimeoutMs');
  }
  const now = deps.now ?? (() => new Date());
  const logger = deps.logger ?? silentLogger;
  const accountId = deps.accountId ?? '111122223333';
  const metrics =
    deps.metrics ?? createServiceMetrics({ countJobs: storeJobCounter(deps.store, now) });
  const accounts = new Map(deps.credentials.map((key) => [key.accessKeyId, key.accountId]));
  const verify = createSigV4Verifier({
    keys: deps.credentials,
    region: deps.region,
    service: SERVICE.signingName,
    now,
  });
  const directory = {
    binding: deps.defaultBinding ?? ({ kind: 'embedded' } as const),
    mailboxQuotaMb: deps.mailboxQuotaMb ?? DEFAULT_MAILBOX_QUOTA_MB,
  };

  /** What is known of a request so far, for its log line and metrics. */
  interface Progress {
    operation: OperationName | 'none';
    accessKeyId?: string;
  }

  async function callOperation(
    request: IncomingMessage,
    requestId: string,
    url: URL,
    progress: Progress,
  ): Promise<WireAnswer> {
    const body = await readBody(request, limits.bodyBytes);
    const verified = await verify({
      method: request.method ?? 'POST',
      path: url.pathname,
      query: queryOf(url),
      headers: request.headers,
      body,
    });
    const caller: Caller = {
      accessKeyId: verified.accessKeyId,
      accountId: accounts.get(verified.accessKeyId) ?? accountId,
      region: verified.region,
    };
    progress.accessKeyId = caller.accessKeyId;

    const operation = operationFromTarget(request.headers['x-amz-target']);
    progress.operation = operation;
    checkContentType(request.headers['content-type']);
    const input = validateInput(OPERATIONS[operation].input, parseJsonBody(body));
    const ctx: OperationContext = {
      store: deps.store,
      engine: deps.engine,
      mailboxes: deps.mailboxes,
      caller,
      requestId,
      directory,
      now,
    };
    const handler = OPERATION_HANDLERS[operation] as (
      input: unknown,
      ctx: OperationContext,
    ) => Promise<unknown>;
    return successAnswer(operation, await handler(input, ctx));
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const started = process.hrtime.bigint();
    const log = logger.child({ requestId });
    const progress: Progress = { operation: 'none' };
    let answer: WireAnswer;

    try {
      const url = new URL(request.url ?? '/', 'http://service.invalid');
      if (request.method === 'GET' && url.pathname === '/healthz') {
        answer = {
          status: 200,
          headers: { 'content-type': 'application/json' },
          body: '{"status":"ok"}',
        };
      } else if (request.method === 'GET' && url.pathname === '/metrics') {
        answer = {
          status: 200,
          headers: { 'content-type': metrics.registry.contentType },
          body: await metrics.registry.metrics(),
        };
      } else if (request.method !== 'POST' || url.pathname !== '/') {
        throw new ApiError(
          'UnknownOperationException',
          `Nothing is served at ${request.method} ${url.pathname.slice(0, 100)}: every ` +
            'WorkMail operation is POST / with an X-Amz-Target header.',
        );
      } else {
        answer = await callOperation(request, requestId, url, progress);
      }
    } catch (error) {
      if (error instanceof RequestGone) {
        log.info({ reason: error.message }, 'request abandoned');
        return;
      }
      if (error instanceof ApiError) {
        answer = errorAnswer(error.code, error.message);
      } else {
        log.error({ err: error, operation: progress.operation }, 'request failed');
        answer = errorAnswer(
          'InternalFailure',
          `The service failed to handle the request; its log has request ${requestId}.`,
        );
      }
      if (error instanceof ApiError && error.code === 'RequestEntityTooLargeException') {
        // The rest of the body is not read: the connection cannot carry another request.
        response.setHeader('connection', 'close');
      }
    }

    send(response, requestId, answer);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.requestDuration.observe(
      { operation: progress.operation, status: String(answer.status) },
      seconds,
    );
    log.info(
      {
        operation: progress.operation,
        status: answer.status,
        durationMs: Math.round(seconds * 1e4) / 10,
        accessKeyId: progress.accessKeyId,
        errorType: answer.headers['x-amzn-errortype'],
      },
      'request answered',
    );
  }

  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // Node checks both timeouts at this interval (30 s by default, longer than ours).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.headersTimeoutMs / 4)),
      // Node would answer a request without Host with a bare 400; SigV4 refuses it instead,
      // in the protocol's own words, since `host` must be signed.
      requireHostHeader: false,
    },
    (request, response) => {
      handle(request, response).catch((error: unknown) => {
        // Only a fault in writing the answer gets here; the client sees the socket close.
        logger.error({ err: error }, 'request handler failed');
        response.destroy();
      });
    },
  );

  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    answerClientError(error, socket as Duplex & { bytesWritten?: number });
  });

  let url = '';
  return {
    get url() {
      return url;
    },
    metrics,
    server,
    listen(port = 0, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          url = `http://${shownHost}:${address.port}`;
          resolve(url);
        });
      });
    },
    close() {
      return new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      });
    },
  };
}

function send(response: ServerResponse, requestId: string, answer: WireAnswer): void {
  if (response.headersSent || response.destroyed) return;
  response.writeHead(answer.status, {
    ...answer.headers,
    'x-amzn-requestid': requestId,
    'content-length': Buffer.byteLength(answer.body),
  });
  response.end(answer.body);
}

/**
 * Bytes that are not HTTP/1.1 (a broken request line, a header node refuses, bytes after a
 * body shorter than its Content-Length) are answered as every other client fault, with a JSON
 * error, where node would write a bare 400. A request that outlived its timeout is closed with
 * node's 408: that is a limit, not an answer. Nothing is written once an answer has begun.
 */
function answerClientError(
  error: NodeJS.ErrnoException,
  socket: Duplex & { bytesWritten?: number },
): void {
  if (!socket.writable || (socket.bytesWritten ?? 0) > 0 || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
    return;
  }

  const answer = errorAnswer(
    'SerializationException',
    `The request is not valid HTTP/1.1 (${String(error.code ?? 'unreadable')}).`,
  );
  const head = [
    'HTTP/1.1 400 Bad Request',
    ...Object.entries(answer.headers).map(([name, value]) => `${name}: ${value}`),
    `x-amzn-requestid: ${randomUUID()}`,
    `content-length: ${Buffer.byteLength(answer.body)}`,
    'connection: close',
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${answer.body}`);
}

function queryOf(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const seen = query[name];
    query[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return query;
}

/** Reads the body whole, refusing it (413) as soon as it passes `limit` bytes. */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    new ApiError(
      'RequestEntityTooLargeException',
      `The request body is larger than ${limit} bytes.`,
    );
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(tooLarge());

  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new RequestGone(error.message));
    };
    const onClose = () => {
      cleanup();
      reject(new RequestGone('the client closed the connection'));
    };
    const cleanup = () => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('close', onClose);
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('close', onClose);
  });
}
