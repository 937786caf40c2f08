import { BucketError, ObjectError } from '../core/object-store.js';

/** Names that the embedded store keeps for itself at the top of each bucket folder. */
export const RESERVED_PREFIX = '.mailbox-export';

const MAX_KEY_BYTES = 1024;
const MAX_SEGMENT_BYTES = 255;

/**
 * S3's rules for bucket names ("Bucket naming rules", Amazon S3 User Guide): 3-63 characters,
 * lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit, no
 * two adjacent dots, not shaped like an IP address. The embedded store keeps them so that a
 * bucket can move to S3 unchanged, and so that a name is always a safe folder name.
 */
export function checkBucketName(bucket: string): void {
  const valid =
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) &&
    !bucket.includes('..') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(bucket);
  if (!valid) {
    throw new BucketError(
      'invalid-name',
      bucket,
      `"${bucket.slice(0, 100)}" is not a valid bucket name: use 3-63 lowercase letters, ` +
        'digits, dots and hyphens, starting and ending with a letter or digit.',
    );
  }
}

/**
 * The folder path of an object key: its `/`-separated segments. A key that could leave the
 * bucket folder or that no file system can hold is refused: empty, absolute, with an empty,
 * `.` or `..` segment, with a NUL byte, longer than S3's 1,024 bytes, a segment longer than a
 * file name may be, or a first segment in the store's own reserved names.
 */
export function keySegments(bucket: string, key: string): string[] {
  const segments = key.split('/');
  const problem = keyProblem(key, segments);
  if (problem) {
    throw new ObjectError(
      'invalid-key',
      { bucket, key },
      `The object key "${key.slice(0, 200)}" cannot be stored: ${problem}.`,
    );
  }

  return segments;
}

function keyProblem(key: string, segments: readonly string[]): string | undefined {
  if (key.length === 0) return 'it is empty';
  if (key.startsWith('/')) return 'it is an absolute path';
  if (key.includes('\0')) return 'it holds a NUL character';
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `it is longer than ${MAX_KEY_BYTES} bytes`;
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    return 'it has an empty, "." or ".." segment';
  }

  if (segments.some((s) => Buffer.byteLength(s) > MAX_SEGMENT_BYTES)) {
    return `a segment is longer than ${MAX_SEGMENT_BYTES} bytes`;
  }

  if (segments[0]?.startsWith(RESERVED_PREFIX)) {
    return `names starting with "${RESERVED_PREFIX}" are kept for the store`;
  }

  return undefined;
}
