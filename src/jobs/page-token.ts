import { ApiError } from '../core/errors.js';

/**
 * `NextToken` of `ListMailboxExportJobs`: the position after the last job of a page, as
 * standard base64 of `[startTimeMs, jobId]` (the model's pattern for the member is
 * `[a-zA-Z0-9/+=]`). Opaque to clients; a position rather than an offset, so that jobs started
 * between two calls neither repeat nor go missing.
 */

export interface PagePosition {
  readonly startTimeMs: number;
  readonly jobId: string;
}

export function encodePageToken(position: PagePosition): string {
  return Buffer.from(JSON.stringify([position.startTimeMs, position.jobId])).toString('base64');
}

export function decodePageToken(token: string): PagePosition {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch (error) {
    throw invalidToken(error);
  }

  if (
    !Array.isArray(decoded) ||
    decoded.length !== 2 ||
    !Number.isSafeInteger(decoded[0]) ||
    typeof decoded[1] !== 'string'
  ) {
    throw invalidToken();
  }
  return { startTimeMs: decoded[0] as number, jobId: decoded[1] };
}

function invalidToken(cause?: unknown): ApiError {
  return new ApiError(
    'InvalidParameterException',
    'NextToken is not a token that this service returned; start the listing again without it.',
    { cause },
  );
}
