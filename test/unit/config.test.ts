import assert from 'node:assert/strict';
import { parseDotenv, parseEnvironment } from '../../src/lib/environment';
import { closestKey, editDistance } from '../../src/lib/validation';
import { configErrorOf, example, variant } from '../helpers/example-environment';

describe('environment file', () => {
  it('the example for the local stack is valid and gets defaults', () => {
    const env = parseEnvironment(example, 'titan.yaml');
    assert.equal(env.environment, 'local');
    assert.equal(env.redis.main!.url, 'redis://127.0.0.1:6390');
    assert.equal(env.backups.locations.offsite!.s3.bucket, 'titan-offsite');
    assert.equal(env.backups.locations.primary.s3.region, 'us-east-1');
    assert.deepEqual(Object.keys(env.backups.schedules), ['hourly', 'daily']);
    assert.equal(env.backups.retention.orphanGraceHours, 6);
    assert.deepEqual([env.backups.locations.primary.s3.objectLock, env.backups.locations.offsite!.s3.objectLock], [undefined, { mode: 'COMPLIANCE' }]);
    assert.deepEqual(env.backups.encryption, { current: 'k2026', keys: { k2026: { keyEnv: 'TITAN_BACKUP_KEY_K2026' } } });
    assert.deepEqual([env.logging!.minRetentionDays, env.logging!.shipEvery], [30, '1m']);
  });

  const cases: [string, (d: any) => void, RegExp][] = [
    ['a Redis instance on an undeclared host', (d) => { d.hosts = { a: {} }; d.redis.main.host = 'b'; }, /^titan\.yaml: redis\.main\.host: no host named "b" \(hosts: a\)$/],
    ['a host named without a hosts section', (d) => (d.redis.main.host = 'a'), /^titan\.yaml: redis\.main\.host: names host "a" but the file has no hosts section$/],
    ['no host for the modules among several hosts', (d) => { d.hosts = { a: {}, b: {} }; for (const r of Object.values<any>(d.redis)) r.host = 'a'; }, /^titan\.yaml: modules\.host: required: the file declares several hosts \(a, b\)$/],
    ['a recovery of an unknown instance in a list', (d) => (d.recovery.redis = ['main', 'cache']), /^titan\.yaml: recovery\.redis: no Redis instance named "cache"$/],
    ['a missing bucket', (d) => delete d.backups.locations.primary.s3.bucket, /^titan\.yaml: backups\.locations\.primary\.s3\.bucket: /],
    ['an inlined password', (d) => (d.redis.main.url = 'redis://:hunter2@127.0.0.1:6390'), /^titan\.yaml: redis\.main\.url: must not contain a password/],
    ['a secret value instead of a variable name', (d) => (d.redis.main.passwordEnv = 's3cr3t-value'), /^titan\.yaml: redis\.main\.passwordEnv: must be an environment variable name/],
    ['daily retention under 30 days', (d) => (d.backups.retention.dailyDays = 7), /^titan\.yaml: backups\.retention\.dailyDays: must be at least 30/],
    ['a misspelt key', (d) => (d.backups.schedule = {}), /^titan\.yaml: backups: unknown key "schedule" \(did you mean "schedules"\?\)$/],
    // Named as written, before the required key it replaces is reported missing.
    ['a misspelt required key', (d) => { d.redis.main.dataDri = d.redis.main.dataDir; delete d.redis.main.dataDir; }, /^titan\.yaml: redis\.main: unknown key "dataDri" \(did you mean "dataDir"\?\)$/],
    ['a misspelt key inside a runAs form', (d) => (d.redis.main.runAs = { containr: 'redis' }), /^titan\.yaml: redis\.main\.runAs: unknown key "containr" \(did you mean "container"\?\)$/],
    ['a misspelt key in a union, before a missing key earlier in the file', (d) => { delete d.environment; d.redis.main.runAs = { containr: 'redis' }; }, /^titan\.yaml: redis\.main\.runAs: unknown key "containr" \(did you mean "container"\?\)$/],
    ['a misspelt approver stage', (d) => (d.recovery = { approvers: { modlues: ['alice'] } }), /^titan\.yaml: recovery\.approvers: unknown key "modlues" \(did you mean "modules"\?\)$/],
    ['a key like none of the known ones', (d) => (d.backups.locations.primary.s3.colour = 'blue'), /^titan\.yaml: backups\.locations\.primary\.s3: unknown key "colour"$/],
    ['a bad cron', (d) => (d.backups.schedules.hourly.cron = 'every hour'), /^titan\.yaml: backups\.schedules\.hourly\.cron: must be a 5-field cron/],
    ['a schedule for an unknown Redis', (d) => (d.backups.schedules.daily.redis = 'cache'), /^titan\.yaml: backups\.schedules\.daily\.redis: no Redis instance named "cache"$/],
    ['an Object Lock mode S3 does not have', (d) => (d.backups.locations.offsite.s3.objectLock = { mode: 'STRICT' }), /^titan\.yaml: backups\.locations\.offsite\.s3\.objectLock\.mode: must be COMPLIANCE or GOVERNANCE$/],
    ['a non-S3 endpoint', (d) => (d.backups.locations.offsite.s3.endpoint = 'ftp://x'), /^titan\.yaml: backups\.locations\.offsite\.s3\.endpoint: /],
    ['a bad catch-up window', (d) => (d.backups.catchupWindow = 'soon'), /^titan\.yaml: backups\.catchupWindow: must be a duration/],
    ['a log store URL that is not HTTP', (d) => (d.logging.store.victorialogs.url = 'tcp://127.0.0.1:9428'), /^titan\.yaml: logging\.store\.victorialogs\.url: /],
    ['an unknown kind of log store (Splunk is not implemented)', (d) => (d.logging.store = { splunk: {} }), /^titan\.yaml: logging\.store: unknown key "splunk"$/],
    ['two log stores at once', (d) => (d.logging.store.elasticsearch = { url: 'http://127.0.0.1:9200', index: 'logs' }), /^titan\.yaml: logging\.store: needs exactly one store: victorialogs or elasticsearch$/],
    ['an Elasticsearch store with both an index and a data stream', (d) => (d.logging.store = { elasticsearch: { url: 'http://127.0.0.1:9200', index: 'logs', dataStream: 'logs-titan' } }), /^titan\.yaml: logging\.store\.elasticsearch: needs exactly one of index or dataStream$/],
    ['an Elasticsearch user without a password', (d) => (d.logging.store = { elasticsearch: { url: 'http://127.0.0.1:9200', index: 'logs', usernameEnv: 'ES_USER' } }), /^titan\.yaml: logging\.store\.elasticsearch: usernameEnv and passwordEnv go together$/],
    ['an Elasticsearch password in the URL', (d) => (d.logging.store = { elasticsearch: { url: 'https://elastic:pw@es.example:9200', index: 'logs' } }), /^titan\.yaml: logging\.store\.elasticsearch\.url: must not contain a password/],
    ['an index name with capitals', (d) => (d.logging.store = { elasticsearch: { url: 'http://127.0.0.1:9200', index: 'Logs' } }), /^titan\.yaml: logging\.store\.elasticsearch\.index: must be a lowercase index name/],
    ['an inlined API key', (d) => (d.logging.store = { elasticsearch: { url: 'http://127.0.0.1:9200', index: 'logs', apiKeyEnv: 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==' } }), /^titan\.yaml: logging\.store\.elasticsearch\.apiKeyEnv: must be an environment variable name/],
    ['a bad shipping interval', (d) => (d.logging.shipEvery = 'often'), /^titan\.yaml: logging\.shipEvery: must be a duration/],
    ['an inlined log-store credential', (d) => (d.logging.store.victorialogs.authorizationEnv = 'Basic dGl0YW46eA=='), /^titan\.yaml: logging\.store\.victorialogs\.authorizationEnv: must be an environment variable name/],
    ['logging without modules', (d) => delete d.modules, /^titan\.yaml: logging: needs a modules section/],
    ['a runAs of no known form', (d) => (d.redis.main.runAs = { service: 'redis-server' }), /^titan\.yaml: redis\.main\.runAs: must be one of \{ container: … \}, \{ process: .* or \{ commands: \{ stop, start, check\? \} \}$/],
    ['service-manager commands without a start command', (d) => (d.redis.main.runAs = { commands: { stop: 'systemctl stop redis-server' } }), /^titan\.yaml: redis\.main\.runAs\.commands\.start: /],
    ['an empty stop command', (d) => (d.redis.main.runAs = { commands: { stop: ' ', start: 'systemctl start redis-server' } }), /^titan\.yaml: redis\.main\.runAs\.commands\.stop: must be a command$/],
    ['TLS files for a plain redis:// URL', (d) => (d.redis.main.tls = { caFile: 'ca.crt' }), /^titan\.yaml: redis\.main\.tls: needs a rediss:\/\/ URL/],
    ['a client certificate without its key', (d) => Object.assign(d.redis.main, { url: 'rediss://127.0.0.1:6390', tls: { caFile: 'ca.crt', certFile: 'client.crt' } }), /^titan\.yaml: redis\.main\.tls: certFile and keyFile go together$/],
    ['a backup from an unknown replica', (d) => (d.backups.schedules.hourly.from = 'replica'), /^titan\.yaml: backups\.schedules\.hourly\.from: no Redis instance named "replica"$/],
    ['an encryption key that is not listed as current', (d) => (d.backups.encryption.current = 'k2027'), /^titan\.yaml: backups\.encryption\.current: must name one of keys$/],
    ['an inlined encryption key', (d) => (d.backups.encryption.keys.k2026.keyEnv = 'c2VjcmV0'), /^titan\.yaml: backups\.encryption\.keys\.k2026\.keyEnv: must be an environment variable name/],
    ['modules with both a compose file and Kubernetes', (d) => (d.modules.kubernetes = { kubeconfig: 'kubeconfig', namespace: 'mods', selector: 'app=x' }), /^titan\.yaml: modules: needs exactly one of composeFile or kubernetes$/],
    ['Kubernetes modules without a kubeconfig or inCluster', (d) => { delete d.modules.composeFile; delete d.modules.project; d.modules.kubernetes = { namespace: 'mods', selector: 'app=x' }; }, /^titan\.yaml: modules\.kubernetes: needs exactly one of kubeconfig or inCluster$/],
    ['Kubernetes modules with both a selector and workloads', (d) => { delete d.modules.composeFile; delete d.modules.project; d.modules.kubernetes = { inCluster: true, namespace: 'mods', selector: 'app=x', workloads: ['deployment/api'] }; }, /^titan\.yaml: modules\.kubernetes: needs exactly one of selector or workloads$/],
    ['a Kubernetes workload of another kind', (d) => { delete d.modules.composeFile; delete d.modules.project; d.modules.kubernetes = { inCluster: true, namespace: 'mods', workloads: ['cronjob/api'] }; }, /^titan\.yaml: modules\.kubernetes\.workloads\.0: must be deployment\/NAME or statefulset\/NAME$/],
    ['a backup from the instance itself', (d) => (d.backups.schedules.hourly.from = d.backups.schedules.hourly.redis), /^titan\.yaml: backups\.schedules\.hourly\.from: must name a replica of main, not main itself$/],
  ];
  for (const [what, change, expected] of cases) {
    it(`rejects ${what} with one line naming the field`, () => {
      assert.match(configErrorOf(variant(change)), expected);
    });
  }

  it('accepts the three runAs forms, TLS files for rediss:// and a backup from a replica', () => {
    const env = parseEnvironment(variant((d) => {
      d.redis.replica = { ...d.redis.main, url: 'rediss://127.0.0.1:6395', dataDir: 'replica-data', tls: { caFile: 'ca.crt', certFile: 'c.crt', keyFile: 'c.key' }, runAs: { commands: { stop: 'systemctl stop redis-replica', start: 'systemctl start redis-replica' } } };
      d.backups.schedules.hourly.from = 'replica';
    }), 'titan.yaml');
    assert.deepEqual(env.redis.replica!.runAs, { commands: { stop: 'systemctl stop redis-replica', start: 'systemctl start redis-replica' } });
    assert.equal(env.backups.schedules.hourly!.from, 'replica');
    assert.ok('process' in env.redis.main!.runAs || 'container' in env.redis.main!.runAs);
  });

  it('rejects YAML that does not parse, naming the line', () => {
    assert.match(configErrorOf('environment: local\nredis: [\n  main: {'), /^titan\.yaml: line \d+ not valid YAML: /);
  });

  it('reads the dotenv subset that node --env-file accepts', () => {
    assert.deepEqual(parseDotenv('# c\nA=1\nexport B = "two"\n\nC=x=y\n'), { A: '1', B: 'two', C: 'x=y' });
  });

  it('suggests the known key a misspelling most likely meant, and nothing for an unrelated one', () => {
    assert.deepEqual([editDistance('dataDri', 'dataDir'), editDistance('', 'abc'), editDistance('kitten', 'sitting')], [1, 3, 3]);
    assert.equal(closestKey('dataDri', ['url', 'runAs', 'dataDir', 'persistence']), 'dataDir');
    assert.equal(closestKey('DataDir', ['dataDir', 'dataDirs']), 'dataDir');
    assert.equal(closestKey('colour', ['endpoint', 'bucket', 'prefix']), undefined);
    assert.equal(closestKey('x', ['y', 'z']), undefined, 'a one-letter key is too short to guess from');
    assert.equal(closestKey('tset', ['test', 'interval']), 'test');
  });
});
