import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { corpusRoot, repoRoot } from '../helpers/paths.js';

const run = promisify(execFile);
const BIN = join(repoRoot, 'bin', 'mailbox-export.js');

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI as a user would, from the project's root, and never throws on a failure. */
async function cli(args: readonly string[], cwd = repoRoot): Promise<Ran> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      cwd,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, LOG_LEVEL: 'warn' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines.at(-1)!) as Record<string, unknown>;
}

describe('the command line', () => {
  let dir: string;
  let data: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailbox-export-cli-'));
    data = join(dir, 'data');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('demo runs the whole job on the embedded defaults and leaves a verified zip', async () => {
    const demo = join(dir, 'demo');
    const ran = await cli(['demo', '--dir', demo]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /"State": "COMPLETED"/);
    assert.match(ran.stdout, /"totalMessages": "449"/);
    assert.match(ran.stdout, /408 messages in 3 folders/);
    assert.match(ran.stdout, /41 events, 1 note, 1 task in 7 folders/);
    // Not a terminal: plain progress lines, the last one at 100% although the engine's own
    // progress stops at 99% until the job ends.
    const progress = ran.stderr.split('\n').filter((line) => line.startsWith('progress: '));
    assert.match(progress.at(-1) ?? '', /^progress: 100% 449\/449 items, 0:00 left, /);

    const unzip = spawnSync('unzip', ['-tq', join(demo, 'export.zip')], { encoding: 'utf8' });
    assert.equal(unzip.status, 0, unzip.stdout + unzip.stderr);
    // The log lies where verify looks for it, as the README's demo section says.
    const verified = await cli(['verify', join(demo, 'export.zip')]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /export\.zip: OK, 449 entries checked/);

    // A second run empties its own folder and starts again; a foreign folder is refused.
    assert.equal((await cli(['demo', '--dir', demo])).code, 0);
    const foreign = join(dir, 'foreign');
    await cli(['setup', '-d', foreign, '--org', 'x', '--user', 'y']);
    const refused = await cli(['demo', '--dir', foreign]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /not empty and was not made by the demo/);
  });

  test('setup, import, export, get and verify work together, and verify sees one byte', async () => {
    const setup = await cli(['setup', '-d', data, '--org', 'acme', '--user', 'ann', '--json']);
    assert.equal(setup.code, 0, setup.stderr);
    const made = lastJson(setup.stdout);
    assert.match(String(made.kmsKeyArn), /^arn:aws:kms:us-east-1:111122223333:key\//);
    assert.equal(made.email, 'ann@acme.awsapps.com');

    const mbox = join(corpusRoot, 'mail', 'mimekit-mbox', 'simple.mbox');
    const imported = await cli(['import', '-d', data, '--org', 'acme', '--user', 'ann', mbox]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /\d+ messages? in 1 folder\n/);

    const exported = await cli([
      'export',
      '-d',
      data,
      '--org',
      'acme',
      '--user',
      'ann@acme.awsapps.com',
      '--bucket',
      'exports',
      '--compression',
      'store',
      '--json',
    ]);
    assert.equal(exported.code, 0, exported.stderr);
    const result = lastJson(exported.stdout);
    assert.equal(result.event, 'result');
    assert.equal(result.State, 'COMPLETED');
    const s3Path = String(result.S3Path);

    const zip = join(dir, 'got.zip');
    const log = join(dir, 'got.export-log.json');
    assert.equal((await cli(['get', '-d', data, s3Path, '-o', zip])).code, 0);
    const logPath = s3Path.replace(/\.zip$/, '.export-log.json');
    assert.equal((await cli(['get', '-d', data, logPath, '-o', log])).code, 0);
    assert.deepEqual(JSON.parse(await readFile(log, 'utf8')), result.ExportLog);

    const verified = await cli(['verify', zip]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    const listing = await run('unzip', ['-v', zip]);
    assert.doesNotMatch(listing.stdout, /Defl/, 'every entry stored, as --compression asked');
    assert.match(listing.stdout, / Stored /);
    assert.equal((await cli(['verify', '-d', data, s3Path])).code, 0);

    const bytes = await readFile(zip);
    bytes[100] = bytes[100]! ^ 0x01;
    await writeFile(zip, bytes);
    const broken = await cli(['verify', zip]);
    assert.equal(broken.code, 4);
    assert.match(broken.stdout, /SHA-384/);
    assert.match(broken.stderr, /does not match its export log/);
  });

  test("import passes over Thunderbird's summary files but still reports what is not mail", async () => {
    const base = ['-d', data, '--org', 'acme', '--user', 'ann'];
    const folders = join(dir, 'Local Folders');
    await mkdir(join(folders, 'Inbox.sbd'), { recursive: true });
    const message = 'From - Mon Jan 01 09:00:00 2024\nSubject: the plan\n\nAbout the plan.\n';
    await writeFile(join(folders, 'Inbox'), message);
    await writeFile(join(folders, 'Inbox.msf'), '// <!-- <mdb:mork:z v="1.4"/> -->\n');
    await writeFile(join(folders, 'Inbox.sbd', 'Work'), message);
    await writeFile(join(folders, 'Inbox.sbd', 'Work.msf'), '// <!-- <mdb:mork:z v="1.4"/> -->\n');

    const clean = await cli(['import', ...base, folders]);
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    assert.equal(clean.stdout, `${folders}: 2 messages in 2 folders\n`);

    const single = await cli(['import', ...base, join(folders, 'Inbox.sbd', 'Work')]);
    assert.equal(single.code, 0, single.stderr);
    assert.match(single.stdout, /: 1 message in 1 folder\n$/);

    const photo = join(folders, 'photo.jpg');
    await writeFile(photo, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46]));
    const unreadable = await cli(['import', ...base, folders]);
    assert.equal(unreadable.code, 4, unreadable.stderr);
    assert.match(unreadable.stdout, new RegExp(`  skipped: ${photo}: not a message`));
    assert.doesNotMatch(unreadable.stdout, /\.msf/);
  });

  test('credentials run first on a fresh data folder makes the key that serve then uses', async () => {
    const fresh = join(dir, 'fresh', 'data');
    const first = await cli(['credentials', '-d', fresh]);
    assert.equal(first.code, 0, first.stderr);
    const id = /^export AWS_ACCESS_KEY_ID=(AKIA[A-Z2-7]{16})$/m.exec(first.stdout)?.[1];
    assert.ok(id, first.stdout);

    const stored = JSON.parse(await readFile(join(fresh, 'credentials.json'), 'utf8'));
    assert.equal(stored.accessKeyId, id);
    assert.equal((await cli(['credentials', '-d', fresh])).stdout, first.stdout);
  });

  test('each failure ends in one line and its own exit status', async () => {
    const base = ['-d', data, '--org', 'acme', '--user', 'ann'];

    const noUser = await cli([
      'export',
      '-d',
      data,
      '--org',
      'acme',
      '--user',
      'bob',
      '--bucket',
      'exports',
    ]);
    assert.equal(noUser.code, 2);
    assert.match(noUser.stderr, /^mailbox-export: No user bob in organization acme/);
    assert.equal(noUser.stderr.trim().split('\n').length, 1);

    // The mailbox may be exported once a day: a config without that limit tries the others.
    const config = join(dir, 'config.json');
    await writeFile(config, JSON.stringify({ jobs: { mailboxIntervalSeconds: 0 } }));

    const noBucket = await cli(['export', '-c', config, ...base, '--bucket', 'missing', '--json']);
    assert.equal(noBucket.code, 5, noBucket.stderr);
    assert.match(noBucket.stderr, /missing/);
    // ErrorInfo is what API callers read: it says how to make the bucket, never where it looked.
    const bucketInfo = String(lastJson(noBucket.stdout).ErrorInfo);
    assert.match(bucketInfo, /mailbox-export setup --org ALIAS --user NAME --bucket missing/);
    assert.ok(!bucketInfo.includes(data), bucketInfo);

    const wrongKey = 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000';
    const noKey = await cli([
      'export',
      '-c',
      config,
      ...base,
      '--bucket',
      'exports',
      '--key',
      wrongKey,
      '--json',
    ]);
    assert.equal(noKey.code, 6, noKey.stderr);
    const keyInfo = String(lastJson(noKey.stdout).ErrorInfo);
    assert.match(keyInfo, /mailbox-export setup --org ALIAS --user NAME.* kmsKeyArn/);
    assert.ok(!keyInfo.includes(data), keyInfo);

    const tooSoon = await cli(['export', ...base, '--bucket', 'exports']);
    assert.equal(tooSoon.code, 2);
    assert.match(tooSoon.stderr, /once/i);

    await writeFile(config, JSON.stringify({ jobs: { workerz: 2 } }));
    const badConfig = await cli(['export', '-c', config, ...base, '--bucket', 'exports']);
    assert.equal(badConfig.code, 2);
    assert.match(badConfig.stderr, /config\.jobs\.workerz is not a known setting/);
  });

  test('a path that names nothing is a usage mistake, named on one line', async () => {
    const base = ['-d', data, '--org', 'acme', '--user', 'ann'];
    const mbox = join(corpusRoot, 'mail', 'mimekit-mbox', 'simple.mbox');

    const mail = join(data, 'mail');
    const before = await readdir(mail, { recursive: true });
    const noInput = await cli(['import', ...base, mbox, 'sample/x'], dir);
    assert.equal(noInput.code, 2, noInput.stderr);
    assert.equal(noInput.stderr, 'mailbox-export: sample/x: no such file or folder\n');
    // The paths are checked before any is imported, so the mbox before the typo is not.
    assert.deepEqual(await readdir(mail, { recursive: true }), before);

    const noObject = await cli(['get', '-d', data, 's3://exports/nothere.zip'], dir);
    assert.equal(noObject.code, 2, noObject.stderr);
    assert.equal(noObject.stderr, 'mailbox-export: No object nothere.zip in bucket exports.\n');

    const noBucket = await cli(['get', '-d', data, 's3://nobucket/nothere.zip'], dir);
    assert.equal(noBucket.code, 5, noBucket.stderr);
    assert.match(noBucket.stderr, /setup --org ALIAS --user NAME --bucket nobucket/);

    const noZip = await cli(['verify', 'nothere.zip'], dir);
    assert.equal(noZip.code, 2, noZip.stderr);
    assert.equal(noZip.stderr, 'mailbox-export: nothere.zip: no such file\n');
  });

  test('verify takes a log that is no JSON object, or a folder, as a usage mistake', async () => {
    await writeFile(join(dir, 'any.zip'), 'not a zip');
    await writeFile(join(dir, 'null.json'), 'null');
    await mkdir(join(dir, 'folder.zip'), { recursive: true });
    const nullLog = await cli(['verify', 'any.zip', 'null.json'], dir);
    assert.equal(nullLog.code, 2, nullLog.stderr);
    assert.equal(
      nullLog.stderr,
      'mailbox-export: null.json is not an export log: it holds no JSON object\n',
    );
    const folderZip = await cli(['verify', 'folder.zip', 'null.json'], dir);
    assert.equal(folderZip.code, 2, folderZip.stderr);
    assert.equal(folderZip.stderr, 'mailbox-export: folder.zip is not a file\n');
    const folderLog = await cli(['verify', 'any.zip', 'folder.zip'], dir);
    assert.equal(folderLog.code, 2, folderLog.stderr);
    assert.equal(folderLog.stderr, 'mailbox-export: folder.zip is not a file\n');
  });

  test('an unknown command or a missing option gets one line and a pointer to help', async () => {
    const unknown = await cli(['frob']);
    assert.equal(unknown.code, 2);
    assert.equal(
      unknown.stderr,
      "mailbox-export: unknown command 'frob'\n(see mailbox-export --help)\n",
    );

    const missing = await cli(['setup', '-d', data, '--org', 'acme']);
    assert.equal(missing.code, 2);
    assert.equal(
      missing.stderr,
      "mailbox-export: required option '--user <name>' not specified\n" +
        '(see mailbox-export setup --help)\n',
    );
  });
});
