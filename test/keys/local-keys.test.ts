import { buildClient, CommitmentPolicy } from '@aws-crypto/client-node';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ExportError } from '../../src/core/errors.js';
import { KeyError } from '../../src/core/key-service.js';
import { LocalKeyService } from '../../src/keys/local-keys.js';

const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

describe('LocalKeyService', () => {
  let dataDir: string;
  let keys: LocalKeyService;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mbx-'));
    keys = new LocalKeyService(join(dataDir, 'data'));
  });

  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates a key with a KMS-style ARN and a master key file of mode 0600', async () => {
    const key = await keys.createKey({
      region: 'eu-west-1',
      accountId: '111122223333',
      description: 'exports of example.org',
    });

    assert.match(key.arn, /^arn:aws:kms:eu-west-1:111122223333:key\/[0-9a-f-]{36}$/);
    assert.equal(key.enabled, true);
    assert.equal(key.symmetric, true);
    assert.equal(key.description, 'exports of example.org');

    const master = await stat(join(dataDir, 'data', 'master.key'));
    assert.equal(master.mode & 0o777, 0o600);
    assert.equal(master.size, 32);

    const file = await readFile(join(dataDir, 'data', 'keys', `${key.keyId}.json`), 'utf8');
    const record = JSON.parse(file);
    assert.equal(record.arn, key.arn);
    assert.equal(Buffer.from(record.material.sealed, 'base64').length, 32);

    const described = await keys.describeKey(key.arn);
    assert.deepEqual(described, key);
    assert.ok((await keys.listKeys()).some((k) => k.arn === key.arn));
  });

  it('gives a keyring that seals and opens with the Encryption SDK, in another instance too', async () => {
    const key = await keys.createKey({ region: 'us-east-1', accountId: '111122223333' });
    const plaintext = Buffer.from('a mailbox export, 🔐');
    const { result } = await encrypt(await keys.keyring(key.arn), plaintext, {
      encryptionContext: { purpose: 'test' },
    });
    assert.equal(result.includes(plaintext), false);

    const again = new LocalKeyService(join(dataDir, 'data'));
    const opened = await decrypt(await again.keyring(key.arn), result);
    assert.deepEqual(opened.plaintext, plaintext);
    const dataKey = opened.messageHeader.encryptedDataKeys[0];
    assert.equal(dataKey?.providerId, 'mailbox-export');
    // A raw AES keyring's provider info is the key name followed by the wrapping IV's details.
    assert.ok(dataKey?.providerInfo.startsWith(key.arn));

    const other = await keys.createKey({ region: 'us-east-1', accountId: '111122223333' });
    await assert.rejects(decrypt(await keys.keyring(other.arn), result));
  });

  it('refuses a disabled key for new keyrings and can enable it again', async () => {
    const key = await keys.createKey({ region: 'us-east-1', accountId: '111122223333' });
    await keys.disableKey(key.arn);
    assert.equal((await keys.describeKey(key.arn)).enabled, false);
    await assert.rejects(keys.keyring(key.arn), (error: unknown) => {
      assert.ok(error instanceof KeyError);
      assert.equal(error.reason, 'disabled');
      assert.equal(error.code, 'KeyInvalid');
      assert.match(error.message, /is disabled/);
      return true;
    });

    await keys.enableKey(key.arn);
    assert.ok(await keys.keyring(key.arn));
  });

  it('names what is wrong with an unknown, malformed or misplaced ARN', async () => {
    const key = await keys.createKey({ region: 'us-east-1', accountId: '111122223333' });
    const cases: [string, string, RegExp][] = [
      [
        key.arn.replace(/key\/.*/, 'key/00000000-0000-4000-8000-000000000000'),
        'not-found',
        /No key/,
      ],
      [key.arn.replace('111122223333', '444455556666'), 'not-found', /No key/],
      [key.arn.replace('us-east-1', 'eu-central-1'), 'wrong-region', /is in region us-east-1/],
      ['arn:aws:kms:us-east-1:111122223333:alias/exports', 'invalid-arn', /not a KMS key ARN/],
      ['arn:aws:kms:us-east-1:111122223333:key/../../master', 'invalid-arn', /not a KMS key ARN/],
    ];
    for (const [arn, reason, message] of cases) {
      await assert.rejects(keys.describeKey(arn), (error: unknown) => {
        assert.ok(error instanceof KeyError, arn);
        assert.equal(error.reason, reason, arn);
        assert.equal(error.arn, arn);
        assert.match(error.message, message);
        return true;
      });
    }
  });

  it('refuses a master key file that others can read, saying how to fix it', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'mbx-'));
    try {
      const service = new LocalKeyService(folder);
      const key = await service.createKey({ region: 'us-east-1', accountId: '111122223333' });
      await chmod(join(folder, 'master.key'), 0o644);

      const fresh = new LocalKeyService(folder);
      await assert.rejects(fresh.keyring(key.arn), (error: unknown) => {
        assert.ok(error instanceof ExportError);
        assert.match(error.message, /mode 0644.*chmod 600/s);
        return true;
      });

      await chmod(join(folder, 'master.key'), 0o600);
      assert.ok(await fresh.keyring(key.arn));
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('refuses key material that does not open under the master key or moved to another id', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'mbx-'));
    try {
      const service = new LocalKeyService(folder);
      const first = await service.createKey({ region: 'us-east-1', accountId: '111122223333' });
      const second = await service.createKey({ region: 'us-east-1', accountId: '111122223333' });

      // The first key's file put in place of the second's: its material is bound to its ARN.
      const firstFile = JSON.parse(
        await readFile(join(folder, 'keys', `${first.keyId}.json`), 'utf8'),
      );
      const forged = { ...firstFile, arn: second.arn, keyId: second.keyId };
      await writeFile(join(folder, 'keys', `${second.keyId}.json`), JSON.stringify(forged));
      await assert.rejects(service.keyring(second.arn), /does not open with this master key/);

      await rename(join(folder, 'master.key'), join(folder, 'old.key'));
      const replaced = new LocalKeyService(folder);
      await assert.rejects(replaced.keyring(first.arn), /does not open with this master key/);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('rejects a region or account that cannot make an ARN', async () => {
    await assert.rejects(keys.createKey({ region: 'moon', accountId: '111122223333' }), RangeError);
    await assert.rejects(keys.createKey({ region: 'us-east-1', accountId: '12' }), RangeError);
  });
});
