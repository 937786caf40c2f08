import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

import { ExportError } from '../core/errors.js';
import { syncFolder } from './atomic-file.js';

export const MASTER_KEY_BYTES = 32;

/**
 * Reads the master key at `path`, making it on first use. The file holds 32 random bytes and
 * must be readable by its owner only: a key that others can read protects nothing, so a file
 * whose mode grants any group or other permission is refused rather than used.
 */
export async function loadMasterKey(path: string): Promise<Buffer> {
  const existing = await readMasterKey(path);
  if (existing) return existing;

  await createMasterKey(path);
  const created = await readMasterKey(path);
  if (!created) throw new ExportError('KeyInvalid', `The master key file ${path} vanished.`);
  return created;
}

async function readMasterKey(path: string): Promise<Buffer | undefined> {
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ExportError('KeyInvalid', `Cannot read the master key file ${path}.`, {
      cause: error,
    });
  }

  if (!stats.isFile()) {
    throw new ExportError('KeyInvalid', `The master key ${path} is not a regular file.`);
  }

  if ((stats.mode & 0o077) !== 0) {
    const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
    throw new ExportError(
      'KeyInvalid',
      `The master key file ${path} has mode ${mode}: other users can read or change it. ` +
        `Run "chmod 600 ${path}" if no one else has read it, or restore the key from a backup.`,
    );
  }

  const key = await readFile(path);
  if (key.length !== MASTER_KEY_BYTES) {
    throw new ExportError(
      'KeyInvalid',
      `The master key file ${path} holds ${key.length} bytes, not ${MASTER_KEY_BYTES}: ` +
        'it is damaged or not a master key; restore it from a backup.',
    );
  }

  return key;
}

// The key is written to a temporary file and hard-linked into place: link fails if the target
// exists, so two processes starting at once agree on one key and neither sees a partial file.
async function createMasterKey(path: string): Promise<void> {
  const folder = join(path, '..');
  await mkdir(folder, { recursive: true, mode: 0o700 });

  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(randomBytes(MASTER_KEY_BYTES));
    await handle.sync();
  } finally {
    await handle.close();
  }

  try {
    await link(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new ExportError('KeyInvalid', `Cannot create the master key file ${path}.`, {
        cause: error,
      });
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }

  await syncFolder(folder);
}
