import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { ExportJob } from '../../src/core/model.js';
import { type Dovecot, freePort } from '../helpers/dovecot.js';
import { corpusRoot } from '../helpers/paths.js';
import { sha256 } from '../sources/imap-corpus.js';
import {
  fetchStored,
  imapSettings,
  type FetchedMessage,
  loadedDovecot,
  USER,
} from './fixtures/corpus-servers.js';
import { beginStop, finishRestart, loginsSinceStart } from './fixtures/dovecot-control.js';
import {
  download,
  exportMailbox,
  objectsUnder,
  openRemoteApp,
  type RemoteApp,
  sourceFolders,
} from './fixtures/remote-app.js';

/**
 * Export jobs of the app when the mail server fails them: a restart in the middle, a server
 * that stays down, a wrong admin password, a closed port, and a TLS certificate for another
 * name. A job either completes with the bytes the server stores, or fails with an ErrorInfo
 * that says what went wrong and what to check, and leaves no object behind.
 */

/** 400 Enron messages in eight folders: a job needs the connection again for each folder. */
function plan(): Map<readonly string[], string[]> {
  const inbox = join(corpusRoot, 'mail/enron/stepenovitch-j/inbox');
  const files = readdirSync(inbox)
    .filter((name) => statSync(join(inbox, name)).isFile())
    .sort()
    .slice(0, 400)
    .map((name) => join(inbox, name));
  const tree = new Map<readonly string[], string[]>();
  for (let i = 0; i < 8; i++) {
    tree.set(
      i === 0 ? ['INBOX'] : ['Archiv', `Jahr ${2000 + i}`],
      files.slice(i * 50, i * 50 + 50),
    );
  }
  return tree;
}

/** Shows the ErrorInfo in the test report, for a reader to judge its wording. */
function diagnostic(text: string | undefined): void {
  process.stderr.write(`ErrorInfo: ${text}\n`);
}

describe('export jobs when the mail server fails', () => {
  let root: string;
  let dovecot: Dovecot;
  let fetched: FetchedMessage[];
  let remote: RemoteApp;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mbx-e2e-faults-'));
    ({ dovecot } = await loadedDovecot(plan()));
    fetched = await fetchStored(dovecot);
    remote = await openRemoteApp(join(root, 'main'), USER.name, { imap: imapSettings(dovecot) });
  });

  after(async () => {
    await remote?.app.close();
    await dovecot?.destroy();
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** Stops Dovecot once the job has exported `after` items, and starts it again if asked. */
  const stopMidway = (options: { after: number; restart: boolean }) => {
    const state: { done?: number; total?: number; restarted?: Promise<void> } = {};
    remote.onEvent = (event) => {
      if (event.type !== 'progress' || state.done !== undefined) return;
      if (event.progress.itemsDone < options.after) return;
      state.done = event.progress.itemsDone;
      state.total = event.progress.itemsTotal;
      const pid = beginStop(dovecot);
      state.restarted = options.restart ? finishRestart(dovecot, pid) : dovecot.stop();
    };
    return state;
  };

  const assertFailedClean = async (r: RemoteApp, job: ExportJob, prefix: string) => {
    assert.equal(job.state, 'FAILED');
    diagnostic(job.errorInfo);
    assert.ok(job.errorInfo, 'a failed job says why');
    assert.deepEqual(await objectsUnder(r, prefix), [], 'no object is left');
  };

  test('Dovecot restarted mid-export: the job reconnects and completes with its bytes', async () => {
    const stop = stopMidway({ after: 60, restart: true });
    const job = await exportMailbox(remote, 'restart/');
    await stop.restarted;
    remote.onEvent = () => undefined;

    assert.ok(
      stop.done !== undefined && stop.done < (stop.total ?? 0),
      `stopped mid-export (${stop.done}/${stop.total}; job ${job.state}: ${job.errorInfo})`,
    );
    assert.equal(job.state, 'COMPLETED', job.errorInfo);
    assert.ok((await loginsSinceStart(dovecot, USER.name)) >= 1, 'the job logged in again');

    const zip = await download(remote, job, root);
    const bytes = await readFile(zip.zipPath);
    assert.equal(createHash('sha384').update(bytes).digest('hex'), zip.log.sha384Hash);
    assert.equal(String(bytes.length), zip.log.totalBytes);

    const folders = sourceFolders(zip.manifest);
    const exported = zip.manifest.items.map(
      (i) => `${folders.get(i.folder)} ${i.sourceId} ${sha256(zip.entries.get(i.zipPath)!)}`,
    );
    const stored = fetched.map((m) => `${m.folder} ${m.uid} ${m.sha256}`);
    assert.deepEqual(exported.sort(), stored.sort());
    assert.deepEqual(zip.manifest.unreadable, []);
  });

  test('a wrong admin password fails the job and says to check the password', async () => {
    const wrong = await openRemoteApp(join(root, 'password'), USER.name, {
      imap: imapSettings(dovecot, { password: 'not-the-password' }),
    });
    try {
      const job = await exportMailbox(wrong, 'password/');
      await assertFailedClean(wrong, job, 'password/');
      assert.match(job.errorInfo!, /IMAP login as alice\*admin on 127\.0\.0\.1:\d+ was refused/);
      assert.match(job.errorInfo!, /check the admin password/);
      assert.doesNotMatch(job.errorInfo!, /not-the-password/, 'the password is not shown');
    } finally {
      await wrong.app.close();
    }
  });

  test('a closed port fails the job and says that nothing listens there', async () => {
    const port = await freePort();
    const closed = await openRemoteApp(join(root, 'closed'), USER.name, {
      imap: imapSettings({ host: '127.0.0.1', port }),
    });
    try {
      const job = await exportMailbox(closed, 'closed/');
      await assertFailedClean(closed, job, 'closed/');
      assert.match(job.errorInfo!, new RegExp(`nothing accepts connections on 127.0.0.1:${port}`));
      assert.match(job.errorInfo!, /check the host, the port and that the IMAP server runs/);
    } finally {
      await closed.app.close();
    }
  });

  test('Dovecot stopped for good mid-export: the job fails, names the server, leaves nothing', async () => {
    const stop = stopMidway({ after: 60, restart: false });
    const job = await exportMailbox(remote, 'down/');
    await stop.restarted;
    remote.onEvent = () => undefined;

    assert.ok(
      stop.done !== undefined && stop.done < (stop.total ?? 0),
      `stopped mid-export (${stop.done}/${stop.total}; job ${job.state}: ${job.errorInfo})`,
    );
    await assertFailedClean(remote, job, 'down/');
    assert.match(job.errorInfo!, new RegExp(`127\\.0\\.0\\.1:${dovecot.port}`));
    assert.match(job.errorInfo!, /check/);
    await dovecot.start();
  });
});

describe('export jobs against a TLS certificate for another name', () => {
  let root: string;
  let dovecot: Dovecot;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mbx-e2e-tls-'));
    ({ dovecot } = await loadedDovecot(new Map(), { tls: { hostnames: ['mail.example.net'] } }));
  });

  after(async () => {
    await dovecot?.destroy();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const exportOver = async (name: string, extra: object) => {
    const r = await openRemoteApp(join(root, name), USER.name, {
      imap: imapSettings(dovecot, { tls: 'implicit', ...extra }),
    });
    try {
      const job = await exportMailbox(r, `${name}/`);
      assert.equal(job.state, 'FAILED');
      diagnostic(job.errorInfo);
      assert.deepEqual(await objectsUnder(r, `${name}/`), []);
      return job.errorInfo ?? '';
    } finally {
      await r.app.close();
    }
  };

  test('trusted, but for another name: the job fails and says the name does not match', async () => {
    const caFile = join(root, 'ca.pem');
    await writeFile(caFile, dovecot.ca!);
    const info = await exportOver('altname', { caFile });
    assert.match(
      info,
      /TLS certificate of 127\.0\.0\.1:\d+ is not valid for the name 127\.0\.0\.1/,
    );
    assert.match(info, /check the host name/);
  });

  test('not trusted at all: the job fails and says to give the CA', async () => {
    const info = await exportOver('untrusted', {});
    assert.match(info, /TLS certificate of 127\.0\.0\.1:\d+ is not signed by a trusted authority/);
    assert.match(info, /caFile|CA certificate/);
  });
});
