import type { DAVResponse } from 'tsdav';

import { ExportError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';

/**
 * HTTP for the CalDAV source: a fetch that refuses WebDAV answers larger than the limit
 * (tsdav reads each answer whole into memory), and errors that say what to check.
 */

/** A fetch for tsdav: answers over `LIMITS.davResponseBytes` fail instead of filling memory. */
export const boundedFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  const limit = LIMITS.davResponseBytes;
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > limit) {
    await response.body?.cancel();
    throw new Error(`the answer of ${String(input)} is ${declared} bytes, over ${limit}`);
  }
  if (!response.body) return response;

  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel();
      throw new Error(`the answer of ${String(input)} is over ${limit} bytes`);
    }
    chunks.push(value);
  }
  return new Response(Buffer.concat(chunks), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
};

/**
 * tsdav answers a failed request (not a 207 Multi-Status) with one entry that carries the
 * raw body; this turns it into an error that names the URL and what to check.
 */
export function checkDav(
  responses: DAVResponse[],
  context: { url: string; admin: string; user: string; what: string },
): DAVResponse[] {
  const only = responses[0];
  if (responses.length !== 1 || !only || only.ok || !('raw' in only)) return responses;
  throw davStatusError(only.status, only.statusText, context);
}

export function davStatusError(
  status: number,
  statusText: string,
  context: { url: string; admin: string; user: string; what: string },
): ExportError {
  const at = `${context.what} at ${context.url} answered ${status} ${statusText}`.trim();
  const check =
    status === 401
      ? `check the admin name (${context.admin}) and password`
      : status === 403
        ? `check that ${context.admin} may read the calendars of ${context.user} (the server's rights)`
        : status === 404
          ? `check the calendar-home or principal URL template and that the user ${context.user} exists`
          : 'check the server URL and the server log';
  return new ExportError('SourceUnavailable', `CalDAV ${at}: ${check}`);
}

/** A network failure (refused, unresolved, TLS) as an error that says what to check. */
export function davNetworkError(error: unknown, url: string): ExportError {
  const cause = (error as { cause?: { code?: string } }).cause;
  const code = cause?.code ?? (error as { code?: string }).code;
  const what =
    code === 'ECONNREFUSED'
      ? `nothing accepts connections at ${url}: check the server URL and that the server runs`
      : code === 'ENOTFOUND'
        ? `the host of ${url} does not resolve: check the server URL`
        : code?.startsWith('ERR_TLS') || code?.includes('CERT')
          ? `the TLS certificate of ${url} is not accepted (${code}): check the host name and ` +
            'the CA (NODE_EXTRA_CA_CERTS for a private one)'
          : `the request to ${url} failed (${code ?? (error as Error).message}): check the server URL`;
  return new ExportError('SourceUnavailable', `CalDAV connection failed: ${what}`, {
    cause: error,
  });
}

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}
