import type { ItemKind } from '../core/source.js';
import { LIMITS } from '../core/limits.js';
import { contentLines, parseContentLine, unescapeText, utf8Of } from './content-lines.js';

import { type Range, joinRanges } from './ranges.js';

export interface CalendarItemPlan {
  /** The item's name in the store: its UID, or `<file>-<n>` for a component without one. */
  readonly name: string;
  readonly kind: ItemKind;
  /** The source bytes that make up the item, in order. */
  readonly ranges: readonly Range[];
}

export type CalendarPlan =
  | { readonly split: true; readonly calendarName?: string; readonly items: CalendarItemPlan[] }
  | { readonly split: false; readonly calendarName?: string; readonly reason: string };

interface VCalendar {
  readonly begin: Range;
  readonly props: Range[];
  end?: Range;
}

interface Component {
  readonly calendar: number;
  readonly name: string;
  readonly start: number;
  end: number;
  uid?: string;
  tzid?: string;
  readonly tzids: Set<string>;
}

/**
 * Plans how to split an iCalendar file into one item per UID, by text: each item is a
 * VCALENDAR with the original calendar properties, every component with that UID (the master
 * and its RECURRENCE-ID overrides, RFC 5545 section 3.8.4.4) and the VTIMEZONEs they name,
 * all as the original bytes. Only places are kept in memory, never the content. A file that
 * does not nest cleanly cannot be split and is to be stored whole.
 */
export async function planCalendarSplit(
  path: string,
  fileBase: string,
  signal?: AbortSignal,
): Promise<CalendarPlan> {
  const calendars: VCalendar[] = [];
  const components: Component[] = [];
  const stack: string[] = [];
  let current: Component | undefined;
  let calendarName: string | undefined;
  const whole = (reason: string): CalendarPlan => ({ split: false, calendarName, reason });

  for await (const line of contentLines(path, signal)) {
    const parsed = parseContentLine(line.text);
    const range: Range = [line.start, line.end];
    const value = parsed.value.trim().toUpperCase();
    const depth = stack.length;

    if (depth === 0) {
      if (line.text.trim() === '') continue;
      if (parsed.name !== 'BEGIN' || value !== 'VCALENDAR') {
        return whole(`line ${JSON.stringify(line.text.slice(0, 40))} is outside a VCALENDAR`);
      }
      calendars.push({ begin: range, props: [] });
      stack.push('VCALENDAR');
      continue;
    }

    const calendar = calendars[calendars.length - 1]!;
    if (parsed.name === 'BEGIN') {
      if (depth === 1) {
        if (components.length >= LIMITS.calendarComponentsPerFile) {
          return whole(`more than ${LIMITS.calendarComponentsPerFile} components`);
        }
        current = {
          calendar: calendars.length - 1,
          name: value,
          start: line.start,
          end: line.end,
          tzids: new Set(),
        };
      }
      stack.push(value);
      continue;
    }

    if (parsed.name === 'END') {
      if (stack[depth - 1] !== value) {
        return whole(`END:${value} closes BEGIN:${stack[depth - 1]}`);
      }
      stack.pop();
      if (depth === 1) calendar.end = range;
      if (depth === 2 && current) {
        current.end = line.end;
        components.push(current);
        current = undefined;
      }
      continue;
    }

    if (depth === 1) {
      if (line.text.trim() === '') continue;
      calendar.props.push(range);
      if (parsed.name === 'X-WR-CALNAME' && calendarName === undefined) {
        calendarName = utf8Of(unescapeText(parsed.value)).trim() || undefined;
      }
      continue;
    }

    if (!current) continue;
    if (depth === 2 && parsed.name === 'UID') current.uid = utf8Of(parsed.value.trim());
    if (depth === 2 && parsed.name === 'TZID' && current.name === 'VTIMEZONE') {
      current.tzid = utf8Of(unescapeText(parsed.value.trim()));
    }
    for (const [param, paramValue] of parsed.params) {
      if (param === 'TZID') current.tzids.add(utf8Of(unescapeText(paramValue.trim())));
    }
  }

  if (stack.length > 0) return whole(`BEGIN:${stack[stack.length - 1]} has no END`);
  if (calendars.length === 0) return whole('no VCALENDAR object');
  const items = groupByUid(calendars, components, fileBase);
  if (items.length === 0) return whole('holds no component other than VTIMEZONE');
  return { split: true, calendarName, items };
}

function groupByUid(calendars: VCalendar[], components: Component[], fileBase: string) {
  const timezones = components.filter((c) => c.name === 'VTIMEZONE');
  const groups = new Map<string, Component[]>();
  let unnamed = 0;
  for (const component of components) {
    if (component.name === 'VTIMEZONE') continue;
    const key = component.uid !== undefined ? `uid:${component.uid}` : `n:${(unnamed += 1)}`;
    const group = groups.get(key) ?? [];
    group.push(component);
    groups.set(key, group);
  }

  const items: CalendarItemPlan[] = [];
  for (const [key, members] of groups) {
    const first = members[0]!;
    const calendar = calendars[first.calendar]!;
    const zones = new Map<number, Range>();
    for (const tzid of new Set(members.flatMap((m) => [...m.tzids]))) {
      // Prefer the VTIMEZONE of the component's own VCALENDAR, then any in the file.
      const zone =
        timezones.find((z) => z.tzid === tzid && z.calendar === first.calendar) ??
        timezones.find((z) => z.tzid === tzid);
      if (zone) zones.set(zone.start, [zone.start, zone.end]);
    }

    const ranges: Range[] = [
      calendar.begin,
      ...calendar.props,
      ...[...zones.values()].sort((a, b) => a[0] - b[0]),
      ...members.map((m): Range => [m.start, m.end]),
      calendar.end!,
    ];
    const names = new Set(members.map((m) => m.name));
    const kind: ItemKind = names.has('VEVENT')
      ? 'event'
      : names.has('VTODO')
        ? 'task'
        : names.has('VJOURNAL')
          ? 'note'
          : 'event';
    const name = first.uid || `${fileBase}-${key.slice(2)}`;
    items.push({ name, kind, ranges: joinRanges(ranges) });
  }
  return items;
}
