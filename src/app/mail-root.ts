import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

import type { Organization, User } from '../core/model.js';
import type { MailboxSource } from '../core/source.js';
import { MailboxWriter } from '../store/writer.js';

const MB = 1024 * 1024;

/**
 * The embedded mail root: `<root>/<organization id>/<user id>/` holds one user's mailbox
 * (`Maildir/`, `calendars/`, `contacts/`). Ids, not names, name the folders, so that renaming
 * a user never moves a mailbox and no user-chosen text reaches a path.
 */
export class MailRoot {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  mailboxDir(organization: Organization, user: User): string {
    return join(this.root, organization.organizationId, user.userId);
  }

  /** Makes the mailbox's folders; harmless when they exist. */
  async create(organization: Organization, user: User): Promise<void> {
    await MailboxWriter.open(this.mailboxDir(organization, user), { durable: true });
  }

  /** Bytes of every file in the mailbox, in MB rounded up, as GetMailboxDetails reports. */
  async sizeMb(organization: Organization, user: User): Promise<number> {
    return Math.ceil((await treeBytes(this.mailboxDir(organization, user))) / MB);
  }
}

async function treeBytes(dir: string): Promise<number> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }

  let total = 0;
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await treeBytes(path);
    else if (entry.isFile()) total += (await lstat(path)).size;
  }
  return total;
}

/** The size of a mailbox on a mail server: the sum of its items' sizes, as the server lists them. */
export async function sourceSizeMb(source: MailboxSource, signal: AbortSignal): Promise<number> {
  let total = 0;
  for (const folder of await source.listFolders(signal)) {
    for await (const chunk of source.listItems(folder, signal)) {
      for (const item of chunk) total += item.size ?? 0;
    }
  }
  return Math.ceil(total / MB);
}
