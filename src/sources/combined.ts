import type { ItemContent, MailboxSource, SourceFolder, SourceItem } from '../core/source.js';

/**
 * One mailbox made of several sources, such as an IMAP server for mail and a CalDAV server
 * for calendars. Folders are listed source by source, in the order given; each folder is read
 * by the source that listed it.
 */
export function combineSources(...sources: readonly MailboxSource[]): MailboxSource {
  const owners = new WeakMap<SourceFolder, MailboxSource>();
  const byKey = new Map<string, MailboxSource>();
  const keyOf = (folder: SourceFolder) => JSON.stringify([folder.kind, folder.path]);

  const ownerOf = (folder: SourceFolder): MailboxSource => {
    const owner = owners.get(folder) ?? byKey.get(keyOf(folder));
    if (!owner)
      throw new Error(`no source listed the ${folder.kind} folder ${folder.path.join('/')}`);
    return owner;
  };

  return {
    async listFolders(signal: AbortSignal): Promise<SourceFolder[]> {
      const all: SourceFolder[] = [];
      for (const source of sources) {
        for (const folder of await source.listFolders(signal)) {
          owners.set(folder, source);
          // The first source to list a kind and path keeps it; the zip names tell apart
          // folders that share a name.
          if (!byKey.has(keyOf(folder))) byKey.set(keyOf(folder), source);
          all.push(folder);
        }
      }
      return all;
    },

    listItems(folder: SourceFolder, signal: AbortSignal): AsyncIterable<readonly SourceItem[]> {
      return ownerOf(folder).listItems(folder, signal);
    },

    readItems(
      folder: SourceFolder,
      items: readonly SourceItem[],
      signal: AbortSignal,
    ): AsyncIterable<ItemContent> {
      return ownerOf(folder).readItems(folder, items, signal);
    },

    localFile(folder: SourceFolder, item: SourceItem): string | undefined {
      return ownerOf(folder).localFile?.(folder, item);
    },

    async close(): Promise<void> {
      const results = await Promise.allSettled(sources.map((s) => s.close()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
