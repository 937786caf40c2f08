import { isUtf8 } from 'node:buffer';
import ICAL from 'ical.js';

/**
 * The few properties of a calendar item that its MIME wrapper and the manifest show. They are
 * read, never made up: a property that is missing or cannot be read is left out, and when the
 * item does not parse at all `problem` says why (the item is exported all the same).
 */
export interface CalendarFields {
  readonly uid?: string;
  readonly summary?: string;
  /** `VEVENT`, `VTODO`, `VJOURNAL`: the first component that is not a time zone. */
  readonly component?: string;
  /** The iTIP method of the VCALENDAR (RFC 5546), when it has one. */
  readonly method?: string;
  /** DTSTAMP, always UTC per RFC 5545 §3.8.7.2. */
  readonly dtstamp?: CalendarTime;
  readonly dtstart?: CalendarTime;
  readonly problem?: string;
}

/**
 * A time as the item writes it. `utc` is false for floating times, for times in a TZID zone
 * and for dates: turning those into an instant would need the reader's time zone, and the
 * export must not depend on it.
 */
export interface CalendarTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly utc: boolean;
  readonly dateOnly: boolean;
}

type Component = InstanceType<typeof ICAL.Component>;

function text(component: Component, name: string): string | undefined {
  const value = component.getFirstPropertyValue(name);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function time(component: Component, name: string): CalendarTime | undefined {
  const value = component.getFirstPropertyValue(name);
  if (!(value instanceof ICAL.Time)) return undefined;
  return {
    year: value.year,
    month: value.month,
    day: value.day,
    hour: value.hour,
    minute: value.minute,
    second: value.second,
    utc: value.zone === ICAL.Timezone.utcTimezone,
    dateOnly: value.isDate,
  };
}

/**
 * Control characters other than tab, CR and LF: RFC 5545 §3.1 allows none in a content line,
 * and ical.js reads them into values without a word.
 */
// eslint-disable-next-line no-control-regex
const CONTROL_BYTES = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

/**
 * TZIDs that properties of the calendar name but no VTIMEZONE of it defines: RFC 5545
 * §3.2.19 requires one per TZID, and without it the times cannot be placed. ical.js reads such
 * times as floating without a word. Zone names are not looked up in the system's zone data,
 * which differs between machines: the same item must give the same manifest everywhere.
 */
function undefinedZones(root: Component): string[] {
  const defined = new Set(
    root.getAllSubcomponents('vtimezone').map((zone) => String(zone.getFirstPropertyValue('tzid'))),
  );
  const missing = new Set<string>();
  const visit = (component: Component): void => {
    for (const property of component.getAllProperties()) {
      const tzid = property.getParameter('tzid');
      const zone = Array.isArray(tzid) ? tzid[0] : tzid;
      if (typeof zone === 'string' && !defined.has(zone)) missing.add(zone);
    }
    for (const inner of component.getAllSubcomponents()) {
      if (inner.name !== 'vtimezone') visit(inner);
    }
  };
  visit(root);
  return [...missing].sort();
}

/** Reads the fields with ical.js; bytes that are not UTF-8 are read with replacement. */
export function readCalendarFields(ics: Buffer): CalendarFields {
  const source = ics.toString('utf8').replace(/^\ufeff/, '');
  if (source.trim() === '') return { problem: 'the item is empty' };

  let root: Component;
  try {
    const parsed: unknown = ICAL.parse(source);
    // Several VCALENDARs in one item parse to a list; the first one names the item.
    const first = Array.isArray(parsed) && Array.isArray(parsed[0]) ? parsed[0] : parsed;
    root = new ICAL.Component(first as unknown[]);
  } catch (error) {
    return { problem: `iCalendar does not parse: ${(error as Error).message}` };
  }

  try {
    const isCalendar = root.name === 'vcalendar';
    const main = isCalendar
      ? root.getAllSubcomponents().find((component) => component.name !== 'vtimezone')
      : root;
    const method = isCalendar ? text(root, 'method') : undefined;
    if (main === undefined) {
      return { ...(method ? { method } : {}), problem: 'the calendar holds no event' };
    }

    const fields: Record<string, unknown> = {
      component: main.name.toUpperCase(),
      uid: text(main, 'uid'),
      summary: text(main, 'summary'),
      method,
      dtstamp: time(main, 'dtstamp'),
      dtstart: time(main, 'dtstart'),
    };
    const problems: string[] = [];
    if (!isCalendar)
      problems.push(`not inside a VCALENDAR: it begins with ${main.name.toUpperCase()}`);
    if (!isUtf8(ics)) problems.push('not UTF-8: text read with U+FFFD for the bad bytes');
    if (CONTROL_BYTES.test(source)) problems.push('holds control characters such as NUL');
    const zones = undefinedZones(root);
    if (zones.length > 0) {
      const named = zones.slice(0, 5).map((zone) => JSON.stringify(zone.slice(0, 100)));
      problems.push(`no VTIMEZONE defines TZID ${named.join(', ')}; times read as floating`);
    }
    if (problems.length > 0) fields.problem = problems.join('; ');
    for (const key of Object.keys(fields)) if (fields[key] === undefined) delete fields[key];
    return fields as CalendarFields;
  } catch (error) {
    return { problem: `iCalendar properties do not parse: ${(error as Error).message}` };
  }
}
