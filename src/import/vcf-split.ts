import { contentLines, parseContentLine, utf8Of } from './content-lines.js';
import type { Range } from './ranges.js';

export interface ContactPlan {
  /** The contact's UID, or `<file>-<n>`. */
  readonly name: string;
  readonly range: Range;
}

export type ContactsPlan =
  | { readonly split: true; readonly contacts: ContactPlan[] }
  | { readonly split: false; readonly reason: string };

/**
 * Finds each `BEGIN:VCARD` ... `END:VCARD` of a file (RFC 6350 section 6.1.1), counting
 * nested vCards (a vCard 2.1 AGENT may hold one) as part of the outer one. Any other text
 * outside a vCard, or a vCard that never ends, makes the file unsplittable.
 */
export async function planContactsSplit(
  path: string,
  fileBase: string,
  signal?: AbortSignal,
): Promise<ContactsPlan> {
  const contacts: ContactPlan[] = [];
  let depth = 0;
  let start = 0;
  let uid: string | undefined;

  for await (const line of contentLines(path, signal)) {
    const parsed = parseContentLine(line.text);
    const value = parsed.value.trim().toUpperCase();
    if (parsed.name === 'BEGIN' && value === 'VCARD') {
      if (depth === 0) {
        start = line.start;
        uid = undefined;
      }
      depth += 1;
      continue;
    }

    if (depth === 0) {
      if (line.text.trim() === '') continue;
      return {
        split: false,
        reason: `line ${JSON.stringify(line.text.slice(0, 40))} is outside a vCard`,
      };
    }

    if (parsed.name === 'END' && value === 'VCARD') {
      depth -= 1;
      if (depth === 0) {
        const name = uid || `${fileBase}-${contacts.length + 1}`;
        contacts.push({ name, range: [start, line.end] });
      }
      continue;
    }
    if (depth === 1 && parsed.name === 'UID') uid = utf8Of(parsed.value.trim());
  }

  if (depth > 0) return { split: false, reason: 'BEGIN:VCARD has no END' };
  if (contacts.length === 0) return { split: false, reason: 'no BEGIN:VCARD' };
  return { split: true, contacts };
}
