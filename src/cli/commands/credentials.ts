import { mkdir } from 'node:fs/promises';

import { loadAccessKeys } from '../../app/access-keys.js';
import { loadConfig } from '../../config/config.js';
import type { GlobalOptions } from '../main.js';

/** Prints the first access key as shell exports, for `eval "$(mailbox-export credentials)"`. */
export async function runCredentials(options: GlobalOptions): Promise<void> {
  const config = loadConfig(options.config, options.dataDir ? { dataDir: options.dataDir } : {});

  // Run first on a fresh data folder, this makes the key, and `serve` started after it uses
  // the same one; the folder is made as `serve` would make it.
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const [key] = await loadAccessKeys(config);
  if (!key) throw new Error('No access key is configured.');

  process.stdout.write(
    `export AWS_ACCESS_KEY_ID=${key.accessKeyId}\n` +
      `export AWS_SECRET_ACCESS_KEY=${key.secretAccessKey}\n` +
      `export AWS_DEFAULT_REGION=${config.region}\n` +
      `export AWS_REGION=${config.region}\n`,
  );
}
