import type { KeyringNode } from '@aws-crypto/client-node';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { addAbortSignal, PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { ExportError } from '../core/errors.js';
import type { KeyService } from '../core/key-service.js';
import {
  ObjectError,
  type BucketCheck,
  type BucketCheckResult,
  type ObjectInfo,
  type ObjectStore,
  type PutObjectRequest,
  type PutObjectResult,
} from '../core/object-store.js';
import { clientConfig, endpointName, type AwsEndpoint } from '../aws/endpoint.js';
import {
  awsErrorCode,
  httpStatus,
  isAccessDenied,
  toKeyError,
  toObjectError,
} from '../aws/errors.js';
import { openStreams, sealStream } from './envelope.js';
import { HEADER_READ_BYTES, plaintextBytes } from './message-size.js';
import { checkS3Bucket } from './s3-bucket-check.js';

/** User metadata of objects sealed on the client (sent as `x-amz-meta-*`). */
const SEALED_META = 'mailbox-export-sealed';
const KEY_META = 'mailbox-export-kms-key';

export interface S3ObjectStoreOptions extends AwsEndpoint {
  /**
   * Bytes per part of a multipart upload (default 8 MiB, S3's minimum is 5 MiB). S3 allows
   * 10,000 parts, so this also caps an object: 8 MiB parts allow 78 GiB.
   */
  readonly partSize?: number;
  /**
   * Parts uploaded at once (default 2). An upload holds about (queueSize + 1) x partSize bytes:
   * one part per request in flight and the one being filled; 24 MiB with the defaults.
   */
  readonly queueSize?: number;
  /**
   * Seal objects with the Encryption SDK under a data key from `keyService` before they leave
   * this process (default false). For servers that ignore or refuse SSE-KMS; `get` opens them.
   */
  readonly clientSideEncryption?: boolean;
  /** Gives the keyring for client-side encryption; required when it is on. */
  readonly keyService?: KeyService;
  /**
   * Ask for SSE-KMS on every put (default true). May be turned off only with client-side
   * encryption, for servers that refuse the SSE headers outright.
   */
  readonly requestServerSideEncryption?: boolean;
  /**
   * When the SDK adds checksums to requests. The default is the SDK's own on AWS and
   * `WHEN_REQUIRED` on any other endpoint: several S3 clones reject or mangle the streamed
   * trailing checksums that `WHEN_SUPPORTED` sends.
   */
  readonly requestChecksumCalculation?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
}

/**
 * An object store on any S3 API. Puts stream through a multipart upload with SSE-KMS under the
 * job's key; a put that fails or is aborted aborts its upload, so no part stays behind; a put
 * whose object the server did not encrypt with that key is deleted and fails, unless the store
 * seals objects itself (`clientSideEncryption`).
 */
export class S3ObjectStore implements ObjectStore {
  readonly client: S3Client;
  readonly options: S3ObjectStoreOptions;
  private readonly where: string;

  constructor(options: S3ObjectStoreOptions) {
    if (options.clientSideEncryption && !options.keyService) {
      throw new TypeError('clientSideEncryption needs a keyService to get keyrings from.');
    }

    if (options.requestServerSideEncryption === false && !options.clientSideEncryption) {
      throw new TypeError('requestServerSideEncryption may be off only with clientSideEncryption.');
    }

    const checksums =
      options.requestChecksumCalculation ??
      (options.endpoint === undefined ? undefined : 'WHEN_REQUIRED');
    this.options = options;
    this.where = endpointName(options, 's3');
    this.client = new S3Client({
      ...clientConfig(options),
      forcePathStyle: options.forcePathStyle ?? false,
      ...(checksums === undefined
        ? {}
        : { requestChecksumCalculation: checksums, responseChecksumValidation: checksums }),
    });
  }

  checkBucket(check: BucketCheck, signal?: AbortSignal): Promise<BucketCheckResult> {
    return checkS3Bucket(this.client, check, this.where, signal);
  }

  async put(request: PutObjectRequest): Promise<PutObjectResult> {
    const { bucket, key, kmsKeyArn, signal } = request;
    const context = { bucket, key, kmsKeyArn, where: this.where };

    // The body may fail while the keyring is fetched; the pipeline reports that error later.
    request.body.once('error', () => undefined);
    let keyring: KeyringNode | undefined;
    try {
      checkKey(bucket, key);
      if (this.options.clientSideEncryption) {
        keyring = await (this.options.keyService as KeyService).keyring(kmsKeyArn);
      }

      signal?.throwIfAborted();
    } catch (error) {
      request.body.destroy();
      throw signal?.aborted ? signal.reason : error;
    }

    let bytes = 0;
    const count = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        callback(null, chunk);
      },
    });
    const feed = new PassThrough();
    const stages = keyring
      ? [request.body, count, sealStream(keyring, { bucket, key }, { signed: false }), feed]
      : [request.body, count, feed];
    const piping = pipeline(stages, ...(signal ? [{ signal }] : [])).then(
      () => undefined,
      (error: unknown) => error,
    );

    // lib-storage sends its requests without an abort signal, so a part in flight would hold
    // up a cancel for as long as the server keeps it; this cancels them with the job.
    const requests = new AbortController();
    const upload = new Upload({
      client: cancellable(this.client, requests.signal),
      queueSize: this.options.queueSize ?? 2,
      partSize: this.options.partSize ?? 8 * 1024 * 1024,
      leavePartsOnError: false,
      params: {
        Bucket: bucket,
        Key: key,
        Body: feed,
        ...(request.contentType === undefined ? {} : { ContentType: request.contentType }),
        ...(this.options.requestServerSideEncryption === false
          ? {}
          : { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: kmsKeyArn }),
        ...(keyring
          ? { Metadata: { [SEALED_META]: 'aws-encryption-sdk', [KEY_META]: kmsKeyArn } }
          : {}),
      },
    });

    const cancel = (): void => {
      requests.abort(signal?.reason);
      void upload.abort();
    };
    signal?.addEventListener('abort', cancel, { once: true });
    if (signal?.aborted) cancel();

    let etag: string | undefined;
    let answer: { ServerSideEncryption?: string; SSEKMSKeyId?: string };
    try {
      const done = await upload.done();
      etag = done.ETag;
      answer = done;
    } catch (error) {
      signal?.removeEventListener('abort', cancel);
      // A failed body reaches the upload as a read error; an upload that failed on its own
      // leaves the body unread, so the pipeline is ended here to learn which came first.
      feed.destroy();
      const bodyError = await piping;
      await this.abortUpload(upload, bucket, key);
      if (signal?.aborted) throw signal.reason;
      if (bodyError && (bodyError as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
        throw bodyFailure(bodyError, request);
      }

      throw toObjectError(error, { ...context, operation: 's3:PutObject' });
    }

    signal?.removeEventListener('abort', cancel);

    await this.verifyEncryption(request, answer, keyring !== undefined);
    return { bytes, ...(etag === undefined ? {} : { etag }) };
  }

  async get(bucket: string, key: string, signal?: AbortSignal): Promise<Readable> {
    const options = signal ? { abortSignal: signal } : {};
    let answer;
    try {
      answer = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), options);
    } catch (error) {
      throw toObjectError(error, { bucket, key, where: this.where, operation: 's3:GetObject' });
    }

    const body = answer.Body as Readable;
    const sealedBy = answer.Metadata?.[KEY_META];
    if (answer.Metadata?.[SEALED_META] === undefined || sealedBy === undefined) return body;

    if (!this.options.keyService) {
      body.destroy();
      throw new ObjectError(
        'undecryptable',
        { bucket, key },
        `The object ${key} in bucket ${bucket} was sealed on the client under ${sealedBy}; ` +
          'this store has no key service to open it.',
      );
    }

    let keyring: KeyringNode;
    try {
      keyring = await this.options.keyService.keyring(sealedBy);
    } catch (error) {
      body.destroy();
      throw error;
    }

    const [decrypt, gate] = openStreams(keyring, { bucket, key }, sealedBy);
    pipeline(body, decrypt, gate).catch(() => undefined);
    return signal ? addAbortSignal(signal, gate) : gate;
  }

  async head(bucket: string, key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
    const options = signal ? { abortSignal: signal } : {};
    let answer: HeadObjectCommandOutput;
    try {
      answer = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), options);
    } catch (error) {
      if (httpStatus(error) === 404 && awsErrorCode(error) !== 'NoSuchBucket') return undefined;
      throw toObjectError(error, { bucket, key, where: this.where, operation: 's3:HeadObject' });
    }

    const stored = answer.ContentLength ?? 0;
    const sealedBy = answer.Metadata?.[KEY_META];
    if (answer.Metadata?.[SEALED_META] === undefined || sealedBy === undefined) {
      return { bytes: stored, ...(answer.SSEKMSKeyId ? { kmsKeyArn: answer.SSEKMSKeyId } : {}) };
    }

    return {
      bytes: await this.sealedPlaintextBytes(bucket, key, stored, options),
      kmsKeyArn: sealedBy,
    };
  }

  async delete(bucket: string, key: string, signal?: AbortSignal): Promise<void> {
    const options = signal ? { abortSignal: signal } : {};
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), options);
    } catch (error) {
      if (httpStatus(error) === 404 && awsErrorCode(error) !== 'NoSuchBucket') return;
      throw toObjectError(error, { bucket, key, where: this.where, operation: 's3:DeleteObject' });
    }
  }

  async list(bucket: string, prefix: string, signal?: AbortSignal): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix,
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
          signal ? { abortSignal: signal } : {},
        );
      } catch (error) {
        throw toObjectError(error, {
          bucket,
          key: prefix,
          where: this.where,
          operation: 's3:ListBucket',
        });
      }

      for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  /** Closes the client's connections. */
  close(): void {
    this.client.destroy();
  }

  private async sealedPlaintextBytes(
    bucket: string,
    key: string,
    stored: number,
    options: { abortSignal?: AbortSignal },
  ): Promise<number> {
    const range = `bytes=0-${Math.min(stored, HEADER_READ_BYTES) - 1}`;
    try {
      const answer = await this.client.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }),
        options,
      );
      const head = Buffer.from(
        await (
          answer.Body as { transformToByteArray(): Promise<Uint8Array> }
        ).transformToByteArray(),
      );
      const bytes = plaintextBytes(head, stored);
      if (bytes !== undefined) return bytes;
    } catch (error) {
      throw toObjectError(error, { bucket, key, where: this.where, operation: 's3:GetObject' });
    }

    throw new ObjectError(
      'undecryptable',
      { bucket, key },
      `The object ${key} in bucket ${bucket} is marked as sealed but does not start with a ` +
        'message this store writes.',
    );
  }

  /**
   * Confirms that the server stored the object under SSE-KMS with the job's key. HeadObject is
   * the stored truth; a role without s3:GetObject (AWS's documented WorkMail export policy has
   * none) is judged by the upload's own answer instead, which carries the same headers.
   */
  private async verifyEncryption(
    request: PutObjectRequest,
    answer: { ServerSideEncryption?: string; SSEKMSKeyId?: string },
    sealed: boolean,
  ): Promise<void> {
    if (this.options.requestServerSideEncryption === false) return;
    const { bucket, key, kmsKeyArn } = request;
    let reported = answer;
    try {
      reported = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      if (!isAccessDenied(error)) {
        throw toObjectError(error, {
          bucket,
          key,
          kmsKeyArn,
          where: this.where,
          operation: 's3:HeadObject',
        });
      }
    }

    if (reported.ServerSideEncryption === 'aws:kms' && sameKey(reported.SSEKMSKeyId, kmsKeyArn))
      return;
    if (sealed) return;

    const found =
      reported.ServerSideEncryption === undefined
        ? 'no server-side encryption'
        : `${reported.ServerSideEncryption} under ${reported.SSEKMSKeyId ?? 'no named key'}`;
    let removed = 'it was deleted';
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      removed = `deleting it failed (${awsErrorCode(error)}): delete it by hand`;
    }

    throw new ObjectError(
      'not-encrypted',
      { bucket, key },
      `${this.where} stored ${key} in bucket ${bucket} with ${found}, not SSE-KMS under ` +
        `${kmsKeyArn}; ${removed}. The server ignores SSE-KMS: enable KMS on it, or set ` +
        'clientSideEncryption for this endpoint.',
    );
  }

  /**
   * Makes sure no multipart upload stays. The SDK aborts its upload when a part or the body
   * fails; this repeats the abort for the upload id it made, so that an abort the SDK could
   * not send (or a race with the upload's creation) still ends, and says so if it cannot.
   */
  private async abortUpload(upload: Upload, bucket: string, key: string): Promise<void> {
    await upload.abort();
    if (upload.uploadId === undefined) return;
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.uploadId }),
      );
    } catch (error) {
      if (awsErrorCode(error) === 'NoSuchUpload' || httpStatus(error) === 404) return;
      throw toObjectError(error, {
        bucket,
        key,
        where: this.where,
        operation: 's3:AbortMultipartUpload',
      });
    }
  }
}

/**
 * The client as lib-storage sees it: the same client, whose every request is cancelled when
 * `signal` aborts. The store's own requests (the final AbortMultipartUpload) use the client
 * itself, so that they still go out after a cancel.
 */
function cancellable(client: S3Client, signal: AbortSignal): S3Client {
  type Send = Parameters<S3Client['send']>;
  const send = (command: Send[0], options?: Send[1]) =>
    client.send(command, { ...options, abortSignal: signal });
  return Object.create(client, { send: { value: send } }) as S3Client;
}

function checkKey(bucket: string, key: string): void {
  if (key.length === 0 || Buffer.byteLength(key) > 1024) {
    throw new ObjectError(
      'invalid-key',
      { bucket, key },
      `The object key "${key.slice(0, 200)}" is empty or longer than S3's 1,024 bytes.`,
    );
  }
}

function sameKey(reported: string | undefined, arn: string): boolean {
  if (!reported) return false;
  return reported === arn || arn.endsWith(`:key/${reported}`);
}

function bodyFailure(error: unknown, request: PutObjectRequest): Error {
  if (error instanceof ExportError) return error;

  // Only the keyring calls AWS inside the pipeline: when it fails, the key is the problem.
  if ((error as { $metadata?: unknown }).$metadata !== undefined) {
    return toKeyError(error, {
      arn: request.kmsKeyArn,
      where: 'the key service',
      operation: 'kms:GenerateDataKey',
    });
  }

  return new ObjectError(
    'write-failed',
    request,
    `Writing object ${request.key} to bucket ${request.bucket} failed: ` +
      `${(error as Error)?.message ?? String(error)}. The upload was aborted; nothing was stored.`,
    { cause: error },
  );
}
