import { request as httpRequest, createServer, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A small HTTP proxy in front of a test server (moto) that injects faults: it answers some
 * requests with an error status, drops the connection of others mid-body, loses the answer of
 * others, or holds them until their client gives up. Every other request passes through unchanged. Each request is
 * recorded, so that a test can check which faults really happened and which credentials each
 * call carried.
 */

export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  /** The part of an UploadPart request (`PUT ?partNumber=N&uploadId=...`). */
  readonly partNumber?: number;
  /** 1 for the first request of this method, path and query; 2 for its first retry... */
  readonly attempt: number;
}

export type FaultAction =
  | { readonly kind: 'pass' }
  /** Reads the request body, then answers with an S3-style XML error. */
  | { readonly kind: 'error'; readonly status: number; readonly code: string }
  /** Reads part of the body, then closes the socket without an answer. */
  | { readonly kind: 'drop' }
  /** Keeps the request waiting; `onHold` tells the test, `close` ends it. */
  | { readonly kind: 'hold' }
  /** Forwards the request, then closes the socket instead of passing the answer on. */
  | { readonly kind: 'lose-answer' };

export const PASS: FaultAction = { kind: 'pass' };

export interface FaultProxyOptions {
  /** Decides each request's fate; requests pass by default. */
  readonly decide?: (request: ProxiedRequest) => FaultAction;
  /** Removes these request headers before forwarding (e.g. to emulate a server ignoring them). */
  readonly stripHeaders?: readonly string[];
  readonly onHold?: (request: ProxiedRequest) => void;
}

export interface FaultProxy {
  readonly endpoint: string;
  /** Every request seen, in order of arrival. */
  readonly requests: readonly ProxiedRequest[];
  /** The faults injected, as `<action> <method> part <n> attempt <k>`. */
  readonly faults: readonly string[];
  /** Held requests whose client closed the connection (a cancelled request). */
  readonly heldEndedByClient: number;
  close(): Promise<void>;
}

export async function startFaultProxy(
  target: string,
  options: FaultProxyOptions = {},
): Promise<FaultProxy> {
  const upstream = new URL(target);
  const requests: ProxiedRequest[] = [];
  const faults: string[] = [];
  const attempts = new Map<string, number>();
  const sockets = new Set<Socket>();
  let heldEndedByClient = 0;
  let closing = false;
  const strip = new Set((options.stripHeaders ?? []).map((name) => name.toLowerCase()));

  const server = createServer((incoming, answer) => {
    const url = new URL(incoming.url ?? '/', 'http://proxy');
    const method = incoming.method ?? 'GET';
    const signature = `${method} ${url.pathname}${url.search}`;
    const attempt = (attempts.get(signature) ?? 0) + 1;
    attempts.set(signature, attempt);
    const part = url.searchParams.get('partNumber');
    const seen: ProxiedRequest = {
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: incoming.headers,
      attempt,
      ...(part === null ? {} : { partNumber: Number(part) }),
    };
    requests.push(seen);

    const action = options.decide?.(seen) ?? PASS;
    if (action.kind !== 'pass') {
      faults.push(`${action.kind} ${method} part ${part ?? '-'} attempt ${attempt}`);
    }

    if (action.kind === 'error') {
      incoming.resume();
      incoming.once('end', () => {
        const body =
          `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${action.code}</Code>` +
          `<Message>injected by the fault proxy</Message></Error>`;
        answer.writeHead(action.status, { 'content-type': 'application/xml' }).end(body);
      });
      return;
    }

    if (action.kind === 'drop') {
      // Some of the body arrives, as when a connection breaks mid-part.
      incoming.once('data', () => incoming.socket.destroy());
      incoming.once('end', () => incoming.socket.destroy());
      return;
    }

    if (action.kind === 'hold') {
      incoming.socket.once('close', () => {
        if (!closing) heldEndedByClient++;
      });
      options.onHold?.(seen);
      return;
    }

    // The Host header stays as the client signed it, so that a server checking SigV4 agrees.
    const headers: Record<string, string | string[] | undefined> = { ...incoming.headers };
    for (const name of strip) delete headers[name];
    const forward = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method,
        path: incoming.url,
        headers,
      },
      (reply) => {
        if (action.kind === 'lose-answer') {
          reply.resume();
          reply.once('end', () => incoming.socket.destroy());
          return;
        }

        answer.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(answer);
      },
    );
    forward.on('error', () => incoming.socket.destroy());
    incoming.pipe(forward);
  });

  // A held request waits until its client gives up, however long that takes.
  server.requestTimeout = 0;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');

  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    requests,
    faults,
    get heldEndedByClient() {
      return heldEndedByClient;
    },
    async close() {
      closing = true;
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** The access key id a SigV4-signed request was made with. */
export function accessKeyOf(request: ProxiedRequest): string | undefined {
  const authorization = request.headers.authorization;
  return authorization?.match(/Credential=([^/]+)\//)?.[1];
}

export function isUploadPart(request: ProxiedRequest): boolean {
  return request.method === 'PUT' && request.partNumber !== undefined;
}
