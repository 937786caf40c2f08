import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rm,
  writeFile,
} from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A Dovecot 2.3 of its own for one test file: own config, own folders under /tmp, a free port
 * on 127.0.0.1, plain passwords, and a master user that may log in as any user
 * (`user*master`, or SASL PLAIN with an authorization id).
 *
 * The folders live under the system temp folder, never under root's home (mode 700): the
 * login and mail processes run as the `dovenull`, `dovecot` and `vmail` users, which must be
 * able to traverse them.
 */

const run = promisify(execFile);

export interface DovecotUser {
  readonly name: string;
  readonly password: string;
}

export interface DovecotOptions {
  readonly users: readonly DovecotUser[];
  readonly masterUser: DovecotUser;
  /** Serve IMAP over TLS (port 993 style) with a self-signed certificate for these names. */
  readonly tls?: { readonly hostnames: readonly string[] };
  /** Hierarchy separator of the user namespace; Maildir++ keeps `.` on disk either way. */
  readonly separator?: string;
}

export interface Dovecot {
  readonly host: string;
  readonly port: number;
  /** PEM of the self-signed certificate when started with `tls`, to pass as the CA. */
  readonly ca?: string;
  readonly logPath: string;
  readonly configPath: string;
  /** The user's Maildir. */
  mailRoot(user: string): string;
  /** Runs `doveadm -c <config> ...args` and returns its standard output. */
  doveadm(args: readonly string[]): Promise<string>;
  /** Starts the server again after `stop()`, on the same port with the same mail. */
  start(): Promise<void>;
  /** Stops the master process (by the PID in `base_dir/master.pid`) and waits until it is gone. */
  stop(): Promise<void>;
  /** Stops the server and removes its folder. */
  destroy(): Promise<void>;
}

interface MailOwner {
  readonly uid: number;
  readonly gid: number;
  readonly user: string;
  readonly group: string;
}

export async function startDovecot(options: DovecotOptions): Promise<Dovecot> {
  const root = await mkdtemp(join(tmpdir(), 'mbx-dovecot-'));
  await chmod(root, 0o755);
  const owner = await mailOwner();
  const mail = join(root, 'mail');
  for (const dir of [join(root, 'run'), join(root, 'state'), mail]) await mkdir(dir);
  if (process.getuid?.() === 0) await chown(mail, owner.uid, owner.gid);

  await writeFile(join(root, 'users'), passwdFile(options.users), { mode: 0o644 });
  await writeFile(join(root, 'masters'), passwdFile([options.masterUser]), { mode: 0o644 });
  let ca: string | undefined;
  if (options.tls) ca = await selfSignedCertificate(root, options.tls.hostnames);

  const port = await freePort();
  const configPath = join(root, 'dovecot.conf');
  const logPath = join(root, 'dovecot.log');
  await writeFile(configPath, config({ root, mail, owner, port, logPath, options }));

  const doveadm = async (args: readonly string[]): Promise<string> => {
    const { stdout } = await run('doveadm', ['-c', configPath, ...args]);
    return stdout;
  };
  const start = () => launch(root, configPath, logPath, port);
  const stop = () => terminate(root);
  await start();
  return {
    host: '127.0.0.1',
    port,
    ca,
    logPath,
    configPath,
    mailRoot: (user) => join(mail, user, 'Maildir'),
    doveadm,
    start,
    stop,
    destroy: async () => {
      await stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

function passwdFile(users: readonly DovecotUser[]): string {
  return users.map((u) => `${u.name}:{PLAIN}${u.password}\n`).join('');
}

function config(c: {
  root: string;
  mail: string;
  owner: MailOwner;
  port: number;
  logPath: string;
  options: DovecotOptions;
}): string {
  const tls = c.options.tls !== undefined;
  const running = userInfo();
  // Started by a user other than root, Dovecot cannot switch users: every process runs as that
  // user, which then also owns the mail.
  const asRoot = process.getuid?.() === 0;
  const dhFile = '/usr/share/dovecot/dh.pem';
  return [
    `base_dir = ${c.root}/run`,
    `state_dir = ${c.root}/state`,
    `log_path = ${c.logPath}`,
    'protocols = imap',
    'listen = 127.0.0.1',
    asRoot ? '' : `default_internal_user = ${running.username}`,
    asRoot ? '' : `default_login_user = ${running.username}`,
    `first_valid_uid = ${Math.min(c.owner.uid, 100)}`,
    `first_valid_gid = ${Math.min(c.owner.gid, 100)}`,
    `mail_location = maildir:${c.mail}/%n/Maildir`,
    'disable_plaintext_auth = no',
    'auth_mechanisms = plain login',
    'auth_failure_delay = 0',
    // Stored as CRLF, a message file holds exactly the bytes FETCH BODY[] returns.
    'mail_save_crlf = yes',
    'auth_verbose = yes',
    'auth_master_user_separator = *',
    'mail_max_userip_connections = 100',
    tls ? 'ssl = required' : 'ssl = no',
    tls ? `ssl_cert = <${c.root}/cert.pem` : '',
    tls ? `ssl_key = <${c.root}/key.pem` : '',
    tls && existsSync(dhFile) ? `ssl_dh = <${dhFile}` : '',
    'service imap-login {',
    `  inet_listener imap {\n    port = ${tls ? 0 : c.port}\n  }`,
    `  inet_listener imaps {\n    port = ${tls ? c.port : 0}\n    ssl = yes\n  }`,
    '}',
    'namespace inbox {',
    '  inbox = yes',
    `  separator = ${c.options.separator ?? '/'}`,
    '  mailbox Drafts {\n    special_use = \\Drafts\n    auto = subscribe\n  }',
    '  mailbox Sent {\n    special_use = \\Sent\n    auto = subscribe\n  }',
    '  mailbox Trash {\n    special_use = \\Trash\n    auto = subscribe\n  }',
    '  mailbox Junk {\n    special_use = \\Junk\n  }',
    '}',
    // The master passdb comes first; `result_success = continue` then looks the target user up
    // in the next passdb, so a master user can only open mailboxes of users that exist.
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN username_format=%n ${c.root}/masters`,
    '  master = yes',
    '  result_success = continue',
    '}',
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN username_format=%n ${c.root}/users`,
    '}',
    'userdb {',
    '  driver = static',
    `  args = uid=${c.owner.uid} gid=${c.owner.gid} home=${c.mail}/%n`,
    '}',
    '',
  ]
    .filter((line) => line !== '')
    .join('\n');
}

/**
 * The system user that owns the mail: `vmail`, created (as a system user without a home or a
 * shell) when it is missing and we run as root; otherwise the user running the tests.
 */
async function mailOwner(): Promise<MailOwner> {
  if (process.getuid?.() !== 0) {
    const me = userInfo();
    return { uid: me.uid, gid: me.gid, user: me.username, group: String(me.gid) };
  }

  for (let attempt = 0; ; attempt++) {
    const found = await lookupUser('vmail');
    if (found) return found;
    try {
      await run('useradd', [
        '--system',
        '--user-group',
        '--no-create-home',
        '--home-dir',
        '/nonexistent',
        '--shell',
        '/usr/sbin/nologin',
        'vmail',
      ]);
    } catch (error) {
      // Another test file may create it at the same moment (exit 9: name in use; 10: the
      // password file was locked).
      if (attempt >= 5) throw new Error('could not create the vmail user', { cause: error });
      await sleep(200);
    }
  }
}

async function lookupUser(name: string): Promise<MailOwner | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid), user: name, group: name };
}

async function selfSignedCertificate(root: string, hostnames: readonly string[]): Promise<string> {
  const san = hostnames
    .map((h) => (/^[\d.]+$/.test(h) || h.includes(':') ? `IP:${h}` : `DNS:${h}`))
    .join(',');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${hostnames[0] ?? 'localhost'}`,
    '-addext',
    `subjectAltName=${san}`,
    '-keyout',
    join(root, 'key.pem'),
    '-out',
    join(root, 'cert.pem'),
  ]);
  await chmod(join(root, 'key.pem'), 0o600);
  return readFile(join(root, 'cert.pem'), 'utf8');
}

async function launch(root: string, configPath: string, logPath: string, port: number) {
  // Dovecot forks into the background; its first process keeps our stdio, so a piped parent
  // would wait for an end of file that never comes. Both go to a file instead.
  const out = await open(join(root, 'dovecot.stdout'), 'a');
  try {
    const child = spawn('dovecot', ['-c', configPath], { stdio: ['ignore', out.fd, out.fd] });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    if (code !== 0) throw new Error(`dovecot exited with ${code}: ${await tail(root, logPath)}`);
  } finally {
    await out.close();
  }

  const deadline = Date.now() + 20_000;
  while (!(await answers(port))) {
    if (Date.now() > deadline) {
      throw new Error(`dovecot did not answer on port ${port}: ${await tail(root, logPath)}`);
    }
    await sleep(50);
  }
}

async function terminate(root: string): Promise<void> {
  // A master told to stop earlier removes its PID file as it exits, perhaps while we read it.
  const pidFile = join(root, 'run', 'master.pid');
  const text = await readFile(pidFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (text === undefined) return;
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 1) return;

  // The master may exit before its children, which then live on under PID 1 (an imap process
  // would go on serving its client): each is told to stop as well, as in a shutdown of the
  // host. The anvil (login penalties, in memory only) and the log process linger for seconds
  // after the rest; once they are all that is left, they are killed.
  const family = await children(pid);
  signal(pid, 'SIGTERM');
  for (const child of family) signal(child.pid, 'SIGTERM');
  const deadline = Date.now() + 5_000;
  for (;;) {
    const left = family.filter((c) => alive(c.pid));
    if (left.length === 0 && !alive(pid)) break;
    if (left.every((c) => c.name === 'anvil' || c.name === 'log') || Date.now() > deadline) {
      for (const child of left) signal(child.pid, 'SIGKILL');
      signal(pid, 'SIGKILL');
    }
    await sleep(20);
  }
  await rm(pidFile, { force: true });
}

/** The processes whose parent is `pid`, from /proc. */
async function children(pid: number): Promise<{ pid: number; name: string; state: string }[]> {
  const found: { pid: number; name: string; state: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // `pid (name) state ppid ...`; the name may hold spaces and parentheses.
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === pid) found.push({ pid: Number(entry), name, state: state ?? '' });
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/**
 * Whether the process still runs. The daemonized master's parent is PID 1, which may reap it
 * only seconds after it died: a zombie counts as gone.
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** True once something on the port sends a first line (the IMAP greeting or a TLS alert). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A port that nothing listens on now; Dovecot binds it a moment later. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

async function tail(root: string, logPath: string): Promise<string> {
  const parts: string[] = [];
  for (const file of [logPath, join(root, 'dovecot.stdout')]) {
    if (existsSync(file)) parts.push((await readFile(file, 'utf8')).slice(-2000));
  }
  return parts.join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
