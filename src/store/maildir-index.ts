import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { parseMaildirFileName } from './maildir-format.js';

/** How long after a directory changed its mtime is not trusted to tell a later change apart. */
const COARSE_CLOCK_MS = 2000;

/**
 * Finds a message by unique name after the job's listing, when its file may have moved from
 * new/ to cur/ or been renamed for a flag change. The directory listing is cached and read
 * again only when cur/ or new/ changed since (their mtimes), so that many renamed messages
 * cost one read, not one each.
 */
export class MaildirIndex {
  private files = new Map<string, string>();
  private stamp = '';

  constructor(private readonly folderDir: string) {}

  async find(uniqueName: string): Promise<string | undefined> {
    const stamp = await this.dirStamp();
    if (stamp.value !== this.stamp || stamp.recent) await this.rebuild(stamp.value);
    return this.files.get(uniqueName);
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
    const files = new Map<string, string>();
    for (const sub of ['new', 'cur']) {
      let names: string[];
      try {
        names = await readdir(join(this.folderDir, sub));
      } catch {
        continue;
      }
      for (const name of names) {
        if (!name.startsWith('.'))
          files.set(parseMaildirFileName(name).uniqueName, join(sub, name));
      }
    }
    this.files = new Map([...files].map(([unique, rel]) => [unique, join(this.folderDir, rel)]));
    this.stamp = stamp;
  }
}
