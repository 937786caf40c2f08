import { createReadStream } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';

import { classifyCalendarFile } from '../store/calendar-kind.js';
import type { ImportContext } from './context.js';
import { baseName } from './context.js';
import { planCalendarSplit } from './ics-split.js';
import { scanMbox } from './mbox-scan.js';
import { unescapeFromLines } from './mbox-unescape.js';
import { readRanges } from './ranges.js';
import { planContactsSplit } from './vcf-split.js';

/** One message file (`.eml`, or a file of a message tree), stored byte for byte. */
export async function importMessageFile(
  ctx: ImportContext,
  file: string,
  folder: readonly string[],
): Promise<void> {
  const info = await stat(file);
  await ctx.writer.deliverMessage(folder, createReadStream(file), { internalDate: info.mtime });
  ctx.report.stored('mail', folder, 'message');
}

/** Every message of an mbox file into one folder, unescaping `From ` lines on the way. */
export async function importMbox(ctx: ImportContext, file: string, folder: readonly string[]) {
  const fileDate = (await stat(file)).mtime;
  await withFile(file, async (handle) => {
    for await (const found of scanMbox(file, ctx.signal)) {
      if ('preamble' in found) {
        ctx.report.skip(
          `${file} bytes ${found.start}-${found.end}`,
          'text before the first "From " separator line is not a message',
        );
        continue;
      }

      if (found.end <= found.start) {
        ctx.report.skip(
          `${file} offset ${found.separatorAt}`,
          'empty message after a "From " line',
        );
        continue;
      }

      const raw = readRanges(handle, [[found.start, found.end]]);
      await ctx.writer.deliverMessage(folder, unescapeFromLines(raw, ctx.mboxFormat), {
        flags: found.flags,
        internalDate: found.internalDate ?? fileDate,
      });
      ctx.report.stored('mail', folder, 'message');
    }
  });
}

/**
 * An `.ics` file as one item per UID in a calendar named by X-WR-CALNAME or the file name.
 * A file that cannot be split is stored whole, as one item, and the report says why.
 */
export async function importCalendar(ctx: ImportContext, file: string): Promise<void> {
  const fileBase = baseName(file);
  const plan = await planCalendarSplit(file, fileBase, ctx.signal);
  const calendar = plan.calendarName ?? fileBase;
  const date = (await stat(file)).mtime;

  if (!plan.split) {
    await ctx.writer.addCalendarItem(calendar, fileBase, createReadStream(file), { date });
    ctx.report.stored('calendar', [calendar], (await classifyCalendarFile(file, ctx.signal)).kind);
    ctx.report.note(file, `stored whole as one item: ${plan.reason}`);
    return;
  }

  await withFile(file, async (handle) => {
    for (const item of plan.items) {
      ctx.signal?.throwIfAborted();
      await ctx.writer.addCalendarItem(calendar, item.name, readRanges(handle, item.ranges), {
        date,
      });
      ctx.report.stored('calendar', [calendar], item.kind);
    }
  });
}

/** A `.vcf` file as one contact per vCard, in an address book named after the file. */
export async function importContacts(ctx: ImportContext, file: string): Promise<void> {
  const book = baseName(file);
  const plan = await planContactsSplit(file, book, ctx.signal);
  const date = (await stat(file)).mtime;

  if (!plan.split) {
    await ctx.writer.addContact(book, book, createReadStream(file), { date });
    ctx.report.stored('contacts', [book], 'contact');
    ctx.report.note(file, `stored whole as one contact: ${plan.reason}`);
    return;
  }

  await withFile(file, async (handle) => {
    for (const contact of plan.contacts) {
      ctx.signal?.throwIfAborted();
      await ctx.writer.addContact(book, contact.name, readRanges(handle, [contact.range]), {
        date,
      });
      ctx.report.stored('contacts', [book], 'contact');
    }
  });
}

async function withFile(file: string, use: (handle: FileHandle) => Promise<void>): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await use(handle);
  } finally {
    await handle.close();
  }
}
