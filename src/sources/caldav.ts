import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

import { calendarQuery, type DAVResponse, propfind } from 'tsdav';

import { ExportError } from '../core/errors.js';
import {
  type ItemContent,
  type ItemKind,
  ItemVanishedError,
  type MailboxSource,
  type SourceFolder,
  type SourceItem,
} from '../core/source.js';
import { basicAuth, boundedFetch, checkDav, davNetworkError, davStatusError } from './dav-http.js';

export interface CaldavSourceOptions {
  /** Base URL of the server, `https://dav.example.com` (a path is kept). */
  readonly serverUrl: string;
  /** The mailbox owner whose calendars are exported. */
  readonly user: string;
  /** An admin that may read every user's calendars (HTTP Basic). */
  readonly admin: { readonly username: string; readonly password: string };
  /**
   * Where the user's calendars are, with `{user}` for the (URL-encoded) user name, relative to
   * `serverUrl` or absolute. `calendarHome` names the collection that holds the calendars;
   * otherwise `principal` (default `/{user}/`) is asked for its calendar-home-set
   * (RFC 4791 section 6.2.1).
   */
  readonly calendarHome?: string;
  readonly principal?: string;
  /** Path levels put before each calendar's name, such as `['Calendars']`. Default none. */
  readonly folderPrefix?: readonly string[];
}

const COMPONENT_KINDS: ReadonlyArray<readonly [string, ItemKind]> = [
  ['VEVENT', 'event'],
  ['VTODO', 'task'],
  ['VJOURNAL', 'note'],
];

/**
 * Opens one user's calendars on a CalDAV server as a mailbox of calendar folders, and checks
 * the admin's access at once. Each calendar collection is a folder of kind `calendar`; each
 * calendar object resource an item whose id is its href, whose kind follows its component
 * (VEVENT: event; otherwise VTODO: task; otherwise VJOURNAL: note), and whose bytes are the
 * body of a GET, exactly as the server sends them. A REPORT would carry the same data inside
 * XML, where line ends are normalized (XML 1.0 section 2.11), so it is used for kinds only.
 */
export async function openCaldavCalendars(options: CaldavSourceOptions): Promise<MailboxSource> {
  const source = new CaldavCalendars(options);
  await source.findHome();
  return source;
}

class CaldavCalendars implements MailboxSource {
  readonly #o: CaldavSourceOptions;
  readonly #headers: Record<string, string>;
  readonly #base: URL;
  #home?: string;
  /** Collection URL of each listed folder, by its path. */
  readonly #urls = new Map<string, string>();

  constructor(options: CaldavSourceOptions) {
    this.#o = options;
    this.#headers = { authorization: basicAuth(options.admin.username, options.admin.password) };
    try {
      this.#base = new URL(
        options.serverUrl.endsWith('/') ? options.serverUrl : `${options.serverUrl}/`,
      );
    } catch (error) {
      throw new ExportError(
        'SourceUnavailable',
        `CalDAV server URL ${options.serverUrl} is invalid`,
        {
          cause: error,
        },
      );
    }
    if (!options.user) throw new ExportError('SourceUnavailable', 'CalDAV source: user is empty');
  }

  async findHome(): Promise<void> {
    if (this.#o.calendarHome) {
      this.#home = this.#resolve(this.#o.calendarHome);
      await this.#propfind(this.#home, '0', { 'd:resourcetype': {} }, 'the calendar home');
      return;
    }

    const principal = this.#resolve(this.#o.principal ?? '/{user}/');
    const [answer] = await this.#propfind(
      principal,
      '0',
      { 'c:calendar-home-set': {} },
      'the principal',
    );
    const href = hrefOf(answer?.props?.calendarHomeSet?.href);
    this.#home = href ? new URL(href, principal).href : principal;
  }

  async listFolders(signal: AbortSignal): Promise<SourceFolder[]> {
    const home = this.#home as string;
    const members = await this.#propfind(
      home,
      '1',
      {
        'd:displayname': {},
        'd:resourcetype': {},
        'd:sync-token': {},
        'cs:getctag': {},
        'c:supported-calendar-component-set': {},
      },
      'the calendar home',
      signal,
    );

    const found: Array<{ url: string; name: string; validity?: string }> = [];
    for (const member of members) {
      if (!member.href || !member.ok) continue;
      const url = new URL(String(member.href), home).href;
      if (url === home || !('calendar' in (member.props?.resourcetype ?? {}))) continue;
      if (!holdsItems(member.props?.supportedCalendarComponentSet?.comp)) continue;
      const segment = decodeURIComponent(
        new URL(url).pathname.replace(/\/$/, '').split('/').pop() ?? '',
      );
      const shown = member.props?.displayname;
      const name = typeof shown === 'string' || typeof shown === 'number' ? String(shown) : segment;
      const validity = member.props?.syncToken ?? member.props?.getctag;
      found.push({
        url,
        name: name || segment,
        ...(validity ? { validity: String(validity) } : {}),
      });
    }

    // Two calendars may carry one display name; the later ones are told apart by their URL.
    found.sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
    const taken = new Set<string>();
    const folders: SourceFolder[] = [];
    for (const calendar of found) {
      let name = calendar.name;
      if (taken.has(name)) name = `${name} (${decodeURIComponent(new URL(calendar.url).pathname)})`;
      taken.add(name);
      const path = [...(this.#o.folderPrefix ?? []), name];
      this.#urls.set(JSON.stringify(path), calendar.url);
      folders.push({
        path,
        kind: 'calendar',
        ...(calendar.validity ? { validity: calendar.validity } : {}),
      });
    }
    return folders;
  }

  /** A collection in one chunk: its PROPFIND comes back as one response, held whole anyway. */
  async *listItems(folder: SourceFolder, signal: AbortSignal): AsyncGenerator<SourceItem[]> {
    yield await this.#listCollection(folder, signal);
  }

  async #listCollection(folder: SourceFolder, signal: AbortSignal): Promise<SourceItem[]> {
    const url = this.#urlOf(folder);
    const members = await this.#propfind(
      url,
      '1',
      { 'd:getetag': {}, 'd:getcontentlength': {}, 'd:resourcetype': {} },
      `calendar ${folder.path.join('/')}`,
      signal,
    );

    const kinds = new Map<string, ItemKind>();
    for (const [component, kind] of [...COMPONENT_KINDS].reverse()) {
      for (const href of await this.#withComponent(url, component, signal)) {
        kinds.set(samePath(href), kind);
      }
    }

    const items: SourceItem[] = [];
    for (const member of members) {
      if (!member.href || !member.ok) continue;
      const itemUrl = new URL(String(member.href), url);
      if (itemUrl.href === url || Object.keys(member.props?.resourcetype ?? {}).length > 0)
        continue;
      const id = itemUrl.pathname;
      const kind = kinds.get(samePath(id));
      const size = Number(member.props?.getcontentlength);
      items.push({
        id,
        kind: kind ?? 'note',
        ...(Number.isSafeInteger(size) && size >= 0 ? { size } : {}),
        ...(kind ? {} : { note: 'the calendar object holds no VEVENT, VTODO or VJOURNAL' }),
      });
    }
    return items.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async *readItems(
    folder: SourceFolder,
    items: readonly SourceItem[],
    signal: AbortSignal,
  ): AsyncGenerator<ItemContent> {
    const base = this.#urlOf(folder);
    for (const item of items) {
      signal.throwIfAborted();
      const url = new URL(item.id, base).href;
      let response: Response;
      try {
        response = await fetch(url, { headers: this.#headers, signal });
      } catch (error) {
        signal.throwIfAborted();
        throw davNetworkError(error, url);
      }

      if (response.status === 404 || response.status === 410) {
        await response.body?.cancel();
        yield {
          item,
          error: new ItemVanishedError(
            `calendar object ${item.id} of ${folder.path.join('/')} was deleted after the ` +
              'export started',
          ),
        };
      } else if (!response.ok || !response.body) {
        await response.body?.cancel();
        const error = davStatusError(
          response.status,
          response.statusText,
          this.#context(url, 'GET'),
        );
        if (response.status === 401 || response.status === 403) throw error;
        yield { item, error };
      } else {
        yield { item, body: Readable.fromWeb(response.body as WebReadableStream<Uint8Array>) };
      }
    }
  }

  async close(): Promise<void> {
    // Each request is on its own; nothing is held open between them.
  }

  /** Hrefs (paths) of the objects that hold the component (RFC 4791 section 7.8). */
  async #withComponent(url: string, component: string, signal: AbortSignal): Promise<string[]> {
    let answers: DAVResponse[];
    try {
      answers = await calendarQuery({
        url,
        props: { 'd:getetag': {} },
        filters: {
          'comp-filter': {
            _attributes: { name: 'VCALENDAR' },
            'comp-filter': { _attributes: { name: component } },
          },
        },
        depth: '1',
        headers: this.#headers,
        fetch: boundedFetch,
        fetchOptions: { signal },
      });
    } catch (error) {
      signal.throwIfAborted();
      throw new ExportError(
        'SourceUnavailable',
        `CalDAV calendar-query for ${component} at ${url} failed: check the server log`,
        { cause: error },
      );
    }
    return answers.filter((a) => a.href && a.ok).map((a) => new URL(String(a.href), url).pathname);
  }

  async #propfind(
    url: string,
    depth: '0' | '1',
    props: Record<string, object>,
    what: string,
    signal?: AbortSignal,
  ): Promise<DAVResponse[]> {
    let answers: DAVResponse[];
    try {
      answers = await propfind({
        url,
        props,
        depth,
        headers: this.#headers,
        fetch: boundedFetch,
        fetchOptions: signal ? { signal } : {},
      });
    } catch (error) {
      signal?.throwIfAborted();
      throw davNetworkError(error, url);
    }
    return checkDav(answers, this.#context(url, what));
  }

  #context(url: string, what: string) {
    return { url, what, admin: this.#o.admin.username, user: this.#o.user };
  }

  #resolve(template: string): string {
    const filled = template.replaceAll('{user}', encodeURIComponent(this.#o.user));
    const url = new URL(filled.replace(/^\//, ''), this.#base);
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    return url.href;
  }

  #urlOf(folder: SourceFolder): string {
    const url = this.#urls.get(JSON.stringify(folder.path));
    if (!url || folder.kind !== 'calendar') {
      throw new Error(`the CalDAV source listed no calendar ${folder.path.join('/')}`);
    }
    return url;
  }
}

/** False when the collection declares only components that are not calendar items. */
function holdsItems(comp: unknown): boolean {
  if (comp === undefined || comp === null) return true;
  const names = (Array.isArray(comp) ? comp : [comp]).map((c) =>
    String((c as { _attributes?: { name?: string } })?._attributes?.name ?? '').toUpperCase(),
  );
  return names.some((n) => COMPONENT_KINDS.some(([component]) => component === n));
}

function hrefOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

/** A path with its escapes undone, so that `%40` and `@` name the same object. */
function samePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
