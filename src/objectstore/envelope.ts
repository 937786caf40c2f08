// The parts of the AWS Encryption SDK this uses, rather than @aws-crypto/client-node, whose
// import loads the KMS client and every keyring besides: a fifth of a second at each start.
import { buildDecrypt } from '@aws-crypto/decrypt-node';
import { buildEncrypt } from '@aws-crypto/encrypt-node';
import {
  AlgorithmSuiteIdentifier,
  CommitmentPolicy,
  type KeyringNode,
} from '@aws-crypto/material-management-node';
import { Duplex, Transform } from 'node:stream';

import { ExportError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { ObjectError } from '../core/object-store.js';

/**
 * Envelope encryption of one object with the AWS Encryption SDK: a fresh data key per object,
 * wrapped by the keyring (a local key or KMS), and the SDK's framed message format. The
 * encryption context names the bucket and key, so that an object copied or renamed to another
 * key no longer matches and is refused when read.
 */

export const CONTEXT_BUCKET = 'mailbox-export:bucket';
export const CONTEXT_KEY = 'mailbox-export:key';

/**
 * Plaintext bytes per frame. The SDK's default of 4 KiB sealed at about 124 MiB/s on this
 * machine; 1 MiB frames reach about 355 MiB/s (64 KiB: 300 MiB/s) and add 8 KiB of overhead per
 * 256 MiB instead of 2 MiB. A reader buffers one frame, so 1 MiB is also the memory cost.
 */
export const FRAME_LENGTH = 1024 * 1024;

const UNSIGNED_SUITE = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;

const ENVELOPE_OPTIONS = {
  commitmentPolicy: CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
  maxEncryptedDataKeys: LIMITS.encryptedDataKeysPerObject,
};
const { encryptStream } = buildEncrypt(ENVELOPE_OPTIONS);
const { decryptStream } = buildDecrypt(ENVELOPE_OPTIONS);

export interface ObjectTarget {
  readonly bucket: string;
  readonly key: string;
}

export function encryptionContext(target: ObjectTarget): Record<string, string> {
  return { [CONTEXT_BUCKET]: target.bucket, [CONTEXT_KEY]: target.key };
}

export interface SealOptions {
  /**
   * Sign the message with ECDSA P-384, the SDK's default (true). Unsigned messages use the
   * committing suite without a signature: a signature only tells apart writers from readers,
   * and whoever may decrypt with a KMS key may also encrypt with it; in exchange the plaintext
   * size follows from the stored size (see `message-size.ts`).
   */
  readonly signed?: boolean;
}

/**
 * A stream that takes plaintext and gives the sealed message.
 *
 * The SDK's stream is wrapped rather than returned: it joins its inner stages with a pipeline
 * that has no callback, so destroying it before its end throws "Premature close" as an uncaught
 * exception. The wrapper never destroys it; when the wrapper is destroyed (a failed body, an
 * abort) it ends the SDK's stream and drains what is left of it into nothing.
 */
export function sealStream(
  keyring: KeyringNode,
  target: ObjectTarget,
  options: SealOptions = {},
): Duplex {
  const inner = encryptStream(keyring, {
    encryptionContext: encryptionContext(target),
    frameLength: FRAME_LENGTH,
    ...(options.signed === false ? { suiteId: UNSIGNED_SUITE } : {}),
  });
  let discarding = false;

  const outer = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      if (inner.write(chunk)) callback();
      else inner.once('drain', () => callback());
    },
    final(callback) {
      inner.end();
      callback();
    },
    read() {
      inner.resume();
    },
    destroy(error, callback) {
      if (!discarding) {
        discarding = true;
        inner.on('error', () => undefined);
        inner.resume();
        if (!inner.writableEnded) inner.end();
      }

      callback(error);
    },
  });

  inner.on('data', (chunk: Buffer) => {
    if (!discarding && !outer.push(chunk)) inner.pause();
  });
  inner.once('end', () => {
    if (!discarding) outer.push(null);
    discarding = true;
  });
  inner.on('error', (error: Error) => {
    if (!discarding) outer.destroy(error);
  });
  return outer;
}

/**
 * Streams that take a sealed message and give its plaintext, in order: the SDK's decrypting
 * stream, then a gate that lets no byte through before the message header's encryption context
 * was found to name this bucket and key. Errors leave the gate as `ObjectError`s.
 */
export function openStreams(
  keyring: KeyringNode,
  target: ObjectTarget,
  keyArn: string | undefined,
): [Duplex, Transform] {
  const decrypt = decryptStream(keyring);

  // The SDK's stream may report an error again after it was destroyed; the first report is the
  // one that reaches the reader, so later ones must not crash the process.
  decrypt.on('error', () => undefined);
  let contextChecked = false;

  decrypt.once('MessageHeader', (header: { encryptionContext: Record<string, string> }) => {
    const mismatch = contextMismatch(header.encryptionContext, target);
    if (mismatch) {
      decrypt.destroy(
        new ObjectError(
          'undecryptable',
          target,
          `The object ${describe(target)} was sealed for ${mismatch}: it was copied or renamed ` +
            'from there, and is refused so that an object cannot pass for another.',
        ),
      );
      return;
    }

    contextChecked = true;
  });

  const gate = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (!contextChecked) {
        callback(new ObjectError('undecryptable', target, `${describe(target)}: no header.`));
        return;
      }

      callback(null, chunk);
    },
    destroy(error, callback) {
      callback(error ? asDecryptError(error, target, keyArn) : null);
    },
  });

  return [decrypt, gate];
}

function contextMismatch(
  context: Record<string, string>,
  target: ObjectTarget,
): string | undefined {
  const bucket = context[CONTEXT_BUCKET];
  const key = context[CONTEXT_KEY];
  if (bucket === target.bucket && key === target.key) return undefined;
  if (bucket === undefined || key === undefined) return 'no bucket and key of this service';
  return `bucket "${bucket}", key "${key}"`;
}

function describe(target: ObjectTarget): string {
  return `${target.bucket}/${target.key}`;
}

function asDecryptError(error: Error, target: ObjectTarget, keyArn: string | undefined): Error {
  if (error instanceof ExportError || error.name === 'AbortError') return error;
  if ((error as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') return error;
  return new ObjectError(
    'undecryptable',
    target,
    `The object ${describe(target)} could not be decrypted` +
      (keyArn ? ` with key ${keyArn}` : '') +
      `: ${error.message}. It was sealed with another key, or its bytes are damaged.`,
    { cause: error },
  );
}
