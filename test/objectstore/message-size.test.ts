import { RawAesKeyringNode, RawAesWrappingSuiteIdentifier } from '@aws-crypto/client-node';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { it } from 'node:test';

import { FRAME_LENGTH, sealStream } from '../../src/objectstore/envelope.js';
import { plaintextBytes } from '../../src/objectstore/message-size.js';

const keyring = new RawAesKeyringNode({
  keyName: 'arn:aws:kms:us-east-1:111122223333:key/test',
  keyNamespace: 'mailbox-export',
  unencryptedMasterKey: new Uint8Array(randomBytes(32)),
  wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
});

async function seal(size: number, signed: boolean): Promise<Buffer> {
  const stream = sealStream(keyring, { bucket: 'b', key: 'k' }, { signed });
  return buffer(Readable.from([Buffer.alloc(size, 7)]).pipe(stream));
}

it('counts the plaintext of unsigned messages from the stored size and the header', async () => {
  const sizes = [0, 1, FRAME_LENGTH - 1, FRAME_LENGTH, FRAME_LENGTH + 1, 3 * FRAME_LENGTH + 5];
  for (const size of sizes) {
    const sealed = await seal(size, false);
    assert.equal(plaintextBytes(sealed.subarray(0, 4096), sealed.length), size, `size ${size}`);
  }
});

it('declines signed messages, cut headers and other bytes rather than guess', async () => {
  const signed = await seal(1000, true);
  assert.equal(plaintextBytes(signed.subarray(0, 4096), signed.length), undefined);

  const unsigned = await seal(1000, false);
  assert.equal(plaintextBytes(unsigned.subarray(0, 20), unsigned.length), undefined);
  assert.equal(plaintextBytes(Buffer.from('PK\x03\x04 a zip, not a message'), 5000), undefined);
});
