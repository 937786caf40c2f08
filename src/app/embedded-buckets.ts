import { BucketError, type ObjectStore } from '../core/object-store.js';

/**
 * The embedded store's own message for a missing bucket names the folder it looked in. That
 * message reaches API callers as a job's `ErrorInfo`, and the server's folders are none of
 * their business, so it is replaced by one that names the bucket and the command that makes
 * it; the original stays as the `cause`, which the log shows.
 */
export function missingBucketError(error: unknown): unknown {
  if (!(error instanceof BucketError) || error.reason !== 'not-found') return error;
  return new BucketError(
    'not-found',
    error.bucket,
    `No bucket ${error.bucket} in the embedded store: make it with ` +
      `"mailbox-export setup --org ALIAS --user NAME --bucket ${error.bucket}", ` +
      'or check the bucket name.',
    { cause: error },
  );
}

function rethrow(error: unknown): never {
  throw missingBucketError(error);
}

/** The embedded buckets as jobs use them, failing with `missingBucketError`'s message. */
export function embeddedBuckets(store: ObjectStore): ObjectStore {
  return {
    checkBucket: (check, signal) => store.checkBucket(check, signal).catch(rethrow),
    put: (request) => store.put(request).catch(rethrow),
    get: (bucket, key, signal) => store.get(bucket, key, signal).catch(rethrow),
    head: (bucket, key, signal) => store.head(bucket, key, signal).catch(rethrow),
    delete: (bucket, key, signal) => store.delete(bucket, key, signal).catch(rethrow),
    list: (bucket, prefix, signal) => store.list(bucket, prefix, signal).catch(rethrow),
  };
}
