import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { importPath } from '../../src/import/index.js';

/** One message as Thunderbird's mbox files hold it, after its `From - ` separator line. */
function message(subject: string): string {
  return (
    'From - Mon Jan 01 09:00:00 2024\n' +
    'From: Ann <ann@example.com>\n' +
    'To: Bob <bob@example.com>\n' +
    `Subject: ${subject}\n` +
    'Date: Mon, 01 Jan 2024 09:00:00 +0000\n' +
    '\n' +
    `About ${subject}.\n\n`
  );
}

/**
 * A Thunderbird "Local Folders" folder as a profile holds it: mbox files without an extension,
 * subfolders in `X.sbd`, and beside them the files Thunderbird keeps for itself.
 */
async function makeLocalFolders(dir: string): Promise<void> {
  await mkdir(join(dir, 'Inbox.sbd'), { recursive: true });
  await writeFile(join(dir, 'Inbox'), message('the budget') + message('the offsite'));
  await writeFile(join(dir, 'Inbox.msf'), '// <!-- <mdb:mork:z v="1.4"/> -->\n< <(a=c)> >\n');
  await writeFile(join(dir, 'Inbox.sbd', 'Work'), message('the plan'));
  await writeFile(join(dir, 'Inbox.sbd', 'Work.msf'), '// <!-- <mdb:mork:z v="1.4"/> -->\n');
  await writeFile(join(dir, 'msgFilterRules.dat'), 'version="9"\nlogging="no"\n');
  await writeFile(join(dir, 'popstate.dat'), '# POP3 State File\n*pop.example.com ann\n');
  await writeFile(join(dir, 'filterlog.html'), '<p>filter log</p>\n');
}

describe("importing Thunderbird's mail folders", () => {
  let root: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mailbox-export-thunderbird-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("stores the mail and passes over Thunderbird's own files without skipping input", async () => {
    const profile = join(root, 'whole');
    await makeLocalFolders(profile);

    const report = await importPath(join(root, 'mailbox-whole'), profile, { durable: false });

    assert.deepEqual(report.skipped, []);
    assert.deepEqual(report.notes, []);
    assert.deepEqual(report.totals, { message: 3 });
    assert.deepEqual(
      report.folders.map((folder) => folder.path),
      [['INBOX'], ['INBOX', 'Work']],
    );
  });

  it('passes over a summary file named on its own, as a shell glob would name it', async () => {
    const profile = join(root, 'glob');
    await makeLocalFolders(profile);

    const report = await importPath(join(root, 'mailbox-glob'), join(profile, 'Inbox.msf'));

    assert.deepEqual(report.skipped, []);
    assert.deepEqual(report.folders, []);
  });

  it('still skips, with its reason, a file beside them that is not mail', async () => {
    const profile = join(root, 'with-photo');
    await makeLocalFolders(profile);
    const photo = join(profile, 'Inbox.sbd', 'photo.jpg');
    await writeFile(photo, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46]));

    const report = await importPath(join(root, 'mailbox-photo'), profile, { durable: false });

    assert.deepEqual(
      report.skipped.map((skipped) => skipped.input),
      [photo],
    );
    assert.match(report.skipped[0]!.reason, /not a message, mbox, calendar or contact file/);
    assert.deepEqual(report.totals, { message: 3 });
  });
});
