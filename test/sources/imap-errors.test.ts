import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ExportError } from '../../src/core/errors.js';
import { type ImapSourceOptions, openImapMailbox } from '../../src/sources/imap.js';
import { type Dovecot, freePort, startDovecot } from '../helpers/dovecot.js';

const ADMIN = { name: 'admin', password: 'admin-secret' };
const users = [{ name: 'alice', password: 'alice-pw' }];
const signal = () => AbortSignal.timeout(30_000);

/** Asserts an ExportError with code SourceUnavailable whose message matches, with a cause. */
function refusedWith(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ExportError, String(error));
    assert.equal(error.code, 'SourceUnavailable');
    assert.match(error.message, pattern);
    assert.ok(error.cause, 'the original error is kept as cause');
    return true;
  };
}

describe('IMAP source errors say what to check', () => {
  let plain: Dovecot;
  let tls: Dovecot;

  before(async () => {
    [plain, tls] = await Promise.all([
      startDovecot({ users, masterUser: ADMIN }),
      startDovecot({ users, masterUser: ADMIN, tls: { hostnames: ['mail.example.test'] } }),
    ]);
  });

  after(async () => {
    await Promise.all([plain?.destroy(), tls?.destroy()]);
  });

  const plainOptions = (): ImapSourceOptions => ({
    host: plain.host,
    port: plain.port,
    secure: false,
    user: 'alice',
    auth: { kind: 'master', admin: ADMIN.name, password: ADMIN.password },
  });

  // Dovecot delays each login that follows a failed one from the same address (its auth
  // penalty, 2 s doubling up to 15 s), so every refused login gets a server of its own.
  const refusedLogin = async (options: Partial<ImapSourceOptions>, pattern: RegExp) => {
    const own = await startDovecot({ users, masterUser: ADMIN });
    try {
      await assert.rejects(
        openImapMailbox({ ...plainOptions(), host: own.host, port: own.port, ...options }),
        refusedWith(pattern),
      );
    } finally {
      await own.destroy();
    }
  };

  test('a wrong admin password, as master user', async () => {
    await refusedLogin(
      { auth: { kind: 'master', admin: ADMIN.name, password: 'wrong' } },
      new RegExp(
        '^IMAP login as alice\\*admin on 127\\.0\\.0\\.1:\\d+ was refused.*: ' +
          'check the admin password, that the master user may log in as other users, ' +
          'and that the user alice exists$',
      ),
    );
  });

  test('a wrong admin password, with an authorization id', async () => {
    await refusedLogin(
      { auth: { kind: 'authzid', admin: ADMIN.name, password: 'wrong' } },
      /^IMAP login as admin \(for alice\) on .* was refused.*SASL PLAIN authorization/,
    );
  });

  test('a user that does not exist', async () => {
    await refusedLogin(
      { user: 'nobody' },
      /login as nobody\*admin .* was refused.*the user nobody exists/,
    );
  });

  test('the right login works both ways', async () => {
    for (const auth of [
      { kind: 'master', admin: ADMIN.name, password: ADMIN.password } as const,
      { kind: 'authzid', admin: ADMIN.name, password: ADMIN.password } as const,
    ]) {
      const source = await openImapMailbox({ ...plainOptions(), auth });
      const folders = await source.listFolders(signal());
      assert.ok(folders.some((f) => f.path[0] === 'INBOX'));
      await source.close();
    }
  });

  test('an unreachable port', async () => {
    const port = await freePort();
    await assert.rejects(
      openImapMailbox({ ...plainOptions(), port }),
      refusedWith(
        new RegExp(
          `nothing accepts connections on 127\\.0\\.0\\.1:${port}: ` +
            'check the host, the port and that the IMAP server runs',
        ),
      ),
    );
  });

  const tlsOptions = (): ImapSourceOptions => ({
    host: tls.host,
    port: tls.port,
    user: 'alice',
    auth: { kind: 'master', admin: ADMIN.name, password: ADMIN.password },
  });

  test('a TLS certificate made for another host name', async () => {
    await assert.rejects(
      openImapMailbox({ ...tlsOptions(), ca: tls.ca }),
      refusedWith(
        /the TLS certificate of 127\.0\.0\.1:\d+ is not valid for the name 127\.0\.0\.1: check the host name/,
      ),
    );
  });

  test('a TLS certificate from an authority that is not trusted', async () => {
    await assert.rejects(
      openImapMailbox({ ...tlsOptions(), servername: 'mail.example.test' }),
      refusedWith(/is not signed by a trusted authority: check the certificate chain, or give/),
    );
  });

  test('TLS works with the CA and the name on the certificate', async () => {
    const source = await openImapMailbox({
      ...tlsOptions(),
      ca: tls.ca,
      servername: 'mail.example.test',
    });
    assert.ok((await source.listFolders(signal())).length > 0);
    await source.close();
  });

  test('certificate checks are off only when asked', async () => {
    const source = await openImapMailbox({ ...tlsOptions(), rejectUnauthorized: false });
    assert.ok((await source.listFolders(signal())).length > 0);
    await source.close();
  });

  test('TLS spoken to a plain IMAP port', async () => {
    await assert.rejects(
      openImapMailbox({ ...plainOptions(), secure: true }),
      refusedWith(/TLS handshake with 127\.0\.0\.1:\d+ failed: check whether the port speaks TLS/),
    );
  });
});
