// A Redis the restore can stop and start itself: a detached redis-server run from a config file
// on disk (mode 600, it holds the password), with a pid file, like the stack's own Redis. Options
// shape it like production ones: daemonizing (Debian's redis.conf), TLS only, a replica.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { freePort } from './redis-server';

export interface ManagedRedis {
  url: string;
  password: string;
  dataDir: string;
  configFile: string;
  pidFile: string;
  logFile: string;
  /** With `tls`: the CA, client certificate and key files (the environment file's redis.<n>.tls). */
  tls?: { caFile: string; certFile: string; keyFile: string };
  client(db?: number): Redis;
  /** INFO stats total_forks: every BGSAVE, AOF rewrite and replication snapshot forks. */
  forks(): Promise<number>;
  /** INFO server run_id: changes whenever Redis restarts. */
  runId(): Promise<string>;
  /** SHUTDOWN NOSAVE, then start again from the files on disk (proves what Redis persisted). */
  restart(): Promise<void>;
  /** The environment-file entry for this instance. */
  instance(passwordEnv: string, persistence?: 'rdb' | 'aof'): Record<string, unknown>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ManagedRedisOptions {
  appendonly?: boolean;
  extra?: string[];
  /** `daemonize yes` with a `pidfile`: Redis forks and writes its own pid file, as Debian's does. */
  daemonize?: boolean;
  /** TLS only (port 0, tls-port), with a CA made here and client certificates required. */
  tls?: boolean;
  /** A replica of this Redis (its password as masterauth). */
  replicaOf?: ManagedRedis;
  /** `save` points (default none): a SIGTERM or plain SHUTDOWN then writes dump.rdb. */
  save?: string;
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl in `dir`. */
function makeCertificates(dir: string) {
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Titan test CA', '-keyout', f('ca.key'), '-out', f('ca.crt'));
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const [name, ext] of [['server', ['-extfile', f('server.ext')]], ['client', []]] as const) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=titan-${name}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
    ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-out', f(`${name}.crt`), ...ext);
  }
  return { caFile: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), certFile: f('client.crt'), keyFile: f('client.key') };
}

export async function startManagedRedis(opts: ManagedRedisOptions = {}): Promise<ManagedRedis> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'titan-managed-redis-'));
  const dataDir = path.join(root, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  const configFile = path.join(root, 'redis.conf');
  const pidFile = path.join(root, 'redis.pid');
  const logFile = path.join(root, 'redis.log');
  const port = await freePort();
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const certs = opts.tls ? makeCertificates(root) : undefined;
  const primary = opts.replicaOf && new URL(opts.replicaOf.url);
  writeFileSync(configFile, [
    certs ? 'port 0' : `port ${port}`, 'bind 127.0.0.1', `requirepass ${password}`, `dir ${dataDir}`, 'dbfilename dump.rdb',
    `appendonly ${opts.appendonly ? 'yes' : 'no'}`, `save "${opts.save ?? ''}"`, 'repl-diskless-sync-delay 0', 'enable-debug-command local',
    `logfile ${logFile}`,
    ...(opts.daemonize ? ['daemonize yes', `pidfile ${pidFile}`] : []),
    ...(certs ? [`tls-port ${port}`, `tls-cert-file ${certs.serverCert}`, `tls-key-file ${certs.serverKey}`, `tls-ca-cert-file ${certs.caFile}`, 'tls-auth-clients yes'] : []),
    ...(primary ? [`replicaof ${primary.hostname} ${primary.port}`, `masterauth ${opts.replicaOf!.password}`] : []),
    ...(opts.extra ?? []), '',
  ].join('\n'), { mode: 0o600 });
  const url = `${certs ? 'rediss' : 'redis'}://127.0.0.1:${port}`;
  const tls = certs && { caFile: certs.caFile, certFile: certs.certFile, keyFile: certs.keyFile };
  const tlsOptions = certs && { ca: readFileSync(certs.caFile), cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) };
  const clients: Redis[] = [];
  const client = (db = 0) => {
    const c = new Redis({ host: '127.0.0.1', port, password, db, maxRetriesPerRequest: 1, tls: tlsOptions });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };
  const pid = () => Number(readFileSync(pidFile, 'utf8'));
  const alive = (p: number) => { try { process.kill(p, 0); return true; } catch { return false; } };
  const launch = async () => {
    const proc = spawn('redis-server', [configFile], { detached: true, stdio: 'ignore' });
    proc.unref();
    if (!opts.daemonize) writeFileSync(pidFile, `${proc.pid}\n`);
    // Until it answers PING (not LOADING).
    for (let i = 0; ; i++) {
      const probe = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, tls: tlsOptions });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') return;
      } catch (err) {
        if (i > 600) throw new Error(`redis-server on ${port} did not start: ${(err as Error).message}`);
        await sleep(50);
      } finally {
        probe.disconnect();
      }
    }
  };
  await launch();
  return {
    url, password, dataDir, configFile, pidFile, logFile, tls, client,
    async runId() {
      return /run_id:(\w+)/.exec(await client().info('server'))![1]!;
    },
    async forks() {
      return Number(/total_forks:(\d+)/.exec(await client().info('stats'))![1]);
    },
    async restart() {
      const p = pid();
      await client().call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
      while (alive(p)) await sleep(20);
      await launch();
    },
    instance(passwordEnv, persistence = opts.appendonly ? 'aof' : 'rdb') {
      return { url, passwordEnv, runAs: { process: { pidFile, configFile } }, dataDir, persistence, ...(tls && { tls }) };
    },
    async stop() {
      clients.forEach((c) => c.disconnect());
      // The restore may have restarted it: the pid file names the current process.
      if (existsSync(pidFile)) {
        const p = pid();
        if (alive(p)) process.kill(p, 'SIGKILL');
        while (alive(p)) await sleep(20);
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}
