import { MailboxWriter } from '../src/store/index.js';
import type { Generated } from './gen-mail.js';
import { chooser, type Chooser } from './random.js';

/**
 * M4: calendar items as the embedded store keeps them, one `.ics` per item, with weekly,
 * monthly, daily and yearly recurrences, exceptions, overridden instances, all-day items and
 * four time zones on both hemispheres (so that DST rules differ).
 */

const ZONES: Readonly<Record<string, string>> = {
  'Europe/Paris': zone(
    'Europe/Paris',
    '+0100',
    '+0200',
    'CET',
    'CEST',
    '-1SU;BYMONTH=3',
    '-1SU;BYMONTH=10',
    '020000',
    '030000',
  ),
  'America/New_York': zone(
    'America/New_York',
    '-0500',
    '-0400',
    'EST',
    'EDT',
    '2SU;BYMONTH=3',
    '1SU;BYMONTH=11',
    '020000',
    '020000',
  ),
  'Australia/Sydney': zone(
    'Australia/Sydney',
    '+1000',
    '+1100',
    'AEST',
    'AEDT',
    '1SU;BYMONTH=10',
    '1SU;BYMONTH=4',
    '020000',
    '030000',
  ),
};

function zone(
  id: string,
  standard: string,
  daylight: string,
  standardName: string,
  daylightName: string,
  daylightDay: string,
  standardDay: string,
  daylightAt: string,
  standardAt: string,
): string {
  return [
    'BEGIN:VTIMEZONE',
    `TZID:${id}`,
    'BEGIN:DAYLIGHT',
    `TZOFFSETFROM:${standard}`,
    `TZOFFSETTO:${daylight}`,
    `TZNAME:${daylightName}`,
    `DTSTART:19700101T${daylightAt}`,
    `RRULE:FREQ=YEARLY;BYDAY=${daylightDay}`,
    'END:DAYLIGHT',
    'BEGIN:STANDARD',
    `TZOFFSETFROM:${daylight}`,
    `TZOFFSETTO:${standard}`,
    `TZNAME:${standardName}`,
    `DTSTART:19700101T${standardAt}`,
    `RRULE:FREQ=YEARLY;BYDAY=${standardDay}`,
    'END:STANDARD',
    'END:VTIMEZONE',
  ].join('\r\n');
}

const TOKYO = [
  'BEGIN:VTIMEZONE',
  'TZID:Asia/Tokyo',
  'BEGIN:STANDARD',
  'TZOFFSETFROM:+0900',
  'TZOFFSETTO:+0900',
  'TZNAME:JST',
  'DTSTART:19700101T000000',
  'END:STANDARD',
  'END:VTIMEZONE',
].join('\r\n');

const RULES = [
  'FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=30',
  'FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;UNTIL=20261231T235959Z',
  'FREQ=MONTHLY;BYMONTHDAY=15;COUNT=12',
  'FREQ=MONTHLY;BYDAY=-1FR',
  'FREQ=DAILY;INTERVAL=3;COUNT=10',
  'FREQ=YEARLY;BYMONTH=6;BYMONTHDAY=21',
];

const SUMMARIES = ['Stand-up', 'Revue de projet', 'Планёрка', '定例会議', 'Budget review', 'Café'];

function stamp(date: Date, utc: boolean): string {
  const text = date.toISOString().replace(/[-:]/g, '').slice(0, 15);
  return utc ? `${text}Z` : text;
}

function fold(line: string): string {
  // RFC 5545 3.1: lines longer than 75 octets are folded; ours stay short, but UTF-8
  // summaries are checked anyway.
  return Buffer.byteLength(line) <= 75 ? line : `${line.slice(0, 60)}\r\n ${line.slice(60)}`;
}

function item(n: number, choose: Chooser): string {
  const uid = `bench-m4-${n}@mailbox-export.invalid`;
  const zones = [...Object.keys(ZONES), 'Asia/Tokyo'];
  const tzid = choose.pick(zones);
  const start = new Date(Date.UTC(2025, choose.int(0, 11), choose.int(1, 28), choose.int(7, 18)));
  const end = new Date(start.getTime() + choose.pick([30, 60, 90]) * 60_000);
  const allDay = choose.next() < 0.15;
  const rule = choose.next() < 0.7 ? choose.pick(RULES) : undefined;
  const summary = `${choose.pick(SUMMARIES)} ${n}`;
  const dtstamp = `DTSTAMP:${stamp(new Date(Date.UTC(2025, 0, 1)), true)}`;

  const when = allDay
    ? [`DTSTART;VALUE=DATE:${stamp(start, false).slice(0, 8)}`]
    : [`DTSTART;TZID=${tzid}:${stamp(start, false)}`, `DTEND;TZID=${tzid}:${stamp(end, false)}`];
  const main = ['BEGIN:VEVENT', `UID:${uid}`, dtstamp, ...when, fold(`SUMMARY:${summary}`)];
  if (rule) main.push(`RRULE:${rule}`);
  const week = 7 * 24 * 3600 * 1000;
  const exception = rule && !allDay && choose.next() < 0.3;
  if (exception) main.push(`EXDATE;TZID=${tzid}:${stamp(new Date(start.getTime() + week), false)}`);
  main.push('END:VEVENT');

  const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//mailbox-export//bench//EN'];
  if (!allDay) lines.push(tzid === 'Asia/Tokyo' ? TOKYO : ZONES[tzid]!);
  lines.push(...main);
  if (rule && !allDay && choose.next() < 0.25) {
    const moved = new Date(start.getTime() + 2 * week);
    lines.push(
      'BEGIN:VEVENT',
      `UID:${uid}`,
      dtstamp,
      `RECURRENCE-ID;TZID=${tzid}:${stamp(moved, false)}`,
      `DTSTART;TZID=${tzid}:${stamp(new Date(moved.getTime() + 3600_000), false)}`,
      `DTEND;TZID=${tzid}:${stamp(new Date(end.getTime() + 2 * week + 3600_000), false)}`,
      fold(`SUMMARY:${summary} (moved)`),
      'END:VEVENT',
    );
  }
  lines.push('END:VCALENDAR', '');
  return lines.join('\r\n');
}

export async function generateM4(dir: string, scale: number): Promise<Generated> {
  const writer = await MailboxWriter.open(dir, { durable: false });
  const choose = chooser('M4');
  const calendars = ['Work', 'Privé', 'Family'];
  const count = Math.max(1, Math.round(1000 * scale));
  let bytes = 0;
  for (let n = 0; n < count; n++) {
    const body = item(n, choose);
    const stored = await writer.addCalendarItem(
      calendars[n % calendars.length]!,
      `item-${n}`,
      body,
      {
        date: new Date(Date.UTC(2025, 0, 1) + n * 60_000),
      },
    );
    bytes += stored.size;
  }
  return { messages: count, bytes, folders: calendars.length };
}
