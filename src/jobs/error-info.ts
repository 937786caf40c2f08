import { ExportError, type ExportErrorCode } from '../core/errors.js';

/** The model's `MailboxExportErrorInfo` holds 1..1024 characters. */
export const ERROR_INFO_MAX_CHARS = 1024;

export const INTERRUPTED_ERROR_INFO =
  'The node running this export stopped before it finished; start a new export.';

/**
 * The `ErrorInfo` sentence of a failed job. An `ExportError`'s message is written for the
 * person who must fix the problem, so it is shown as it is. Any other error is a fault of the
 * service whose message may carry internals (paths, hosts, stack fragments), so the job shows
 * a fixed sentence and the log keeps the details.
 */
export function errorInfoFor(error: unknown, jobId: string): string {
  const exportError = findExportError(error);
  if (exportError === undefined) {
    return (
      `The export failed because of an unexpected fault in the service; ` +
      `its log has the details under job ${jobId}.`
    );
  }
  return fitErrorInfo(exportError.message);
}

/** The export error code behind a failure; `Internal` for a fault of the service. */
export function errorCodeOf(error: unknown): ExportErrorCode {
  return findExportError(error)?.code ?? 'Internal';
}

/** Follows `cause` so that an ExportError wrapped by a backend still gives its message. */
function findExportError(error: unknown): ExportError | undefined {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current instanceof Error && !seen.has(current)) {
    if (current instanceof ExportError) return current;
    seen.add(current);
    current = current.cause;
  }
  return undefined;
}

/** One line, within the model's length, never empty; cut at a code point, never inside one. */
export function fitErrorInfo(message: string): string {
  // eslint-disable-next-line no-control-regex
  const oneLine = message.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  const text = oneLine === '' ? 'The export failed.' : oneLine;
  const codePoints = Array.from(text);
  if (codePoints.length <= ERROR_INFO_MAX_CHARS) return text;
  return `${codePoints.slice(0, ERROR_INFO_MAX_CHARS - 1).join('')}…`;
}
