import type { KeyringNode } from '@aws-crypto/material-management-node';
import { RawAesKeyringNode, RawAesWrappingSuiteIdentifier } from '@aws-crypto/raw-aes-keyring-node';
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

import { KeyError, type KeyDescription, type KeyService } from '../core/key-service.js';
import { parseKeyArn } from './arn.js';
import { writeFileAtomic } from './atomic-file.js';
import { loadMasterKey } from './master-key.js';

/** The key provider namespace written into every data key that a local key wraps. */
export const LOCAL_KEY_NAMESPACE = 'mailbox-export';

export interface CreateKeyRequest {
  readonly region: string;
  readonly accountId: string;
  readonly description?: string;
}

export interface LocalKeyDescription extends KeyDescription {
  readonly accountId: string;
  readonly keyId: string;
  readonly createdAt: Date;
}

/** One key file, `<dataDir>/keys/<id>.json`. The material is sealed; nothing else is secret. */
interface KeyRecord {
  readonly version: 1;
  readonly arn: string;
  readonly region: string;
  readonly accountId: string;
  readonly keyId: string;
  readonly description?: string;
  readonly enabled: boolean;
  readonly keySpec: 'SYMMETRIC_DEFAULT';
  readonly createdAt: string;
  readonly material: { readonly iv: string; readonly tag: string; readonly sealed: string };
}

const KEY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;
const ACCOUNT = /^\d{12}$/;

/**
 * Keys with KMS-style ARNs kept in a data folder: `master.key` (32 random bytes, mode 0600)
 * seals each key's 256-bit material with AES-256-GCM, and each key lives in its own JSON file.
 * Exports are sealed by the AWS Encryption SDK with a raw AES keyring over that material, so
 * the object format is the SDK's own message format.
 */
export class LocalKeyService implements KeyService {
  readonly dataDir: string;
  private masterKey?: Promise<Buffer>;

  constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  async createKey(request: CreateKeyRequest): Promise<LocalKeyDescription> {
    if (!REGION.test(request.region)) {
      throw new RangeError(`"${request.region}" is not a region name such as us-east-1.`);
    }

    if (!ACCOUNT.test(request.accountId)) {
      throw new RangeError(`"${request.accountId}" is not a 12-digit account id.`);
    }

    const keyId = randomUUID();
    const arn = `arn:aws:kms:${request.region}:${request.accountId}:key/${keyId}`;
    const material = randomBytes(32);
    const record: KeyRecord = {
      version: 1,
      arn,
      region: request.region,
      accountId: request.accountId,
      keyId,
      ...(request.description === undefined ? {} : { description: request.description }),
      enabled: true,
      keySpec: 'SYMMETRIC_DEFAULT',
      createdAt: new Date().toISOString(),
      material: seal(await this.master(), arn, material),
    };
    material.fill(0);

    await mkdir(this.keysDir, { recursive: true, mode: 0o700 });
    await this.write(record);
    return describe(record);
  }

  async describeKey(arn: string, signal?: AbortSignal): Promise<LocalKeyDescription> {
    signal?.throwIfAborted();
    return describe(await this.read(arn));
  }

  async listKeys(): Promise<LocalKeyDescription[]> {
    let names: string[];
    try {
      names = await readdir(this.keysDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }

    const keys: LocalKeyDescription[] = [];
    for (const name of names.sort()) {
      const keyId = name.endsWith('.json') ? name.slice(0, -'.json'.length) : '';
      if (!KEY_ID.test(keyId)) continue;
      keys.push(describe(await this.readFile(keyId, name)));
    }

    return keys;
  }

  async disableKey(arn: string): Promise<void> {
    await this.setEnabled(arn, false);
  }

  async enableKey(arn: string): Promise<void> {
    await this.setEnabled(arn, true);
  }

  /** A raw AES keyring named by the ARN; fails with a `KeyError` if the key is disabled. */
  async keyring(arn: string): Promise<KeyringNode> {
    const record = await this.read(arn);
    if (!record.enabled) {
      throw new KeyError(
        'disabled',
        arn,
        `The key ${arn} is disabled: name another key ("mailbox-export setup --org ALIAS ` +
          '--user NAME" makes an enabled one if there is none and prints its ARN as kmsKeyArn).',
      );
    }

    // The SDK wants the key in a buffer of its own, not a slice of Node's shared pool.
    const unsealed = unseal(await this.master(), record);
    const material = new Uint8Array(unsealed);
    unsealed.fill(0);
    return new RawAesKeyringNode({
      keyName: record.arn,
      keyNamespace: LOCAL_KEY_NAMESPACE,
      unencryptedMasterKey: material,
      wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
    });
  }

  private get keysDir(): string {
    return join(this.dataDir, 'keys');
  }

  private master(): Promise<Buffer> {
    this.masterKey ??= loadMasterKey(join(this.dataDir, 'master.key'));

    // A failed load is not cached, so that fixing the file's mode is enough to go on.
    this.masterKey.catch(() => {
      this.masterKey = undefined;
    });
    return this.masterKey;
  }

  private async setEnabled(arn: string, enabled: boolean): Promise<void> {
    const record = await this.read(arn);
    if (record.enabled === enabled) return;
    await this.write({ ...record, enabled });
  }

  private async read(arn: string): Promise<KeyRecord> {
    const parsed = parseKeyArn(arn);
    // No folder in the message: it becomes the job's ErrorInfo, which API callers read.
    const notFound = new KeyError(
      'not-found',
      arn,
      `No key ${arn} among the embedded keys: check the ARN's account and key id ` +
        '("mailbox-export setup --org ALIAS --user NAME" prints the embedded key\'s ARN as ' +
        'kmsKeyArn).',
    );
    if (!KEY_ID.test(parsed.keyId)) throw notFound;

    let record: KeyRecord;
    try {
      record = await this.readFile(parsed.keyId, `${parsed.keyId}.json`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw notFound;
      throw error;
    }

    if (record.accountId !== parsed.accountId || parsed.partition !== 'aws') throw notFound;
    if (record.region !== parsed.region) {
      throw new KeyError(
        'wrong-region',
        arn,
        `The key ${parsed.keyId} is in region ${record.region}, but the ARN names ` +
          `${parsed.region}: use ${record.arn}, or a key of region ${parsed.region}.`,
      );
    }

    return record;
  }

  private async readFile(keyId: string, name: string): Promise<KeyRecord> {
    const record = JSON.parse(await readFile(join(this.keysDir, name), 'utf8')) as KeyRecord;
    if (record.version !== 1 || record.keyId !== keyId) {
      throw new KeyError(
        'not-found',
        record.arn,
        `The key file ${name} is not a key of version 1.`,
      );
    }

    return record;
  }

  private async write(record: KeyRecord): Promise<void> {
    const path = join(this.keysDir, `${record.keyId}.json`);
    await writeFileAtomic(path, Buffer.from(`${JSON.stringify(record, null, 2)}\n`));
  }
}

function describe(record: KeyRecord): LocalKeyDescription {
  return {
    arn: record.arn,
    region: record.region,
    accountId: record.accountId,
    keyId: record.keyId,
    enabled: record.enabled,
    symmetric: record.keySpec === 'SYMMETRIC_DEFAULT',
    createdAt: new Date(record.createdAt),
    ...(record.description === undefined ? {} : { description: record.description }),
  };
}

// The ARN is the additional authenticated data: material moved into another key's file (or a
// file edited to name another ARN) fails to unseal instead of acting as that key.
function aad(arn: string): Buffer {
  return Buffer.from(`mailbox-export key material\0${arn}`, 'utf8');
}

function seal(master: Buffer, arn: string, material: Buffer): KeyRecord['material'] {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', master, iv);
  cipher.setAAD(aad(arn));
  const sealed = Buffer.concat([cipher.update(material), cipher.final()]);
  return {
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    sealed: sealed.toString('base64'),
  };
}

function unseal(master: Buffer, record: KeyRecord): Buffer {
  try {
    const decipher = createDecipheriv(
      'aes-256-gcm',
      master,
      Buffer.from(record.material.iv, 'base64'),
    );
    decipher.setAAD(aad(record.arn));
    decipher.setAuthTag(Buffer.from(record.material.tag, 'base64'));
    const sealed = Buffer.from(record.material.sealed, 'base64');
    return Buffer.concat([decipher.update(sealed), decipher.final()]);
  } catch (error) {
    throw new KeyError(
      'not-found',
      record.arn,
      `The material of key ${record.arn} does not open with this master key: the key file or ` +
        'master.key was replaced or damaged; restore both from the same backup.',
      { cause: error },
    );
  }
}
