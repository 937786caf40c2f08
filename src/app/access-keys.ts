import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { ConfigError, type Config } from '../config/config.js';
import { writeFileAtomic } from '../keys/atomic-file.js';

export interface ServiceAccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly accountId: string;
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * The access keys that may sign API requests: the configuration's, or else one made on first
 * run and kept in `<dataDir>/credentials.json` (mode 0600), so that a fresh install answers the
 * AWS CLI at once. `mailbox-export credentials` prints it.
 */
export async function loadAccessKeys(config: Config): Promise<ServiceAccessKey[]> {
  if (config.accessKeys && config.accessKeys.length > 0) {
    return config.accessKeys.map((key) => ({
      accessKeyId: key.accessKeyId,
      secretAccessKey: key.secretAccessKey,
      accountId: key.accountId ?? config.accountId,
    }));
  }

  const file = join(config.dataDir, 'credentials.json');
  try {
    return [parseStored(JSON.parse(await readFile(file, 'utf8')), file, config.accountId)];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }

  // An id that looks like AWS's (20 characters, AKIA for long-term keys) so that tools which
  // check the form accept it.
  const id =
    'AKIA' + Array.from(randomBytes(16), (byte) => ID_ALPHABET[byte % ID_ALPHABET.length]).join('');
  const key = {
    accessKeyId: id,
    secretAccessKey: randomBytes(30).toString('base64'),
    accountId: config.accountId,
  };
  await writeFileAtomic(file, Buffer.from(JSON.stringify(key, null, 2) + '\n'), 0o600);
  return [key];
}

function parseStored(raw: unknown, file: string, accountId: string): ServiceAccessKey {
  const key = raw as Partial<ServiceAccessKey>;
  if (typeof key.accessKeyId !== 'string' || typeof key.secretAccessKey !== 'string') {
    throw new ConfigError(`${file} must hold accessKeyId and secretAccessKey`);
  }
  return {
    accessKeyId: key.accessKeyId,
    secretAccessKey: key.secretAccessKey,
    accountId: key.accountId ?? accountId,
  };
}
