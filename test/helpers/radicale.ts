import { spawn } from 'node:child_process';
import { chmod, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { freePort } from './dovecot.js';

/**
 * A Radicale 3 CalDAV server of its own for one test file: own config, storage folder and
 * users (plain-text htpasswd), on a free port of 127.0.0.1. Each user reads and writes its own
 * collections; the admin user reads every collection, which is what an export needs.
 *
 * Debian's /usr/bin/radicale runs with /usr/bin/python3; the first python3 on PATH may be
 * another one without the radicale module, so the script is started by its full path.
 */

export interface RadicaleUser {
  readonly name: string;
  readonly password: string;
}

export interface Radicale {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly logPath: string;
  /** A fetch with the user's Basic credentials, relative to the server URL. */
  request(user: RadicaleUser, path: string, init?: RequestInit): Promise<Response>;
  /** Creates a calendar collection `/<user>/<name>/` (MKCALENDAR, RFC 4791 section 5.3.1). */
  makeCalendar(user: RadicaleUser, name: string, displayName?: string): Promise<string>;
  /** Stores one calendar object resource; throws with Radicale's answer when it refuses. */
  put(user: RadicaleUser, path: string, body: Uint8Array | string): Promise<void>;
  stop(): Promise<void>;
}

export async function startRadicale(options: {
  users: readonly RadicaleUser[];
  admin: RadicaleUser;
}): Promise<Radicale> {
  const root = await mkdtemp(join(tmpdir(), 'mbx-radicale-'));
  await chmod(root, 0o755);
  const port = await freePort();
  const users = [...options.users, options.admin];
  await writeFile(join(root, 'users'), users.map((u) => `${u.name}:${u.password}\n`).join(''));
  await writeFile(join(root, 'rights'), rights(options.admin.name));
  await writeFile(
    join(root, 'config'),
    [
      '[server]',
      `hosts = 127.0.0.1:${port}`,
      '[auth]',
      'type = htpasswd',
      `htpasswd_filename = ${join(root, 'users')}`,
      'htpasswd_encryption = plain',
      'delay = 0',
      '[rights]',
      'type = from_file',
      `file = ${join(root, 'rights')}`,
      '[storage]',
      `filesystem_folder = ${join(root, 'collections')}`,
      '[web]',
      'type = none',
      '[logging]',
      'level = warning',
      '',
    ].join('\n'),
  );

  const logPath = join(root, 'radicale.log');
  const log = await open(logPath, 'a');
  const child = spawn('/usr/bin/radicale', ['--config', join(root, 'config')], {
    stdio: ['ignore', log.fd, log.fd],
  });
  await log.close();
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    if (child.exitCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
    await rm(root, { recursive: true, force: true });
  };

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`radicale exited: ${(await readFile(logPath, 'utf8')).slice(-2000)}`);
    }
    try {
      await fetch(`${url}/.well-known/caldav`, { redirect: 'manual' });
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`radicale did not answer on ${url}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  const request = (user: RadicaleUser, path: string, init: RequestInit = {}) =>
    fetch(new URL(path, url), {
      ...init,
      headers: {
        authorization: `Basic ${Buffer.from(`${user.name}:${user.password}`).toString('base64')}`,
        ...(init.headers as Record<string, string> | undefined),
      },
    });

  return {
    url,
    port,
    logPath,
    request,
    makeCalendar: async (user, name, displayName = name) => {
      const path = `/${encodeURIComponent(user.name)}/${encodeURIComponent(name)}/`;
      const response = await request(user, path, {
        method: 'MKCALENDAR',
        headers: { 'content-type': 'application/xml; charset=utf-8' },
        body:
          '<?xml version="1.0" encoding="utf-8"?>' +
          '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">' +
          `<D:set><D:prop><D:displayname>${escapeXml(displayName)}</D:displayname>` +
          '<C:supported-calendar-component-set><C:comp name="VEVENT"/><C:comp name="VTODO"/>' +
          '<C:comp name="VJOURNAL"/></C:supported-calendar-component-set>' +
          '</D:prop></D:set></C:mkcalendar>',
      });
      if (response.status !== 201) {
        throw new Error(`MKCALENDAR ${path}: ${response.status} ${await response.text()}`);
      }
      return path;
    },
    put: async (user, path, body) => {
      const response = await request(user, path, {
        method: 'PUT',
        headers: { 'content-type': 'text/calendar; charset=utf-8' },
        body: typeof body === 'string' ? body : new Uint8Array(body),
      });
      if (response.status !== 201 && response.status !== 204) {
        throw new Error(`PUT ${path}: ${response.status} ${await response.text()}`);
      }
      await response.arrayBuffer();
    },
    stop,
  };
}

/** Radicale's rights file: the first section whose user and collection patterns match wins. */
function rights(admin: string): string {
  return `
[admin-principals]
user: ${escapeRegExp(admin)}
collection: [^/]*
permissions: R

[admin-collections]
user: ${escapeRegExp(admin)}
collection: [^/]+/[^/]+
permissions: r

[root]
user: .+
collection:
permissions: R

[principal]
user: .+
collection: {user}
permissions: RW

[calendars]
user: .+
collection: {user}/[^/]+
permissions: rw
`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
