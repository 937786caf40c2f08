import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { entryName } from './file-names.js';
import { parseMaildirEntry } from './maildir-format.js';

/** How long after a directory changed its mtime is not trusted to tell a later change apart. */
const COARSE_CLOCK_MS = 2000;

/**
 * Finds a message by unique name after the job's listing, when its file may have moved from
 * new/ to cur/ or been renamed for a flag change. The directory listing is cached and read
 * again only when cur/ or new/ changed since (their mtimes), so that many renamed messages
 * cost one read, not one each.
 */
/**
 * Times the directories are read again for a name they did not hold, while they change as they
 * are read: a directory read while files are renamed in it can miss a renamed file under both
 * its names, and a message missed that way is not a deleted one.
 */
const REREADS = 8;

export class MaildirIndex {
  /** Unique name to `cur/NAME` or `new/NAME`, as bytes for a name that is not UTF-8. */
  private files = new Map<string, string | Buffer>();
  private stamp = '';

  constructor(private readonly folderDir: string) {}

  /**
   * The file of `uniqueName`. `failed`, a path just found gone, asks for a newer answer: the
   * cached listing is read again only when it has none. While a client renames many messages,
   * the listing read for one of them often already knows where the next ones went.
   */
  async find(uniqueName: string, failed?: string): Promise<string | Buffer | undefined> {
    const known = this.pathOf(uniqueName);
    if (failed !== undefined && known !== undefined && known !== failed) return known;

    for (let read = 0; ; read++) {
      const stamp = await this.dirStamp();
      if (stamp.value === this.stamp && !stamp.recent) return this.pathOf(uniqueName);
      await this.rebuild(stamp.value);
      const found = this.pathOf(uniqueName);
      if (found !== undefined || read === REREADS) return found;
      // Not there: deleted, or renamed while the directories were read.
      if ((await this.dirStamp()).value === stamp.value) return undefined;
    }
  }

  private pathOf(uniqueName: string): string | Buffer | undefined {
    const file = this.files.get(uniqueName);
    if (file === undefined || typeof file === 'string') {
      return file === undefined ? undefined : join(this.folderDir, file);
    }
    return Buffer.concat([Buffer.from(`${this.folderDir}/`), file]);
  }

  private async dirStamp(): Promise<{ value: string; recent: boolean }> {
    const parts: string[] = [];
    let newest = 0;
    for (const sub of ['cur', 'new']) {
      try {
        const info = await stat(join(this.folderDir, sub), { bigint: true });
        parts.push(`${info.mtimeNs}:${info.ctimeNs}`);
        newest = Math.max(newest, Number(info.mtimeMs));
      } catch {
        parts.push('-');
      }
    }
    return { value: parts.join('/'), recent: Date.now() - newest < COARSE_CLOCK_MS };
  }

  private async rebuild(stamp: string): Promise<void> {
    const files = new Map<string, string | Buffer>();
    for (const sub of ['new', 'cur']) {
      let names: Buffer[];
      try {
        names = await readdir(join(this.folderDir, sub), { encoding: 'buffer' });
      } catch {
        continue;
      }
      for (const raw of names) {
        const name = entryName(raw);
        if (name.text.startsWith('.')) continue;
        const { uniqueName } = parseMaildirEntry(name);
        const relative = name.bytes
          ? Buffer.concat([Buffer.from(`${sub}/`), raw])
          : `${sub}/${name.text}`;
        files.set(uniqueName, relative);
      }
    }
    this.files = files;
    this.stamp = stamp;
  }
}
