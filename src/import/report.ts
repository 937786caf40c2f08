import type { FolderKind, ItemKind } from '../core/source.js';

export interface ImportedFolder {
  readonly kind: FolderKind;
  /** The folder's path (mail) or `[name]` (calendar, address book). */
  readonly path: readonly string[];
  /** Items stored, by kind. */
  readonly counts: Readonly<Partial<Record<ItemKind, number>>>;
}

/** An input file, a part of one (a message of an mbox) or a directory that was not stored. */
export interface SkippedInput {
  readonly input: string;
  readonly reason: string;
}

/** Something stored otherwise than the caller may expect (a calendar kept whole). */
export interface ImportNote {
  readonly input: string;
  readonly note: string;
}

export interface ImportReport {
  /** In the order the folders were first written to. */
  readonly folders: readonly ImportedFolder[];
  readonly totals: Readonly<Partial<Record<ItemKind, number>>>;
  readonly skipped: readonly SkippedInput[];
  readonly notes: readonly ImportNote[];
}

export class ReportBuilder {
  private readonly folders = new Map<
    string,
    { kind: FolderKind; path: string[]; counts: Partial<Record<ItemKind, number>> }
  >();
  private readonly skipped: SkippedInput[] = [];
  private readonly notes: ImportNote[] = [];

  stored(kind: FolderKind, path: readonly string[], itemKind: ItemKind): void {
    const key = JSON.stringify([kind, path]);
    let folder = this.folders.get(key);
    if (!folder) {
      folder = { kind, path: [...path], counts: {} };
      this.folders.set(key, folder);
    }
    folder.counts[itemKind] = (folder.counts[itemKind] ?? 0) + 1;
  }

  skip(input: string, reason: string): void {
    this.skipped.push({ input, reason });
  }

  note(input: string, note: string): void {
    this.notes.push({ input, note });
  }

  build(): ImportReport {
    const totals: Partial<Record<ItemKind, number>> = {};
    for (const folder of this.folders.values()) {
      for (const [kind, count] of Object.entries(folder.counts) as Array<[ItemKind, number]>) {
        totals[kind] = (totals[kind] ?? 0) + count;
      }
    }
    return {
      folders: [...this.folders.values()],
      totals,
      skipped: [...this.skipped],
      notes: [...this.notes],
    };
  }
}
