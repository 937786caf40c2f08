import type { ItemKind } from '../core/source.js';
import { lineText, scanLines } from './lines.js';

export interface CalendarKind {
  readonly kind: ItemKind;
  readonly note?: string;
}

/**
 * Tells a stored calendar item's kind from the components it holds, reading it line by line:
 * a VEVENT makes it an event, else a VTODO a task, else a VJOURNAL a note. An item whose
 * BEGIN/END lines do not nest (RFC 5545 section 3.4) or that holds none of these is still
 * exported, as an event, with a note that says why.
 */
export async function classifyCalendarFile(
  path: string | Buffer,
  signal?: AbortSignal,
): Promise<CalendarKind> {
  const stack: string[] = [];
  const seen = new Set<string>();
  let problem: string | undefined;

  // The signal is checked per batch rather than handed to the file stream: a listing
  // classifies many files at once, and each stream would hold a listener on the job's signal.
  for await (const batch of scanLines(path, { headBytes: 256 })) {
    signal?.throwIfAborted();
    for (const line of batch) {
      if (problem !== undefined) break;
      const match = /^(BEGIN|END)\s*:\s*(\S*)\s*$/i.exec(lineText(line));
      if (!match) continue;
      const name = (match[2] ?? '').toUpperCase();
      if (match[1]?.toUpperCase() === 'BEGIN') {
        stack.push(name);
        seen.add(name);
      } else if (stack.at(-1) !== name) {
        problem = `END:${name} closes ${stack.length ? `BEGIN:${stack.at(-1)}` : 'nothing'}`;
      } else stack.pop();
    }
    if (problem !== undefined) break;
  }

  if (problem === undefined && stack.length > 0) problem = `BEGIN:${stack.at(-1)} has no END`;
  if (problem === undefined && seen.size === 0) problem = 'no BEGIN line';
  if (problem !== undefined) {
    return {
      kind: 'event',
      note: `not a well-formed iCalendar object (${problem}); exported as is`,
    };
  }

  if (seen.has('VEVENT')) return { kind: 'event' };
  if (seen.has('VTODO')) return { kind: 'task' };
  if (seen.has('VJOURNAL')) return { kind: 'note' };
  return { kind: 'event', note: 'holds no VEVENT, VTODO or VJOURNAL component; exported as is' };
}
